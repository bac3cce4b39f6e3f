/* SPDX-License-Identifier: MIT */
/* Who sits at the workstation: the user of the active session on a seat (sd-login), recorded
 * with each event as the "利用者" of the record book. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <systemd/sd-login.h>

#include "ledger.h"

int seat_active_user(const char *seat, int64_t *ret_uid, char *ret_name, size_t size) {
        _cleanup_free_ char *session = NULL;
        struct passwd pw, *result = NULL;
        char buf[4096], num[24];
        uid_t uid;
        int r;

        r = sd_seat_get_active(seat, &session, &uid);
        if (r == -ENODATA || r == -ENOENT)
                return -ENXIO;
        if (r < 0)
                return r;

        /* A uid without a passwd entry (a removed account) is still recorded, by number. */
        r = getpwuid_r(uid, &pw, buf, sizeof buf, &result);
        if (r == 0 && result)
                ledger_text_set(ret_name, size, pw.pw_name);
        else {
                snprintf(num, sizeof num, "%u", (unsigned) uid);
                ledger_text_set(ret_name, size, num);
        }
        *ret_uid = uid;
        return 0;
}
