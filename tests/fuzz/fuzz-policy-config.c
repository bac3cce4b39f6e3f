/* SPDX-License-Identifier: MIT */
/* libFuzzer target: policy/policy-config.c against libconfig 1.5, its oracle. Any input that
 * one accepts and the other refuses, that both accept as different trees (types, names, values,
 * source lines), or that both refuse with a different message or line, aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/pconf-oracle.h"

/* libconfig 1.5 leaks the string tokens its lexer made when a syntax error hits them (its
 * grammar has no %destructor). Not ours to fix; suppressed by those lexer frames only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char why[512];
        bool accepted;

        if (oracle_compare((const char *) data, size, why, sizeof why, &accepted) < 0) {
                fprintf(stderr, "fuzz-policy-config: %s\n", why);
                abort();
        }
        return 0;
}
