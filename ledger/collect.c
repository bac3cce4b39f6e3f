/* SPDX-License-Identifier: MIT */
/* The contract-level summary (collect.h): find the week folders, verify each with its
 * workstation's key while counting what the report counts, link each week to the one before,
 * list the missing weeks, and write the summary (CSV, HTML, PDF). */
#include "collect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-safe.h"

#define KEYS_MAX 10000
/* The summary's language: every text the city reads in it. */
#define L(ja, en) (c->opts->lang == EXPORT_LANG_EN ? (en) : (ja))
#define FOLDERS_MAX 200000

struct key_entry {
        char name[256];                   /* the file in KEYDIR */
        char fingerprint[KEY_FINGERPRINT_HEX];
        struct trusted_key *key;
};

enum row_state {
        ROW_GOOD,
        ROW_REFUSED,                      /* did not verify, or no key for it */
        ROW_UNREADABLE,                   /* no MANIFEST we could read */
        ROW_MISSING,                      /* a week of the range nobody gave */
};

struct row {
        char dir[4096];
        char host[LEDGER_HOSTNAME_MAX];
        char machine_id[LEDGER_ID_MAX];
        char week[EXPORT_WEEK_MAX];
        char key_name[256];
        enum row_state state;
        bool linked;                      /* follows the week before (or is the first) */
        char problem[640];                /* what is wrong with the week itself */
        char link[640];                   /* how it follows the week before */
        struct manifest m;
        uint64_t records, uses, blocked, faults, media;
};

struct collect {
        const struct collect_options *opts;
        collect_problem_fn on_problem;
        void *userdata;
        struct key_entry *keys;
        size_t n_keys;
        struct row *rows;
        size_t n_rows, cap_rows;
        char **notes;                     /* problems not tied to a week (keys, folders) */
        size_t n_notes;
        size_t problems;
};

_printf_(2, 3) static void note(struct collect *c, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        c->problems++;
        if (c->on_problem)
                c->on_problem(buf, c->userdata);
        char **n = reallocarray(c->notes, c->n_notes + 1, sizeof *n);
        if (!n)
                return;
        c->notes = n;
        if ((c->notes[c->n_notes] = strdup(buf)))
                c->n_notes++;
}

static struct row *row_new(struct collect *c) {
        if (c->n_rows >= FOLDERS_MAX)
                return NULL;
        if (c->n_rows == c->cap_rows) {
                size_t cap = c->cap_rows ? 2 * c->cap_rows : 64;
                struct row *r = reallocarray(c->rows, cap, sizeof *r);
                if (!r)
                        return NULL;
                c->rows = r;
                c->cap_rows = cap;
        }
        struct row *r = &c->rows[c->n_rows++];
        *r = (struct row) {};
        return r;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static int load_keys(struct collect *c, const char *keydir) {
        _cleanup_close_ int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        int r;

        if (dfd < 0)
                return negative_errno();
        r = dir_stream_at(dfd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = path_join(keydir, de->d_name);
                struct trusted_key *k = NULL;
                if (!path) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (c->n_keys >= KEYS_MAX) {
                        note(c, L("%s: 鍵が %d 個を超えたため残りは使わない", "%s: more than %d keys: the rest are left out"), keydir, KEYS_MAX);
                        break;
                }
                r = trusted_key_load(path, &k);
                if (r < 0) {
                        note(c, L("%s: 出力鍵（Ed25519 公開鍵、PEM 形式）ではないため使わない",
                                   "%s: not an export key (an Ed25519 public key in PEM form): left out"), path);
                        continue;
                }
                struct key_entry *e = reallocarray(c->keys, c->n_keys + 1, sizeof *e);
                if (!e) {
                        trusted_key_free(k);
                        closedir(d);
                        return -ENOMEM;
                }
                c->keys = e;
                e = &c->keys[c->n_keys++];
                snprintf(e->name, sizeof e->name, "%s", de->d_name);
                snprintf(e->fingerprint, sizeof e->fingerprint, "%s", trusted_key_fingerprint(k));
                e->key = k;
        }
        closedir(d);
        return 0;
}

static const struct key_entry *key_for(struct collect *c, const char *fingerprint) {
        for (size_t i = 0; i < c->n_keys; i++)
                if (streq(c->keys[i].fingerprint, fingerprint))
                        return &c->keys[i];
        return NULL;
}

/* ---- counting while verifying --------------------------------------------------------------- */

static void add_count(uint64_t *n, const struct ledger_record *r) {
        uint64_t k = r->count > 0 ? (uint64_t) r->count : 1;
        if (__builtin_add_overflow(*n, k, n))
                *n = UINT64_MAX;
}

static int tally(const struct ledger_record *r, void *userdata) {
        struct row *w = userdata;
        w->records++;
        if (export_is_use(r))
                add_count(&w->uses, r);
        if (export_is_blocked_attempt(r))
                add_count(&w->blocked, r);
        if (ledger_record_is_fault(r))
                w->faults++;
        if (export_media_kind(r) != EXPORT_MEDIA_NONE)
                w->media++;
        return 0;
}

static void check_week(struct collect *c, const char *dir, const char *host_hint, const char *week_hint) {
        struct row *w = row_new(c);
        char err[256] = "";
        int r;

        if (!w) {
                note(c, L("%s: 週のフォルダーが %d を超えたため対象外", "%s: left out: more than %d week folders"), dir, FOLDERS_MAX);
                return;
        }
        snprintf(w->dir, sizeof w->dir, "%s", dir);
        snprintf(w->host, sizeof w->host, "%s", host_hint);
        snprintf(w->week, sizeof w->week, "%s", week_hint);
        r = manifest_read(dir, &w->m, err, sizeof err);
        if (r < 0) {
                w->state = ROW_UNREADABLE;
                snprintf(w->problem, sizeof w->problem, "%s%s%s", L("MANIFEST がない、または読めない", "no MANIFEST, or unreadable"),
                         r == -EBADMSG ? ": " : "", r == -EBADMSG ? err : "");
                return;
        }
        /* Until the signature holds, these only name the row. */
        snprintf(w->host, sizeof w->host, "%s", w->m.host);
        snprintf(w->machine_id, sizeof w->machine_id, "%s", w->m.machine_id);
        snprintf(w->week, sizeof w->week, "%s", w->m.week);
        const struct key_entry *k = key_for(c, w->m.key);
        if (!k) {
                w->state = ROW_REFUSED;
                snprintf(w->problem, sizeof w->problem, L("鍵のフォルダーに、MANIFEST が示す鍵（指紋 %.16s…）がない",
                                                  "no key in the key folder has fingerprint %.16s… (the one MANIFEST names)"),
                         w->m.key);
                return;
        }
        snprintf(w->key_name, sizeof w->key_name, "%s", k->name);
        struct export_verify_report rep;
        r = export_verify(dir, k->key, tally, w, &rep);
        if (r < 0) {
                w->state = ROW_REFUSED;
                w->records = w->uses = w->blocked = w->faults = w->media = 0;
                if (r == -EBADMSG)
                        snprintf(w->problem, sizeof w->problem, "%s: %s", export_problem_label(rep.kind, c->opts->lang),
                                 rep.problem);
                else
                        snprintf(w->problem, sizeof w->problem, "%s", strerror(-r));
                return;
        }
        if (!rep.chain_checked) {
                w->state = ROW_REFUSED;
                snprintf(w->problem, sizeof w->problem, "%s", L("records.jsonl がなく、記録を検証できない",
                                                           "no records.jsonl: its records cannot be checked"));
                return;
        }
        w->m = rep.manifest;
        w->state = ROW_GOOD;
}

/* ---- finding the folders -------------------------------------------------------------------- */

static bool has_manifest(const char *dir) {
        _cleanup_free_ char *p = path_join(dir, "MANIFEST");
        struct stat st;
        return p && lstat(p, &st) == 0;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The directories in DIR, sorted, hidden ones left out; -errno. */
static int subdirs(const char *dir, char ***ret, size_t *ret_n, struct collect *c) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char **names = NULL;
        size_t n = 0;
        DIR *d;
        int r;

        if (dfd < 0)
                return negative_errno();
        r = dir_stream_at(dfd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
                        note(c, L("%s/%s: 出力のフォルダーではない（ディレクトリでない）", "%s/%s: not an export folder (not a directory)"),
                             dir, de->d_name);
                        continue;
                }
                char **m = reallocarray(names, n + 1, sizeof *m);
                if (!m || !(m[n] = strdup(de->d_name))) {
                        free(m ?: names);
                        closedir(d);
                        return -ENOMEM;
                }
                names = m;
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* DIR is a week (MANIFEST), a workstation (weeks below) or an export folder (workstations below). */
static int walk(struct collect *c, const char *dir, int depth) {
        char **names = NULL;
        size_t n = 0;
        int r;

        if (has_manifest(dir)) {
                const char *base = strrchr(dir, '/');
                check_week(c, dir, "", base ? base + 1 : dir);
                return 0;
        }
        if (depth >= 2) {
                const char *base = strrchr(dir, '/');
                struct row *w = row_new(c);
                if (w) {
                        snprintf(w->dir, sizeof w->dir, "%s", dir);
                        snprintf(w->week, sizeof w->week, "%s", base ? base + 1 : dir);
                        w->state = ROW_UNREADABLE;
                        snprintf(w->problem, sizeof w->problem, "%s", L("MANIFEST がない：出力のフォルダーではない", "no MANIFEST: not an export"));
                }
                return 0;
        }
        r = subdirs(dir, &names, &n, c);
        if (r < 0) {
                note(c, L("%s: 読めない: %s", "%s: cannot be read: %s"), dir, strerror(-r));
                return 0;
        }
        if (n == 0)
                note(c, L("%s: 出力がない", "%s: holds no export"), dir);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *sub = path_join(dir, names[i]);
                if (!sub) {
                        free_names(names, n);
                        return -ENOMEM;
                }
                r = walk(c, sub, depth + 1);
                if (r < 0)
                        break;
        }
        free_names(names, n);
        return r < 0 ? r : 0;
}

/* ---- across weeks ---------------------------------------------------------------------------- */

static int cmp_rows(const void *a, const void *b) {
        const struct row *x = a, *y = b;
        int k = strcmp(x->host, y->host);
        if (k == 0)
                k = strcmp(x->machine_id, y->machine_id);
        if (k == 0)
                k = strcmp(x->week, y->week);
        if (k == 0)
                k = strcmp(x->dir, y->dir);
        return k;
}

static bool same_workstation(const struct row *a, const struct row *b) {
        return streq(a->machine_id, b->machine_id) && streq(a->host, b->host);
}

static void add_missing(struct collect *c, const struct row *model, const char *week, const char *why) {
        char host[LEDGER_HOSTNAME_MAX], machine[LEDGER_ID_MAX], name[EXPORT_WEEK_MAX];
        /* MODEL and WEEK may point into the rows, which row_new() may move. */
        snprintf(host, sizeof host, "%s", model->host);
        snprintf(machine, sizeof machine, "%s", model->machine_id);
        snprintf(name, sizeof name, "%s", week);
        struct row *w = row_new(c);
        if (!w)
                return;
        snprintf(w->host, sizeof w->host, "%s", host);
        snprintf(w->machine_id, sizeof w->machine_id, "%s", machine);
        snprintf(w->week, sizeof w->week, "%s", name);
        w->state = ROW_MISSING;
        snprintf(w->problem, sizeof w->problem, "%s", why);
}

/* Whether rows [I, J) hold WEEK (in any state). */
static bool week_present(const struct collect *c, size_t i, size_t j, const char *week) {
        for (size_t k = i; k < j; k++)
                if (streq(c->rows[k].week, week))
                        return true;
        return false;
}

/* Adds the weeks strictly between A and B (B itself too when INCLUSIVE) that rows [I, J) lack. */
static void add_missing_between(struct collect *c, size_t i, size_t j, const struct row *model, const char *a,
                                const char *b, bool inclusive, const char *why) {
        char miss[64][EXPORT_WEEK_MAX], end[EXPORT_WEEK_MAX];
        struct row copy = *model;     /* rows may move as they grow */
        size_t m = export_weeks_between(a, b, miss, 64);

        snprintf(end, sizeof end, "%s", b);
        for (size_t q = 0; q < m && q < 64; q++)
                if (!week_present(c, i, j, miss[q]))
                        add_missing(c, &copy, miss[q], why);
        if (inclusive && !week_present(c, i, j, end))
                add_missing(c, &copy, end, why);
}

/* Links each verified week to the verified week before it of the same workstation, and adds
 * the weeks missing from the contract's range FIRST..LAST. A week that is there but did not
 * verify is not missing: the weeks around it cannot be linked through it. */
static void link_weeks(struct collect *c, const char *first, const char *last) {
        size_t n = c->n_rows;

        qsort(c->rows, n, sizeof *c->rows, cmp_rows);
        for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j < n && same_workstation(&c->rows[i], &c->rows[j]))
                        j++;
                /* Rows I..J-1: one workstation, by week. */
                ssize_t prev = -1;
                for (size_t k = i; k < j; k++) {
                        struct row *w = &c->rows[k];
                        if (w->state != ROW_GOOD)
                                continue;
                        if (prev < 0) {
                                w->linked = true;
                                if (w->m.start_seq == 0)
                                        snprintf(w->link, sizeof w->link, "%s", L("記録台帳の始まり", "starts the ledger"));
                                else {
                                        snprintf(w->link, sizeof w->link, L("記録番号 %lld までの記録（提出された最初の週より前）に続く",
                                                                            "continues records up to seq %lld (before the first week given)"),
                                                 (long long) w->m.start_seq);
                                        /* Records before it exist: the range's weeks before it are missing. */
                                        if (strcmp(first, w->week) < 0) {
                                                char before[EXPORT_WEEK_MAX];
                                                snprintf(before, sizeof before, "%s", first);
                                                const char *why = L("欠落（提出された最初の週より前にも記録がある）",
                                                                    "missing (records before the first week given exist)");
                                                if (!week_present(c, i, j, before))
                                                        add_missing(c, w, before, why);
                                                add_missing_between(c, i, j, &c->rows[k], before, c->rows[k].week, false, why);
                                        }
                                }
                                prev = (ssize_t) k;
                                continue;
                        }
                        const struct row *p = &c->rows[prev];
                        /* A week in between that is there but did not verify. */
                        const struct row *unverified = NULL;
                        for (size_t q = (size_t) prev + 1; q < k && !unverified; q++)
                                if (strcmp(c->rows[q].week, p->week) > 0 && strcmp(c->rows[q].week, w->week) < 0)
                                        unverified = &c->rows[q];
                        if (unverified) {
                                w->linked = false;
                                snprintf(w->link, sizeof w->link, L("%s が検証できないため、%s からの連続性を確認できない",
                                                                    "%s did not verify: continuity from %s cannot be shown"),
                                         unverified->week, p->week);
                        } else {
                                enum export_link l = export_link_check(&p->m, &w->m, c->opts->lang, w->link, sizeof w->link);
                                w->linked = l == EXPORT_LINK_CONTINUOUS || l == EXPORT_LINK_DUPLICATE;
                                if (l == EXPORT_LINK_GAP || l == EXPORT_LINK_GAP_EMPTY)
                                        add_missing_between(c, i, j, &c->rows[k], c->rows[prev].week, c->rows[k].week, false,
                                                            l == EXPORT_LINK_GAP_EMPTY ?
                                                            L("欠落（提出がない。連鎖からこの週に記録はなかった）",
                                                              "missing (its export was not given; the chain shows it held no record)") :
                                                            L("欠落（この週の記録も欠けている）", "missing, and records with it"));
                        }
                        prev = (ssize_t) k;
                }
                /* Weeks after the last one, up to the end of the range. */
                const char *after = prev >= 0 ? c->rows[prev].week : NULL;
                for (size_t k = i; k < j; k++)
                        if (!after || strcmp(c->rows[k].week, after) > 0)
                                after = c->rows[k].week;
                if (after && strcmp(after, last) < 0) {
                        char from[EXPORT_WEEK_MAX];
                        snprintf(from, sizeof from, "%s", after);
                        add_missing_between(c, i, j, &c->rows[i], from, last, true, L("欠落", "missing"));
                }
                i = j;
        }
        qsort(c->rows, c->n_rows, sizeof *c->rows, cmp_rows);
}

/* ---- the summary --------------------------------------------------------------------------- */

static const char *state_label(const struct row *w, enum export_lang lang) {
        bool en = lang == EXPORT_LANG_EN;
        switch (w->state) {
        case ROW_GOOD: return w->linked ? (en ? "verified" : "検証済み") : (en ? "verified, not continuous" : "検証済み・連続性に不備");
        case ROW_REFUSED: return en ? "refused" : "不備（検証できない）";
        case ROW_UNREADABLE: return en ? "unreadable" : "不備（出力の形式でない）";
        case ROW_MISSING: return en ? "missing" : "欠落";
        }
        return "?";
}

static bool row_ok(const struct row *w) {
        return w->state == ROW_GOOD && w->linked;
}

/* Distinct non-empty values of a header field across the verified weeks, joined. */
static void distinct(struct collect *c, size_t field, char *buf, size_t size) {
        size_t o = 0;
        buf[0] = 0;
        for (size_t i = 0; i < c->n_rows; i++) {
                const struct row *w = &c->rows[i];
                const struct export_header *h = &w->m.header;
                const char *v = field == 0 ? h->issuer : field == 1 ? h->contract : h->contractor;
                if (w->state != ROW_GOOD || !v[0])
                        continue;
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++) {
                        const struct export_header *g = &c->rows[j].m.header;
                        const char *u = field == 0 ? g->issuer : field == 1 ? g->contract : g->contractor;
                        seen = c->rows[j].state == ROW_GOOD && streq(u, v);
                }
                if (!seen && o < size)
                        o += (size_t) snprintf(buf + o, size - o, "%s%s", o ? " / " : "", v);
        }
}

static int write_csv(struct collect *c, FILE *f) {
        enum export_lang lang = c->opts->lang;
        static const char *const ja[] = { "端末", "マシンID", "対象週", "状態", "記録数", "許可された使用", "拒否された接続",
                                          "障害記録", "記憶媒体の記録簿", "前週からの連続性", "問題", "署名鍵", "フォルダー" };
        static const char *const en[] = { "Workstation", "Machine ID", "Week", "State", "Records", "Allowed uses",
                                          "Blocked attempts", "Fault records", "Record book entries",
                                          "Continuity from the week before", "Problem", "Signing key", "Folder" };
        fputs("\xef\xbb\xbf", f);
        int r = csv_write_cells(f, lang == EXPORT_LANG_EN ? en : ja, ELEMENTSOF(ja), 0);
        for (size_t i = 0; r >= 0 && i < c->n_rows; i++) {
                const struct row *w = &c->rows[i];
                char n[5][24];
                uint64_t v[5] = { w->records, w->uses, w->blocked, w->faults, w->media };
                for (int k = 0; k < 5; k++)
                        snprintf(n[k], sizeof n[k], "%llu", (unsigned long long) v[k]);
                bool counted = w->state == ROW_GOOD;
                const char *cells[] = { w->host, w->machine_id, w->week, state_label(w, lang), counted ? n[0] : "",
                                        counted ? n[1] : "", counted ? n[2] : "", counted ? n[3] : "", counted ? n[4] : "",
                                        w->link, w->problem, w->key_name, w->dir };
                _Static_assert(ELEMENTSOF(cells) == ELEMENTSOF(ja), "row and header differ");
                r = csv_write_cells(f, cells, ELEMENTSOF(cells), 0x1f0);
        }
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}

static void cell(FILE *f, const char *cls, const char *s) {
        fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ?: "", cls ? "\"" : "");
        html_escape(f, s);
        fputs("</td>", f);
}

static int write_html(struct collect *c, FILE *f, const char *first, const char *last) {
        bool en = c->opts->lang == EXPORT_LANG_EN;
        char issuer[2048], contract[2048], contractor[2048], buf[256];
        size_t n_ws = 0, n_ok = 0;

        distinct(c, 0, issuer, sizeof issuer);
        distinct(c, 1, contract, sizeof contract);
        distinct(c, 2, contractor, sizeof contractor);
        for (size_t i = 0; i < c->n_rows; i++) {
                n_ws += i == 0 || !same_workstation(&c->rows[i - 1], &c->rows[i]);
                n_ok += row_ok(&c->rows[i]);
        }

        fprintf(f, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>", en ? "en" : "ja");
        html_escape(f, en ? "Contractor workstations: usage and fault records, summary" : "委託先端末の使用記録・障害記録 集計表");
        fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", html_print_css);
        snprintf(buf, sizeof buf, "%s – %s", first, last);
        fputs("<h1 data-doc=\"", f);
        html_escape(f, buf);
        fputs("\">", f);
        html_escape(f, en ? "Contractor workstations: usage and fault records, summary" : "委託先端末の使用記録・障害記録 集計表");
        fputs("</h1>\n<p class=\"sub\">", f);
        html_escape(f, en ? "Every week of every workstation verified: signature, files, hash chain, continuity between weeks" :
                            "各端末の各週の提出物を検証（署名・ファイル・ハッシュの連鎖・週の間の連続性）");
        fputs("</p>\n<table class=\"kv\">\n", f);
        const char *kv[][2] = {
                { en ? "Issuer" : "発注者", issuer[0] ? issuer : "-" },
                { en ? "Contract" : "契約", contract[0] ? contract : "-" },
                { en ? "Contractor" : "受注者", contractor[0] ? contractor : "-" },
                { en ? "Weeks" : "対象期間", buf },
        };
        for (size_t i = 0; i < ELEMENTSOF(kv); i++) {
                fputs("<tr><th>", f);
                html_escape(f, kv[i][0]);
                fputs("</th>", f);
                cell(f, NULL, kv[i][1]);
                fputs("</tr>\n", f);
        }
        snprintf(buf, sizeof buf, en ? "%zu workstations, %zu of %zu weeks verified and continuous, %zu problems" :
                                       "端末 %zu 台、%zu 週分のうち %zu 週分を検証済み（連続性を含む）、問題 %zu 件",
                 n_ws, en ? n_ok : c->n_rows, en ? c->n_rows : n_ok, c->problems);
        fputs("<tr><th>", f);
        html_escape(f, en ? "Result" : "結果");
        fputs("</th>", f);
        cell(f, NULL, buf);
        fputs("</tr>\n</table>\n", f);

        fputs("<h2>", f);
        html_escape(f, en ? "Problems" : "問題の一覧");
        fputs("</h2>\n", f);
        if (c->problems == 0) {
                fputs("<p>", f);
                html_escape(f, en ? "None: every week verified and follows the week before." :
                                    "なし：すべての週が検証でき、前週から連続しています。");
                fputs("</p>\n", f);
        } else {
                fputs("<ul>\n", f);
                for (size_t i = 0; i < c->n_notes; i++) {
                        fputs("<li>", f);
                        html_escape(f, c->notes[i]);
                        fputs("</li>\n", f);
                }
                fputs("</ul>\n", f);
        }

        fputs("<h2>", f);
        html_escape(f, en ? "Per workstation and week" : "端末・週ごとの一覧");
        fputs("</h2>\n<table style=\"table-layout:fixed\"><colgroup>", f);
        static const unsigned widths[] = { 12, 11, 12, 7, 7, 7, 7, 7, 30 };
        for (size_t i = 0; i < ELEMENTSOF(widths); i++)
                fprintf(f, "<col style=\"width:%u%%\">", widths[i]);
        fputs("</colgroup>\n<thead><tr>", f);
        const char *cols[] = { en ? "Workstation" : "端末", en ? "Week" : "対象週", en ? "State" : "状態",
                               en ? "Records" : "記録数", en ? "Uses" : "使用", en ? "Blocked" : "拒否",
                               en ? "Faults" : "障害", en ? "Media" : "媒体", en ? "Continuity / problem" : "連続性・問題" };
        for (size_t i = 0; i < ELEMENTSOF(cols); i++) {
                fputs(i >= 3 && i <= 7 ? "<th class=\"n\">" : "<th>", f);
                html_escape(f, cols[i]);
                fputs("</th>", f);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t i = 0; i < c->n_rows; i++) {
                const struct row *w = &c->rows[i];
                char n[5][24];
                uint64_t v[5] = { w->records, w->uses, w->blocked, w->faults, w->media };
                fputs(row_ok(w) ? "<tr>" : "<tr style=\"background:#fde8e8\">", f);
                cell(f, NULL, w->host[0] ? w->host : "?");
                cell(f, NULL, w->week);
                cell(f, NULL, state_label(w, c->opts->lang));
                for (int k = 0; k < 5; k++) {
                        snprintf(n[k], sizeof n[k], "%llu", (unsigned long long) v[k]);
                        cell(f, "n", w->state == ROW_GOOD ? n[k] : "");
                }
                fputs("<td>", f);
                html_escape(f, w->problem[0] ? w->problem : w->link);
                if (w->problem[0] && w->link[0]) {
                        fputs("<br>", f);
                        html_escape(f, w->link);
                }
                fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n</body>\n</html>\n", f);
        return ferror(f) ? -EIO : 0;
}

/* Writes NAME under DIRFD from a memory stream's TEXT. */
static int put_file(int dfd, const char *name, const char *text, size_t size) {
        return write_file_atomic_at(dfd, name, text, size, 0644);
}

int collect_run(const char *keydir, char *const *dirs, size_t n_dirs, const char *out,
                const struct collect_options *opts, collect_problem_fn on_problem, void *userdata,
                struct collect_result *ret, char *err, size_t err_size) {
        struct collect c = { .opts = opts, .on_problem = on_problem, .userdata = userdata };
        char first[EXPORT_WEEK_MAX] = "", last[EXPORT_WEEK_MAX] = "";
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (err_size > 0)
                err[0] = 0;
        r = load_keys(&c, keydir);
        if (r < 0) {
                snprintf(err, err_size, "%s: cannot read the keys: %s", keydir, strerror(-r));
                goto finish;
        }
        if (c.n_keys == 0)
                note(&c, c.opts->lang == EXPORT_LANG_EN ? "%s: holds no export key: no week can be verified" :
                                                       "%s: 出力鍵がないため、どの週も検証できない", keydir);
        for (size_t i = 0; i < n_dirs; i++) {
                r = walk(&c, dirs[i], 0);
                if (r < 0)
                        goto finish;
        }
        /* The contract's range: the weeks given (verified or not, as MANIFEST names them). */
        for (size_t i = 0; i < c.n_rows; i++) {
                const struct row *w = &c.rows[i];
                char next[EXPORT_WEEK_MAX];
                if (w->state == ROW_UNREADABLE || export_week_next(w->week, next) < 0)
                        continue;
                if (!first[0] || strcmp(w->week, first) < 0)
                        snprintf(first, sizeof first, "%s", w->week);
                if (!last[0] || strcmp(w->week, last) > 0)
                        snprintf(last, sizeof last, "%s", w->week);
        }
        if (first[0])
                link_weeks(&c, first, last);
        for (size_t i = 0; i < c.n_rows; i++) {
                const struct row *w = &c.rows[i];
                if (row_ok(w))
                        continue;
                note(&c, "%s %s (%s): %s: %s", w->host[0] ? w->host : "?", w->week,
                     w->dir[0] ? w->dir : (opts->lang == EXPORT_LANG_EN ? "not given" : "提出なし"), state_label(w, opts->lang),
                     w->problem[0] ? w->problem : w->link);
        }

        /* The summary. */
        dfd = dir_make_path(out, 0755);
        if (dfd < 0) {
                r = dfd;
                snprintf(err, err_size, "%s: cannot make or open the directory: %s", out, strerror(-r));
                goto finish;
        }
        for (int k = 0; k < 2; k++) {
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&text, &size);
                if (!f) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = k == 0 ? write_csv(&c, f) : write_html(&c, f, first[0] ? first : "-", last[0] ? last : "-");
                if (fclose(f) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = put_file(dfd, k == 0 ? "summary.csv" : "summary.html", text, size);
                if (r < 0) {
                        snprintf(err, err_size, "%s: cannot write the summary: %s", out, strerror(-r));
                        goto finish;
                }
        }
        if (opts->pdf) {
                _cleanup_close_ int html = openat(dfd, "summary.html", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_free_ char *tmp = NULL;
                _cleanup_close_ int pdf = file_create_tmp_at(dfd, "summary.pdf", 0644, &tmp);
                if (html < 0 || pdf < 0) {
                        r = html < 0 ? -errno : pdf;
                        snprintf(err, err_size, "%s: cannot make summary.pdf: %s", out, strerror(-r));
                        goto finish;
                }
                r = pdf_render(opts->pdf_engine, html, pdf, 0, 600, err, err_size);
                if (r >= 0 && (fsync(pdf) < 0 || renameat(dfd, tmp, dfd, "summary.pdf") < 0))
                        r = negative_errno();
                if (r < 0) {
                        (void) unlinkat(dfd, tmp, 0);
                        goto finish;
                }
        }
        size_t good = 0, ws = 0;
        for (size_t i = 0; i < c.n_rows; i++) {
                good += row_ok(&c.rows[i]);
                ws += i == 0 || !same_workstation(&c.rows[i - 1], &c.rows[i]);
        }
        *ret = (struct collect_result) { .keys = c.n_keys, .workstations = ws, .weeks = c.n_rows, .good = good,
                                         .problems = c.problems };
        r = (int) MIN(c.problems, (size_t) INT32_MAX);
finish:
        for (size_t i = 0; i < c.n_keys; i++)
                trusted_key_free(c.keys[i].key);
        free(c.keys);
        free(c.rows);
        for (size_t i = 0; i < c.n_notes; i++)
                free(c.notes[i]);
        free(c.notes);
        return r;
}
