/* SPDX-License-Identifier: MIT */
/* A full disk under the ledger (a 4 MiB tmpfs in a private mount namespace; needs root, else
 * skipped): commits fail with an error while appends keep queuing, nothing is lost, and once
 * space returns one commit writes every waiting record plus a "ledger-delayed" fault, and the
 * chain verifies. */
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include "test-util.h"

#include "ledger.h"
#include "ledger-fixture.h"

static void test_full_disk_queues_then_recovers_with_gap_record(void **state) {
        _cleanup_free_ char *dir = NULL, *db = NULL, *filler = NULL;
        struct ledger *l;
        struct ledger_record r, delayed;
        struct ledger_verify_report rep;
        char block[64 * 1024];
        int64_t seq;
        int fd, ret = 0, failures = 0;

        if (geteuid() != 0)
                skip();
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        dir = test_mkdtemp();
        assert_int_equal(mount("kyoka-test", dir, "tmpfs", 0, "size=4m"), 0);
        db = path_join(dir, "ledger.db");
        filler = path_join(dir, "filler");

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        r = fixture_record(FIXTURE_MONDAY, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, &seq), 1);

        /* Fill the filesystem to the last block. */
        memset(block, 'x', sizeof block);
        fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        for (size_t size = sizeof block; size >= 512; size /= 2)
                while (write(fd, block, size) == (ssize_t) size)
                        ;
        close(fd);

        /* Events keep coming: every commit fails, every record stays queued. */
        r = fixture_record(FIXTURE_MONDAY + 60, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&r, "0781", "5581", "SanDisk", "Ultra", "S1", "08:06:50");
        memset(r.message, 'm', 900);   /* big records, so the WAL must grow */
        for (int batch = 0; batch < 10; batch++) {
                for (int i = 0; i < 50; i++) {
                        r.time++;
                        assert_int_equal(ledger_append(l, &r), 0);
                }
                ret = ledger_commit(l, NULL);
                if (ret < 0)
                        failures++;
        }
        assert_true(failures > 0);
        assert_true(ret == -ENOSPC || ret == -EIO);
        assert_int_equal(ledger_queued(l), 500);

        /* Space returns: one commit writes all 500 and says they were delayed. */
        assert_int_equal(unlink(filler), 0);
        assert_int_equal(ledger_commit(l, &seq), 501);
        assert_int_equal(seq, 502);
        assert_int_equal(ledger_find_last(l, LEDGER_EVENT_LEDGER_DELAYED, 1000, &delayed), 0);
        assert_int_equal(delayed.seq, 502);
        assert_non_null(strstr(delayed.message, "500 records waited"));
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, 502);
        ledger_close(l);

        assert_int_equal(umount(dir), 0);
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_disk_queues_then_recovers_with_gap_record),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
