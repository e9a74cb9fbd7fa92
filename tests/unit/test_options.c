/* tests/unit/test_options.c: --kiln-* options and KILN_* variables
 * (runtime/options.h). Every rank parses its own argv, so parsing must be
 * deterministic, strip exactly the Kiln options, and name what it rejects. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/options.h"

extern char **environ;

/* Remove every KILN_* variable, so tests see only what they set. */
static void clear_kiln_env(void)
{
    for (;;) {
        char name[256];
        bool found = false;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "KILN_", 5) == 0) {
                const char *eq = strchr(*e, '=');
                size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
                if (len >= sizeof name)
                    len = sizeof name - 1;
                memcpy(name, *e, len);
                name[len] = '\0';
                found = true;
                break;
            }
        }
        if (!found)
            return;
        unsetenv(name);
    }
}

static int setup(void **state)
{
    (void)state;
    clear_kiln_env();
    kiln__error_clear();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_kiln_env();
    return 0;
}

/* argv as main() gets it: argc entries plus a NULL. */
typedef struct args {
    int argc;
    char *argv[32];
    char **p;
} args;

static void args_make(args *a, const char *const *list)
{
    a->argc = 0;
    while (list[a->argc]) {
        a->argv[a->argc] = (char *)list[a->argc];
        a->argc++;
    }
    a->argv[a->argc] = NULL;
    a->argv[a->argc + 1] = (char *)"sentinel";
    a->p = a->argv;
}

static void defaults_are_valid(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    assert_string_equal(kiln__error_message(), ""); /* no default rejected */
    assert_false(o.help);
    assert_false(o.quiet);
    assert_int_equal(o.log_level, KILN__LOG_INFO);
    assert_int_equal(o.progress, KILN__PROGRESS_AUTO);
    assert_int_equal(o.split_bytes, 16u << 20);
    assert_int_equal(o.partitions, 16);
    assert_int_equal(o.batch_records, 4096);
    assert_int_equal(o.batch_bytes, 1u << 20);
    assert_int_equal(o.round_bytes, 256u << 20);
    assert_int_equal(o.combine_bytes, (uint64_t)1 << 30);
    assert_true(o.master_works);
}

static void help_lists_every_option(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    kiln__options_help(f);
    fclose(f);
    const char *names[] = {"--kiln-help", "--kiln-quiet", "--kiln-log-level",
                           "--kiln-progress", "--kiln-split-bytes",
                           "--kiln-partitions", "--kiln-batch-records",
                           "--kiln-batch-bytes", "--kiln-round-bytes",
                           "--kiln-combine-bytes", "--kiln-master-works",
                           "KILN_SPLIT_BYTES"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(strstr(text, names[i]));
    free(text);
}

static void sizes_take_binary_suffixes(void **state)
{
    (void)state;
    struct {
        const char *text;
        uint64_t value;
    } good[] = {
        {"0", 0},
        {"123", 123},
        {"64K", 64u << 10},
        {"64k", 64u << 10},
        {"16M", 16u << 20},
        {"16m", 16u << 20},
        {"2G", (uint64_t)2 << 30},
        {"3T", (uint64_t)3 << 40},
        {"16MiB", 16u << 20},
        {"16MB", 16u << 20},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 0xdead;
        assert_true(kiln__options_parse_size(good[i].text, &v));
        assert_int_equal(v, good[i].value);
    }
    const char *bad[] = {"", "-1", "K", "12Q", "1.5M", "16M extra", "0x10",
                         "18446744073709551616", /* one past UINT64_MAX */
                         "17179869184G",         /* 2^64 bytes */
                         " -5",                  /* strtoull would wrap it */
                         "16BB", "16iB", "16i"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        if (kiln__options_parse_size(bad[i], &v))
            fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 77); /* untouched on failure */
    }
    uint64_t v = 77;
    assert_false(kiln__options_parse_size(NULL, &v));
}

static void set_applies_each_type(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    assert_int_equal(kiln__options_set(&o, "split-bytes", "8M", "test"), KILN_OK);
    assert_int_equal(o.split_bytes, 8u << 20);
    assert_int_equal(kiln__options_set(&o, "partitions", "7", "test"), KILN_OK);
    assert_int_equal(o.partitions, 7);
    assert_int_equal(kiln__options_set(&o, "log-level", "debug", "test"), KILN_OK);
    assert_int_equal(o.log_level, KILN__LOG_DEBUG);
    assert_int_equal(kiln__options_set(&o, "log-level", "ERROR", "test"), KILN_OK);
    assert_int_equal(o.log_level, KILN__LOG_ERROR);
    assert_int_equal(kiln__options_set(&o, "progress", "never", "test"), KILN_OK);
    assert_int_equal(o.progress, KILN__PROGRESS_NEVER);
    assert_int_equal(kiln__options_set(&o, "progress", "always", "test"), KILN_OK);
    assert_int_equal(o.progress, KILN__PROGRESS_ALWAYS);
}

static void flags_take_yes_and_no(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *yes[] = {"yes", "YES", "1", "true", "on"};
    const char *no[] = {"no", "No", "0", "false", "off"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(kiln__options_set(&o, "quiet", yes[i], "t"), KILN_OK);
        assert_true(o.quiet);
        assert_int_equal(kiln__options_set(&o, "quiet", no[i], "t"), KILN_OK);
        assert_false(o.quiet);
    }
    /* A bare flag means yes. */
    assert_int_equal(kiln__options_set(&o, "quiet", NULL, "t"), KILN_OK);
    assert_true(o.quiet);
    assert_int_equal(kiln__options_set(&o, "master-works", "no", "t"), KILN_OK);
    assert_false(o.master_works);
    kiln__error_clear();
    assert_int_equal(kiln__options_set(&o, "quiet", "maybe", "t"), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "maybe"));
    assert_non_null(strstr(kiln__error_message(), "--kiln-quiet"));
}

static void bad_values_are_rejected_with_names(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    assert_int_equal(kiln__options_set(&o, "log-level", "loud", "KILN_LOG_LEVEL"),
                     KILN_ERR_INVAL);
    const char *m = kiln__error_message();
    assert_non_null(strstr(m, "KILN_LOG_LEVEL")); /* where it came from */
    assert_non_null(strstr(m, "loud"));
    assert_non_null(strstr(m, "error|warn|info|debug")); /* what would do */
    assert_int_equal(o.log_level, KILN__LOG_INFO);
    kiln__error_clear();
    assert_int_equal(kiln__options_set(&o, "partitions", "0", "t"), KILN_ERR_INVAL);
    kiln__error_clear();
    assert_int_equal(kiln__options_set(&o, "batch-records", "many", "t"),
                     KILN_ERR_INVAL);
    kiln__error_clear();
    assert_int_equal(kiln__options_set(&o, "split-bytes", NULL, "t"), KILN_ERR_INVAL);
    kiln__error_clear();
    assert_int_equal(kiln__options_set(&o, "no-such", "1", "t"), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "--kiln-no-such"));
}

static void parse_strips_kiln_args_in_order(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job",  "in.txt", "--kiln-split-bytes=4K", "-v",
                          "--kiln-quiet", "--kiln-partitions", "5", "out",
                          "--kilnish", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_OK);
    assert_int_equal(a.argc, 5);
    assert_string_equal(a.argv[0], "job");
    assert_string_equal(a.argv[1], "in.txt");
    assert_string_equal(a.argv[2], "-v");
    assert_string_equal(a.argv[3], "out");
    assert_string_equal(a.argv[4], "--kilnish"); /* not a --kiln- option */
    assert_null(a.argv[5]);
    assert_int_equal(o.split_bytes, 4096);
    assert_true(o.quiet);
    assert_int_equal(o.partitions, 5); /* value taken from the next argument */
}

static void parse_stops_at_double_dash(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job", "--kiln-partitions=3", "a", "--",
                          "--kiln-partitions=9", "--kiln-bogus", "b", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_OK);
    assert_int_equal(o.partitions, 3); /* after "--" nothing is parsed */
    assert_int_equal(a.argc, 6);
    assert_string_equal(a.argv[1], "a");
    /* "--" itself is left for the job's own parser. */
    assert_string_equal(a.argv[2], "--");
    assert_string_equal(a.argv[3], "--kiln-partitions=9");
    assert_string_equal(a.argv[4], "--kiln-bogus");
    assert_string_equal(a.argv[5], "b");
    assert_null(a.argv[6]);
}

static void parse_rejects_unknown_option_naming_it(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job", "--kiln-x", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "--kiln-x"));

    kiln__error_clear();
    const char *list2[] = {"job", "--kiln-split-bytes-extra=1", NULL};
    args_make(&a, list2);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "--kiln-split-bytes-extra"));
}

static void parse_reports_missing_value(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job", "--kiln-split-bytes", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "--kiln-split-bytes"));
    assert_int_equal(o.split_bytes, 16u << 20);

    kiln__error_clear();
    const char *list2[] = {"job", "--kiln-log-level=", NULL};
    args_make(&a, list2);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "--kiln-log-level"));
}

static void parse_rejects_bad_value(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job", "--kiln-batch-bytes=12Q", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "12Q"));
    assert_non_null(strstr(kiln__error_message(), "--kiln-batch-bytes"));
}

static void environment_applies_and_command_line_wins(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    setenv("KILN_SPLIT_BYTES", "2M", 1);
    setenv("KILN_PARTITIONS", "12", 1);
    setenv("KILN_QUIET", "yes", 1);
    setenv("KILN_LOG_LEVEL", "", 1); /* empty: ignored */
    const char *list[] = {"job", "--kiln-split-bytes=3M", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_OK);
    assert_int_equal(o.split_bytes, 3u << 20); /* command line wins */
    assert_int_equal(o.partitions, 12);        /* from the environment */
    assert_true(o.quiet);
    assert_int_equal(o.log_level, KILN__LOG_INFO);
    assert_int_equal(a.argc, 1);

    /* Without argv, the environment alone. */
    kiln__options_defaults(&o);
    assert_int_equal(kiln__options_parse(&o, NULL, NULL), KILN_OK);
    assert_int_equal(o.split_bytes, 2u << 20);
}

static void bad_environment_names_the_variable(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    setenv("KILN_PROGRESS", "sometimes", 1);
    assert_int_equal(kiln__options_parse(&o, NULL, NULL), KILN_ERR_INVAL);
    assert_non_null(strstr(kiln__error_message(), "KILN_PROGRESS"));
    assert_non_null(strstr(kiln__error_message(), "sometimes"));
}

static void parse_with_only_argv0(void **state)
{
    (void)state;
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {"job", NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_OK);
    assert_int_equal(a.argc, 1);
    assert_string_equal(a.argv[0], "job");
    assert_null(a.argv[1]);
}

static void parse_with_empty_argv_writes_nothing(void **state)
{
    (void)state;
    /* argc == 0, argv == {NULL} is legal (execve with an empty argv). */
    kiln__options o;
    kiln__options_defaults(&o);
    const char *list[] = {NULL};
    args a;
    args_make(&a, list);
    assert_int_equal(a.argc, 0);
    assert_int_equal(kiln__options_parse(&o, &a.argc, &a.p), KILN_OK);
    assert_int_equal(a.argc, 0);
    assert_null(a.argv[0]);
    assert_string_equal(a.argv[1], "sentinel");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(defaults_are_valid),
        T(help_lists_every_option),
        T(sizes_take_binary_suffixes),
        T(set_applies_each_type),
        T(flags_take_yes_and_no),
        T(bad_values_are_rejected_with_names),
        T(parse_strips_kiln_args_in_order),
        T(parse_stops_at_double_dash),
        T(parse_rejects_unknown_option_naming_it),
        T(parse_reports_missing_value),
        T(parse_rejects_bad_value),
        T(environment_applies_and_command_line_wins),
        T(bad_environment_names_the_variable),
        T(parse_with_only_argv0),
        T(parse_with_empty_argv_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
