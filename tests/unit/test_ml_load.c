/* tests/unit/test_ml_load.c: the ML loaders' line parsers (runtime/ml.h):
 * LIBSVM and CSV lines into numbers, and every way a line can be bad. The
 * whole loaders (files, headers, skipping, HDF5) are tested at 1, 2 and 4
 * ranks by tests/mpi/test_ml_load.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ml.h"

enum { CAP = 64 };

typedef struct svm {
    kiln_status st;
    double label;
    uint32_t idx[CAP];
    double val[CAP];
    size_t nnz;
    bool blank;
    char why[KILN__ML_WHY];
} svm;

/* Parse a copy of s, as the loader does (NUL right after the line). */
static svm parse_svm(const char *s, uint32_t dim)
{
    svm r;
    memset(&r, 0, sizeof r);
    char *copy = strdup(s);
    assert_non_null(copy);
    assert_true(strlen(s) / 2 + 1 <= CAP);
    r.st = kiln__ml_parse_libsvm(copy, strlen(copy), dim, &r.label, r.idx, r.val,
                                 &r.nnz, &r.blank, r.why);
    free(copy);
    return r;
}

static void libsvm_good_lines(void **state)
{
    (void)state;
    svm r = parse_svm("+1 1:0.708333 2:1 3:1 4:-0.320755 13:-1 ", 0);
    assert_int_equal(r.st, KILN_OK);
    assert_false(r.blank);
    assert_true(r.label == 1.0);
    assert_int_equal(r.nnz, 5);
    assert_int_equal(r.idx[0], 0);
    assert_int_equal(r.idx[4], 12);
    assert_true(r.val[0] == 0.708333);
    assert_true(r.val[3] == -0.320755);

    r = parse_svm("-1\t3:2.5e-3  7:4 # a comment 9:1", 0);
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.label == -1.0);
    assert_int_equal(r.nnz, 2);
    assert_true(r.val[0] == 2.5e-3);

    r = parse_svm("3 qid:4 1:1", 7); /* SVMlight query ids are not features */
    assert_int_equal(r.st, KILN_OK);
    assert_int_equal(r.nnz, 1);
    assert_true(r.label == 3.0);

    r = parse_svm("0", 0); /* a row with no feature */
    assert_int_equal(r.st, KILN_OK);
    assert_int_equal(r.nnz, 0);

    /* Exact: %.17g text reads back to the same double. */
    char line[64];
    double v = 0.1 + 0.2;
    snprintf(line, sizeof line, "1 2:%.17g", v);
    r = parse_svm(line, 0);
    assert_int_equal(r.st, KILN_OK);
    assert_memory_equal(&r.val[0], &v, 8);
}

static void libsvm_blank_lines(void **state)
{
    (void)state;
    const char *blanks[] = {"", "   ", "\t", "# only a comment", "  # indented"};
    for (size_t i = 0; i < sizeof blanks / sizeof *blanks; i++) {
        svm r = parse_svm(blanks[i], 0);
        assert_int_equal(r.st, KILN_OK);
        assert_true(r.blank);
    }
}

static void expect_bad(const char *line, uint32_t dim, const char *why)
{
    svm r = parse_svm(line, dim);
    if (r.st != KILN_ERR_PARSE || !strstr(r.why, why))
        fail_msg("'%s': status %d, reason '%s', expected one mentioning '%s'", line,
                 (int)r.st, r.why, why);
}

static void libsvm_bad_lines(void **state)
{
    (void)state;
    expect_bad("1 0:3", 0, "index 0");
    expect_bad("1 3:1 2:1", 0, "index 2 after 3");
    expect_bad("1 3:1 3:1", 0, "index 3 after 3");
    expect_bad("1 14:1", 13, "above the dimension 13");
    expect_bad("x 1:1", 0, "label 'x'");
    expect_bad("1x 1:1", 0, "label '1x'");
    expect_bad("nan 1:1", 0, "not finite");
    expect_bad("1 1:abc", 0, "value 'abc' of index 1");
    expect_bad("1 1:", 0, "of index 1 is not a number");
    expect_bad("1 1:2x", 0, "of index 1 is not a number");
    expect_bad("1 1:inf", 0, "not finite");
    expect_bad("1 a:1", 0, "'a:1' is not index:value");
    expect_bad("1 -2:1", 0, "is not index:value");
    expect_bad("1 2", 0, "'2' is not index:value");
    expect_bad("1 99999999999:1", 0, "too large");
}

/* ---- CSV ---- */

typedef struct csv {
    kiln_status st;
    double label, x[CAP];
    bool blank;
    char why[KILN__ML_WHY];
} csv;

static csv parse_csv(const char *s, char delim, size_t ncols, int64_t label)
{
    csv r;
    memset(&r, 0, sizeof r);
    char *copy = strdup(s);
    assert_non_null(copy);
    r.st = kiln__ml_parse_csv(copy, strlen(copy), delim, ncols, label, &r.label, r.x,
                              &r.blank, r.why);
    free(copy);
    return r;
}

static void csv_good_lines(void **state)
{
    (void)state;
    csv r = parse_csv("5.1,3.5,1.4,0.2,0", ',', 5, 4);
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.label == 0.0);
    assert_true(r.x[0] == 5.1 && r.x[3] == 0.2);

    r = parse_csv(" 1 , \"2.5\" ,3", ',', 3, 0); /* label first, spaces, quotes */
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.label == 1.0);
    assert_true(r.x[0] == 2.5 && r.x[1] == 3.0);

    r = parse_csv("1;2;3", ';', 3, -1); /* no label */
    assert_int_equal(r.st, KILN_OK);
    assert_true(isnan(r.label));
    assert_true(r.x[2] == 3.0);

    r = parse_csv("59 2  32.1\t101.0", ' ', 4, 1); /* runs of blanks */
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.label == 2.0);
    assert_true(r.x[0] == 59 && r.x[1] == 32.1 && r.x[2] == 101.0);

    r = parse_csv("1\t2", '\t', 2, 1);
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.label == 2.0 && r.x[0] == 1.0);

    r = parse_csv("   ", ',', 3, 2);
    assert_int_equal(r.st, KILN_OK);
    assert_true(r.blank);
}

static void expect_bad_csv(const char *line, size_t ncols, const char *why)
{
    csv r = parse_csv(line, ',', ncols, (int64_t)ncols - 1);
    if (r.st != KILN_ERR_PARSE || !strstr(r.why, why))
        fail_msg("'%s': status %d, reason '%s', expected one mentioning '%s'", line,
                 (int)r.st, r.why, why);
}

static void csv_bad_lines(void **state)
{
    (void)state;
    expect_bad_csv("1,2,3,4", 3, "4 fields, expected 3");
    expect_bad_csv("1,2", 3, "2 fields, expected 3");
    expect_bad_csv("1,,3", 3, "field 2 is empty");
    expect_bad_csv("1,abc,3", 3, "field 2 'abc' is not a finite number");
    expect_bad_csv("1,2x,3", 3, "field 2 '2x'");
    expect_bad_csv("1,2,nan", 3, "field 3 'nan'");
    expect_bad_csv("1,2,", 3, "field 3 is empty");
}

static void csv_headers_and_counts(void **state)
{
    (void)state;
    const char *iris = "150,4,setosa,versicolor,virginica";
    assert_int_equal(kiln__ml_csv_count(iris, strlen(iris), ','), 5);
    assert_false(kiln__ml_csv_numeric(iris, strlen(iris), ','));
    const char *row = "5.1,3.5,1.4,0.2,0";
    assert_true(kiln__ml_csv_numeric(row, strlen(row), ','));
    const char *quoted = "\"a,b\",c";
    assert_int_equal(kiln__ml_csv_count(quoted, strlen(quoted), ','), 2);
    const char *boston = "506,13,,,";
    assert_int_equal(kiln__ml_csv_count(boston, strlen(boston), ','), 5);
    assert_false(kiln__ml_csv_numeric(boston, strlen(boston), ','));
    assert_int_equal(kiln__ml_csv_count("", 0, ' '), 0);
    assert_int_equal(kiln__ml_csv_count("  a  b ", 7, ' '), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libsvm_good_lines),
        cmocka_unit_test(libsvm_blank_lines),
        cmocka_unit_test(libsvm_bad_lines),
        cmocka_unit_test(csv_good_lines),
        cmocka_unit_test(csv_bad_lines),
        cmocka_unit_test(csv_headers_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
