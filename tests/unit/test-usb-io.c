/* SPDX-License-Identifier: MIT */
/* sysfs I/O off the event loop: a device whose reads hang must not hold up another device,
 * and requests for one device are applied in the order they were made. */
#include "test-util.h"
#include "usb-io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t stick[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xf4, 0x46, 0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1,
        9, 2, 18, 0, 1, 1, 0, 0xc0, 50,
        9, 4, 0, 0, 0, 0x08, 0x06, 0x50, 0,
};

struct seen {
        unsigned n;
        struct usb_io_result results[8];
};

static void on_done(const struct usb_io_result *res, void *userdata) {
        struct seen *s = userdata;
        assert_true(s->n < ELEMENTSOF(s->results));
        s->results[s->n++] = *res;
}

static void run_until(sd_event *e, struct seen *s, unsigned n) {
        for (int i = 0; i < 500 && s->n < n; i++)
                assert_true(sd_event_run(e, 10 * 1000) >= 0);
        assert_int_equal(s->n, n);
}

static char *make_device(const char *base, const char *name, bool hanging) {
        char *dir = path_join(base, name);
        assert_int_equal(mkdir(dir, 0755), 0);
        if (hanging) {
                char *fifo = path_join(dir, "descriptors");
                assert_int_equal(mkfifo(fifo, 0600), 0);
                free(fifo);
        } else
                free(test_write(dir, "descriptors", stick, sizeof stick));
        free(test_write(dir, "authorized", "0\n", 2));
        return dir;
}

static struct usb_io_request request(enum usb_io_op op, const char *syspath, uint64_t tag) {
        struct usb_io_request req = { .op = op, .tag = tag };
        snprintf(req.syspath, sizeof req.syspath, "%s", syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", strrchr(syspath, '/') + 1);
        return req;
}

static void test_hanging_device_does_not_hold_up_another(void **state) {
        _cleanup_free_ char *base = test_mkdtemp();
        _cleanup_free_ char *a = make_device(base, "1-1", true), *b = make_device(base, "1-2", false);
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(usb_io_new(e, 2, on_done, &seen, &io), 0);
        struct usb_io_request ra = request(USB_IO_READ_IDENTITY, a, 1), rb = request(USB_IO_READ_IDENTITY, b, 2);
        assert_int_equal(usb_io_submit(io, &ra), 0);
        assert_int_equal(usb_io_submit(io, &rb), 0);

        run_until(e, &seen, 1);
        assert_int_equal(seen.results[0].req.tag, 2);
        assert_int_equal(seen.results[0].r, 0);
        assert_int_equal(seen.results[0].id.vendor, 0x46f4);
        assert_int_equal(usb_io_pending(io), 1);

        /* The hung device answers at last. */
        _cleanup_free_ char *fifo = path_join(a, "descriptors");
        int fd = open(fifo, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, stick, sizeof stick), (ssize_t) sizeof stick);
        close(fd);
        run_until(e, &seen, 2);
        assert_int_equal(seen.results[1].req.tag, 1);
        assert_int_equal(seen.results[1].r, 0);

        usb_io_free(io);
        sd_event_unref(e);
        test_rmdir_r(base);
}

static void test_requests_for_one_device_apply_in_order(void **state) {
        _cleanup_free_ char *base = test_mkdtemp();
        _cleanup_free_ char *c = make_device(base, "1-3", false);
        _cleanup_free_ char *authorized = path_join(c, "authorized");
        _cleanup_free_ char *value = NULL;
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(usb_io_new(e, 4, on_done, &seen, &io), 0);
        for (unsigned i = 0; i < 6; i++) {
                struct usb_io_request r = request(USB_IO_APPLY, c, i);
                r.authorize = i % 2 == 0; /* allow, revoke, allow, revoke, ... */
                assert_int_equal(usb_io_submit(io, &r), 0);
        }
        run_until(e, &seen, 6);
        for (unsigned i = 0; i < 6; i++) {
                assert_int_equal(seen.results[i].req.tag, i);
                assert_int_equal(seen.results[i].r, 0);
        }
        /* The last request was a revoke: the device ends de-authorised. */
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '0');

        usb_io_free(io);
        sd_event_unref(e);
        test_rmdir_r(base);
}

static void test_missing_device_reports_its_error(void **state) {
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(usb_io_new(e, 1, on_done, &seen, &io), 0);
        struct usb_io_request r = request(USB_IO_APPLY, "/nonexistent/1-9", 7);
        r.authorize = true;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 1);
        assert_int_equal(seen.results[0].r, -ENOENT);
        usb_io_free(io);
        sd_event_unref(e);
}

/* A stick unplugged and another plugged into the same port between the identity read and the
 * decision's writes: the writes must not reach the newcomer (issue 9). The newcomer has the same
 * path but another directory (and another devnum). */
static void test_device_replaced_at_the_same_port_gets_nothing(void **state) {
        _cleanup_free_ char *base = test_mkdtemp(), *gone = path_join(base, "1-7.gone");
        _cleanup_free_ char *dev = make_device(base, "1-7", false), *authorized = path_join(dev, "authorized");
        _cleanup_free_ char *value = NULL;
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        free(test_write(dev, "devnum", "5\n", 2));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(usb_io_new(e, 1, on_done, &seen, &io), 0);
        struct usb_io_request r = request(USB_IO_READ_IDENTITY, dev, 1);
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 1);
        assert_int_equal(seen.results[0].r, 0);
        assert_int_equal(seen.results[0].devnum, 5);
        assert_true(seen.results[0].ino != 0);

        /* The newcomer: same path, a new directory. */
        assert_int_equal(rename(dev, gone), 0);
        free(make_device(base, "1-7", false));
        free(test_write(dev, "devnum", "6\n", 2));
        struct usb_io_request a = request(USB_IO_APPLY, dev, 2);
        a.authorize = true;
        a.expect_ino = seen.results[0].ino;
        a.expect_devnum = seen.results[0].devnum;
        assert_int_equal(usb_io_submit(io, &a), 0);
        run_until(e, &seen, 2);
        assert_int_equal(seen.results[1].r, -ENODEV);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_string_equal(value, "0\n");
        value = mfree(value);

        /* The same directory but another devnum (a recycled directory would show it): refused too. */
        struct stat st;
        assert_int_equal(stat(dev, &st), 0);
        a.expect_ino = (uint64_t) st.st_ino;
        a.expect_devnum = 5;
        a.tag = 3;
        assert_int_equal(usb_io_submit(io, &a), 0);
        run_until(e, &seen, 3);
        assert_int_equal(seen.results[2].r, -ENODEV);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_string_equal(value, "0\n");
        value = mfree(value);

        /* The device that was read, still there: authorised. */
        a.expect_devnum = 6;
        a.tag = 4;
        assert_int_equal(usb_io_submit(io, &a), 0);
        run_until(e, &seen, 4);
        assert_int_equal(seen.results[3].r, 0);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '1');
        usb_io_free(io);
        sd_event_unref(e);
        test_rmdir_r(base);
}

/* A loop and sysfs workers writing access files into ADIR (made here): ADIR's fd. */
static int io_with_access_dir(const char *adir, struct seen *seen, sd_event **ret_e, struct usb_io **ret_io) {
        assert_int_equal(mkdir(adir, 0755), 0);
        int dfd = open(adir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(sd_event_new(ret_e), 0);
        assert_int_equal(usb_io_new(*ret_e, 2, on_done, seen, ret_io), 0);
        usb_io_set_access_dir(*ret_io, dfd);
        return dfd;
}

/* Read-only media: the access file is written with the decision, before `authorized`; a device
 * whose file cannot be written is not authorised (unless nothing of it can be a disk). */
static void test_access_files(void **state) {
        _cleanup_free_ char *base = test_mkdtemp(), *adir = path_join(base, "access");
        _cleanup_free_ char *c = make_device(base, "1-4", false), *k = make_device(base, "1-5", false);
        _cleanup_free_ char *authorized = path_join(c, "authorized"), *kauthorized = path_join(k, "authorized");
        _cleanup_free_ char *file = path_join(adir, "1-4"), *value = NULL;
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        _cleanup_close_ int dfd = io_with_access_dir(adir, &seen, &e, &io);

        struct usb_io_request r = request(USB_IO_APPLY, c, 1);
        r.authorize = true;
        r.access = BLOCK_ACCESS_READ_ONLY;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 1);
        assert_int_equal(seen.results[0].r, 0);
        assert_false(seen.results[0].reauthorized);
        assert_int_equal(read_file_bounded(file, 64, &value, NULL), 0);
        assert_string_equal(value, "read-only\nhidraw=root\n");
        value = mfree(value);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '1');
        value = mfree(value);
        assert_int_equal(block_access_read(dfd, "1-4"), BLOCK_ACCESS_READ_ONLY);

        /* The access changes on the authorised device: attached again, file replaced. */
        r.tag = 2;
        r.access = BLOCK_ACCESS_READ_WRITE;
        r.access_changed = true;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 2);
        assert_int_equal(seen.results[1].r, 0);
        assert_true(seen.results[1].reauthorized);
        assert_int_equal(block_access_read(dfd, "1-4"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(hidraw_access_read(dfd, "1-4"), HIDRAW_ACCESS_ROOT);

        /* Raw HID granted on the authorised device: attached again, the file says so. */
        r.tag = 2;
        r.hidraw = HIDRAW_ACCESS_USER;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 3);
        assert_int_equal(seen.results[2].r, 0);
        assert_true(seen.results[2].reauthorized);
        assert_int_equal(block_access_read(dfd, "1-4"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(hidraw_access_read(dfd, "1-4"), HIDRAW_ACCESS_USER);
        seen.n--;             /* the steps below count from here */

        /* Blocked: de-authorised and the file is gone. */
        r.tag = 3;
        r.authorize = false;
        r.access_changed = false;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 3);
        assert_int_equal(seen.results[2].r, 0);
        assert_int_equal(access(file, F_OK), -1);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '0');
        value = mfree(value);

        /* FORGET (unplugged) removes a file left behind. */
        assert_int_equal(block_access_write(dfd, "1-4", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_ROOT), 0);
        struct usb_io_request f = request(USB_IO_FORGET, c, 4);
        assert_int_equal(usb_io_submit(io, &f), 0);
        run_until(e, &seen, 4);
        assert_int_equal(seen.results[3].r, 0);
        assert_int_equal(access(file, F_OK), -1);

        /* No usable access directory: a storage device stays unauthorised, a keyboard does not. */
        usb_io_set_access_dir(io, -EBADF);
        r.tag = 5;
        r.authorize = true;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 5);
        assert_int_equal(seen.results[4].r, -EBADF);
        assert_int_equal(read_file_bounded(authorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '0');
        value = mfree(value);
        struct usb_io_request kb = request(USB_IO_APPLY, k, 6);
        kb.authorize = true;
        kb.desc.n_interfaces = 1;
        kb.desc.interfaces[0] = (struct usb_interface_desc) { .config_value = 1, .number = 0, .c = { 0x03, 1, 1 } };
        assert_int_equal(usb_io_submit(io, &kb), 0);
        run_until(e, &seen, 6);
        assert_int_equal(seen.results[5].r, 0);
        assert_int_equal(read_file_bounded(kauthorized, 16, &value, NULL), 0);
        assert_int_equal(value[0], '1');

        /* BLKROSET on something that is not a block device fails (kyokad de-authorises then). */
        struct usb_io_request b = request(USB_IO_BLOCK_READ_ONLY, c, 7);
        snprintf(b.devnode, sizeof b.devnode, "%s", authorized);
        assert_int_equal(usb_io_submit(io, &b), 0);
        run_until(e, &seen, 7);
        assert_int_equal(seen.results[6].r, -ENOTBLK);

        usb_io_free(io);
        sd_event_unref(e);
        test_rmdir_r(base);
}

/* Scan before use (issue 15): a pass widens a held device in place, bound to the scanned disks'
 * diskseqs, without attaching it again (which would make new disks the scan never saw); held
 * again (a new medium) it is attached again. */
static void test_open_in_place(void **state) {
        _cleanup_free_ char *base = test_mkdtemp(), *adir = path_join(base, "access");
        _cleanup_free_ char *c = make_device(base, "1-4", false);
        _cleanup_free_ char *file = path_join(adir, "1-4"), *value = NULL;
        struct seen seen = {};
        sd_event *e = NULL;
        struct usb_io *io = NULL;

        _cleanup_close_ int dfd = io_with_access_dir(adir, &seen, &e, &io);

        struct usb_io_request r = request(USB_IO_APPLY, c, 1);
        r.authorize = true;
        r.access = BLOCK_ACCESS_HELD;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 1);
        assert_int_equal(seen.results[0].r, 0);
        assert_int_equal(read_file_bounded(file, 64, &value, NULL), 0);
        assert_string_equal(value, "held\nhidraw=root\n");
        value = mfree(value);

        r.tag = 2;
        r.access = BLOCK_ACCESS_READ_WRITE;
        r.access_changed = true;
        r.open_in_place = true;
        r.bound = true;
        r.n_diskseq = 2;
        r.diskseq[0] = 41;
        r.diskseq[1] = 7;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 2);
        assert_int_equal(seen.results[1].r, 0);
        assert_false(seen.results[1].reauthorized);
        assert_int_equal(seen.results[1].open_error, 0);
        assert_int_equal(read_file_bounded(file, 64, &value, NULL), 0);
        assert_string_equal(value, "read-write\nhidraw=root\ndiskseq=41 7\n");
        value = mfree(value);

        /* Narrowed again (a card swapped in): attached again, held. */
        r.tag = 3;
        r.access = BLOCK_ACCESS_HELD;
        r.open_in_place = false;
        r.bound = false;
        r.n_diskseq = 0;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 3);
        assert_int_equal(seen.results[2].r, 0);
        assert_true(seen.results[2].reauthorized);
        assert_int_equal(read_file_bounded(file, 64, &value, NULL), 0);
        assert_string_equal(value, "held\nhidraw=root\n");
        value = mfree(value);

        /* A bound widening that also changes raw HID access is attached again (its nodes anew). */
        r.tag = 4;
        r.access = BLOCK_ACCESS_READ_ONLY;
        r.hidraw = HIDRAW_ACCESS_USER;
        r.bound = true;
        r.n_diskseq = 1;
        r.open_in_place = false;
        assert_int_equal(usb_io_submit(io, &r), 0);
        run_until(e, &seen, 4);
        assert_true(seen.results[3].reauthorized);

        usb_io_free(io);
        sd_event_unref(e);
        test_rmdir_r(base);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hanging_device_does_not_hold_up_another),
                cmocka_unit_test(test_requests_for_one_device_apply_in_order),
                cmocka_unit_test(test_missing_device_reports_its_error),
                cmocka_unit_test(test_device_replaced_at_the_same_port_gets_nothing),
                cmocka_unit_test(test_access_files),
                cmocka_unit_test(test_open_in_place),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
