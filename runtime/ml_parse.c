/* runtime/ml_parse.c: one LIBSVM or CSV line into numbers (ml module).
 * Pure functions over a NUL-terminated copy of the line: no allocation,
 * no I/O, so the unit tests drive them directly. Numbers are read with
 * strtod (correctly rounded: "%.17g" text reads back to the same double,
 * which the apps' cross-format tests rely on); NaN and infinities are
 * refused, since a single one poisons every sum a model is fitted from. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ml.h"

static bool blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A token's text for a message: at most 24 bytes of it. */
static int shown(const char *p)
{
    int n = 0;
    while (p[n] && !blank_char(p[n]) && n < 24)
        n++;
    return n;
}

/* ---- LIBSVM ---- */

kiln_status kiln__ml_parse_libsvm(const char *s, size_t len, uint32_t dim,
                                  double *label, uint32_t *idx, double *val,
                                  size_t *nnz, bool *blank, char *why)
{
    const char *p = s, *end = s + len;
    char *stop;
    *nnz = 0;
    *blank = false;
    while (p < end && blank_char(*p))
        p++;
    if (p == end || *p == '#') {
        *blank = true;
        return KILN_OK;
    }
    double y = strtod(p, &stop);
    if (stop == p || (stop < end && !blank_char(*stop) && *stop != '#')) {
        int n = shown(p);
        snprintf(why, KILN__ML_WHY, "label '%.*s' is not a number%s", n, p,
                 memchr(p, ',', (size_t)n) ? " (is this CSV?)" : "");
        return KILN_ERR_PARSE;
    }
    if (!isfinite(y)) {
        snprintf(why, KILN__ML_WHY, "label '%.*s' is not finite", shown(p), p);
        return KILN_ERR_PARSE;
    }
    p = stop;
    size_t n = 0;
    unsigned long long prev = 0;
    for (;;) {
        while (p < end && blank_char(*p))
            p++;
        if (p == end || *p == '#')
            break;
        const char *tok = p;
        if (!strncmp(p, "qid:", 4)) { /* SVMlight query ids: not a feature */
            while (p < end && !blank_char(*p))
                p++;
            continue;
        }
        unsigned long long i = 0;
        bool digits = false, big = false;
        while (p < end && *p >= '0' && *p <= '9') {
            i = i * 10 + (unsigned long long)(*p - '0');
            big |= i > UINT32_MAX;
            digits = true;
            p++;
        }
        if (!digits || p == end || *p != ':') {
            snprintf(why, KILN__ML_WHY, "'%.*s' is not index:value", shown(tok), tok);
            return KILN_ERR_PARSE;
        }
        if (big) {
            snprintf(why, KILN__ML_WHY, "index %.*s is too large", (int)(p - tok), tok);
            return KILN_ERR_PARSE;
        }
        if (i == 0) {
            snprintf(why, KILN__ML_WHY, "index 0 (LIBSVM indices start at 1)");
            return KILN_ERR_PARSE;
        }
        if (i <= prev) {
            snprintf(why, KILN__ML_WHY, "index %llu after %llu (indices must "
                     "increase)", i, prev);
            return KILN_ERR_PARSE;
        }
        if (dim && i > dim) {
            snprintf(why, KILN__ML_WHY, "index %llu is above the dimension %u", i,
                     dim);
            return KILN_ERR_PARSE;
        }
        const char *num = ++p;
        double v = strtod(num, &stop);
        if (stop == num || (stop < end && !blank_char(*stop) && *stop != '#')) {
            snprintf(why, KILN__ML_WHY, "value '%.*s' of index %llu is not a number",
                     shown(num), num, i);
            return KILN_ERR_PARSE;
        }
        if (!isfinite(v)) {
            snprintf(why, KILN__ML_WHY, "value of index %llu is not finite", i);
            return KILN_ERR_PARSE;
        }
        idx[n] = (uint32_t)(i - 1);
        val[n] = v;
        n++;
        prev = i;
        p = stop;
    }
    *label = y;
    *nnz = n;
    return KILN_OK;
}

/* ---- CSV ---- */

/* One field: [start, end) of its text, quotes and surrounding blanks
 * removed. Returns where the next field starts, or NULL after the last. */
typedef struct field {
    const char *start, *end;
} field;

static const char *next_field(const char *p, const char *end, char delim,
                              field *f)
{
    bool runs = delim == ' '; /* blank-separated: runs of blanks are one */
    while (p < end && blank_char(*p) && *p != delim)
        p++;
    if (runs)
        while (p < end && blank_char(*p))
            p++;
    if (p < end && *p == '"') {
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        f->start = p + 1;
        f->end = q ? q : end;
        p = q ? q + 1 : end;
    } else {
        f->start = p;
        while (p < end && *p != delim && !(runs && blank_char(*p)))
            p++;
        f->end = p;
    }
    while (f->end > f->start && blank_char(f->end[-1]))
        f->end--;
    while (p < end && *p != delim && blank_char(*p))
        p++;
    if (runs) {
        while (p < end && blank_char(*p))
            p++;
        return p < end ? p : NULL;
    }
    return p < end && *p == delim ? p + 1 : NULL;
}

size_t kiln__ml_csv_count(const char *s, size_t len, char delim)
{
    const char *p = s, *end = s + len;
    size_t n = 0;
    field f;
    if (delim == ' ') {
        while (p < end && blank_char(*p))
            p++;
        if (p == end)
            return 0;
    }
    do {
        p = next_field(p, end, delim, &f);
        n++;
    } while (p);
    return n;
}

/* The field as a finite number; false if it is not one. */
static bool field_number(const field *f, double *out)
{
    char *stop;
    if (f->start == f->end)
        return false;
    double v = strtod(f->start, &stop);
    if (stop != f->end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool kiln__ml_csv_numeric(const char *s, size_t len, char delim)
{
    const char *p = s, *end = s + len;
    field f;
    double v;
    if (kiln__ml_csv_count(s, len, delim) == 0)
        return false;
    do {
        p = next_field(p, end, delim, &f);
        if (!field_number(&f, &v))
            return false;
    } while (p);
    return true;
}

kiln_status kiln__ml_parse_csv(const char *s, size_t len, char delim,
                               size_t ncols, int64_t label_col, double *label,
                               double *features, bool *blank, char *why)
{
    const char *p = s, *end = s + len;
    *blank = false;
    while (p < end && blank_char(*p))
        p++;
    if (p == end) {
        *blank = true;
        return KILN_OK;
    }
    size_t got = kiln__ml_csv_count(s, len, delim);
    if (got != ncols) {
        snprintf(why, KILN__ML_WHY, "%zu fields, expected %zu", got, ncols);
        return KILN_ERR_PARSE;
    }
    double y = NAN;
    size_t k = 0;
    p = s;
    for (size_t c = 0; c < ncols; c++) {
        field f;
        double v;
        p = next_field(p, end, delim, &f);
        if (f.start == f.end) {
            snprintf(why, KILN__ML_WHY, "field %zu is empty", c + 1);
            return KILN_ERR_PARSE;
        }
        if (!field_number(&f, &v)) {
            int w = (int)(f.end - f.start) > 24 ? 24 : (int)(f.end - f.start);
            snprintf(why, KILN__ML_WHY, "field %zu '%.*s' is not a finite number",
                     c + 1, w, f.start);
            return KILN_ERR_PARSE;
        }
        if ((int64_t)c == label_col)
            y = v;
        else
            features[k++] = v;
    }
    *label = y;
    return KILN_OK;
}
