/* SPDX-License-Identifier: MIT */
/* kyokad: parse the command line, build the manager, run the loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "carry-worker.h"
#include "control.h"
#include "control-message.h"
#include "i18n.h"
#include "kyoka-names.h"
#include "log.h"
#include "trace.h"
#include "manager.h"
#include "nft-protocol.h"
#include "nft-worker.h"
#include "policy-sign.h"
#include "scan-worker.h"

#ifndef KYOKA_VERSION
#error "KYOKA_VERSION is defined by the Makefile (packaging/debian/changelog's top entry)"
#endif

static void help(void) {
        i18n_init();    /* --help only: kyokad's journal text stays English */
        printf(_("Usage: kyokad [OPTIONS]\n\n"
               "Blocks every USB device, medium and network link the signed policy does not\n"
               "approve and records each decision (kyokad(8)). Started by kyokad.service.\n\n"
               "  --config-dir DIR    %s, %s, %s/ (default %s)\n"
               "  --state-dir DIR     anti-rollback state, %s (default %s)\n"
               "  --runtime-dir DIR   control socket (default %s)\n"
               "  --udev-events SRC   kernel (default) or udev (for umockdev tests)\n"
               "  --network MODE      enforce (default): unapproved links kept down and firewalled;\n"
               "                      off: leave links alone (USB-only tests in the host's namespace)\n"
               "  --clamd-socket PATH the virus scanner's socket (default %s)\n"
               "  --carry-out MODE    on (default): record files written to and read from approved\n"
               "                      media (fanotify); worker: the carry-out worker of\n"
               "                      kyoka-carry.service records them, and read-write media are\n"
               "                      read-only while it is not running (kyokad.service); off: do not\n"
               "  --debug             log debug messages\n"
               "  -h, --help          show this help\n"
               "  --version           show the version\n"),
               KYOKA_POLICY_FILE, KYOKA_POLICY_SIG_FILE, KYOKA_KEYS_DIR, KYOKA_CONFIG_DIR, KYOKA_LEDGER_FILE,
               KYOKA_STATE_DIR, KYOKA_RUNTIME_DIR, KYOKA_CLAMD_SOCKET);
}

int main(int argc, char *argv[]) {
        struct manager_config cfg = {
                .config_dir = KYOKA_CONFIG_DIR,
                .state_dir = KYOKA_STATE_DIR,
                .runtime_dir = KYOKA_RUNTIME_DIR,
                .udev_events = "kernel",
        };
        static const struct option options[] = {
                { "config-dir", required_argument, NULL, 'c' },
                { "state-dir", required_argument, NULL, 's' },
                { "runtime-dir", required_argument, NULL, 'r' },
                { "udev-events", required_argument, NULL, 'u' },
                { "network", required_argument, NULL, 'n' },
                { "debug", no_argument, NULL, 'd' },
                { "clamd-socket", required_argument, NULL, 'C' },
                { "carry-out", required_argument, NULL, 'O' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                /* Not in --help: for tests that cannot wait the default 30 s (docs/control.md). */
                { "control-idle-timeout", required_argument, NULL, 'I' },
                {},
        };
        struct manager *m = NULL;
        struct stat st;
        int c, r;

        /* Before any other use of libcrypto (a failure shows at its first use: the policy's
         * check fails, lockdown). */
        (void) crypto_init();

        /* The workers below run as processes named kyokad too: `killall -HUP kyokad` or
         * `kill -HUP $(pidof kyokad)`, meant as a reload, reaches them as well and would end
         * them (a scan ending without its result, the firewall worker gone). SIGHUP is kyokad's
         * reload, never a worker's end (kyokad starts them with it blocked). */
        if (argc >= 2 && (streq(argv[1], NFT_WORKER_ARG) || streq(argv[1], CARRY_WORKER_ARG) ||
                          streq(argv[1], SCAN_WORKER_ARG))) {
                sigset_t hup;
                sigemptyset(&hup);
                sigaddset(&hup, SIGHUP);
                (void) signal(SIGHUP, SIG_IGN);         /* a pending one is dropped */
                (void) sigprocmask(SIG_UNBLOCK, &hup, NULL);
        }

        /* kyokad started by itself to run libnftables apart (net-firewall.c): only with the
         * socket it was given, never by hand. */
        if (argc == 2 && streq(argv[1], NFT_WORKER_ARG)) {
                if (fstat(NFT_WORKER_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                        fprintf(stderr, "kyokad: %s is kyokad's own, not for use by hand\n", NFT_WORKER_ARG);
                        return 2;
                }
                return nft_worker_main(NFT_WORKER_FD);
        }

        /* The carry-out worker (kyoka-carry.service): connects to a running kyokad. */
        if (argc >= 2 && streq(argv[1], CARRY_WORKER_ARG))
                return carry_worker_main(argc - 1, argv + 1);

        /* kyokad started by itself to scan one medium (scan.c): its stdout is kyokad's pipe. */
        if (argc >= 2 && streq(argv[1], SCAN_WORKER_ARG))
                return scan_worker_main(argc - 1, argv + 1);

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'c': cfg.config_dir = optarg; break;
                case 's': cfg.state_dir = optarg; break;
                case 'r': cfg.runtime_dir = optarg; break;
                case 'C': cfg.clamd_socket = optarg; break;
                case 'u':
                        if (!streq(optarg, "kernel") && !streq(optarg, "udev")) {
                                fprintf(stderr, "kyokad: --udev-events must be kernel or udev\n");
                                return 2;
                        }
                        cfg.udev_events = optarg;
                        break;
                case 'n':
                        if (!streq(optarg, "enforce") && !streq(optarg, "off")) {
                                fprintf(stderr, "kyokad: --network must be enforce or off\n");
                                return 2;
                        }
                        cfg.no_network = streq(optarg, "off");
                        break;
                case 'O':
                        if (streq(optarg, "on"))
                                cfg.carry_mode = CARRY_MODE_ON;
                        else if (streq(optarg, "off"))
                                cfg.carry_mode = CARRY_MODE_OFF;
                        else if (streq(optarg, "worker"))
                                cfg.carry_mode = CARRY_MODE_WORKER;
                        else {
                                fprintf(stderr, "kyokad: --carry-out must be on, off or worker\n");
                                return 2;
                        }
                        break;
                case 'd': log_set_max_level(LOG_DEBUG); break;
                case 'I': {
                        char *end;
                        errno = 0;
                        unsigned long long sec = strtoull(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-' ||
                            sec > UINT64_MAX / CONTROL_USEC_PER_SEC ||
                            control_set_idle_timeout(sec * CONTROL_USEC_PER_SEC) < 0) {
                                fprintf(stderr, "kyokad: --control-idle-timeout must be 1 to 3600 seconds\n");
                                return 2;
                        }
                        break;
                }
                case 'h': help(); return 0;
                case 'V': puts("kyokad (kyoka) " KYOKA_VERSION); return 0;
                default: return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "kyokad: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        log_setup();
        trace_setup();
        r = manager_new(&cfg, &m);
        if (r < 0) {
                log_error_errno(r, "Failed to set up: %m");
                return 1;
        }
        r = manager_start(m);
        if (r >= 0)
                r = manager_run(m);
        /* "stopped" committed and the marker removed: the next start sees a clean stop. */
        manager_stop(m, r);
        manager_free(m);
        return r < 0 ? 1 : 0;
}
