/* SPDX-License-Identifier: MIT */
/* policy-bench: how long a policy of N USB permits takes to load (read, verify, parse, index)
 * and to answer, for N = 1k, 10k, 100k (or the sizes given on the command line).
 *
 * For each size it generates a policy with policy_write(), signs it with a fresh Ed25519 key,
 * and measures policy_load() (the whole gate kyokad uses) plus its two expensive steps on their
 * own (keyring_verify over the bytes, policy_parse of the bytes, which includes building the
 * indices, and policy_index_build alone). Lookups are timed in batches of LOOKUP_BATCH calls, and the median batch is
 * reported per call, so that clock_gettime's own cost (~20 ns) does not drown the answer.
 * It also measures the load kyokad does at a restart: policy_load() with the compiled image
 * (use_image: read, verify, SHA-256, then STATE_DIR/policy.image instead of the parse), and the
 * image's load alone (policy_image_load_at: checks, arrays, indices).
 * Prints one line per size, "n=... bytes=... load_ms=... verify_ms=... parse_ms=... index_ms=...
 * image_load_ms=... image_ms=... hit_ns=... miss_ns=...", which bench/run.sh turns into
 * bench/RESULTS.md. KYOKA_BENCH_KEEP=1 keeps
 * the generated policies, their signatures and the key in the directory it names on stderr. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "macro.h"
#include "policy-image.h"
#include "policy-load.h"
#include "policy-match.h"
#include "policy-sign.h"
#include "timeutil.h"

#define LOOKUPS 100000
#define LOOKUP_BATCH 100
#define LOAD_RUNS 5

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

static int64_t median(int64_t *v, size_t n) {
        qsort(v, n, sizeof *v, cmp_i64);
        return v[n / 2];
}

/* Small deterministic generator: the same policy and lookups on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void entry_identity(size_t i, uint16_t *vendor, uint16_t *product, char serial[static 32]) {
        /* a few hundred models, many units each, as in a city's inventory */
        *vendor = (uint16_t) (0x0400 + i % 97);
        *product = (uint16_t) (0x1000 + i % 251);
        snprintf(serial, 32, "4C53%016zu", i * 7919);
}

static void policy_done(struct policy *p) {
        for (size_t i = 0; i < p->n_usb; i++) {
                free(p->usb[i].approval.permit);
                free(p->usb[i].serial);
        }
        free(p->usb);
}

static int generate(size_t n, char **ret) {
        static struct policy_interface_pattern storage = { .c = { 0x08, 0x06, 0x50 } };
        struct policy p = {
                .version = 1, .serial = 1,
                .issued_text = (char *) "2026-11-20T10:15+09:00",
                .issuer = (char *) "木更津市 総務部 情報政策課",
                .contract = (char *) "令和8年度 契約第123号",
                .valid_until = TIME_INFINITY,
                .default_usb_hid = POLICY_ALLOW, .default_usb_hub = POLICY_ALLOW,
                .default_usb_other = POLICY_BLOCK, .default_network = POLICY_BLOCK,
                .scan_limits = { POLICY_SCAN_SECONDS_DEFAULT, POLICY_SCAN_MEGABYTES_DEFAULT,
                                 POLICY_SCAN_DATABASE_DAYS_DEFAULT },
        };
        int r;

        p.usb = calloc(n, sizeof *p.usb);
        if (!p.usb)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct policy_usb_entry *e = &p.usb[i];
                char serial[32];

                entry_identity(i, &e->vendor, &e->product, serial);
                e->serial = strdup(serial);
                if (asprintf(&e->approval.permit, "許可-2026-%06zu", i) < 0)
                        e->approval.permit = NULL;
                p.n_usb++;
                if (!e->serial || !e->approval.permit) {
                        policy_done(&p);
                        return -ENOMEM;
                }
                e->has_interfaces = true;
                e->n_interfaces = 1;
                e->interfaces = &storage;
                e->approval.label = (char *) "SanDisk Ultra USB 3.0 32GB";
                e->approval.approved_by = (char *) "情報政策課 山田 太郎";
                e->approval.approved_on_text = (char *) "2026-11-20";
                e->approval.valid_from_text = (char *) "2026-11-21";
                e->approval.valid_until_text = (char *) "2027-03-31";
                e->approval.valid_from = TIME_NEG_INFINITY;
                e->approval.valid_until = TIME_INFINITY;
        }
        r = policy_write(&p, ret);
        policy_done(&p);
        return r;
}

static double ms(int64_t ns) {
        return (double) ns / 1e6;
}

/* Median ns per policy_match_usb over LOOKUPS lookups of IDS (LOOKUPS of them). */
static int64_t time_lookups(const struct policy *p, const struct usb_identity *ids, int64_t now, enum policy_verdict expect,
                            int *ret_wrong) {
        static int64_t batches[LOOKUPS / LOOKUP_BATCH];
        int wrong = 0;

        for (size_t b = 0; b < ELEMENTSOF(batches); b++) {
                struct policy_decision d[LOOKUP_BATCH];
                int64_t t = now_ns();
                for (size_t k = 0; k < LOOKUP_BATCH; k++)
                        policy_match_usb(p, &ids[b * LOOKUP_BATCH + k], now, &d[k]);
                batches[b] = now_ns() - t;
                for (size_t k = 0; k < LOOKUP_BATCH; k++)
                        wrong += d[k].verdict != expect;
        }
        *ret_wrong = wrong;
        return median(batches, ELEMENTSOF(batches)) / LOOKUP_BATCH;
}

static int bench_size(const char *dir, size_t n, const struct signing_key *sk, const struct keyring *kr) {
        _cleanup_free_ char *text = NULL, *path = NULL, *sig_path = NULL, *state = NULL;
        _cleanup_free_ struct usb_identity *hits = NULL, *misses = NULL;
        uint8_t sig[SIGNATURE_SIZE];
        int64_t load[LOAD_RUNS], verify[LOAD_RUNS], parse[LOAD_RUNS], index[LOAD_RUNS], image_load[LOAD_RUNS],
                image[LOAD_RUNS];
        int64_t now = 1795320309; /* 2026-11-22, inside every window */
        struct policy_load_result res = {};
        int r, wrong_hit, wrong_miss;

        r = generate(n, &text);
        if (r < 0)
                return r;
        size_t len = strlen(text);
        if (asprintf(&path, "%s/policy-%zu.conf", dir, n) < 0 || asprintf(&sig_path, "%s.sig", path) < 0 ||
            asprintf(&state, "%s/state-%zu", dir, n) < 0)
                return -ENOMEM;
        if (mkdir(state, 0700) < 0)
                return -errno;
        r = signature_create(sk, text, len, sig);
        if (r < 0)
                return r;
        r = write_file_atomic(path, text, len, 0644);
        if (r < 0)
                return r;
        r = write_file_atomic(sig_path, sig, sizeof sig, 0644);
        if (r < 0)
                return r;

        for (size_t k = 0; k < LOAD_RUNS; k++) {
                struct policy_load_options opts = { .policy_path = path, .keys = kr, .now = now };
                _cleanup_(policy_freep) struct policy *p = NULL;
                const struct trusted_key *signer;
                int64_t t;

                t = now_ns();
                r = policy_load(&opts, &res);
                load[k] = now_ns() - t;
                if (r < 0) {
                        fprintf(stderr, "policy_load(%zu entries): %s\n", n, res.message);
                        policy_load_result_done(&res);
                        return r;
                }
                policy_load_result_done(&res);

                t = now_ns();
                r = keyring_verify(kr, text, len, sig, sizeof sig, &signer);
                verify[k] = now_ns() - t;
                if (r < 0)
                        return r;

                t = now_ns();
                r = policy_parse(text, len, path, &p, NULL);
                parse[k] = now_ns() - t;
                if (r < 0)
                        return r;

                /* the hash indices alone (the parser built them once already; this rebuilds) */
                t = now_ns();
                r = policy_index_build(p);
                index[k] = now_ns() - t;
                if (r < 0)
                        return r;
        }

        /* A restart's load: the image policyctl install (here: policy_load_save_image) wrote. */
        struct policy_load_options iopts = { .policy_path = path, .keys = kr, .now = now, .state_dir = state,
                                             .use_image = true };
        r = policy_load(&iopts, &res);
        if (r >= 0)
                r = policy_load_save_image(&iopts, &res);
        policy_load_result_done(&res);
        if (r < 0)
                return r;
        _cleanup_close_ int state_fd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (state_fd < 0)
                return -errno;
        for (size_t k = 0; k < LOAD_RUNS; k++) {
                struct policy *p = NULL;
                int64_t t = now_ns();
                r = policy_load(&iopts, &res);
                image_load[k] = now_ns() - t;
                bool from_image = res.from_image;
                policy_load_result_done(&res);
                if (r < 0 || !from_image) {
                        fprintf(stderr, "policy_load(%zu entries) with its image: %s\n", n, from_image ? "refused" : "parsed");
                        return r < 0 ? r : -EBADMSG;
                }
                t = now_ns();
                r = policy_image_load_at(state_fd, KYOKA_POLICY_IMAGE_FILE, res.sha256, NULL, NULL, path, &p);
                image[k] = now_ns() - t;
                policy_free(p);
                if (r < 0)
                        return r;
        }

        /* the policy to look up in, loaded once more through the gate */
        struct policy_load_options opts = { .policy_path = path, .keys = kr, .now = now };
        r = policy_load(&opts, &res);
        if (r < 0)
                return r;

        hits = calloc(LOOKUPS, sizeof *hits);
        misses = calloc(LOOKUPS, sizeof *misses);
        if (!hits || !misses) {
                policy_load_result_done(&res);
                return -ENOMEM;
        }
        for (size_t k = 0; k < LOOKUPS; k++) {
                struct usb_identity *h = &hits[k], *m = &misses[k];
                entry_identity(rng() % n, &h->vendor, &h->product, h->serial);
                h->has_serial = true;
                h->n_interfaces = 1;
                h->interfaces[0] = (struct usb_interface_class) { 0x08, 0x06, 0x50 };
                /* a miss: a known model with a serial no entry has */
                *m = *h;
                snprintf(m->serial, sizeof m->serial, "XX%016" PRIu64, rng() % 10000000000000000u);
        }
        int64_t hit_ns = time_lookups(res.policy, hits, now, VERDICT_ALLOW, &wrong_hit);
        int64_t miss_ns = time_lookups(res.policy, misses, now, VERDICT_BLOCK, &wrong_miss);
        policy_load_result_done(&res);
        if (wrong_hit || wrong_miss) {
                fprintf(stderr, "%zu entries: %d hits and %d misses decided wrongly\n", n, wrong_hit, wrong_miss);
                return -EBADMSG;
        }

        printf("n=%zu bytes=%zu load_ms=%.2f verify_ms=%.2f parse_ms=%.2f index_ms=%.2f image_load_ms=%.2f "
               "image_ms=%.2f hit_ns=%" PRId64 " miss_ns=%" PRId64 "\n",
               n, len, ms(median(load, LOAD_RUNS)), ms(median(verify, LOAD_RUNS)), ms(median(parse, LOAD_RUNS)),
               ms(median(index, LOAD_RUNS)), ms(median(image_load, LOAD_RUNS)), ms(median(image, LOAD_RUNS)), hit_ns,
               miss_ns);
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv) {
        static const size_t default_sizes[] = { 1000, 10000, 100000 };
        _cleanup_free_ char *dir = NULL, *prefix = NULL, *key_path = NULL, *pub_path = NULL;
        struct signing_key *sk = NULL;
        struct trusted_key *tk = NULL;
        struct keyring *kr = NULL;
        int r;

        const char *base = getenv("TMPDIR") ?: "/tmp";
        if (asprintf(&dir, "%s/kyoka-bench.XXXXXX", base) < 0 || !mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        if (asprintf(&prefix, "%s/bench", dir) < 0 || asprintf(&key_path, "%s.key", prefix) < 0 ||
            asprintf(&pub_path, "%s.pub", prefix) < 0)
                return 1;
        r = key_generate(prefix);
        if (r >= 0)
                r = signing_key_load(key_path, &sk);
        if (r >= 0)
                r = trusted_key_load(pub_path, &tk);
        if (r >= 0)
                r = keyring_new_single(tk, &kr);
        if (r < 0) {
                fprintf(stderr, "keys: %s\n", strerror(-r));
                return 1;
        }

        for (int i = 0; i < (argc > 1 ? argc - 1 : (int) ELEMENTSOF(default_sizes)); i++) {
                size_t n = argc > 1 ? strtoul(argv[i + 1], NULL, 10) : default_sizes[i];
                if (n == 0) {
                        fprintf(stderr, "bad size %s\n", argv[i + 1]);
                        return 2;
                }
                r = bench_size(dir, n, sk, kr);
                if (r < 0) {
                        fprintf(stderr, "%zu entries: %s\n", n, strerror(-r));
                        break;
                }
        }

        keyring_free(kr);
        signing_key_free(sk);
        /* KYOKA_BENCH_KEEP=1 keeps the signed policies and the key, for timing policyctl on them */
        if (getenv("KYOKA_BENCH_KEEP")) {
                fprintf(stderr, "kept %s\n", dir);
                return r < 0 ? 1 : 0;
        }
        /* bench-owned directory from mkdtemp: keys and generated policies only */
        char *cmd;
        if (asprintf(&cmd, "rm -rf '%s'", dir) > 0) {
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
                free(cmd);
        }
        return r < 0 ? 1 : 0;
}
