/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the unit tests: scratch directories and files. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"

/* A fresh directory under $TMPDIR (or /tmp), removed by the caller with test_rmdir_r. */
static inline char *test_mkdtemp(void) {
        const char *base = getenv("TMPDIR");
        char *p;
        assert_true(asprintf(&p, "%s/kyoka-test.XXXXXX", base ? base : "/tmp") > 0);
        assert_non_null(mkdtemp(p));
        return p;
}

static inline void test_rmdir_r(const char *dir) {
        char *cmd;
        if (!dir)
                return;
        /* Test-owned path from mkdtemp, never user input. */
        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

/* Writes TEXT to DIR/NAME and returns the path (caller frees). */
static inline char *test_write(const char *dir, const char *name, const void *data, size_t size) {
        char *path = path_join(dir, name);
        assert_non_null(path);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, size, f), size);
        assert_int_equal(fclose(f), 0);
        return path;
}
