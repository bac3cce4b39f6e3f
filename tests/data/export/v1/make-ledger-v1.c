/* SPDX-License-Identifier: MIT */
/* How tests/data/export/v1/ledger.db was made: the unit tests' fixture week (ledger-fixture.h)
 * appended by the ledger code of commit 115ed77, the last before the record count (encoding
 * version 1, no count column). Kept for the record; it builds only against that commit:
 *   git archive 115ed77 | tar -x -C /tmp/v1 && make -C /tmp/v1 -j2 all
 *   cc -D_GNU_SOURCE -I/tmp/v1/basic -I/tmp/v1/policy -I/tmp/v1/ledger -I/tmp/v1/tests/unit \
 *      make-ledger-v1.c /tmp/v1/build/libkyoka-ledger.a /tmp/v1/build/libkyoka-policy.a \
 *      /tmp/v1/build/libkyoka-basic.a -ljson-c -lcrypto -lsqlite3 -lsystemd -o make-ledger-v1
 *   ./make-ledger-v1 ledger.db
 * The export folder next to it (ja/) is that commit's golden export of the same week (ja). */
#include <stdio.h>

#include "ledger-fixture.h"

int main(int argc, char **argv) {
        struct ledger *l;

        if (argc != 2 || ledger_open(argv[1], 0, 0, &l) < 0)
                return 1;
        if (fixture_fill(l) < 0)
                return 1;
        ledger_close(l);
        return 0;
}
