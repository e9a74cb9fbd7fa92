/* runtime/output.c: an output directory appears whole or not at all.
 * Part files go to a staging directory beside the target (same file system,
 * so rename is atomic); the master renames it into place only after every
 * rank reported success, then writes _SUCCESS. An existing target is
 * refused unless the caller asked to overwrite, in which case the old
 * directory is moved aside first and deleted after the swap: never a mix of
 * old and new part files. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/io.h"

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

kiln_status kiln__remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? KILN_OK
                               : KILN_ERROR(KILN_ERR_IO, "cannot stat '%s': %s",
                                            path, strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot remove '%s': %s", path,
                          strerror(errno));
    return KILN_OK;
}

/* mkdir -p of the parent directories of path. */
static kiln_status make_parents(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return KILN_ERROR(KILN_ERR_INVAL, "path too long: '%s'", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return KILN_ERROR(KILN_ERR_IO, "cannot create directory '%s': %s",
                              buf, strerror(errno));
        *p = '/';
    }
    return KILN_OK;
}

static void strip_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
}

kiln_status kiln__output_prepare(const char *dir, bool overwrite,
                                 const char *job_id, char *staging, size_t size)
{
    char target[4096];
    if (!dir || !*dir)
        return KILN_ERROR(KILN_ERR_INVAL, "output directory is empty");
    if (snprintf(target, sizeof target, "%s", dir) >= (int)sizeof target)
        return KILN_ERROR(KILN_ERR_INVAL, "output path too long");
    strip_slashes(target);
    struct stat sb;
    if (stat(target, &sb) == 0) {
        if (!overwrite)
            return KILN_ERROR(KILN_ERR_EXISTS,
                              "output '%s' already exists; remove it or ask to "
                              "overwrite it", target);
        if (!S_ISDIR(sb.st_mode))
            return KILN_ERROR(KILN_ERR_EXISTS,
                              "output '%s' exists and is not a directory", target);
    }
    kiln_status st = make_parents(target);
    if (st != KILN_OK)
        return st;
    if (snprintf(staging, size, "%s.kiln-staging-%s", target, job_id) >= (int)size)
        return KILN_ERROR(KILN_ERR_INVAL, "output path too long");
    if ((st = kiln__remove_tree(staging)) != KILN_OK)
        return st;
    if (mkdir(staging, 0755) != 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot create '%s': %s", staging,
                          strerror(errno));
    return KILN_OK;
}

kiln_status kiln__output_commit(const char *dir, const char *staging,
                                const char *job_id)
{
    char target[4096], old[4200], marker[4300];
    snprintf(target, sizeof target, "%s", dir);
    strip_slashes(target);
    snprintf(old, sizeof old, "%s.kiln-replaced-%s", target, job_id);
    bool replaced = false;
    struct stat sb;
    if (stat(target, &sb) == 0) {
        if (rename(target, old) != 0)
            return KILN_ERROR(KILN_ERR_IO, "cannot move old output '%s' aside: %s",
                              target, strerror(errno));
        replaced = true;
    }
    if (rename(staging, target) != 0) {
        int err = errno;
        if (replaced && rename(old, target) != 0)
            kiln__error_set(KILN_ERR_IO, __FILE__, __LINE__,
                            "old output is left at '%s'", old);
        return KILN_ERROR(KILN_ERR_IO, "cannot move output into '%s': %s",
                          target, strerror(err));
    }
    snprintf(marker, sizeof marker, "%s/_SUCCESS", target);
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot write '%s': %s", marker,
                          strerror(errno));
    close(fd);
    if (replaced)
        return kiln__remove_tree(old);
    return KILN_OK;
}

void kiln__output_abort(const char *staging)
{
    if (staging && *staging) {
        kiln_status st = kiln__remove_tree(staging);
        (void)st; /* best effort: the job is failing already */
    }
}
