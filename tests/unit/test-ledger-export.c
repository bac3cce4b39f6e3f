/* SPDX-License-Identifier: MIT */
/* The weekly export: ISO weeks, CSV cells, golden folders (ja and en, byte for byte against
 * tests/data/export/), the same bytes on a second export, and verify-export finding each kind
 * of tampering: a changed file, an added file, and, with MANIFEST re-hashed and re-signed (an
 * attacker holding the key), a record modified, deleted, inserted, reordered or renumbered.
 * The record count: in the CSV and the report, hashed (a changed count is found); an export and
 * a ledger written before it (tests/data/export/v1/, made by that code) still verify and export
 * the same records. KYOKA_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include <dirent.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"

#include "export.h"
#include "ledger-fixture.h"

#define GOLDEN TEST_DATA_DIR "/export"
#define WEEK_DIR "ws-test01/2026-W47"

static const char *const files[] = { "MANIFEST", "MANIFEST.sig", "faults.csv", "records.jsonl", "report.html", "usage.csv" };

struct fixture {
        char *dir;
        struct ledger *l;
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
        assert_int_equal(signing_key_load(GOLDEN "/export.key", &f->key), 0);
        assert_int_equal(trusted_key_load(GOLDEN "/export.pub", &f->pub), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        ledger_close(f->l);
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

        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        assert_int_equal(export_write(f->l, &w, lang, EXPORT_ALL, out, f->key, trusted_key_fingerprint(f->pub), &res, NULL, 0), 0);
        assert_int_equal(res.first_seq, 2);
        assert_int_equal(res.last_seq, 15);
        return strdup(res.dir);
}

static char *slurp(const char *dir, const char *name, size_t *ret_size) {
        _cleanup_free_ char *p = path_join(dir, name);
        char *s;
        assert_int_equal(read_file_bounded(p, 16 << 20, &s, ret_size), 0);
        return s;
}

static void compare_golden(const char *dir, const char *lang) {
        _cleanup_free_ char *golden = NULL;
        assert_true(asprintf(&golden, GOLDEN "/%s/" WEEK_DIR, lang) > 0);

        if (getenv("KYOKA_UPDATE_GOLDEN")) {
                _cleanup_free_ char *cmd = NULL;
                assert_true(asprintf(&cmd, "mkdir -p '%s' && cp '%s'/* '%s'/", golden, dir, golden) > 0);
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
        assert_memory_equal(csv, "\xef\xbb\xbf\"日時\",\"端末\"", strlen("\xef\xbb\xbf\"日時\",\"端末\""));
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
        assert_int_equal(export_verify(dir, f->pub, &rep), 0);
        assert_true(rep.chain_checked);
        assert_int_equal(rep.records, 14);
        assert_int_equal(rep.files, 4);
}

static void expect_refused(struct fixture *f, const char *dir, const char *what) {
        struct export_verify_report rep;
        assert_int_equal(export_verify(dir, f->pub, &rep), -EBADMSG);
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

/* MANIFEST is parsed strictly: the golden one parses and formats back to its own bytes, and
 * every other spelling of the same values is refused. Found by fuzz-export-manifest: sscanf
 * took any whitespace (a vertical tab, none at all before a file name), signs and leading zeros. */
/* ---- the output directory (issue 9: root's export overwrote a root-owned file through a
 * symlink planted in the user-owned output directory) ------------------------------------- */

static int export_into(struct fixture *f, const char *out, char *err, size_t err_size) {
        struct export_week w;
        struct export_result res;

        assert_int_equal(export_week_parse("2026-W47", &w), 0);
        return export_write(f->l, &w, EXPORT_LANG_JA, EXPORT_ALL, out, f->key, trusted_key_fingerprint(f->pub), &res,
                            err, err_size);
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
        assert_int_equal(export_verify(week, f->pub, &rep), 0);
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
        assert_int_equal(export_verify(week, f->pub, &rep), 0);
}

static void test_manifest_parse_one_spelling(void **state) {
        _cleanup_free_ char *text = NULL, *again = NULL;
        size_t size;
        /* hashes are lowercase, 64 digits, as hex_encode() writes them */
        static const char *const from[] = { "records 14\n", "chain-end 15 ", "chain-start 1 ", "  faults.csv",
                                            "records 14\n", "chain-end 15 ", "  usage.csv", "records 14\n",
                                            "chain-end 15 ee", "chain-start 1 eb", "a5a6136e", "9c01  faults",
                                            "aa67\n" };
        static const char *const to[] = { "records +14\n", "chain-end 15\v", "chain-start 01 ", "faults.csv",
                                          "records  14\n", "chain-end  15 ", " \tusage.csv", "records 14 \n",
                                          "chain-end 15 Ee", "chain-start 1 EB", "A5A6136E", "9c0  faults",
                                          "aa67a\n" };
        struct manifest m;
        char err[256];
        size_t n;

        assert_int_equal(read_file_bounded(GOLDEN "/en/" WEEK_DIR "/MANIFEST", 4096, &text, &size), 0);
        assert_int_equal(manifest_parse(text, size, &m, err, sizeof err), 0);
        assert_int_equal(manifest_format(&m, &again, &n), 0);
        assert_int_equal(n, strlen(text));
        assert_memory_equal(again, text, n);

        for (size_t i = 0; i < ELEMENTSOF(from); i++) {
                const char *at = strstr(text, from[i]);
                _cleanup_free_ char *bad = NULL;
                assert_non_null(at);
                size_t off = (size_t) (at - text);
                assert_true(asprintf(&bad, "%.*s%s%s", (int) off, text, to[i], text + off + strlen(from[i])) > 0);
                if (manifest_parse(bad, strlen(bad), &m, err, sizeof err) != -EBADMSG)
                        fail_msg("MANIFEST with \"%s\" for \"%s\" was not refused", to[i], from[i]);
        }
}

/* ---- the record count ---------------------------------------------------------------------- */

#define V1 GOLDEN "/v1"

static void test_csv_and_report_show_the_count(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *dir = export_to(f, "x", EXPORT_LANG_EN);
        size_t n;
        _cleanup_free_ char *csv = slurp(dir, "usage.csv", &n), *html = slurp(dir, "report.html", &n);
        assert_non_null(strstr(csv, "\"Record no.\",\"Count\"\r\n"));
        /* The burst of violations: one row, its count last. */
        assert_non_null(strstr(csv, "\"Blocked\",\"default: block\",\"8\",\"2999\"\r\n"));
        assert_non_null(strstr(csv, "\"Blocked\",\"default: block\",\"7\",\"1\"\r\n"));
        /* Blocked attempts in events: the stick, the link's appearance, 2999 violations. */
        assert_non_null(strstr(html, "<th>Blocked attempts</th><td class=\"n\">3001</td>"));
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
        run("sed -i '2s/^{\"version\":2,/{/; 2s/,\"count\":1,/,/' '%s/records.jsonl'", dir);
        resign(f, dir);
        expect_refused(f, dir, "seq 3: the hash does not match");
}

/* An export made before the count (version 1 records, no "count" key) still verifies. */
static void test_verify_export_accepts_a_v1_export(void **state) {
        struct fixture *f = *state;
        struct export_verify_report rep;
        assert_int_equal(export_verify(V1 "/ja/" WEEK_DIR, f->pub, &rep), 0);
        assert_true(rep.chain_checked);
        assert_int_equal(rep.records, 14);
}

static char *export_ledger(struct fixture *f, struct ledger *l, const char *week, const char *sub) {
        struct export_week w;
        struct export_result res;
        _cleanup_free_ char *out = path_join(f->dir, sub);
        assert_int_equal(export_week_parse(week, &w), 0);
        assert_int_equal(export_write(l, &w, EXPORT_LANG_JA, EXPORT_ALL, out, f->key, trusted_key_fingerprint(f->pub), &res,
                                      NULL, 0), 0);
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
        assert_int_equal(export_verify(w47, f->pub, &rep), 0);

        /* Record 16 (version 1) opens 2026-W48; a burst after the upgrade follows it. */
        struct ledger_record r = fixture_record(FIXTURE_MONDAY + 7 * 86400 + 3600, LEDGER_SUBJECT_NETWORK,
                                                LEDGER_EVENT_VIOLATION);
        r.count = 5000;
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 1);
        w48 = export_ledger(f, l, "2026-W48", "w48");
        assert_int_equal(export_verify(w48, f->pub, &rep), 0);
        assert_int_equal(rep.records, 2);
        _cleanup_free_ char *lines = slurp(w48, "records.jsonl", &a);
        assert_memory_equal(lines, "{\"seq\":16,", strlen("{\"seq\":16,"));
        assert_non_null(strstr(lines, "\n{\"version\":2,\"seq\":17,"));
        assert_non_null(strstr(lines, "\"count\":5000,"));
        ledger_close(l);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_week_parse),
                T(test_week_last_complete),
                cmocka_unit_test(test_csv_cell_neutralises_formulas),
                cmocka_unit_test(test_manifest_parse_one_spelling),
                T(test_golden_ja),
                T(test_golden_en),
                T(test_export_twice_same_bytes),
                T(test_csv_is_excel_shaped),
                T(test_verify_export_accepts_the_export),
                T(test_csv_and_report_show_the_count),
                T(test_verify_export_chain_modified_count),
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
                T(test_export_symlink_at_the_temporary_name_is_harmless),
                T(test_export_symlink_at_the_final_name_is_replaced_not_followed),
                T(test_export_refuses_a_group_writable_output_directory),
                T(test_export_refuses_a_symlinked_subdirectory),
                T(test_export_refuses_a_world_writable_week_directory),
                T(test_export_refuses_directories_of_another_user),
                T(test_export_sweeps_stale_temporaries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
