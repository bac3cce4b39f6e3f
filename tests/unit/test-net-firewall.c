/* SPDX-License-Identifier: MIT */
/* kyokad's side of the firewall (net-firewall.c) and its messages (nft-protocol.c). The worker
 * is this test binary run again as `test-net-firewall --nft-worker`: either the real one
 * (nft_worker_main, libnftables, in a private network namespace) or a fake that dies the way
 * libnftables makes a process die, to show that kyokad's side survives it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net-firewall.h"
#include "nft-protocol.h"
#include "nft-worker.h"
#include "test-util.h"

static char *spawn_log;               /* each fake worker appends one byte at its start */

/* ---- the fake worker (runs in the child) ---------------------------------------------------- */

static int fake_reply(int fd, int r, const char *msg) {
        struct nft_reply rep = { .r = r };
        snprintf(rep.error, sizeof rep.error, "%s", msg);
        return send(fd, &rep, sizeof rep, MSG_NOSIGNAL) < 0 ? 1 : 0;
}

static int fake_worker(int fd, const char *mode) {
        uint8_t buf[NFT_REQUEST_MAX];
        struct stat st;
        int instance = 0;

        const char *log = getenv("FAKE_NFT_LOG");
        if (log) {
                int l = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                if (l >= 0) {
                        instance = fstat(l, &st) == 0 ? (int) st.st_size : 0;
                        (void) !write(l, "x", 1);
                        close(l);
                }
        }
        for (;;) {
                struct nft_request req;
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n <= 0)
                        return 0;
                if (nft_request_decode(buf, (size_t) n, &req) < 0)
                        return fake_reply(fd, -EBADMSG, "malformed");
                if (req.op == NFT_OP_INIT) {
                        if (streq(mode, "exit-at-init") || (streq(mode, "die-after-first") && instance > 0))
                                exit(3);        /* as libnftables does without nf_tables */
                        if (streq(mode, "unavailable"))
                                return fake_reply(fd, -EPROTONOSUPPORT, "the kernel has no nf_tables");
                        /* A worker started again must not empty the egress chains. */
                        if (instance > 0 && (req.flags & NFT_FLAG_RESET))
                                return fake_reply(fd, -EINVAL, "reset on restart");
                        if (fake_reply(fd, 0, "") != 0)
                                return 1;
                        continue;
                }
                if (req.op == NFT_OP_APPLY && instance == 0 &&
                    (streq(mode, "exit-at-first-apply") || streq(mode, "die-after-first")))
                        exit(3);
                if (fake_reply(fd, 0, "") != 0)
                        return 1;
        }
}

/* ---- messages ------------------------------------------------------------------------------- */

static void test_request_round_trip(void **state) {
        uint8_t buf[NFT_REQUEST_MAX];
        const int32_t allowed[] = { 1, 7, 3 };
        struct nft_request req = { .op = NFT_OP_APPLY, .n_allowed = 3, .allowed = allowed }, got;

        ssize_t n = nft_request_encode(&req, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(nft_request_decode(buf, (size_t) n, &got), 0);
        assert_int_equal(got.op, NFT_OP_APPLY);
        assert_int_equal(got.n_allowed, 3);
        assert_int_equal(got.allowed[1], 7);

        struct nft_request eg = { .op = NFT_OP_BLOCK_EGRESS, .ifindex = 12, .flags = NFT_FLAG_REPLACE, .name = "enp1s0" };
        n = nft_request_encode(&eg, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(nft_request_decode(buf, (size_t) n, &got), 0);
        assert_int_equal(got.ifindex, 12);
        assert_string_equal(got.name, "enp1s0");
        assert_true(got.flags & NFT_FLAG_REPLACE);
}

static void test_request_decode_refuses_what_encode_never_writes(void **state) {
        uint8_t buf[NFT_REQUEST_MAX];
        const int32_t allowed[] = { 4 };
        struct nft_request req = { .op = NFT_OP_APPLY, .n_allowed = 1, .allowed = allowed }, got;
        struct nft_request_header h;

        ssize_t n = nft_request_encode(&req, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(nft_request_decode(buf, (size_t) n - 1, &got), -EBADMSG);     /* truncated */
        assert_int_equal(nft_request_decode(buf, (size_t) n + 4, &got), -EBADMSG);     /* longer than n_allowed */
        assert_int_equal(nft_request_decode(buf, 3, &got), -EBADMSG);

        memcpy(&h, buf, sizeof h);
        h.op = 99;
        memcpy(buf, &h, sizeof h);
        assert_int_equal(nft_request_decode(buf, (size_t) n, &got), -EBADMSG);

        /* A name without its NUL, a name with a path or an escape, ifindex 0, ifindex -1 in the set. */
        memset(&h, 0, sizeof h);
        h.op = NFT_OP_BLOCK_EGRESS;
        h.ifindex = 3;
        memset(h.name, 'a', sizeof h.name);
        assert_int_equal(nft_request_decode(&h, sizeof h, &got), -EBADMSG);
        snprintf(h.name, sizeof h.name, "a/b");
        assert_int_equal(nft_request_decode(&h, sizeof h, &got), -EBADMSG);
        snprintf(h.name, sizeof h.name, "a\\x20");
        assert_int_equal(nft_request_decode(&h, sizeof h, &got), -EBADMSG);
        snprintf(h.name, sizeof h.name, "eth0");
        h.ifindex = 0;
        assert_int_equal(nft_request_decode(&h, sizeof h, &got), -EBADMSG);

        const int32_t bad[] = { 2, -1 };
        struct nft_request b = { .op = NFT_OP_APPLY, .n_allowed = 2, .allowed = bad };
        assert_int_equal(nft_request_encode(&b, buf, sizeof buf), -EINVAL);
}

static void test_reply_decode_needs_terminated_error(void **state) {
        struct nft_reply rep = { .r = -EIO }, got;

        memset(rep.error, 'x', sizeof rep.error);
        assert_int_equal(nft_reply_decode(&rep, sizeof rep, &got), -EBADMSG);
        rep.error[5] = 0;
        assert_int_equal(nft_reply_decode(&rep, sizeof rep, &got), 0);
        assert_int_equal(got.r, -EIO);
        rep.r = 1;
        assert_int_equal(nft_reply_decode(&rep, sizeof rep, &got), -EBADMSG);
        assert_int_equal(nft_reply_decode(&rep, sizeof rep - 1, &got), -EBADMSG);
}

/* ---- kyokad's side against fake workers ----------------------------------------------------- */

static void fake_mode(const char *mode) {
        assert_int_equal(setenv("FAKE_NFT", mode, 1), 0);
        assert_int_equal(setenv("FAKE_NFT_LOG", spawn_log, 1), 0);
        (void) unlink(spawn_log);
}

static long spawns(void) {
        struct stat st;
        return stat(spawn_log, &st) == 0 ? (long) st.st_size : 0;
}

static void test_library_exit_at_start_is_an_error_not_an_exit(void **state) {
        struct net_firewall *fw = NULL;
        _cleanup_free_ char *error = NULL;

        fake_mode("exit-at-init");
        assert_int_equal(net_firewall_new(NULL, &error, &fw), -ECHILD);
        assert_null(fw);
        assert_non_null(error);
        assert_non_null(strstr(error, "exited with status 3"));
}

static void test_kernel_without_nf_tables_is_reported(void **state) {
        struct net_firewall *fw = NULL;
        _cleanup_free_ char *error = NULL;

        fake_mode("unavailable");
        assert_int_equal(net_firewall_new(NULL, &error, &fw), -EPROTONOSUPPORT);
        assert_null(fw);
        assert_non_null(strstr(error, "no nf_tables"));
}

static void test_worker_dying_mid_request_fails_that_request_and_restarts(void **state) {
        struct net_firewall *fw = NULL;
        _cleanup_free_ char *error = NULL;

        fake_mode("exit-at-first-apply");
        assert_int_equal(net_firewall_new(NULL, &error, &fw), 0);
        assert_int_equal(spawns(), 1);
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, &error), -ECHILD);
        assert_non_null(strstr(error, "exited with status 3"));
        /* The next request starts a new worker, which keeps the egress chains (no RESET). */
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, NULL), 0);
        assert_int_equal(spawns(), 2);
        assert_int_equal(net_firewall_block_egress(fw, 5, "veth0", false, NULL), 0);
        assert_int_equal(spawns(), 2);
        net_firewall_free(fw);
}

static void test_worker_is_not_started_again_after_repeated_failures(void **state) {
        struct net_firewall *fw = NULL;
        _cleanup_free_ char *error = NULL;

        fake_mode("die-after-first");
        assert_int_equal(net_firewall_new(NULL, &error, &fw), 0);
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, NULL), -ECHILD);
        for (int i = 0; i < 3; i++)
                assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, NULL), -ECHILD);
        long n = spawns();
        assert_int_equal(n, 4);
        free(error);
        error = NULL;
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, &error), -ECHILD);
        assert_non_null(strstr(error, "not started again"));
        assert_int_equal(spawns(), n);         /* no fork for a worker that keeps failing */
        net_firewall_free(fw);
}

static void test_bad_requests_are_refused_before_the_worker(void **state) {
        struct net_firewall *fw = NULL;

        fake_mode("ok");
        assert_int_equal(net_firewall_new(NULL, NULL, &fw), 0);
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 0 }, 1, NULL), -EINVAL);
        assert_int_equal(net_firewall_block_egress(fw, 3, "a\\x01b", false, NULL), -EINVAL);
        assert_int_equal(net_firewall_block_egress(fw, 3, "0123456789abcdefXX", false, NULL), -EINVAL);
        net_firewall_free(fw);
}

/* ---- the real worker, libnftables in a private network namespace ---------------------------- */

static void test_real_worker_installs_the_tables(void **state) {
        struct net_firewall *fw = NULL;
        _cleanup_free_ char *error = NULL;

        if (geteuid() != 0 || access("/usr/sbin/nft", X_OK) < 0)
                skip();
        assert_int_equal(unsetenv("FAKE_NFT"), 0);
        int r = net_firewall_new(NULL, &error, &fw);
        if (r == -EPROTONOSUPPORT)
                skip();                         /* this kernel has no nf_tables */
        assert_int_equal(r, 0);
        assert_int_equal(net_firewall_apply(fw, (const int[]) { 1 }, 1, &error), 0);
        assert_int_equal(system("nft list set inet kyoka allowed | grep -q 'elements = { \"lo\" }'"), 0);
        assert_int_equal(net_firewall_block_egress(fw, 1, "lo", false, &error), 0);
        assert_int_equal(system("nft list chain netdev kyoka l1 >/dev/null 2>&1"), 0);
        assert_int_equal(net_firewall_unblock_egress(fw, 1), 0);
        assert_int_not_equal(system("nft list chain netdev kyoka l1 >/dev/null 2>&1"), 0);
        net_firewall_free(fw);
        /* The tables stay when kyokad (here: its side of the firewall) goes. */
        assert_int_equal(system("nft list table arp kyoka >/dev/null"), 0);
}

int main(int argc, char *argv[]) {
        if (argc == 2 && streq(argv[1], NFT_WORKER_ARG)) {
                const char *mode = getenv("FAKE_NFT");
                return mode ? fake_worker(NFT_WORKER_FD, mode) : nft_worker_main(NFT_WORKER_FD);
        }
        /* The real worker's tables go into a namespace of this test's own (root only). */
        if (geteuid() == 0 && unshare(CLONE_NEWNET) < 0)
                fprintf(stderr, "# unshare(CLONE_NEWNET): %m: the real worker's test is skipped\n");

        _cleanup_free_ char *dir = test_mkdtemp();
        spawn_log = path_join(dir, "spawns");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_round_trip),
                cmocka_unit_test(test_request_decode_refuses_what_encode_never_writes),
                cmocka_unit_test(test_reply_decode_needs_terminated_error),
                cmocka_unit_test(test_library_exit_at_start_is_an_error_not_an_exit),
                cmocka_unit_test(test_kernel_without_nf_tables_is_reported),
                cmocka_unit_test(test_worker_dying_mid_request_fails_that_request_and_restarts),
                cmocka_unit_test(test_worker_is_not_started_again_after_repeated_failures),
                cmocka_unit_test(test_bad_requests_are_refused_before_the_worker),
                cmocka_unit_test(test_real_worker_installs_the_tables),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        test_rmdir_r(dir);
        free(spawn_log);
        return r;
}
