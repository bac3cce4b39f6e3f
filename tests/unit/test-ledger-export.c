/* SPDX-License-Identifier: MIT */
/* The weekly export: ISO weeks, CSV cells, golden folders byte for byte: the week real kyokad
 * recorded (tests/data/export/real/, by tests/data/export/record-real.sh) and a week of hostile
 * device strings (ledger-fixture.h), in ja and en; the same bytes on a second export, and
 * verify-export finding each kind of tampering: a changed file, an added file, and, with
 * MANIFEST re-hashed and re-signed (an attacker holding the key), a record modified, deleted,
 * inserted, reordered or renumbered. What the city reads, on real records: Japanese remarks,
 * no journal English, permits used through re-evaluation in the report, loopback left out, a
 * refused policy never 「ポリシー適用」, dates Excel reads, serials kept text, the record book.
 * Continuity across weeks (MANIFEST version 2, export_link_check), report.pdf through an
 * engine, collect. The record count: in the CSV and the report, hashed; an export and a
 * ledger written before it (tests/data/export/v1/) still verify and export the same records.
 * KYOKA_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. The goldens hold no
 * report.pdf (its bytes follow the fonts and WeasyPrint of the machine): the PDF is checked in
 * tests/integration/test-kyokad-export.sh. */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <ctype.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"

#include "collect.h"
#include "export.h"
#include "ledger-fixture.h"

#define GOLDEN TEST_DATA_DIR "/export"
#define REAL GOLDEN "/real"
#define V1 GOLDEN "/v1"
#define V1_MANIFEST V1 "/ja/" WEEK_DIR "/MANIFEST"
#define WEEK_DIR "ws-test01/2026-W47"
/* What the goldens hold: every format but the PDF. */
#define FORMATS (EXPORT_CSV | EXPORT_JSON | EXPORT_HTML)

static const char *const files[] = { "MANIFEST", "MANIFEST.sig", "faults.csv", "media.csv", "records.jsonl",
                                     "report.html", "usage.csv" };

struct fixture {
        char *dir;
        struct ledger *l;
        struct policy *policy;
        struct signing_key *key;
        struct trusted_key *pub;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);
        _cleanup_free_ char *db = NULL;

        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        f->dir = test_mkdtemp();
        db = path_join(f->dir, "ledger.db");
        assert_int_equal(ledger_open(db, 0, 0, &f->l), 0);
        assert_true(fixture_fill(f->l) > 0);
        assert_int_equal(policy_parse(FIXTURE_POLICY, strlen(FIXTURE_POLICY), "policy.conf", &f->policy, NULL), 0);
        assert_int_equal(signing_key_load(GOLDEN "/export.key", &f->key), 0);
        assert_int_equal(trusted_key_load(GOLDEN "/export.pub", &f->pub), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        ledger_close(f->l);
        policy_free(f->policy);
        signing_key_free(f->key);
        trusted_key_free(f->pub);
        test_rmdir_r(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static char *export_to(struct fixture *f, const char *sub, enum export_lang lang) {
        struct export_week w;
        struct export_result res;
        _cleanup_free_ char *out = path_join(f->dir, sub);
        struct export_options o = { .lang = lang, .formats = FORMATS, .policy = f->policy };

        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        assert_int_equal(export_write(f->l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        assert_int_equal(res.first_seq, 2);
        assert_int_equal(res.last_seq, 15);
        return strdup(res.dir);
}

static char *slurp(const char *dir, const char *name, size_t *ret_size) {
        _cleanup_free_ char *p = path_join(dir, name);
        char *s = NULL;
        assert_int_equal(read_file_bounded(p, 16 << 20, &s, ret_size), 0);
        return s;
}

static void compare_with(const char *dir, const char *golden) {
        if (getenv("KYOKA_UPDATE_GOLDEN")) {
                _cleanup_free_ char *cmd = NULL;
                assert_true(asprintf(&cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/* '%s'/", golden, golden, dir, golden) > 0);
                assert_int_equal(system(cmd), 0);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                size_t a, b;
                _cleanup_free_ char *got = slurp(dir, files[i], &a), *want = slurp(golden, files[i], &b);
                if (a != b || memcmp(got, want, a) != 0)
                        fail_msg("%s/%s differs from %s/%s", dir, files[i], golden, files[i]);
        }
}

static void compare_golden(const char *dir, const char *lang) {
        _cleanup_free_ char *golden = NULL;
        assert_true(asprintf(&golden, GOLDEN "/%s/" WEEK_DIR, lang) > 0);
        compare_with(dir, golden);
}

static void test_week_parse(void **state) {
        struct export_week w;
        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        assert_int_equal(w.start, FIXTURE_MONDAY);
        assert_int_equal(w.end, FIXTURE_MONDAY + 7 * 86400);
        assert_string_equal(w.name, "2026-W47");
        assert_int_equal(export_week_parse("2026-W01", &w), 0);
        assert_string_equal(w.name, "2026-W01");                 /* starts on 2025-12-29 */
        assert_int_equal(export_week_parse("2026-W53", &w), 0);  /* 2026 has 53 weeks */
        assert_int_equal(export_week_parse("2025-W53", &w), -EINVAL);
        assert_int_equal(export_week_parse("2026-W00", &w), -EINVAL);
        assert_int_equal(export_week_parse("2026-47", &w), -EINVAL);
        assert_int_equal(export_week_parse("2026-W047", &w), -EINVAL);
}

static void test_week_last_complete(void **state) {
        struct export_week w;
        /* Sunday 2026-11-22 23:00 JST: W47 is not over, W46 is the last complete one. */
        assert_int_equal(export_week_last_complete(FIXTURE_MONDAY + 6 * 86400 + 23 * 3600, &w), 0);
        assert_string_equal(w.name, "2026-W46");
        assert_int_equal(export_week_last_complete(FIXTURE_MONDAY + 7 * 86400, &w), 0);
        assert_string_equal(w.name, "2026-W47");
}

/* export_format_time() formats kyokad's years itself (a million rows a week): the same text as
 * gmtime_r() and "%04d/%02d/%02d %02d:%02d:%02d", across leap days, centuries and the edges. */
static void test_format_time_as_gmtime(void **state) {
        static const int64_t edges[] = { 0, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800,
                                         4107456000 /* 2100-02-28 */, 4107542400, 1794754800, 253402300799,
                                         253402300800, -1, -86400 };
        uint64_t x = 88172645463325252ULL;

        for (size_t i = 0; i < ELEMENTSOF(edges) + 200000; i++) {
                int64_t t;
                if (i < ELEMENTSOF(edges))
                        t = edges[i];
                else {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        t = (int64_t) (x % UINT64_C(253402400000)) - 100000;
                }
                for (int64_t off = -32400; off <= 32400; off += 32400) {
                        char got[32], want[80] = "";
                        time_t tt = (time_t) (t + off);
                        struct tm tm;
                        int r = export_format_time(t, off, got, sizeof got);
                        if (gmtime_r(&tt, &tm))
                                snprintf(want, sizeof want, "%04d/%02d/%02d %02d:%02d:%02d", tm.tm_year + 1900,
                                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
                        assert_int_equal(r, 0);
                        assert_string_equal(got, want);
                }
        }
}

static void test_csv_cell_neutralises_formulas(void **state) {
        const char *cases[][2] = {
                { "=cmd|' /C calc'!A0", "\"'=cmd|' /C calc'!A0\"" },
                { "+SUM(1)", "\"'+SUM(1)\"" },
                { "-1", "\"'-1\"" },
                { "@x", "\"'@x\"" },
                { "\tx", "\"'\\x09x\"" },
                { "\rx", "\"'\\x0dx\"" },
                { "＝1", "\"'＝1\"" },
                { "a\"b,c", "\"a\"\"b,c\"" },
                { "a\nb\xff", "\"a\\x0ab\\xff\"" },
                { "plain", "\"plain\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *c = csv_cell(cases[i][0]);
                assert_string_equal(c, cases[i][1]);
        }
}

static void test_golden_ja(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "ja", EXPORT_LANG_JA);
        compare_golden(dir, "ja");
}

static void test_golden_en(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "en", EXPORT_LANG_EN);
        compare_golden(dir, "en");
}

static void test_export_twice_same_bytes(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *a = export_to(f, "one", EXPORT_LANG_JA), *b = export_to(f, "two", EXPORT_LANG_JA);
        /* A new record after the week changes nothing in it. */
        struct ledger_record r = fixture_record(FIXTURE_MONDAY + 9 * 86400, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STOPPED);
        assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_commit(f->l, NULL), 1);
        _cleanup_free_ char *c = export_to(f, "three", EXPORT_LANG_JA);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                size_t na, nb, nc;
                _cleanup_free_ char *x = slurp(a, files[i], &na), *y = slurp(b, files[i], &nb), *z = slurp(c, files[i], &nc);
                assert_int_equal(na, nb);
                assert_int_equal(na, nc);
                assert_memory_equal(x, y, na);
                assert_memory_equal(x, z, na);
        }
}

static void test_csv_is_excel_shaped(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        size_t n;
        _cleanup_free_ char *csv = slurp(dir, "usage.csv", &n);
        assert_memory_equal(csv, "\xef\xbb\xbf\"日時\",\"時差\",\"端末\"", strlen("\xef\xbb\xbf\"日時\",\"時差\",\"端末\""));
        for (size_t i = 0; i < n; i++)
                if (csv[i] == '\n')
                        assert_true(i > 0 && csv[i - 1] == '\r');
        assert_non_null(strstr(csv, "\"'=cmd|' /C calc'!A0"));
        assert_null(strstr(csv, "\x1b"));
        assert_null(strstr(csv, "\xff"));
}

static void test_verify_export_accepts_the_export(void **state) {
        struct fixture *f = *state;
        struct export_verify_report rep;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        assert_int_equal(export_verify(dir, f->pub, NULL, NULL, &rep), 0);
        assert_true(rep.chain_checked);
        assert_int_equal(rep.records, 14);
        assert_int_equal(rep.files, 5);
        assert_int_equal(rep.manifest.version, 2);
}

static void expect_refused(struct fixture *f, const char *dir, const char *what) {
        struct export_verify_report rep;
        assert_int_equal(export_verify(dir, f->pub, NULL, NULL, &rep), -EBADMSG);
        if (!strstr(rep.problem, what))
                fail_msg("expected a problem mentioning \"%s\", got \"%s\"", what, rep.problem);
}

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...) {
        va_list ap;
        char *cmd;
        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

/* Rewrites MANIFEST for the files as they are now and signs it: what someone holding the
 * export key could do, leaving only the chain to give them away. */
static void resign(struct fixture *f, const char *dir) {
        size_t n;
        _cleanup_free_ char *text = slurp(dir, "MANIFEST", &n), *out = NULL, *mp = path_join(dir, "MANIFEST"),
                            *sp = path_join(dir, "MANIFEST.sig");
        struct manifest m;
        char err[256];
        uint8_t sig[SIGNATURE_SIZE];
        assert_int_equal(manifest_parse(text, n, &m, err, sizeof err), 0);
        for (size_t i = 0; i < m.n_files; i++)
                assert_int_equal(file_sha256(dir, m.files[i].name, m.files[i].sha256), 0);
        assert_int_equal(manifest_format(&m, &out, &n), 0);
        assert_int_equal(signature_create(f->key, out, n, sig), 0);
        assert_int_equal(write_file_atomic(mp, out, n, 0644), 0);
        assert_int_equal(write_file_atomic(sp, sig, sizeof sig, 0644), 0);
}

static void test_verify_export_finds_changed_file(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/tanaka/suzuki/' '%s/usage.csv'", dir);
        expect_refused(f, dir, "usage.csv: its SHA-256 differs");
}

static void test_verify_export_finds_added_file(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("touch '%s/extra.csv'", dir);
        expect_refused(f, dir, "extra.csv is not listed");
}

static void test_verify_export_finds_bad_signature(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/^records 14$/records 13/' '%s/MANIFEST'", dir);
        expect_refused(f, dir, "MANIFEST.sig is not");
}

static void test_verify_export_chain_modified_record(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/\"serial\":\"4C530001231120115142\"/\"serial\":\"4C530001231120115143\"/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 4: the hash does not match");
}

static void test_verify_export_chain_deleted_record(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i '3d' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 5 where 4 was due");
}

static void test_verify_export_chain_inserted_record(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i '3p' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 4 where 5 was due");
}

static void test_verify_export_chain_reordered_records(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i -n '1p;2{h;d};3{p;x;p;d};4,$p' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 4 where 3 was due");
}

static void test_verify_export_chain_renumbered_record(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i '3s/\"seq\":4,/\"seq\":5,/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 5 where 4 was due");
}

static void test_verify_export_chain_truncated_week(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i '$d' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "MANIFEST says 14");
}

/* MANIFEST's hashes are taken as the files are written: the hash is of the bytes in the file,
 * and a write that fails fails the file (the export), whatever was hashed. */
static void test_hashing_file_hashes_what_it_writes(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *p = path_join(f->dir, "hashed");
        struct hashing_file *h;
        uint8_t got[32], want[32];
        FILE *out;

        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(hashing_file_open(fd, &out, &h), 0);
        assert_int_equal(setvbuf(out, NULL, _IOFBF, 4096), 0);
        for (int i = 0; i < 10000; i++)
                fprintf(out, "line %d\n", i);
        assert_int_equal(hashing_file_close(out, h, got), 0);
        hashing_file_free(h);
        close(fd);
        assert_int_equal(file_sha256(f->dir, "hashed", want), 0);
        assert_memory_equal(got, want, sizeof want);

        fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(hashing_file_open(fd, &out, &h), 0);
        fputs("a line\n", out);
        assert_int_equal(hashing_file_close(out, h, got), -ENOSPC);
        hashing_file_free(h);
        close(fd);
}

/* verify-export walks records.jsonl in two halves, on two cores, when nothing is called back,
 * and from its start when something is (collect): whatever the tampering and wherever it falls
 * from the cut, both name the same first problem, in the same words, after as many records. */
static int count_cb(const struct ledger_record *r, void *userdata) {
        (*(size_t *) userdata)++;
        return 0;
}

static void expect_same_verdict(struct fixture *f, const char *dir, const char *what) {
        struct export_verify_report a, b;
        size_t n = 0;
        int ra = export_verify(dir, f->pub, NULL, NULL, &a);
        int rb = export_verify(dir, f->pub, count_cb, &n, &b);
        if (ra != rb || !streq(a.problem, b.problem) || a.records != b.records || a.kind != b.kind ||
            a.chain_checked != b.chain_checked)
                fail_msg("%s: halves give %d \"%s\" after %llu, one walk %d \"%s\" after %llu", what, ra, a.problem,
                         (unsigned long long) a.records, rb, b.problem, (unsigned long long) b.records);
        if (ra != -EBADMSG)
                fail_msg("%s: not refused (%d)", what, ra);
}

static void test_verify_export_halves_agree_with_one_walk(void **state) {
        static const char *const edits[] = {
                "%1$dd",                                                        /* deleted */
                "%1$dp",                                                        /* doubled */
                "%1$ds/\"seq\":[0-9]*/\"seq\":99/",                          /* renumbered */
                "%1$ds/\"user\":\"/\"user\":\"x/",                         /* modified */
                "%1$d{s/\"prev_hash\":\"0/\"prev_hash\":\"1/;t;s/\"prev_hash\":\"[1-9a-f]/\"prev_hash\":\"0/}", /* relinked */
                "%1$d{N;s/\\n//}",                                             /* two lines made one */
                "%1$d{h;d};%2$d{G}",                                            /* swapped with the next */
                "%1$ds/^{/[/",                                                  /* not JSON */
        };
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);

        for (int line = 1; line <= 14; line++)
                for (size_t e = 0; e < ELEMENTSOF(edits); e++) {
                        char script[256], what[300];
                        if (line == 14 && strstr(edits[e], "N;"))
                                continue;       /* no next line to join: nothing changes */
                        free(export_to(f, "x", EXPORT_LANG_JA));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                        snprintf(script, sizeof script, edits[e], line, line + 1);
#pragma GCC diagnostic pop
                        run("sed -i '%s' '%s/records.jsonl'", script, dir);
                        resign(f, dir);
                        snprintf(what, sizeof what, "line %d, sed '%s'", line, script);
                        expect_same_verdict(f, dir, what);
                }
        /* The last line without its LF. */
        free(export_to(f, "x", EXPORT_LANG_JA));
        run("truncate -s -1 '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_same_verdict(f, dir, "no final LF");
}

/* MANIFEST is parsed strictly: the golden one parses and formats back to its own bytes, and
 * every other spelling of the same values is refused. Found by fuzz-export-manifest: sscanf
 * took any whitespace (a vertical tab, none at all before a file name), signs and leading zeros. */
/* ---- the output directory (issue 9: root's export overwrote a root-owned file through a
 * symlink planted in the user-owned output directory) ------------------------------------- */

static int export_into(struct fixture *f, const char *out, char *err, size_t err_size) {
        struct export_week w;
        struct export_result res;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = FORMATS, .policy = f->policy };

        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        return export_write(f->l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, err, err_size);
}

/* A file standing for /etc/shadow: after any export attempt it must hold exactly this. */
#define VICTIM_TEXT "root:$y$j9T$precious:20000:0:99999:7:::\n"

static char *make_victim(struct fixture *f) {
        char *p = test_write(f->dir, "victim", VICTIM_TEXT, strlen(VICTIM_TEXT));
        assert_int_equal(chmod(p, 0600), 0);
        return p;
}

static void assert_victim_intact(const char *victim) {
        size_t n;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        assert_int_equal(lstat(victim, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(read_file_bounded(victim, 4096, &text, &n), 0);
        assert_int_equal(n, strlen(VICTIM_TEXT));
        assert_memory_equal(text, VICTIM_TEXT, n);
}

static char *make_week_dir(struct fixture *f, const char *out) {
        char *week = NULL;
        assert_true(asprintf(&week, "%s/%s/" WEEK_DIR, f->dir, out) > 0);
        run("mkdir -p '%s' && chmod 0755 '%s' '%s/%s' '%s/%s/ws-test01'", week, week, f->dir, out, f->dir, out);
        return week;
}

static void assert_dir_empty(const char *dir) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        fail_msg("%s holds %s", dir, de->d_name);
        closedir(d);
}

static void test_export_symlink_at_the_temporary_name_is_harmless(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *victim = make_victim(f), *week = make_week_dir(f, "out"), *out = path_join(f->dir, "out");
        char err[512];

        /* The reproduction: every name the old export used for its temporaries. */
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                run("ln -s '%s' '%s/.%s.tmp'", victim, week, files[i]);
        assert_int_equal(export_into(f, out, err, sizeof err), 0);
        assert_victim_intact(victim);
        /* The planted links are gone (a crash's leftovers are swept the same way), and the
         * folder is the golden one and verifies. */
        compare_golden(week, "ja");
        struct export_verify_report rep;
        assert_int_equal(export_verify(week, f->pub, NULL, NULL, &rep), 0);
}

static void test_export_symlink_at_the_final_name_is_replaced_not_followed(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *victim = make_victim(f), *week = make_week_dir(f, "out"), *out = path_join(f->dir, "out");
        char err[512];

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                run("ln -s '%s' '%s/%s'", victim, week, files[i]);
        assert_int_equal(export_into(f, out, err, sizeof err), 0);
        assert_victim_intact(victim);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = path_join(week, files[i]);
                struct stat st;
                assert_int_equal(lstat(p, &st), 0);
                assert_true(S_ISREG(st.st_mode));
        }
        compare_golden(week, "ja");
}

static void test_export_refuses_a_group_writable_output_directory(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *out = path_join(f->dir, "shared");
        char err[512];

        assert_int_equal(mkdir(out, 0755), 0);
        assert_int_equal(chmod(out, 0775), 0);
        assert_int_equal(export_into(f, out, err, sizeof err), -EPERM);
        if (!strstr(err, out) || !strstr(err, "writable by group or others (mode 0775)"))
                fail_msg("unexpected message: %s", err);
        assert_dir_empty(out);
}

static void test_export_refuses_a_symlinked_subdirectory(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *out = path_join(f->dir, "out"), *elsewhere = path_join(f->dir, "elsewhere");
        _cleanup_free_ char *host = path_join(out, "ws-test01");
        char err[512];

        assert_int_equal(mkdir(out, 0755), 0);
        assert_int_equal(mkdir(elsewhere, 0755), 0);
        assert_int_equal(symlink(elsewhere, host), 0);
        int r = export_into(f, out, err, sizeof err);
        assert_true(r == -ELOOP || r == -ENOTDIR);
        if (!strstr(err, host) || !strstr(err, "symbolic link"))
                fail_msg("unexpected message: %s", err);
        assert_dir_empty(elsewhere);

        /* The same one level down: the week's directory. */
        assert_int_equal(unlink(host), 0);
        assert_int_equal(mkdir(host, 0755), 0);
        _cleanup_free_ char *week = path_join(host, "2026-W47");
        assert_int_equal(symlink(elsewhere, week), 0);
        r = export_into(f, out, err, sizeof err);
        assert_true(r == -ELOOP || r == -ENOTDIR);
        assert_dir_empty(elsewhere);
}

static void test_export_refuses_a_world_writable_week_directory(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *week = make_week_dir(f, "out"), *out = path_join(f->dir, "out");
        char err[512];

        assert_int_equal(chmod(week, 0777), 0);
        assert_int_equal(export_into(f, out, err, sizeof err), -EPERM);
        if (!strstr(err, week))
                fail_msg("the message does not name %s: %s", week, err);
        assert_dir_empty(week);
}

static void test_export_refuses_directories_of_another_user(void **state) {
        struct fixture *f = *state;
        if (geteuid() != 0)
                skip();
        _cleanup_free_ char *week = make_week_dir(f, "out"), *out = path_join(f->dir, "out");
        _cleanup_free_ char *host = path_join(out, "ws-test01");
        char err[512];

        /* The user's own output directory: the attack's starting point. */
        assert_int_equal(chown(out, 12345, 12345), 0);
        assert_int_equal(export_into(f, out, err, sizeof err), -EPERM);
        if (!strstr(err, out) || !strstr(err, "owned by uid 12345 (neither root nor uid 0)"))
                fail_msg("unexpected message: %s", err);
        assert_dir_empty(week);

        /* A root-owned sticky OUT (as /tmp) is fine, but not a host directory someone else made
         * in it first. */
        assert_int_equal(chown(out, 0, 0), 0);
        assert_int_equal(chmod(out, 01777), 0);
        assert_int_equal(chown(host, 12345, 12345), 0);
        assert_int_equal(export_into(f, out, err, sizeof err), -EPERM);
        if (!strstr(err, host))
                fail_msg("the message does not name %s: %s", host, err);
        assert_dir_empty(week);

        assert_int_equal(chown(host, 0, 0), 0);
        assert_int_equal(export_into(f, out, err, sizeof err), 0);
        compare_golden(week, "ja");
}

static void test_export_sweeps_stale_temporaries(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *week = make_week_dir(f, "out"), *out = path_join(f->dir, "out");
        char err[512];

        run("touch '%s/.usage.csv.tmp-AbCd1234' '%s/.MANIFEST.tmp-zzzzzzzz'", week, week);
        assert_int_equal(export_into(f, out, err, sizeof err), 0);
        struct export_verify_report rep;
        assert_int_equal(export_verify(week, f->pub, NULL, NULL, &rep), 0);
}

/* Replaces the first FROM in TEXT with TO; the result must exist. */
static char *replaced(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        char *bad = NULL;
        if (!at)
                fail_msg("\"%s\" is not in the MANIFEST", from);
        size_t off = (size_t) (at - text);
        assert_true(asprintf(&bad, "%.*s%s%s", (int) off, text, to, text + off + strlen(from)) > 0);
        return bad;
}

/* The line of TEXT that starts with PREFIX, without its LF. */
static char *line_of(const char *text, const char *prefix) {
        const char *at = strstr(text, prefix);
        assert_non_null(at);
        return strndup(at, strcspn(at, "\n"));
}

static void expect_manifest_refused(const char *bad, const char *what) {
        struct manifest m;
        char err[256];
        if (manifest_parse(bad, strlen(bad), &m, err, sizeof err) != -EBADMSG)
                fail_msg("MANIFEST with %s was not refused", what);
}

/* MANIFEST is parsed strictly, in both versions: each golden parses and formats back to its own
 * bytes, and every other spelling of the same values is refused. Found by fuzz-export-manifest:
 * sscanf took any whitespace (a vertical tab, none at all before a file name), signs and
 * leading zeros. */
static void test_manifest_parse_one_spelling(void **state) {
        static const char *const goldens[] = { GOLDEN "/en/" WEEK_DIR "/MANIFEST", V1_MANIFEST };
        static const char *const swaps[][2] = {
                { "records 14\n", "records +14\n" }, { "records 14\n", "records  14\n" }, { "records 14\n", "records 14 \n" },
                { "records 14\n", "records 014\n" }, { "chain-end 15 ", "chain-end 15\v" }, { "chain-end 15 ", "chain-end  15 " },
                { "chain-start 1 ", "chain-start 01 " }, { "chain-start 1 ", "chain-start -1 " }, { "  faults.csv", "faults.csv" },
                { "  usage.csv", " \tusage.csv" }, { "  usage.csv", "  usage.txt" }, { "week 2026-W47\n", "week\n" },
        };
        /* Version 2 only: its header and ledger-first. */
        static const char *const swaps2[][2] = {
                { "policy 42\n", "policy 042\n" }, { "policy 42\n", "policy\n" }, { "issuer ", "issuer\t" },
                { "contractor 株式会社かずさ情報\n", "contractor 株式会社かずさ情報\t\n" }, { "responsible ", "Responsible " },
                { "ledger-first 1 ", "ledger-first 01 " }, { "kyoka-export 2\n", "kyoka-export 3\n" },
        };

        for (size_t g = 0; g < ELEMENTSOF(goldens); g++) {
                _cleanup_free_ char *text = NULL, *again = NULL;
                struct manifest m;
                char err[256];
                size_t size, n;

                assert_int_equal(read_file_bounded(goldens[g], 8192, &text, &size), 0);
                assert_int_equal(manifest_parse(text, size, &m, err, sizeof err), 0);
                assert_int_equal(m.version, g == 0 ? 2 : 1);
                assert_int_equal(manifest_format(&m, &again, &n), 0);
                assert_int_equal(n, strlen(text));
                assert_memory_equal(again, text, n);

                for (size_t i = 0; i < ELEMENTSOF(swaps); i++) {
                        _cleanup_free_ char *bad = replaced(text, swaps[i][0], swaps[i][1]);
                        expect_manifest_refused(bad, swaps[i][1]);
                }
                for (size_t i = 0; g == 0 && i < ELEMENTSOF(swaps2); i++) {
                        _cleanup_free_ char *bad = replaced(text, swaps2[i][0], swaps2[i][1]);
                        expect_manifest_refused(bad, swaps2[i][1]);
                }
                /* Hashes are lowercase, 64 digits, as hex_encode() writes them. */
                const char *hashed[] = { "chain-start ", "chain-end ", "ledger-first " };
                for (size_t i = 0; i < ELEMENTSOF(hashed); i++) {
                        if (g == 1 && i == 2)
                                continue;
                        _cleanup_free_ char *line = line_of(text, hashed[i]), *upper = strdup(line), *shorter = strdup(line),
                                            *longer = NULL;
                        for (char *p = strrchr(upper, ' '); *p; p++)
                                *p = (char) toupper((unsigned char) *p);
                        shorter[strlen(shorter) - 1] = 0;
                        assert_true(asprintf(&longer, "%s0", line) > 0);
                        const char *variants[] = { upper, shorter, longer };
                        for (size_t k = 0; k < ELEMENTSOF(variants); k++) {
                                if (streq(variants[k], line))
                                        continue;       /* all digits: no case to change */
                                _cleanup_free_ char *bad = replaced(text, line, variants[k]);
                                expect_manifest_refused(bad, variants[k]);
                        }
                }
                /* A version 1 manifest holding version 2's lines, and the other way round. */
                _cleanup_free_ char *flipped = replaced(text, g == 0 ? "kyoka-export 2\n" : "kyoka-export 1\n",
                                                        g == 0 ? "kyoka-export 1\n" : "kyoka-export 2\n");
                expect_manifest_refused(flipped, "the other version's first line");
        }
}

/* ---- the record count ---------------------------------------------------------------------- */


static void test_csv_and_report_show_the_count(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_EN);
        size_t n;
        _cleanup_free_ char *csv = slurp(dir, "usage.csv", &n), *html = slurp(dir, "report.html", &n);
        assert_non_null(strstr(csv, "\"Count\",\"Remarks\",\"Record no.\"\r\n"));
        /* The burst of violations: one row, its count and what it stands for. */
        assert_non_null(strstr(csv, "\"2999\",\"set up without a permit and set down again each time (2999 times)\",\"8\"\r\n"));
        assert_non_null(strstr(csv, "\"1\",\"\",\"7\"\r\n"));
        /* Blocked attempts in events: the stick, the link's appearance, 2999 violations. */
        assert_non_null(strstr(html, "<th>Blocked attempts (events)</th><td class=\"n\">3001</td>"));
        assert_non_null(strstr(html, "<td class=\"n\">2999</td>"));
}

static void test_verify_export_chain_modified_count(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/\"count\":2999,/\"count\":1,/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 8: the hash does not match");
}

static void test_verify_export_refuses_version_2_without_count(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/,\"count\":2999,/,/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "records.jsonl line 7: not a record");
}

/* Passing a version 2 record off as version 1 (both keys gone) changes its bytes. */
static void test_verify_export_finds_version_downgrade(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        /* Version 5 to version 4: the same fields but the scan ones, which are empty here. */
        run("sed -i '2s/^{\"version\":5,/{\"version\":4,/; "
            "2s/,\"files\":0,\"bytes\":0,\"duration_ms\":0,\"scanner\":\"\",\"signature\":\"\",\"file_path\":\"\","
            "\"sha256\":\"\",\"pid\":0,\"process\":\"\"//' "
            "'%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 3: the hash does not match");
}

/* verify-export reads the exporter's own spelling directly and any other through json-c: a
 * records.jsonl written by another JSON writer (spaces, keys escaped, "\/") still verifies,
 * and the same records changed in another spelling are still refused. */
static void test_verify_export_reads_other_json_spellings(void **state) {
        struct fixture *f = *state;
        struct export_verify_report rep;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        run("sed -i 's/^{\"version\":/{ \"version\" : /; s/,\"hash\":/, \"h\\\\u0061sh\":/; s|/|\\\\/|g' "
            "'%s/records.jsonl'", dir);
        run("grep -q 'h\\\\u0061sh' '%s/records.jsonl'", dir);
        resign(f, dir);
        assert_int_equal(export_verify(dir, f->pub, NULL, NULL, &rep), 0);
        assert_true(rep.chain_checked);
        assert_int_equal(rep.records, 14);

        run("sed -i 's/\"count\":2999,/\"count\" : 1,/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 8: the hash does not match");
}

/* An export made before the count (version 1 records, no "count" key) still verifies. */
static void test_verify_export_accepts_a_v1_export(void **state) {
        struct fixture *f = *state;
        struct export_verify_report rep;
        assert_int_equal(export_verify(V1 "/ja/" WEEK_DIR, f->pub, NULL, NULL, &rep), 0);
        assert_true(rep.chain_checked);
        assert_int_equal(rep.records, 14);
}

static char *export_ledger(struct fixture *f, struct ledger *l, const char *week, const char *sub) {
        struct export_week w;
        struct export_result res;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = FORMATS };
        _cleanup_free_ char *out = path_join(f->dir, sub);
        assert_int_equal(export_week_parse(week, &w), 0);
        assert_int_equal(export_write(l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        return strdup(res.dir);
}

/* A ledger.db written before the count, migrated: its week exports the very records.jsonl and
 * chain hashes it exported then, and a week holding old and new records chains across them. */
static void test_v1_ledger_exports_as_before_and_chains_into_version_2(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *data = NULL, *db = NULL, *w47 = NULL, *w48 = NULL;
        struct ledger *l;
        struct export_verify_report rep;
        size_t n, a, b;

        assert_int_equal(read_file_bounded(V1 "/ledger.db", 1 << 20, &data, &n), 0);
        db = test_write(f->dir, "v1.db", data, n);
        assert_int_equal(ledger_open(db, 0, 0, &l), 0);

        w47 = export_ledger(f, l, "2026-W47", "w47");
        _cleanup_free_ char *got = slurp(w47, "records.jsonl", &a), *want = slurp(V1 "/ja/" WEEK_DIR, "records.jsonl", &b);
        assert_int_equal(a, b);
        assert_memory_equal(got, want, a);
        /* The chain hashes the city holds from then. */
        _cleanup_free_ char *m1 = slurp(w47, "MANIFEST", &a), *m0 = slurp(V1 "/ja/" WEEK_DIR, "MANIFEST", &b);
        struct manifest now, then;
        char err[256];
        assert_int_equal(manifest_parse(m1, a, &now, err, sizeof err), 0);
        assert_int_equal(manifest_parse(m0, b, &then, err, sizeof err), 0);
        assert_int_equal(now.start_seq, then.start_seq);
        assert_int_equal(now.end_seq, then.end_seq);
        assert_memory_equal(now.start_hash, then.start_hash, LEDGER_HASH_SIZE);
        assert_memory_equal(now.end_hash, then.end_hash, LEDGER_HASH_SIZE);
        assert_int_equal(export_verify(w47, f->pub, NULL, NULL, &rep), 0);

        /* Record 16 (version 1) opens 2026-W48; a burst after the upgrade follows it. */
        struct ledger_record r = fixture_record(FIXTURE_MONDAY + 7 * 86400 + 3600, LEDGER_SUBJECT_NETWORK,
                                                LEDGER_EVENT_VIOLATION);
        r.count = 5000;
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 1);
        w48 = export_ledger(f, l, "2026-W48", "w48");
        assert_int_equal(export_verify(w48, f->pub, NULL, NULL, &rep), 0);
        assert_int_equal(rep.records, 2);
        _cleanup_free_ char *lines = slurp(w48, "records.jsonl", &a);
        assert_memory_equal(lines, "{\"seq\":16,", strlen("{\"seq\":16,"));
        assert_non_null(strstr(lines, "\n{\"version\":5,\"seq\":17,"));
        assert_non_null(strstr(lines, "\"count\":5000,"));
        ledger_close(l);
}

/* Wireless networks used and refused: their own device type and event, the network by its SSID
 * (escaped: it is anybody's bytes), its access point and security; refusals are blocked attempts,
 * counted in events. */
static void test_export_lists_wireless_networks_used_and_refused(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = path_join(f->dir, "wifi.db");
        struct net_identity card = { .ifindex = 4, .name = "wlan3", .has_mac = true, .mac_is_permanent = true,
                                     .mac = { 2, 0, 0, 0, 3, 0 }, .wireless = WIRELESS_STATION };
        struct wireless_network city = { .ssid = "city-net", .ssid_len = 8, .has_bssid = true, .bssid = { 2, 0, 0, 0, 0, 0 },
                                         .security = WIRELESS_SECURITY_WPA2_PSK };
        struct wireless_network evil = { .ssid = "=1+1\x1b[2J\xff", .ssid_len = 9, .has_bssid = true,
                                         .bssid = { 2, 0, 0, 0, 2, 0 }, .security = WIRELESS_SECURITY_OPEN };
        struct ledger *l;
        size_t n;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        struct ledger_record r = fixture_record(FIXTURE_MONDAY + 3600, LEDGER_SUBJECT_NETWORK, LEDGER_EVENT_WIRELESS_JOINED);
        ledger_record_set_net(&r, &card);
        ledger_record_set_wireless(&r, &city);
        r.decision = LEDGER_DECISION_ALLOW;
        strcpy(r.permit, "W-CITY");
        strcpy(r.reason, "permit W-CITY");
        assert_int_equal(ledger_append(l, &r), 0);
        r.time += 600;
        r.event = LEDGER_EVENT_WIRELESS_LEFT;
        assert_int_equal(ledger_append(l, &r), 0);
        r.time += 60;
        r.event = LEDGER_EVENT_WIRELESS_JOINED;
        r.decision = LEDGER_DECISION_BLOCK;
        r.permit[0] = 0;
        r.count = 41;
        strcpy(r.reason, "default wireless");
        ledger_record_set_wireless(&r, &evil);
        assert_int_equal(ledger_append(l, &r), 0);
        r.time += 60;
        r.count = 1;
        r.wireless_mode[0] = 0;
        strcpy(r.wireless_mode, "ap");
        r.ssid[0] = r.bssid[0] = r.security[0] = 0;
        r.event = LEDGER_EVENT_REEVALUATED;
        strcpy(r.reason, "permit P-CARD does not permit wireless mode ap");
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 4);

        _cleanup_free_ char *dir = export_ledger(f, l, "2026-W47", "wifi");
        _cleanup_free_ char *csv = slurp(dir, "usage.csv", &n), *html = slurp(dir, "report.html", &n);
        assert_non_null(strstr(csv, "\"無線LAN\",\"無線LANに接続\",\"許可\",\"W-CITY\",\"許可番号 W-CITY による\","
                                    "\"\"\"city-net\"\" 02:00:00:00:00:00 wpa2-psk (wlan3)\""));
        assert_non_null(strstr(csv, "\"無線LAN\",\"無線LANから切断\""));
        /* The name starts with its quote, never with the SSID's "=": no formula; the escape
         * sequence and the invalid byte are \xHH. */
        assert_non_null(strstr(csv, "\"無線LAN\",\"無線LANへの接続を遮断\",\"拒否\",\"\",\"許可番号なし（承認されていない無線LANの既定の扱い）\","
                                    "\"\"\"=1+1\\x1b[2J\\xff\"\" 02:00:00:00:02:00 open (wlan3)\""));
        assert_non_null(strstr(csv, "\"41\",\"承認されていない無線LANへの接続を、その都度直ちに切断（41 回）\""));
        /* The card in AP mode: a link decision, said in Japanese. */
        assert_non_null(strstr(csv, "\"ネットワーク\",\"再判定（使用を停止）\",\"拒否\",\"\","
                                    "\"許可番号 P-CARD は無線の動作モード ap（アクセスポイント等）を許可していない\""));
        assert_null(memchr(csv, '\x1b', strlen(csv)));
        assert_null(strstr(csv, "\xff"));
        assert_non_null(strstr(html, "<tr><th>拒否された接続（回）</th><td class=\"n\">41</td></tr>"));
        assert_non_null(strstr(html, "<tr><td>無線LAN</td><td>&quot;city-net&quot; 02:00:00:00:00:00 wpa2-psk (wlan3)"));
        assert_non_null(strstr(html, "<td>無線LAN</td><td>無線LANへの接続を遮断</td><td>&quot;=1+1\\x1b[2J\\xff&quot;"));
        assert_null(memchr(html, '\x1b', strlen(html)));
        assert_null(strstr(html, "\xff"));
        ledger_close(l);
}

/* ---- what the city reads ------------------------------------------------------------------- */

static void test_csv_cell_keeps_values_text(void **state) {
        const char *cases[][2] = {
                { "0123", "\"=\"\"0123\"\"\"" },                 /* a serial: not the number 123 */
                { "2026017", "\"=\"\"2026017\"\"\"" },           /* a permit number */
                { "1-2", "\"=\"\"1-2\"\"\"" },                   /* a bus path: not 2 January */
                { "12E4", "\"=\"\"12E4\"\"\"" },                 /* not 120000 */
                { "0781:5581", "\"=\"\"0781:5581\"\"\"" },       /* not a time */
                { "TRUE", "\"=\"\"TRUE\"\"\"" },
                { "-1234", "\"'-1234\"" },                       /* a formula trigger stays neutralised */
                { "4C530001231120115142", "\"4C530001231120115142\"" },
                { "ws-01", "\"ws-01\"" },
                { "許可-2026-017", "\"許可-2026-017\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *c = csv_cell(cases[i][0]);
                if (!streq(c, cases[i][1]))
                        fail_msg("csv_cell(\"%s\") = %s, expected %s", cases[i][0], c, cases[i][1]);
        }
}

static void test_week_next(void **state) {
        char w[EXPORT_WEEK_MAX], between[8][EXPORT_WEEK_MAX];
        assert_int_equal(export_week_next("2026-W52", w), 0);
        assert_string_equal(w, "2026-W53");                     /* 2026 has 53 weeks */
        assert_int_equal(export_week_next("2026-W53", w), 0);
        assert_string_equal(w, "2027-W01");
        assert_int_equal(export_week_next("2025-W52", w), 0);
        assert_string_equal(w, "2026-W01");
        assert_int_equal(export_week_next("2025-W53", w), -EINVAL);
        assert_int_equal(export_week_next("2026-47", w), -EINVAL);
        assert_int_equal(export_weeks_between("2026-W50", "2027-W02", between, 8), 4);
        assert_string_equal(between[0], "2026-W51");
        assert_string_equal(between[2], "2026-W53");
        assert_string_equal(between[3], "2027-W01");
        assert_int_equal(export_weeks_between("2026-W47", "2026-W48", between, 8), 0);
        assert_int_equal(export_weeks_between("2026-W48", "2026-W47", between, 8), 0);
}

static void test_formats_pdf_needs_html(void **state) {
        unsigned f;
        assert_int_equal(export_formats_parse("html,pdf", &f), 0);
        assert_int_equal(f, EXPORT_HTML | EXPORT_PDF);
        assert_int_equal(export_formats_parse("csv,json,html,pdf", &f), 0);
        assert_int_equal(f, EXPORT_ALL);
        assert_int_equal(export_formats_parse("csv,pdf", &f), -EINVAL);
        assert_int_equal(export_formats_parse("pdf", &f), -EINVAL);
        assert_int_equal(export_formats_parse("csv,xls", &f), -EINVAL);
}

/* The fixture's header and record book: from the policy, sanitised, its formulas neutralised. */
static void test_report_header_and_record_book_from_the_policy(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_JA);
        size_t n;
        _cleanup_free_ char *html = slurp(dir, "report.html", &n), *media = slurp(dir, "media.csv", &n),
                            *manifest = slurp(dir, "MANIFEST", &n);
        assert_non_null(strstr(html, "<th>受注者</th><td>株式会社かずさ情報</td>"));
        assert_non_null(strstr(html, "<th>情報管理責任者</th><td>情報管理責任者 鈴木 一郎</td>"));
        assert_non_null(strstr(html, "確認欄"));
        assert_non_null(strstr(html, "counter(pages)"));
        assert_non_null(strstr(html, "<thead><tr><th>日時</th>"));
        assert_non_null(strstr(manifest, "\npolicy 42\nissuer 木更津市 総務部 情報政策課\ncontract 令和8年度 契約第123号\n"
                                         "contractor 株式会社かずさ情報\nresponsible 情報管理責任者 鈴木 一郎\n"));
        /* The stick used under KIS-2026-0142: connected, then removed (the removal carries no
         * permit: the record book remembers it). */
        assert_non_null(strstr(media, "\"接続（使用開始）\",\"SanDisk Ultra\",\"=\"\"0781:5581\"\"\",\"4C530001231120115142\","
                                      "\"KIS-2026-0142\",\"情報政策課 山田\""));
        assert_non_null(strstr(media, "\"取り外し（使用終了）\",\"SanDisk Ultra\",\"=\"\"0781:5581\"\"\",\"4C530001231120115142\","
                                      "\"KIS-2026-0142\",\"情報政策課 山田\""));
        /* The read-only one: the policy's purpose is a formula, neutralised like a device's. */
        assert_non_null(strstr(media, "\"'=HYPERLINK(\"\"x\"\")\""));
        assert_non_null(strstr(media, "\"読み取り専用\""));
}

/* ---- the week real kyokad recorded ---------------------------------------------------------- */

struct real {
        struct ledger *l;
        struct policy *policy;
        struct export_week week;
};

static void real_open(struct fixture *f, struct real *ret) {
        _cleanup_free_ char *data = NULL, *text = NULL, *week = NULL, *db = NULL;
        size_t n;

        assert_int_equal(read_file_bounded(REAL "/ledger.db", 16 << 20, &data, &n), 0);
        db = test_write(f->dir, "real.db", data, n);
        assert_int_equal(ledger_open(db, 0, 0, &ret->l), 0);
        assert_int_equal(read_file_bounded(REAL "/policy.conf", 1 << 20, &text, &n), 0);
        assert_int_equal(policy_parse(text, n, "policy.conf", &ret->policy, NULL), 0);
        assert_int_equal(read_file_bounded(REAL "/week", 64, &week, &n), 0);
        week[strcspn(week, "\n")] = 0;
        assert_int_equal(export_week_parse(week, &ret->week), 0);
}

static void real_close(struct real *r) {
        ledger_close(r->l);
        policy_free(r->policy);
}

static char *real_export(struct fixture *f, struct real *real, const char *sub, enum export_lang lang) {
        struct export_result res;
        struct export_options o = { .lang = lang, .formats = FORMATS, .policy = real->policy };
        _cleanup_free_ char *out = path_join(f->dir, sub);
        assert_int_equal(export_write(real->l, &real->week, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        return strdup(res.dir);
}

static void real_golden(void **state, enum export_lang lang) {
        struct fixture *f = *state;
        struct real real;
        _cleanup_free_ char *golden = NULL;

        real_open(f, &real);
        _cleanup_free_ char *dir = real_export(f, &real, lang == EXPORT_LANG_EN ? "en" : "ja", lang);
        /* DIR ends in HOST/WEEK: the golden folder is REAL/LANG/HOST/WEEK. */
        const char *week = strrchr(dir, '/'), *host = week;
        while (host > dir && host[-1] != '/')
                host--;
        assert_true(asprintf(&golden, REAL "/%s/%.*s", lang == EXPORT_LANG_EN ? "en" : "ja", (int) (strlen(host)),
                             host) > 0);
        compare_with(dir, golden);
        struct export_verify_report rep;
        assert_int_equal(export_verify(dir, f->pub, NULL, NULL, &rep), 0);
        real_close(&real);
}

static void test_real_week_golden_ja(void **state) {
        real_golden(state, EXPORT_LANG_JA);
}

static void test_real_week_golden_en(void **state) {
        real_golden(state, EXPORT_LANG_EN);
}

/* The part of TEXT from FROM up to TO (or the end). */
static char *section(const char *text, const char *from, const char *to) {
        const char *a = strstr(text, from);
        assert_non_null(a);
        const char *b = to ? strstr(a, to) : NULL;
        return strndup(a, b ? (size_t) (b - a) : strlen(a));
}

static size_t count_of(const char *text, const char *what) {
        size_t n = 0;
        for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

/* The carry-out record (issue 15 part 2) in the record book: between a stick's connection and
 * its removal, each file written to it (path, size, SHA-256, process, user), read from it, and
 * a counted loss; in media.csv and the report's section 3. */
static void test_files_in_the_record_book(void **state) {
        struct fixture *f = *state;
        const int64_t W48 = FIXTURE_MONDAY + 7 * 86400 + 9 * 3600;
        struct ledger_record rs[5];
        rs[0] = fixture_record(W48, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&rs[0], "0781", "5581", "SanDisk", "Ultra", "SER-FILES", "08:06:50");
        rs[0].decision = LEDGER_DECISION_ALLOW;
        strcpy(rs[0].permit, "KIS-F");
        fixture_user(&rs[0], 1000, "tanaka");
        rs[1] = rs[0];
        rs[1].time = W48 + 60;
        rs[1].event = LEDGER_EVENT_FILE_WRITTEN;
        strcpy(rs[1].file_path, "sdb1/報告書/11月.xlsx");
        rs[1].bytes = 12345;
        strcpy(rs[1].sha256, "7ca46ed8705ae80e983715aa2d60e4c49c87465c9d9467cafddf02bfadf6fc77");
        rs[1].pid = 408;
        strcpy(rs[1].process, "cp");
        rs[2] = rs[0];
        rs[2].time = W48 + 70;
        rs[2].event = LEDGER_EVENT_FILE_READ;
        strcpy(rs[2].file_path, "sdb1/in.txt");
        rs[2].bytes = 110;
        rs[2].pid = 409;
        strcpy(rs[2].process, "cat");
        rs[3] = rs[0];
        rs[3].time = W48 + 80;
        rs[3].event = LEDGER_EVENT_FILES_LOST;
        strcpy(rs[3].file_path, "sdb1");
        strcpy(rs[3].reason, "queue-overflow");
        rs[3].count = 2;
        rs[4] = rs[0];
        rs[4].time = W48 + 120;
        rs[4].event = LEDGER_EVENT_REMOVED;
        for (size_t i = 0; i < ELEMENTSOF(rs); i++) {
                if (rs[i].count == 0)
                        rs[i].count = 1;
                assert_int_equal(ledger_append(f->l, &rs[i]), 0);
        }
        assert_int_equal(ledger_commit(f->l, NULL), (int) ELEMENTSOF(rs));

        struct export_week w;
        struct export_result res;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = FORMATS };
        _cleanup_free_ char *out = path_join(f->dir, "files");
        assert_int_equal(export_week_parse("2026-W48", &w), 0);
        assert_int_equal(export_write(f->l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        size_t n;
        _cleanup_free_ char *media = slurp(res.dir, "media.csv", &n), *html = slurp(res.dir, "report.html", &n),
                            *faults = slurp(res.dir, "faults.csv", &n);
        _cleanup_free_ char *book = section(html, "3. 記憶媒体の記録簿", "<h2>4.");

        /* header + connected, written, read, lost, removed: the session in order */
        assert_int_equal(count_of(media, "\r\n"), 6);
        assert_non_null(strstr(media, "\"利用の範囲\",\"ファイル\",\"大きさ（バイト）\",\"SHA-256\",\"プロセス\",\"回数\",\"記録番号\""));
        assert_non_null(strstr(media, "\"ファイル持ち出し（書き込み）\",\"SanDisk Ultra\",\"=\"\"0781:5581\"\"\",\"SER-FILES\",\"KIS-F\""));
        assert_non_null(strstr(media, "\"tanaka\",\"読み書き\",\"sdb1/報告書/11月.xlsx\",\"12345\","
                                      "\"7ca46ed8705ae80e983715aa2d60e4c49c87465c9d9467cafddf02bfadf6fc77\",\"cp[408]\",\"1\","));
        assert_non_null(strstr(media, "\"ファイル持ち込み（読み取り）\""));
        assert_non_null(strstr(media, "\"sdb1/in.txt\",\"110\",\"\",\"cat[409]\",\"1\","));
        assert_non_null(strstr(media, "\"ファイル記録の欠落（件数）\""));
        assert_non_null(strstr(media, "\"sdb1\",\"\",\"\",\"\",\"2\","));
        assert_true(strstr(media, "ファイル持ち出し") < strstr(media, "取り外し（使用終了）"));
        /* The report's record book names each file with its medium; a loss is a fault too. */
        assert_non_null(book);
        assert_non_null(strstr(book, "sdb1/報告書/11月.xlsx (12345 バイト)"));
        assert_non_null(strstr(book, "ファイル持ち込み（読み取り）"));
        assert_non_null(strstr(faults, "queue-overflow"));
}

/* Media on other buses (issue 14) in what the city reads: each kind named in Japanese in
 * usage.csv, the record book (media.csv) and the report; a disc by its insertions, not by its
 * drive; the permit's approver from the policy's media entry; the workstation's own disk is a
 * note, never a medium used; a blocked disc is a blocked attempt. */
static struct ledger_record media_record(int64_t t, enum ledger_event e, const char *bus, const char *name,
                                         const char *path, const char *model, const char *serial,
                                         enum ledger_decision d, const char *permit) {
        struct ledger_record r = fixture_record(t, LEDGER_SUBJECT_MEDIA, e);
        strcpy(r.bus, bus);
        strcpy(r.device_name, name);
        strcpy(r.device_path, path);
        strcpy(r.product_name, model);
        strcpy(r.serial, serial);
        r.decision = d;
        strcpy(r.permit, permit);
        if (permit[0])
                snprintf(r.reason, sizeof r.reason, "permit %s", permit);
        fixture_user(&r, 1000, "tanaka");
        return r;
}

static void test_media_on_other_buses_in_the_record_book(void **state) {
        struct fixture *f = *state;
        const int64_t W48 = FIXTURE_MONDAY + 7 * 86400 + 9 * 3600;
        static const char policy_text[] =
                "kyoka_policy = 1;\nserial = 43;\nissued = \"2026-11-20\";\nissuer = \"木更津市\";\n"
                "contract = \"契約第123号\";\n"
                "media = ( { permit = \"媒体-SD\"; bus = \"mmc\"; serial = \"0xdeadbeef\"; access = \"read-only\";\n"
                "  purpose = \"写真の受け取り\"; approved_by = \"情報政策課 佐藤\"; approved_on = \"2026-11-20\"; },\n"
                " { permit = \"媒体-NV\"; bus = \"nvme\"; serial = \"NVSER123\";\n"
                "  approved_by = \"情報政策課 佐藤\"; approved_on = \"2026-11-20\"; } );\n";
        struct ledger_record rs[] = {
                media_record(W48, LEDGER_EVENT_FIXED_DISK, "ata", "sda", "pci-0000:00:1f.2-ata-1.0", "SATA-MODEL",
                             "SATASER1", LEDGER_DECISION_NONE, ""),
                media_record(W48 + 60, LEDGER_EVENT_CONNECTED, "mmc", "mmcblk0", "pci-0000:00:04.0-mmc", "QEMU!",
                             "0xdeadbeef", LEDGER_DECISION_READ_ONLY, "媒体-SD"),
                media_record(W48 + 120, LEDGER_EVENT_REMOVED, "mmc", "mmcblk0", "pci-0000:00:04.0-mmc", "QEMU!",
                             "0xdeadbeef", LEDGER_DECISION_READ_ONLY, ""),
                media_record(W48 + 180, LEDGER_EVENT_CONNECTED, "optical", "sr0", "pci-0000:00:1f.2-ata-3.0",
                             "QEMU DVD-ROM", "", LEDGER_DECISION_BLOCK, ""),
                media_record(W48 + 240, LEDGER_EVENT_MEDIUM_INSERTED, "optical", "sr0", "pci-0000:00:1f.2-ata-3.0",
                             "QEMU DVD-ROM", "", LEDGER_DECISION_BLOCK, ""),
                media_record(W48 + 300, LEDGER_EVENT_CONNECTED, "nvme", "nvme0n1", "pci-0000:01:00.0-nvme-1",
                             "QEMU NVMe Ctrl", "NVSER123", LEDGER_DECISION_BLOCK, ""),
                media_record(W48 + 360, LEDGER_EVENT_REEVALUATED, "nvme", "nvme0n1", "pci-0000:01:00.0-nvme-1",
                             "QEMU NVMe Ctrl", "NVSER123", LEDGER_DECISION_ALLOW, "媒体-NV"),
                media_record(W48 + 420, LEDGER_EVENT_CONNECTED, "ata", "sdb", "pci-0000:00:1f.2-ata-2.0", "ESATA-MODEL",
                             "ESATASER2", LEDGER_DECISION_BLOCK, ""),
        };
        /* The blocked eSATA disk with the reason kyokad gives it (a demo run showed it in English). */
        strcpy(rs[7].reason, "default media");
        for (size_t i = 0; i < ELEMENTSOF(rs); i++)
                assert_int_equal(ledger_append(f->l, &rs[i]), 0);
        assert_int_equal(ledger_commit(f->l, NULL), (int) ELEMENTSOF(rs));

        _cleanup_(policy_freep) struct policy *p = NULL;
        assert_int_equal(policy_parse(policy_text, strlen(policy_text), "policy.conf", &p, NULL), 0);
        struct export_week w;
        struct export_result res;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = FORMATS, .policy = p };
        _cleanup_free_ char *out = path_join(f->dir, "media");
        assert_int_equal(export_week_parse("2026-W48", &w), 0);
        assert_int_equal(export_write(f->l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        size_t n;
        _cleanup_free_ char *usage = slurp(res.dir, "usage.csv", &n), *media = slurp(res.dir, "media.csv", &n),
                            *html = slurp(res.dir, "report.html", &n);
        _cleanup_free_ char *book = section(html, "3. 記憶媒体の記録簿", "<h2>4."),
                            *devices = section(html, "2. 使用した機器", "<h2>3."), *blocked = section(html, "<h2>4.", "<h2>5.");

        /* usage.csv: every kind by name, the fixed disk a note with its own event. */
        assert_non_null(strstr(usage, "\"SDカード\",\"接続\",\"読み取り専用で許可\",\"媒体-SD\""));
        assert_non_null(strstr(usage, "\"光ディスク（CD・DVD等）\",\"媒体の挿入\",\"拒否\""));
        assert_non_null(strstr(usage, "\"NVMe記憶媒体（外付けSSD等）\",\"再判定（使用を許可）\",\"許可\",\"媒体-NV\""));
        assert_non_null(strstr(usage, "\"SATA記憶媒体（eSATA等）\",\"接続\",\"拒否\",\"\",\"許可番号なし（許可のない記録媒体の既定の扱い）\""));
        assert_null(strstr(usage, "default media"));
        assert_non_null(strstr(usage, "\"SATA記憶媒体（eSATA等）\",\"端末の固定ディスク（対象外）\""));
        assert_non_null(strstr(usage, "\"QEMU! (mmcblk0)\",\"\",\"0xdeadbeef\",\"pci-0000:00:04.0-mmc\""));

        /* The record book: the card (connected, removed: the permit remembered), the NVMe drive
         * permitted while connected; nothing blocked, no drive, no fixed disk. */
        assert_int_equal(count_of(media, "\r\n"), 4);
        assert_non_null(strstr(media, "\"接続（使用開始）\",\"SDカード: QEMU! (mmcblk0)\",\"\",\"0xdeadbeef\","
                                      "\"媒体-SD\",\"情報政策課 佐藤\",\"=\"\"2026-11-20\"\"\",\"写真の受け取り\""));
        assert_non_null(strstr(media, "\"取り外し（使用終了）\",\"SDカード: QEMU! (mmcblk0)\",\"\",\"0xdeadbeef\","
                                      "\"媒体-SD\",\"情報政策課 佐藤\""));
        assert_non_null(strstr(media, "\"許可により使用開始（接続中）\",\"NVMe記憶媒体（外付けSSD等）: QEMU NVMe Ctrl (nvme0n1)\""));
        assert_non_null(strstr(media, "\"読み取り専用\""));
        assert_null(strstr(media, "sr0"));
        assert_null(strstr(media, "sda"));
        assert_null(strstr(media, "sdb"));

        /* The report: the same in the record book and among the devices used; the disc and the
         * two drives blocked are blocked attempts. */
        assert_non_null(strstr(book, "SDカード: QEMU! (mmcblk0)"));
        assert_non_null(strstr(book, "NVMe記憶媒体（外付けSSD等）: QEMU NVMe Ctrl (nvme0n1)"));
        assert_non_null(strstr(book, "0xdeadbeef / pci-0000:00:04.0-mmc"));
        assert_non_null(strstr(devices, "<td>SDカード</td>"));
        assert_non_null(strstr(devices, "<td>NVMe記憶媒体（外付けSSD等）</td>"));
        assert_null(strstr(devices, "sda"));
        assert_non_null(strstr(blocked, "光ディスク（CD・DVD等）"));
        assert_non_null(strstr(blocked, "SATA記憶媒体（eSATA等）"));
        assert_null(strstr(html, "SD card"));
}

/* What issue 12 found in an export of real records, each checked on the recorded week. */
static void test_real_week_reads_as_the_city_reads(void **state) {
        struct fixture *f = *state;
        struct real real;
        size_t n;

        real_open(f, &real);
        _cleanup_free_ char *dir = real_export(f, &real, "x", EXPORT_LANG_JA);
        _cleanup_free_ char *usage = slurp(dir, "usage.csv", &n), *faults = slurp(dir, "faults.csv", &n),
                            *media = slurp(dir, "media.csv", &n), *html = slurp(dir, "report.html", &n);
        _cleanup_free_ char *devices = section(html, "2. 使用した機器", "<h2>3."),
                            *book = section(html, "3. 記憶媒体の記録簿", "<h2>4."),
                            *policies = section(html, "6. ポリシーの適用と変更", "<h2>7.");

        /* The flagship case: the stick approved while plugged in is in the report's devices,
         * under its permit; the loopback link is not. */
        assert_non_null(strstr(devices, "<td>2026017</td>"));
        assert_non_null(strstr(devices, "<td>許可-2026-001</td>"));
        assert_null(strstr(devices, "<td>lo<"));
        assert_null(strstr(devices, "ループバック"));
        assert_non_null(strstr(book, "許可により使用開始"));
        /* No remark is the journal's English. */
        const char *english[] = { "Network link", "USB 1-", "permit ", "default ", "set up while blocked", "kyokad started",
                                  "signature does not match" };
        for (size_t i = 0; i < ELEMENTSOF(english); i++) {
                if (strstr(usage, english[i]) || strstr(faults, english[i]) || strstr(media, english[i]))
                        fail_msg("the Japanese CSV holds \"%s\"", english[i]);
                if (strstr(html, english[i]))
                        fail_msg("the Japanese report holds \"%s\"", english[i]);
        }
        /* A refused policy is a refusal everywhere: the policy-loaded record that kept the last
         * accepted one is not 「ポリシー適用」 (records 2 and 10 are). */
        assert_int_equal(count_of(usage, "\"ポリシー適用\""), 2);
        assert_int_equal(count_of(usage, "\"ポリシー不採用（前回承認のポリシーを継続）\""), 1);
        assert_int_equal(count_of(faults, "\"ポリシー不採用\""), 1);
        assert_non_null(strstr(policies, "ポリシー不採用（前回承認のポリシーを継続）"));
        /* Dates Excel reads as dates, the offset beside them; the digits kept text. */
        size_t header_len = strcspn(usage, "\n") + 1;
        assert_true(header_len < strlen(usage));
        char first_row[128];
        snprintf(first_row, sizeof first_row, "%s", usage + header_len);
        const char *row = first_row;
        int y, mo, d, h, mi, sec;
        char off[16];
        assert_int_equal(sscanf(row, "\"%4d/%2d/%2d %2d:%2d:%2d\",\"%15[^\"]\"", &y, &mo, &d, &h, &mi, &sec, off), 7);
        assert_string_equal(off, "UTC+09:00");
        assert_non_null(strstr(usage, "\"=\"\"0001234567\"\"\""));
        assert_null(strstr(usage, ",\"0001234567\","));
        assert_non_null(strstr(usage, "\"=\"\"2026017\"\"\""));
        /* The attacker's stick: its formula neutralised, its escapes visible. */
        assert_non_null(strstr(usage, "\"'=cmd|' /C calc'!A0 Evil\\x1b[2J\\x0d\\x0aStick \\xe2\\x80\\xaefdp.exe\""));
        assert_non_null(strstr(usage, "\"'+SUM(1)\""));
        /* The record book: four entries; the removal under the permit it was used under. */
        assert_int_equal(count_of(media, "\r\n") - 1, 4);
        assert_non_null(strstr(media, "\"取り外し（使用終了）\",\"QEMU QEMU USB HARDDRIVE\",\"46f4:0001\",\"=\"\"0001234567\"\"\","
                                      "\"=\"\"2026017\"\"\",\"情報政策課 山田 太郎\""));
        /* The header, from the signed policy. */
        assert_non_null(strstr(html, "<th>受注者</th><td>株式会社かずさシステム</td>"));
        assert_non_null(strstr(html, "<th>情報管理責任者</th><td>情報管理責任者 技術部長 鈴木 一郎</td>"));
        real_close(&real);
}

/* ---- across weeks ----------------------------------------------------------------------------- */

static struct manifest manifest_of(const char *dir) {
        struct manifest m;
        char err[256];
        assert_int_equal(manifest_read(dir, &m, err, sizeof err), 0);
        return m;
}

static enum export_link link_of(const char *a, const char *b, const char *expect) {
        struct manifest x = manifest_of(a), y = manifest_of(b);
        char detail[512];
        enum export_link l = export_link_check(&x, &y, EXPORT_LANG_EN, detail, sizeof detail);
        if (expect && !strstr(detail, expect))
                fail_msg("expected \"%s\" in \"%s\"", expect, detail);
        return l;
}

static int copy_rewriting(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                          const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct ledger_record c = *r;
        if (c.seq == 5)
                strcpy(c.serial, "4C530001231120115143");
        return ledger_append(userdata, &c);
}

/* The fixture's ledger with record 5 changed and every hash after it computed again: what
 * someone with root who rewrote the past would leave. Or, WIPED, a ledger started afresh on
 * Tuesday of 2026-W48. */
static struct ledger *other_ledger_of(struct fixture *f, const char *name, bool wiped) {
        _cleanup_free_ char *db = path_join(f->dir, name);
        struct ledger *l;
        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        if (wiped) {
                struct ledger_record r = fixture_record(FIXTURE_MONDAY + 8 * 86400, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);
                assert_int_equal(ledger_append(l, &r), 0);
        } else
                assert_int_equal(ledger_foreach(f->l, 1, INT64_MAX, copy_rewriting, l), 0);
        assert_true(ledger_commit(l, NULL) > 0);
        return l;
}

static char *export_week_of(struct fixture *f, struct ledger *l, const char *week, const char *sub) {
        struct export_week w;
        struct export_result res;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = EXPORT_JSON, .policy = f->policy };
        _cleanup_free_ char *out = path_join(f->dir, sub);
        assert_int_equal(export_week_parse(week, &w), 0);
        assert_int_equal(export_write(l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        return strdup(res.dir);
}

static void test_weeks_link_and_gaps_show(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *w45 = export_week_of(f, f->l, "2026-W45", "a"), *w46 = export_week_of(f, f->l, "2026-W46", "a"),
                            *w47 = export_week_of(f, f->l, "2026-W47", "a"), *w48 = export_week_of(f, f->l, "2026-W48", "a"),
                            *w49 = export_week_of(f, f->l, "2026-W49", "a"), *w51 = export_week_of(f, f->l, "2026-W51", "a"),
                            *again = export_week_of(f, f->l, "2026-W47", "b");

        /* Each week names the record before it (the week before's last) and the ledger's first. */
        struct manifest m45 = manifest_of(w45), m46 = manifest_of(w46), m47 = manifest_of(w47);
        assert_int_equal(m45.start_seq, 0);
        assert_int_equal(m45.ledger_seq, 0);            /* the ledger held nothing yet */
        assert_int_equal(m46.ledger_seq, 1);
        assert_int_equal(m47.ledger_seq, 1);
        assert_memory_equal(m46.ledger_hash, m47.ledger_hash, LEDGER_HASH_SIZE);
        assert_int_equal(m47.start_seq, m46.end_seq);
        assert_memory_equal(m47.start_hash, m46.end_hash, LEDGER_HASH_SIZE);

        assert_int_equal(link_of(w45, w46, "continues"), EXPORT_LINK_CONTINUOUS);
        assert_int_equal(link_of(w46, w47, "2026-W47 continues 2026-W46 at seq 1"), EXPORT_LINK_CONTINUOUS);
        assert_int_equal(link_of(w47, w48, NULL), EXPORT_LINK_CONTINUOUS);
        /* 2026-W47 left out: its records are missing with it. */
        assert_int_equal(link_of(w46, w48, "records 2..15"), EXPORT_LINK_GAP);
        /* 2026-W50 left out, but nothing happened in it: the chain says so. */
        assert_int_equal(link_of(w49, w51, "they held no record"), EXPORT_LINK_GAP_EMPTY);
        assert_int_equal(link_of(w47, again, "given twice (the same records)"), EXPORT_LINK_DUPLICATE);

        /* The ledger wiped and started afresh in 2026-W48. */
        _cleanup_(ledger_closep) struct ledger *fresh = other_ledger_of(f, "fresh.db", true);
        _cleanup_free_ char *fresh48 = export_week_of(f, fresh, "2026-W48", "c");
        assert_int_equal(link_of(w47, fresh48, "wiped and started afresh"), EXPORT_LINK_NEW_LEDGER);

        /* The past rewritten: the next week no longer starts where the week the city holds
         * ended, and the week itself exported again is another one. */
        _cleanup_(ledger_closep) struct ledger *rewritten = other_ledger_of(f, "rewritten.db", false);
        _cleanup_free_ char *r48 = export_week_of(f, rewritten, "2026-W48", "d"),
                            *r47 = export_week_of(f, rewritten, "2026-W47", "d");
        assert_int_equal(link_of(w47, r48, "the past rewritten"), EXPORT_LINK_BROKEN);
        assert_int_equal(link_of(w47, r47, "given twice with different records"), EXPORT_LINK_CONFLICT);
        assert_int_equal(link_of(r47, r48, NULL), EXPORT_LINK_CONTINUOUS);

        /* Another workstation's week. */
        struct manifest a = manifest_of(w47), b = manifest_of(w48);
        char detail[512];
        strcpy(b.machine_id, "ffffffffffffffffffffffffffffffff");
        assert_int_equal(export_link_check(&a, &b, EXPORT_LANG_JA, detail, sizeof detail), EXPORT_LINK_OTHER_WORKSTATION);
        assert_non_null(strstr(detail, "別の端末"));
}

/* ---- report.pdf ---------------------------------------------------------------------------- */

/* An engine that does what WeasyPrint does for the export (HTML on stdin, PDF on stdout), as a
 * script: it writes the time it was given, so that the test sees SOURCE_DATE_EPOCH. */
static char *fake_engine(struct fixture *f, const char *name, const char *body) {
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "#!/bin/sh\n%s\n", body) > 0);
        char *p = test_write(f->dir, name, text, strlen(text));
        assert_int_equal(chmod(p, 0755), 0);
        return p;
}

static int export_pdf(struct fixture *f, const char *engine, const char *sub, char *err, size_t err_size,
                      struct export_result *res) {
        struct export_week w;
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = EXPORT_ALL, .policy = f->policy, .pdf_engine = engine };
        _cleanup_free_ char *out = path_join(f->dir, sub);
        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        return export_write(f->l, &w, &o, out, f->key, trusted_key_fingerprint(f->pub), res, err, err_size);
}

static void test_pdf_made_by_the_engine_and_signed(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *engine = fake_engine(f, "engine", "grep -q '確認欄' && printf '%%PDF-1.7 %s' \"$SOURCE_DATE_EPOCH\"");
        struct export_result res;
        char err[512];
        size_t n;

        assert_int_equal(export_pdf(f, engine, "pdf", err, sizeof err, &res), 0);
        _cleanup_free_ char *pdf = slurp(res.dir, "report.pdf", &n), *manifest = slurp(res.dir, "MANIFEST", &n);
        /* The week's end as its time: 2026-11-23T00:00+09:00. */
        assert_string_equal(pdf, "%PDF-1.7 1795359600");
        assert_non_null(strstr(manifest, "  report.pdf\n"));
        struct export_verify_report rep;
        assert_int_equal(export_verify(res.dir, f->pub, NULL, NULL, &rep), 0);
        assert_int_equal(rep.files, 6);
}

/* An engine that fails or is missing: the export fails and the folder keeps what it had. */
static void test_pdf_engine_failure_changes_nothing(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *good = fake_engine(f, "good", "cat >/dev/null; printf '%%PDF-1.7 good'"),
                            *bad = fake_engine(f, "bad", "cat >/dev/null; echo 'ERROR: no font for 漢字' >&2; exit 3");
        struct export_result res;
        char err[512];
        size_t a, b;

        assert_int_equal(export_pdf(f, good, "out", err, sizeof err, &res), 0);
        _cleanup_free_ char *before = slurp(res.dir, "MANIFEST", &a);
        assert_int_equal(export_pdf(f, bad, "out", err, sizeof err, &res), -EPROTO);
        if (!strstr(err, "exit status 3") || !strstr(err, "ERROR: no font for 漢字"))
                fail_msg("unexpected message: %s", err);
        assert_int_equal(export_pdf(f, "/nonexistent/weasyprint", "out", err, sizeof err, &res), -ENOENT);
        if (!strstr(err, "/nonexistent/weasyprint") || !strstr(err, "install weasyprint"))
                fail_msg("unexpected message: %s", err);
        _cleanup_free_ char *after = slurp(res.dir, "MANIFEST", &b);
        assert_int_equal(a, b);
        assert_memory_equal(before, after, a);
        struct export_verify_report rep;
        assert_int_equal(export_verify(res.dir, f->pub, NULL, NULL, &rep), 0);     /* no temporary left */
}

/* An engine that hangs (its stderr closed or not) is stopped at the deadline. */
static void test_pdf_engine_that_hangs_is_stopped(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *quiet = fake_engine(f, "quiet", "exec 2>&-; exec sleep 30"),
                            *loud = fake_engine(f, "loud", "exec sleep 30");
        const char *engines[] = { quiet, loud };
        char err[256];

        for (size_t i = 0; i < ELEMENTSOF(engines); i++) {
                _cleanup_close_ int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
                time_t t0 = time(NULL);
                assert_int_equal(pdf_render(engines[i], in, out, 0, 1, err, sizeof err), -ETIMEDOUT);
                assert_true(time(NULL) - t0 < 10);
                assert_non_null(strstr(err, "no PDF after 1 s"));
        }
}

/* ---- collect -------------------------------------------------------------------------------- */

struct problems {
        char text[8192];
};

static void on_problem(const char *text, void *userdata) {
        struct problems *p = userdata;
        strncat(p->text, text, sizeof p->text - strlen(p->text) - 2);
        strcat(p->text, "\n");
}

/* Two workstations: ws-test01's weeks 2026-W46..W48 and ws-test02's 2026-W47 (its ledger starts
 * then), each with its own key. Then what the city must be told, each named. */
static void test_collect_names_every_problem(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *exports = path_join(f->dir, "exports"), *keys = path_join(f->dir, "keys"),
                            *out = path_join(f->dir, "summary"), *db2 = path_join(f->dir, "ws2.db"),
                            *prefix2 = path_join(f->dir, "ws2");
        struct signing_key *key2;
        struct trusted_key *pub2;
        struct collect_options o = { .lang = EXPORT_LANG_JA };
        struct collect_result res;
        struct problems p = {};
        char err[512];
        size_t n;

        for (int w = 46; w <= 48; w++) {
                struct export_week week;
                struct export_result r;
                struct export_options eo = { .lang = EXPORT_LANG_JA, .formats = FORMATS, .policy = f->policy };
                char name[16];
                snprintf(name, sizeof name, "2026-W%02u", (unsigned) w % 100);
                assert_int_equal(export_week_parse(name, &week), 0);
                assert_int_equal(export_write(f->l, &week, &eo, exports, f->key, trusted_key_fingerprint(f->pub), &r,
                                              NULL, 0), 0);
        }
        assert_int_equal(key_generate(prefix2), 0);
        _cleanup_free_ char *k2 = path_join(f->dir, "ws2.key"), *p2 = path_join(f->dir, "ws2.pub");
        assert_int_equal(signing_key_load(k2, &key2), 0);
        assert_int_equal(trusted_key_load(p2, &pub2), 0);
        struct ledger *l2;
        assert_int_equal(ledger_open(db2, 0, 0, &l2), 0);
        struct ledger_record r = fixture_record(FIXTURE_MONDAY + 3600, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);
        strcpy(r.hostname, "ws-test02");
        strcpy(r.machine_id, "000000000000000000000000000000b2");
        assert_int_equal(ledger_append(l2, &r), 0);
        assert_int_equal(ledger_commit(l2, NULL), 1);
        struct export_week week;
        struct export_result er;
        struct export_options eo = { .lang = EXPORT_LANG_JA, .formats = FORMATS, .policy = f->policy };
        assert_int_equal(export_week_parse("2026-W47", &week), 0);
        assert_int_equal(export_write(l2, &week, &eo, exports, key2, trusted_key_fingerprint(pub2), &er, NULL, 0), 0);
        ledger_close(l2);
        run("mkdir -p '%s' && cp '%s/export.pub' '%s/ws-test01 の鍵.pub' && cp '%s' '%s/ws-test02.pem'", keys, GOLDEN, keys,
            p2, keys);

        /* All there: only ws-test02's 2026-W48 is missing (its ledger goes on past W47). */
        assert_int_equal(collect_run(keys, &exports, 1, out, &o, on_problem, &p, &res, err, sizeof err), 1);
        assert_int_equal(res.workstations, 2);
        assert_int_equal(res.keys, 2);
        assert_int_equal(res.weeks, 5);
        assert_int_equal(res.good, 4);
        if (!strstr(p.text, "ws-test02 2026-W48") || !strstr(p.text, "欠落"))
                fail_msg("problems: %s", p.text);
        _cleanup_free_ char *csv = slurp(out, "summary.csv", &n), *html = slurp(out, "summary.html", &n);
        assert_memory_equal(csv, "\xef\xbb\xbf\"端末\",\"マシンID\",\"対象週\",\"状態\"", strlen("\xef\xbb\xbf\"端末\",\"マシンID\",\"対象週\",\"状態\""));
        assert_non_null(strstr(csv, "\"ws-test01\",\"0123456789abcdef0123456789abcdef\",\"2026-W47\",\"検証済み\",\"14\""));
        assert_non_null(strstr(csv, "\"ws-test02\",\"000000000000000000000000000000b2\",\"2026-W48\",\"欠落\""));
        assert_non_null(strstr(html, "<td>令和8年度 契約第123号</td>"));
        assert_non_null(strstr(html, "<th>受注者</th><td>株式会社かずさ情報</td>"));

        /* A week altered, a week's key missing, a stray folder: each named, never skipped. */
        run("sed -i 's/SanDisk/SanDlsk/' '%s/ws-test01/2026-W47/usage.csv'", exports);
        run("rm '%s/ws-test02.pem' && mkdir '%s/ws-test01/notes'", keys, exports);
        memset(&p, 0, sizeof p);
        assert_true(collect_run(keys, &exports, 1, out, &o, on_problem, &p, &res, err, sizeof err) > 1);
        const char *expect[] = { "ws-test01 2026-W47", "usage.csv: its SHA-256 differs", "ws-test02 2026-W47", "鍵のフォルダーに",
                                 "notes", "ws-test01 2026-W48" };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                if (!strstr(p.text, expect[i]))
                        fail_msg("\"%s\" not named in: %s", expect[i], p.text);
        _cleanup_free_ char *csv2 = slurp(out, "summary.csv", &n);
        assert_non_null(strstr(csv2, "\"ws-test01\",\"0123456789abcdef0123456789abcdef\",\"2026-W47\",\"不備（検証できない）\""));
        signing_key_free(key2);
        trusted_key_free(pub2);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_week_parse),
                T(test_week_last_complete),
                cmocka_unit_test(test_format_time_as_gmtime),
                cmocka_unit_test(test_csv_cell_neutralises_formulas),
                cmocka_unit_test(test_manifest_parse_one_spelling),
                T(test_golden_ja),
                T(test_golden_en),
                T(test_export_twice_same_bytes),
                T(test_csv_is_excel_shaped),
                T(test_verify_export_accepts_the_export),
                T(test_csv_and_report_show_the_count),
                T(test_export_lists_wireless_networks_used_and_refused),
                T(test_verify_export_chain_modified_count),
                T(test_verify_export_reads_other_json_spellings),
                T(test_verify_export_refuses_version_2_without_count),
                T(test_verify_export_finds_version_downgrade),
                T(test_verify_export_accepts_a_v1_export),
                T(test_v1_ledger_exports_as_before_and_chains_into_version_2),
                T(test_verify_export_finds_changed_file),
                T(test_verify_export_finds_added_file),
                T(test_verify_export_finds_bad_signature),
                T(test_verify_export_chain_modified_record),
                T(test_verify_export_chain_deleted_record),
                T(test_verify_export_chain_inserted_record),
                T(test_verify_export_chain_reordered_records),
                T(test_verify_export_chain_renumbered_record),
                T(test_verify_export_chain_truncated_week),
                T(test_verify_export_halves_agree_with_one_walk),
                T(test_hashing_file_hashes_what_it_writes),
                T(test_export_symlink_at_the_temporary_name_is_harmless),
                T(test_export_symlink_at_the_final_name_is_replaced_not_followed),
                T(test_export_refuses_a_group_writable_output_directory),
                T(test_export_refuses_a_symlinked_subdirectory),
                T(test_export_refuses_a_world_writable_week_directory),
                T(test_export_refuses_directories_of_another_user),
                T(test_export_sweeps_stale_temporaries),
                cmocka_unit_test(test_csv_cell_keeps_values_text),
                cmocka_unit_test(test_week_next),
                cmocka_unit_test(test_formats_pdf_needs_html),
                T(test_report_header_and_record_book_from_the_policy),
                T(test_media_on_other_buses_in_the_record_book),
                T(test_files_in_the_record_book),
                T(test_real_week_golden_ja),
                T(test_real_week_golden_en),
                T(test_real_week_reads_as_the_city_reads),
                T(test_weeks_link_and_gaps_show),
                T(test_pdf_made_by_the_engine_and_signed),
                T(test_pdf_engine_failure_changes_nothing),
                T(test_pdf_engine_that_hangs_is_stopped),
                T(test_collect_names_every_problem),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
