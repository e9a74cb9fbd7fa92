/* tests/unit/test_error.c: the per-thread error trace (runtime/error.h).
 * The trace decides which message a user reads when an action fails: the
 * first origin wins, KILN_CHECK notes only fill in when nothing else said
 * why. These tests need no MPI. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "runtime/error.h"

static int setup(void **state)
{
    (void)state;
    kiln__error_clear();
    return 0;
}

static kiln_status fails_with(kiln_status st)
{
    return st;
}

/* A function in the runtime's style: KILN_CHECK jumps to its label. */
static kiln_status checked_call(kiln_status inner, int *reached_after)
{
    kiln_status st;
    KILN_CHECK(st, fails_with(inner), fail);
    (*reached_after)++;
    return KILN_OK;
fail:
    return st;
}

static void check_passes_success_through(void **state)
{
    (void)state;
    int after = 0;
    assert_int_equal(checked_call(KILN_OK, &after), KILN_OK);
    assert_int_equal(after, 1);
    assert_string_equal(kiln__error_message(), "");
}

static void check_notes_file_line_and_expression(void **state)
{
    (void)state;
    int after = 0;
    assert_int_equal(checked_call(KILN_ERR_IO, &after), KILN_ERR_IO);
    assert_int_equal(after, 0); /* jumped to the label */
    const char *m = kiln__error_message();
    assert_non_null(strstr(m, "test_error.c:"));
    assert_non_null(strstr(m, "fails_with(inner)"));
    assert_non_null(strstr(m, kiln_strerror(KILN_ERR_IO)));
}

static void second_note_does_not_replace_first(void **state)
{
    (void)state;
    kiln__error_note(KILN_ERR_NOMEM, "first.c", 11, "alloc_a()");
    kiln__error_note(KILN_ERR_IO, "second.c", 22, "read_b()");
    const char *m = kiln__error_message();
    assert_non_null(strstr(m, "first.c:11"));
    assert_non_null(strstr(m, "alloc_a()"));
    assert_null(strstr(m, "second.c"));
}

static void error_records_origin_with_file_and_line(void **state)
{
    (void)state;
    int line = __LINE__ + 1;
    kiln_status st = KILN_ERROR(KILN_ERR_INVAL, "part %d of %d", 7, 3);
    assert_int_equal(st, KILN_ERR_INVAL);
    char want[64];
    snprintf(want, sizeof want, "test_error.c:%d: part 7 of 3", line);
    assert_non_null(strstr(kiln__error_message(), want));
}

static void error_keeps_first_origin(void **state)
{
    (void)state;
    assert_int_equal(KILN_ERROR(KILN_ERR_PARSE, "the cause"), KILN_ERR_PARSE);
    /* Later detections are consequences: their code is returned, their
     * message dropped. */
    assert_int_equal(KILN_ERROR(KILN_ERR_IO, "a consequence"), KILN_ERR_IO);
    int after = 0;
    assert_int_equal(checked_call(KILN_ERR_MPI, &after), KILN_ERR_MPI);
    assert_non_null(strstr(kiln__error_message(), "the cause"));
    assert_null(strstr(kiln__error_message(), "consequence"));
    assert_null(strstr(kiln__error_message(), "fails_with"));
}

static void origin_replaces_an_earlier_note(void **state)
{
    (void)state;
    kiln__error_note(KILN_ERR_IO, "x.c", 1, "step()");
    assert_int_equal(KILN_ERROR(KILN_ERR_LIMIT, "too big: %zu", (size_t)99),
                     KILN_ERR_LIMIT);
    assert_non_null(strstr(kiln__error_message(), "too big: 99"));
    assert_null(strstr(kiln__error_message(), "step()"));
}

/* A user callback's failure, as a map function would report it. */
static kiln_status user_callback(const char *where)
{
    return kiln_error(KILN_ERR_PARSE, "%s: bad field", where);
}

static void user_error_is_the_message(void **state)
{
    (void)state;
    assert_int_equal(user_callback("input.txt:3"), KILN_ERR_PARSE);
    /* No file and line of Kiln's own: the user's words only. */
    assert_string_equal(kiln__error_message(), "input.txt:3: bad field");
    /* The runtime passing it up adds nothing. */
    int after = 0;
    assert_int_equal(checked_call(KILN_ERR_PARSE, &after), KILN_ERR_PARSE);
    assert_string_equal(kiln__error_message(), "input.txt:3: bad field");
}

static void user_error_with_ok_code_becomes_user_error(void **state)
{
    (void)state;
    assert_int_equal(kiln_error(KILN_OK, "oops"), KILN_ERR_USER);
    assert_string_equal(kiln__error_message(), "oops");
}

static void user_error_does_not_replace_origin(void **state)
{
    (void)state;
    (void)KILN_ERROR(KILN_ERR_IO, "disk gone");
    assert_int_equal(kiln_error(KILN_ERR_USER, "later"), KILN_ERR_USER);
    assert_non_null(strstr(kiln__error_message(), "disk gone"));
}

static void long_messages_are_cut_not_overflowed(void **state)
{
    (void)state;
    char big[3 * KILN__ERROR_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    (void)kiln_error(KILN_ERR_USER, "%s", big);
    size_t len = strlen(kiln__error_message());
    assert_true(len > 0);
    assert_true(len < KILN__ERROR_MAX);
    assert_int_equal(len, KILN__ERROR_MAX - 1);
}

static void clear_forgets_everything(void **state)
{
    (void)state;
    (void)KILN_ERROR(KILN_ERR_IO, "first job");
    kiln__error_clear();
    assert_string_equal(kiln__error_message(), "");
    /* After clearing, a new origin is recorded again. */
    (void)KILN_ERROR(KILN_ERR_IO, "second job");
    assert_non_null(strstr(kiln__error_message(), "second job"));
    assert_null(strstr(kiln__error_message(), "first job"));
    /* And so is a note. */
    kiln__error_clear();
    kiln__error_note(KILN_ERR_NOMEM, "n.c", 5, "grow()");
    assert_non_null(strstr(kiln__error_message(), "grow()"));
}

static void strerror_covers_every_status(void **state)
{
    (void)state;
    struct {
        kiln_status code;
        const char *text;
    } all[] = {
#define ENTRY(name, value, text) {name, text},
        KILN_STATUS_LIST(ENTRY)
#undef ENTRY
    };
    size_t n = sizeof all / sizeof all[0];
    assert_true(n >= 11);
    for (size_t i = 0; i < n; i++) {
        const char *s = kiln_strerror(all[i].code);
        assert_non_null(s);
        assert_string_equal(s, all[i].text);
        assert_string_not_equal(s, "unknown status");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(all[i].code, all[j].code);
            assert_string_not_equal(s, kiln_strerror(all[j].code));
        }
    }
    /* Released numbers are stable. */
    assert_int_equal(KILN_OK, 0);
    assert_int_equal(KILN_ERR_NOMEM, -1);
    assert_int_equal(KILN_ERR_IO, -4);
    assert_int_equal(KILN_ERR_STATE, -10);
    assert_string_equal(kiln_strerror((kiln_status)-999), "unknown status");
    assert_string_equal(kiln_strerror((kiln_status)1), "unknown status");
}

static void mpi_success_is_ok(void **state)
{
    (void)state;
    assert_int_equal(KILN_MPI(MPI_SUCCESS), KILN_OK);
    assert_string_equal(kiln__error_message(), "");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(check_passes_success_through),
        T(check_notes_file_line_and_expression),
        T(second_note_does_not_replace_first),
        T(error_records_origin_with_file_and_line),
        T(error_keeps_first_origin),
        T(origin_replaces_an_earlier_note),
        T(user_error_is_the_message),
        T(user_error_with_ok_code_becomes_user_error),
        T(user_error_does_not_replace_origin),
        T(long_messages_are_cut_not_overflowed),
        T(clear_forgets_everything),
        T(strerror_covers_every_status),
        T(mpi_success_is_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
