/* SPDX-License-Identifier: MIT */
/* The weekly export as a whole (export.h): which records make a week, the labels shared by the
 * formats, writing the folder, and checking one. */
#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-safe.h"
#include "hexutil.h"

#define JSONL_LINE_MAX LEDGER_JSONL_MAX

/* ---- weeks ------------------------------------------------------------------------------- */

/* Local midnight of Y-M-D plus DAYS days (mktime normalises; DST-safe). */
static int64_t local_midnight(int year, int mon, int mday, int days) {
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday + days, .tm_isdst = -1 };
        return (int64_t) mktime(&tm);
}

/* Monday 00:00 of ISO week 1 of YEAR: the week holding 4 January. */
static int64_t week1_monday(int year) {
        struct tm tm = { .tm_year = year - 1900, .tm_mon = 0, .tm_mday = 4, .tm_hour = 12, .tm_isdst = -1 };
        if (mktime(&tm) == (time_t) -1)
                return -1;
        return local_midnight(year, 1, 4, -((tm.tm_wday + 6) % 7));
}

static int week_from_monday(int64_t monday, struct export_week *ret) {
        time_t t = (time_t) monday;
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -EINVAL;
        struct export_week w = {
                .start = monday,
                .end = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 7),
        };
        if (strftime(w.name, sizeof w.name, "%G-W%V", &tm) == 0)
                return -EINVAL;
        *ret = w;
        return 0;
}

int export_week_parse(const char *s, struct export_week *ret) {
        int year, week, n = 0;

        if (!s || strlen(s) != 8 || sscanf(s, "%4d-W%2d%n", &year, &week, &n) != 2 || n != 8 || year < 1970 ||
            week < 1 || week > 53)
                return -EINVAL;
        int64_t w1 = week1_monday(year), next = week1_monday(year + 1);
        if (w1 < 0 || next < 0)
                return -EINVAL;
        time_t t = (time_t) w1;
        struct tm tm;
        if (!localtime_r(&t, &tm))
                return -EINVAL;
        int64_t monday = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 7 * (week - 1));
        if (monday >= next)
                return -EINVAL;         /* W53 of a year with 52 weeks */
        return week_from_monday(monday, ret);
}

int export_week_last_complete(int64_t now, struct export_week *ret) {
        time_t t = (time_t) now;
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -EINVAL;
        /* This week's Monday, then one week back. */
        return week_from_monday(local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, -((tm.tm_wday + 6) % 7) - 7),
                                ret);
}


/* Pure calendar arithmetic: the ISO week count of YEAR (53 when 1 January is a Thursday, or a
 * Wednesday in a leap year). */
static int iso_weeks_in_year(int year) {
        /* Day of the week of 1 January (0 = Sunday), Gauss's algorithm. */
        int y = year - 1;
        int jan1 = (1 + 5 * (y % 4) + 4 * (y % 100) + 6 * (y % 400)) % 7;
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return jan1 == 4 || (leap && jan1 == 3) ? 53 : 52;
}

static int week_name_parse(const char *s, int *ret_year, int *ret_week) {
        int year, week, n = 0;
        if (!s || strlen(s) != 8 || sscanf(s, "%4d-W%2d%n", &year, &week, &n) != 2 || n != 8 || year < 1970 ||
            week < 1 || week > iso_weeks_in_year(year) || s[6] < '0' || s[6] > '9')
                return -EINVAL;
        *ret_year = year;
        *ret_week = week;
        return 0;
}

int export_week_next(const char *name, char ret[static EXPORT_WEEK_MAX]) {
        int year, week;
        if (week_name_parse(name, &year, &week) < 0)
                return -EINVAL;
        if (++week > iso_weeks_in_year(year)) {
                week = 1;
                year++;
        }
        snprintf(ret, EXPORT_WEEK_MAX, "%04u-W%02u", (unsigned) year % 10000, (unsigned) week % 100);
        return 0;
}

size_t export_weeks_between(const char *a, const char *b, char (*ret)[EXPORT_WEEK_MAX], size_t max) {
        char w[EXPORT_WEEK_MAX];
        size_t n = 0;

        if (export_week_next(a, w) < 0 || strcmp(a, b) >= 0)
                return 0;
        /* Week names sort as the weeks do. Bounded: a century of weeks at most. */
        while (strcmp(w, b) < 0 && n < 5300) {
                if (n < max)
                        memcpy(ret[n], w, EXPORT_WEEK_MAX);
                n++;
                if (export_week_next(w, w) < 0)
                        break;
        }
        return n;
}

int export_formats_parse(const char *s, unsigned *ret) {
        static const struct { const char *name; unsigned flag; } names[] = {
                { "csv", EXPORT_CSV }, { "json", EXPORT_JSON }, { "html", EXPORT_HTML }, { "pdf", EXPORT_PDF },
        };
        unsigned f = 0;
        const char *p = s;

        while (p && *p) {
                size_t n = strcspn(p, ",");
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (n == strlen(names[i].name) && strncmp(p, names[i].name, n) == 0) {
                                f |= names[i].flag;
                                known = true;
                        }
                if (!known)
                        return -EINVAL;
                p += n;
                if (*p == ',')
                        p++;
        }
        /* The PDF is the report rendered: there is none without it. */
        if (f == 0 || ((f & EXPORT_PDF) && !(f & EXPORT_HTML)))
                return -EINVAL;
        *ret = f;
        return 0;
}

void export_header_from_policy(const struct policy *p, struct export_header *ret) {
        *ret = (struct export_header) {};
        if (!p)
                return;
        ret->policy_serial = p->serial > INT64_MAX ? INT64_MAX : (int64_t) p->serial;
        /* One line each, in the sanitised form every exported text has (MANIFEST holds them). */
        ledger_text_set(ret->issuer, sizeof ret->issuer, p->issuer ?: "");
        ledger_text_set(ret->contract, sizeof ret->contract, p->contract ?: "");
        ledger_text_set(ret->contractor, sizeof ret->contractor, p->contractor ?: "");
        ledger_text_set(ret->responsible, sizeof ret->responsible, p->responsible ?: "");
}

/* ---- writing ----------------------------------------------------------------------------- */

/* In MANIFEST's order (sorted by name). */
static const char *const export_files[] = { "faults.csv", "media.csv", "records.jsonl", "report.html", "report.pdf",
                                            "usage.csv" };
enum { FILE_FAULTS, FILE_MEDIA, FILE_RECORDS, FILE_REPORT, FILE_PDF, FILE_USAGE, _FILE_MAX };

struct writer {
        FILE *f[_FILE_MAX];
        /* All but the PDF (which its engine writes) are hashed as they are written: FD under F. */
        struct hashing_file *hashing[_FILE_MAX];
        int fd[_FILE_MAX];
        uint8_t sha256[_FILE_MAX][32];
        char *tmp[_FILE_MAX];             /* their temporary names in the week's directory */
        struct html_report *html;
        struct media_tracker *media;
        const struct export_options *opts;
        uint64_t usage_rows, fault_rows, media_rows;
        /* The week's last policy-loaded record, if it has one: the policy in force at its end. */
        struct ledger_record policy;
        bool has_policy;
};

_Static_assert(LEDGER_PREPARE_MAX >= LEDGER_JSONL_MAX, "a records.jsonl line must fit");

/* On the reading thread: the record's records.jsonl line (the export's second core). */
static size_t writer_prepare(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                             const uint8_t hash[static LEDGER_HASH_SIZE], char *buf, void *userdata) {
        return jsonl_format_record(r, prev, hash, buf);
}

/* TEXT: the record's records.jsonl line, made by writer_prepare(). */
static int writer_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                         const uint8_t hash[static LEDGER_HASH_SIZE], const char *text, size_t text_len,
                         void *userdata) {
        struct writer *w = userdata;
        enum export_lang lang = w->opts->lang;
        const char *permit = media_tracker_permit(w->media, r);
        enum export_media_kind mk = export_media_kind(r);
        int k;

        if (r->event == LEDGER_EVENT_POLICY_LOADED) {
                w->policy = *r;
                w->has_policy = true;
        }
        if (w->f[FILE_USAGE] && export_is_usage(r)) {
                k = csv_write_row(w->f[FILE_USAGE], r, lang);
                if (k < 0)
                        return k;
                w->usage_rows++;
        }
        if (w->f[FILE_FAULTS] && ledger_record_is_fault(r)) {
                k = csv_write_row(w->f[FILE_FAULTS], r, lang);
                if (k < 0)
                        return k;
                w->fault_rows++;
        }
        if (w->f[FILE_MEDIA] && mk != EXPORT_MEDIA_NONE) {
                k = csv_write_media_row(w->f[FILE_MEDIA], r, mk, permit, w->opts->policy, lang);
                if (k < 0)
                        return k;
                w->media_rows++;
        }
        if (w->f[FILE_RECORDS] && fwrite_unlocked(text, 1, text_len, w->f[FILE_RECORDS]) != text_len)
                return -EIO;
        if (w->html) {
                k = html_report_add(w->html, r, permit);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Flushes F to disk and closes it. */
static int close_file(FILE *f) {
        int r = 0;
        if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0)
                r = negative_errno();
        if (fclose(f) != 0 && r == 0)
                r = negative_errno();
        return r;
}

/* A new file for NAME, created exclusively under an unpredictable name: nothing planted in the
 * directory beforehand can be written through. With RET_HASHING, what is written through *RET
 * is hashed on its way (*RET_FD is the file, closed by the caller after *RET); without, *RET
 * is the file's own stream (the PDF engine writes to its descriptor). */
static int open_tmp(int dirfd, const char *name, FILE **ret, struct hashing_file **ret_hashing, int *ret_fd,
                    char **ret_tmp) {
        _cleanup_free_ char *tmp = NULL;
        FILE *f = NULL;
        int r;

        _cleanup_close_ int fd = file_create_tmp_at(dirfd, name, 0644, &tmp);
        if (fd < 0)
                return fd;
        /* The same mode whatever the exporting shell's umask. */
        if (fchmod(fd, 0644) < 0)
                r = negative_errno();
        else if (ret_hashing)
                r = hashing_file_open(fd, &f, ret_hashing);
        else
                r = (f = fdopen(fd, "w")) ? 0 : negative_errno();
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (ret_hashing)
                *ret_fd = TAKE_FD(fd);
        else
                TAKE_FD(fd);
        /* Large writes: a week is a gigabyte. */
        (void) setvbuf(f, NULL, _IOFBF, 1u << 20);
        *ret = f;
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

_printf_(3, 4) static void set_error(char *err, size_t err_size, const char *fmt, ...) {
        va_list ap;

        if (!err || err_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
}

/* Checks a directory of the export's path: root and we alone may write it (or it is root's and
 * sticky, as /tmp). Whoever else can write there could plant a symlink or swap a directory for
 * one between our steps. */
static int check_dir(int fd, const char *path, const char *name, char *err, size_t err_size) {
        char reason[128];
        int r = fd_check_trusted(fd, geteuid(), TRUST_STICKY_DIR, reason, sizeof reason);
        if (r < 0)
                set_error(err, err_size, "%s%s%s: %s: refusing to write the export there", path, name ? "/" : "",
                          name ?: "", reason);
        return r;
}

/* NAME under the checked directory PARENTFD (PATH), made if missing, opened without following a
 * symlink, and checked in turn. */
static int make_subdir(int parentfd, const char *path, const char *name, char *err, size_t err_size) {
        _cleanup_close_ int fd = dir_make_at(parentfd, name, 0755);
        if (fd == -ELOOP || fd == -ENOTDIR || fd == -EEXIST) {
                set_error(err, err_size, "%s/%s: a symbolic link or not a directory: refusing to write the export there",
                          path, name);
                return fd;
        }
        if (fd < 0) {
                set_error(err, err_size, "%s/%s: cannot make or open the directory: %s", path, name, strerror(-fd));
                return fd;
        }
        int r = check_dir(fd, path, name, err, err_size);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* OUT/HOST/WEEK: OUT as the admin gave it (made if missing), then each level below it opened
 * relative to the one above. Returns the week's directory fd. */
static int open_week_dir(const char *out, const char *host, const char *week, char *err, size_t err_size) {
        _cleanup_free_ char *hostpath = path_join(out, host);
        int r;

        if (!hostpath)
                return -ENOMEM;
        _cleanup_close_ int outfd = dir_make_path(out, 0755);
        if (outfd < 0) {
                set_error(err, err_size, "%s: cannot make or open the directory: %s", out, strerror(-outfd));
                return outfd;
        }
        r = check_dir(outfd, out, NULL, err, err_size);
        if (r < 0)
                return r;
        _cleanup_close_ int hostfd = make_subdir(outfd, out, host, err, err_size);
        if (hostfd < 0)
                return hostfd;
        return make_subdir(hostfd, hostpath, week, err, err_size);
}

/* A crash between creating a temporary file and renaming it leaves the file behind, and
 * verify-export refuses a folder holding a file MANIFEST does not list: the next export of the
 * week removes them. */
static const char *const manifest_files[] = { "MANIFEST", "MANIFEST.sig" };

static void remove_stale_tmp(int dirfd) {
        DIR *d;
        if (dir_stream_at(dirfd, &d) < 0)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                bool stale = false;
                for (size_t i = 0; !stale && i < _FILE_MAX; i++)
                        stale = file_is_tmp_name(de->d_name, export_files[i]);
                for (size_t i = 0; !stale && i < ELEMENTSOF(manifest_files); i++)
                        stale = file_is_tmp_name(de->d_name, manifest_files[i]);
                if (stale)
                        (void) unlinkat(dirfd, de->d_name, 0);
        }
        closedir(d);
}

static int read_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        *(struct ledger_record *) userdata = *r;
        return 0;
}

/* The workstation's name and id as its records say (stable, whatever the exporting shell's
 * hostname): from the last record up to LAST, or this machine's if there is none. */
static void export_host(struct ledger *l, int64_t last, struct ledger_record *ret) {
        int64_t tail;
        uint8_t h[LEDGER_HASH_SIZE];

        *ret = (struct ledger_record) {};
        if (last < 1 && ledger_tail(l, &tail, h) >= 0)
                last = tail;
        if (last >= 1)
                (void) ledger_foreach(l, last, last, read_record, ret);
        if (!ret->hostname[0])
                ledger_host_fill(ret);
}

/* A hostname as one safe path component. */
static void path_component(const char *s, char *buf, size_t size) {
        snprintf(buf, size, "%s", s[0] ? s : "unknown");
        for (char *p = buf; *p; p++)
                if (*p == '/' || *p == '\\' || (p == buf && *p == '.'))
                        *p = '_';
}


/* The policy in force at the week's end: what the report's header names. */
static bool policy_record_at(struct ledger *l, int64_t before_seq, struct ledger_record *ret) {
        return ledger_find_last(l, LEDGER_EVENT_POLICY_LOADED, before_seq, ret) >= 0;
}

#define PDF_TIMEOUT_SEC 600

int export_write(struct ledger *l, const struct export_week *week, const struct export_options *opts,
                 const char *out, const struct signing_key *key, const char *key_fingerprint,
                 struct export_result *ret, char *err, size_t err_size) {
        _cleanup_(html_report_freep) struct html_report *html = NULL;
        _cleanup_(media_tracker_freep) struct media_tracker *media = NULL;
        _cleanup_free_ char *manifest_text = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        struct ledger_record host;
        struct manifest m = { .version = MANIFEST_VERSION };
        struct writer w = { .opts = opts };
        char hostdir[LEDGER_HOSTNAME_MAX];
        struct export_result res = {};
        unsigned formats = opts->formats;
        int64_t first, end;
        size_t manifest_size;
        int r;

        set_error(err, err_size, "%s", "");
        for (size_t i = 0; i < _FILE_MAX; i++)
                w.fd[i] = -EBADF;
        if ((formats & EXPORT_PDF) && !(formats & EXPORT_HTML))
                return -EINVAL;
        r = ledger_seq_at_time(l, week->start, &first);
        if (r < 0)
                return r;
        r = ledger_seq_at_time(l, week->end, &end);
        if (r < 0)
                return r;
        if (end < first)
                end = first;    /* the clock went back over the boundary: an empty week */
        m.start_seq = first - 1;
        m.end_seq = end - 1;
        m.records = (uint64_t) (end - first);
        r = ledger_hash_of(l, m.start_seq, m.start_hash);
        if (r < 0)
                return r == -ENOENT ? -ESTALE : r;      /* the week's start was pruned */
        r = ledger_hash_of(l, m.end_seq, m.end_hash);
        if (r < 0)
                return r == -ENOENT ? -ESTALE : r;
        /* Which ledger: its first record, if the week reaches it (so that exporting an old week
         * again later gives the same bytes). */
        r = ledger_first(l, &m.ledger_seq, m.ledger_hash);
        if (r == -ENOENT || r == -ENODATA || (r >= 0 && m.ledger_seq > m.end_seq)) {
                m.ledger_seq = 0;
                memset(m.ledger_hash, 0, LEDGER_HASH_SIZE);
        } else if (r < 0)
                return r;

        export_host(l, m.end_seq, &host);
        snprintf(m.host, sizeof m.host, "%s", host.hostname);
        snprintf(m.machine_id, sizeof m.machine_id, "%s", host.machine_id);
        snprintf(m.week, sizeof m.week, "%s", week->name);
        export_header_from_policy(opts->policy, &m.header);
        path_component(m.host, hostdir, sizeof hostdir);
        if (snprintf(res.dir, sizeof res.dir, "%s/%s/%s", out, hostdir, week->name) >= (int) sizeof res.dir)
                return -ENAMETOOLONG;
        dirfd = open_week_dir(out, hostdir, week->name, err, err_size);
        if (dirfd < 0)
                return dirfd;
        remove_stale_tmp(dirfd);

        bool want[_FILE_MAX] = {
                [FILE_FAULTS] = formats & EXPORT_CSV,
                [FILE_MEDIA] = formats & EXPORT_CSV,
                [FILE_USAGE] = formats & EXPORT_CSV,
                [FILE_RECORDS] = formats & EXPORT_JSON,
                [FILE_REPORT] = formats & EXPORT_HTML,
                [FILE_PDF] = formats & EXPORT_PDF,
        };
        r = media_tracker_new(&media);
        if (r < 0)
                return r;
        w.media = media;
        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (!want[i])
                        continue;
                r = open_tmp(dirfd, export_files[i], &w.f[i], i == FILE_PDF ? NULL : &w.hashing[i], &w.fd[i], &w.tmp[i]);
                if (r < 0)
                        goto fail;
        }
        if (w.f[FILE_USAGE] && ((r = csv_write_header(w.f[FILE_USAGE], opts->lang)) < 0 ||
                                (r = csv_write_header(w.f[FILE_FAULTS], opts->lang)) < 0 ||
                                (r = csv_write_media_header(w.f[FILE_MEDIA], opts->lang)) < 0))
                goto fail;
        if (want[FILE_REPORT]) {
                r = html_report_new(&html);
                if (r < 0)
                        goto fail;
                w.html = html;
        }

        /* One pass over the week, every format fed from the same records. */
        if (end > first) {
                r = ledger_foreach_prepared(l, first, end - 1, want[FILE_RECORDS] ? writer_prepare : NULL, writer_record,
                                            &w);
                if (r < 0)
                        goto fail;
        }

        if (want[FILE_REPORT]) {
                /* The last one of the week, or else the last one before it. */
                bool has_policy = w.has_policy || policy_record_at(l, first, &w.policy);
                struct html_context c = {
                        .host = m.host,
                        .machine_id = m.machine_id,
                        .week = week,
                        .header = &m.header,
                        .policy = opts->policy,
                        .policy_at_end = has_policy ? &w.policy : NULL,
                        .first_seq = first,
                        .last_seq = end - 1,
                        .start_hash = m.start_hash,
                        .end_hash = m.end_hash,
                        .ledger_seq = m.ledger_seq,
                        .ledger_hash = m.ledger_seq > 0 ? m.ledger_hash : NULL,
                };
                r = html_report_write(html, w.f[FILE_REPORT], &c, opts->lang);
                if (r < 0)
                        goto fail;
        }

        /* Everything on disk under its temporary name first; only then is anything renamed. */
        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (!w.f[i] || i == FILE_PDF)
                        continue;
                r = hashing_file_close(TAKE_PTR(w.f[i]), w.hashing[i], w.sha256[i]);
                w.hashing[i] = hashing_file_free(w.hashing[i]);
                closep(&w.fd[i]);
                w.fd[i] = -EBADF;
                if (r < 0)
                        goto fail;
        }
        if (want[FILE_PDF]) {
                _cleanup_close_ int html_fd = openat(dirfd, w.tmp[FILE_REPORT], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (html_fd < 0) {
                        r = negative_errno();
                        goto fail;
                }
                if (fflush(w.f[FILE_PDF]) != 0) {
                        r = negative_errno();
                        goto fail;
                }
                /* The week's end as the PDF's time: the same week gives the same bytes. */
                r = pdf_render(opts->pdf_engine, html_fd, fileno(w.f[FILE_PDF]), week->end, PDF_TIMEOUT_SEC, err,
                               err_size);
                if (r < 0)
                        goto fail;
                r = close_file(TAKE_PTR(w.f[FILE_PDF]));
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (!want[i]) {
                        /* A format left out this time must not linger from an earlier export. */
                        (void) unlinkat(dirfd, export_files[i], 0);
                        continue;
                }
                if (renameat(dirfd, w.tmp[i], dirfd, export_files[i]) < 0) {
                        r = negative_errno();
                        goto fail;
                }
                w.tmp[i] = mfree(w.tmp[i]);
                snprintf(m.files[m.n_files].name, sizeof m.files[0].name, "%s", export_files[i]);
                m.n_files++;
        }
        /* The files' hashes were taken as they were written; the PDF's, its engine's, now. */
        r = 0;
        for (size_t i = 0, k = 0; i < _FILE_MAX && r >= 0; i++) {
                if (!want[i])
                        continue;
                if (i == FILE_PDF)
                        r = file_sha256_at(dirfd, export_files[i], m.files[k].sha256);
                else
                        memcpy(m.files[k].sha256, w.sha256[i], 32);
                k++;
        }
        if (r < 0)
                goto fail;

        uint8_t sig[SIGNATURE_SIZE];
        /* The key's fingerprint goes into what it signs: the city knows which key to ask for. */
        snprintf(m.key, sizeof m.key, "%s", key_fingerprint);
        r = manifest_format(&m, &manifest_text, &manifest_size);
        if (r < 0)
                goto fail;
        r = signature_create(key, manifest_text, manifest_size, sig);
        if (r < 0)
                goto fail;
        r = write_file_atomic_at(dirfd, "MANIFEST", manifest_text, manifest_size, 0644);
        if (r < 0)
                goto fail;
        r = write_file_atomic_at(dirfd, "MANIFEST.sig", sig, SIGNATURE_SIZE, 0644);
        if (r < 0)
                goto fail;

        res.first_seq = first;
        res.last_seq = end - 1;
        res.usage_rows = w.usage_rows;
        res.fault_rows = w.fault_rows;
        res.media_rows = w.media_rows;
        *ret = res;
        return 0;

fail:
        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (w.f[i])
                        fclose(w.f[i]);
                hashing_file_free(w.hashing[i]);
                closep(&w.fd[i]);
                if (w.tmp[i]) {
                        (void) unlinkat(dirfd, w.tmp[i], 0);
                        free(w.tmp[i]);
                }
        }
        return r;
}

/* ---- verification ------------------------------------------------------------------------ */

_printf_(3, 4) static int problem(struct export_verify_report *rep, enum export_problem kind, const char *fmt, ...) {
        va_list ap;
        rep->kind = kind;
        va_start(ap, fmt);
        vsnprintf(rep->problem, sizeof rep->problem, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* ---- records.jsonl's chain ----------------------------------------------------------------- */

/* What is wrong with a line, found by chain_line(); its words are made once the line's number is
 * known (chain_problem()): the second half of the file, checked on the other core, counts its
 * lines from its own start. In the order a line is checked. */
enum chain_fault {
        CHAIN_OK,
        CHAIN_FAULT_LINE,               /* too long or not terminated */
        CHAIN_FAULT_NOT_RECORD,
        CHAIN_FAULT_SEQ,
        CHAIN_FAULT_PREV,
        CHAIN_FAULT_HASH,
        CHAIN_FAULT_FIRST,              /* seq 1 is not the ledger's first record MANIFEST names */
};

/* A walk over lines of records.jsonl, from the start or from a line in the middle. */
struct chain_walk {
        const struct manifest *m;
        struct ledger_hasher *hasher;
        bool joined;                    /* the first line continues SEQ and PREV (else it is checked at the join) */
        int64_t seq;                    /* the last record's seq, */
        uint8_t prev[LEDGER_HASH_SIZE]; /* and its hash */
        uint64_t records;               /* lines that chained */
        int64_t first_seq;              /* the first line's record, when not joined */
        uint8_t first_prev[LEDGER_HASH_SIZE];
        enum chain_fault fault;
        int64_t fault_seq, fault_due;
        int error;                      /* an error other than a fault (I/O, memory) */
        export_record_cb cb;
        void *userdata;
        /* the part of the file, read with pread() from the one descriptor */
        int fd;
        off_t from, to;
        bool *stop;                     /* set when the other half found a fault first */
};

/* Checks one line (N bytes, its LF included) after those before it. 0, or -EBADMSG with the
 * fault set, or another error. */
static int chain_line(struct chain_walk *c, const char *line, size_t n) {
        struct ledger_record r;
        uint8_t p[LEDGER_HASH_SIZE], h[LEDGER_HASH_SIZE], computed[LEDGER_HASH_SIZE], enc[LEDGER_ENCODING_MAX];
        int k;

        if (n > JSONL_LINE_MAX || n == 0 || line[n - 1] != '\n') {
                c->fault = CHAIN_FAULT_LINE;
                return -EBADMSG;
        }
        /* The form the exporter writes, read directly; any other line as json-c reads it
         * (older writers, or a line that is not a record), up to a NUL as a C string. */
        k = ledger_record_from_jsonl(line, n - 1, &r, p, h);
        if (k < 0) {
                _cleanup_free_ char *copy = strndup(line, n);
                if (!copy)
                        return -ENOMEM;
                struct json_object *o = json_tokener_parse(copy);
                k = o ? ledger_record_from_json(o, &r, p, h) : -EBADMSG;
                json_object_put(o);
        }
        if (k < 0) {
                c->fault = CHAIN_FAULT_NOT_RECORD;
                return -EBADMSG;
        }
        c->fault_seq = r.seq;
        if (c->records > 0 || c->joined) {
                if (r.seq != c->seq + 1) {
                        c->fault = CHAIN_FAULT_SEQ;
                        c->fault_due = c->seq + 1;
                        return -EBADMSG;
                }
                if (memcmp(p, c->prev, LEDGER_HASH_SIZE) != 0) {
                        c->fault = CHAIN_FAULT_PREV;
                        return -EBADMSG;
                }
        } else {
                c->first_seq = r.seq;
                memcpy(c->first_prev, p, LEDGER_HASH_SIZE);
        }
        size_t len = ledger_record_encode(&r, enc);
        k = ledger_hasher_chain(c->hasher, p, enc, len, computed);
        if (k < 0)
                return k;
        if (memcmp(computed, h, LEDGER_HASH_SIZE) != 0) {
                c->fault = CHAIN_FAULT_HASH;
                return -EBADMSG;
        }
        /* Record 1 is the ledger's first: it must be the one MANIFEST names. */
        if (r.seq == 1 && c->m->version >= 2 &&
            (c->m->ledger_seq != 1 || memcmp(h, c->m->ledger_hash, LEDGER_HASH_SIZE) != 0)) {
                c->fault = CHAIN_FAULT_FIRST;
                return -EBADMSG;
        }
        memcpy(c->prev, h, LEDGER_HASH_SIZE);
        c->seq = r.seq;
        c->records++;
        if (c->cb) {
                k = c->cb(&r, c->userdata);
                if (k < 0)
                        return k;
        }
        return 0;
}

#define CHAIN_READ_SIZE (1u << 20)

/* Walks the lines of C's part of the file: 0 when all chained, -EBADMSG at a fault, or another
 * error (C->error). */
static int chain_walk_run(struct chain_walk *c) {
        /* A line may be read whole into what is left after CHAIN_READ_SIZE: one longer than
         * JSONL_LINE_MAX is a fault, as soon as that much of it is in. */
        size_t size = CHAIN_READ_SIZE + JSONL_LINE_MAX + 1, start = 0, len = 0;
        off_t pos = c->from;
        int k = 0;

        _cleanup_free_ char *buf = malloc(size);
        if (!buf)
                return (c->error = -ENOMEM);
        for (;;) {
                if (c->stop && __atomic_load_n(c->stop, __ATOMIC_RELAXED))
                        return 0;
                char *nl = len > 0 ? memchr(buf + start, '\n', len) : NULL;
                if (nl) {
                        size_t n = (size_t) (nl - (buf + start)) + 1;
                        k = chain_line(c, buf + start, n);
                        if (k < 0)
                                break;
                        start += n;
                        len -= n;
                        continue;
                }
                if (len > JSONL_LINE_MAX || pos >= c->to) {
                        /* Too long, or the last line without its LF (or nothing left). */
                        if (len > 0)
                                k = chain_line(c, buf + start, len);
                        break;
                }
                memmove(buf, buf + start, len);
                start = 0;
                size_t want = MIN(size - len, (size_t) (c->to - pos));
                ssize_t got = pread(c->fd, buf + len, want, pos);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        k = negative_errno();
                        break;
                }
                if (got == 0) {
                        c->to = pos;    /* shorter than it was: what is there is all there is */
                        continue;
                }
                pos += got;
                len += (size_t) got;
        }
        if (k < 0 && k != -EBADMSG)
                c->error = k;
        return k;
}

static void *chain_walk_thread(void *userdata) {
        (void) chain_walk_run(userdata);
        return NULL;
}

/* REP's problem for C's fault, C's lines following RECORDS_BEFORE lines that chained. */
static int chain_problem(struct export_verify_report *rep, const struct chain_walk *c, uint64_t records_before) {
        uint64_t records = records_before + c->records;
        unsigned long line_no = (unsigned long) records + 1;
        long long seq = (long long) c->fault_seq;

        rep->records = records;
        switch (c->fault) {
        case CHAIN_FAULT_LINE:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl line %lu: too long or not terminated", line_no);
        case CHAIN_FAULT_NOT_RECORD:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl line %lu: not a record", line_no);
        case CHAIN_FAULT_SEQ:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl line %lu: seq %lld where %lld was due (gap or reordering)",
                               line_no, seq, (long long) c->fault_due);
        case CHAIN_FAULT_PREV:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl seq %lld: prev_hash is not the previous record's hash%s",
                               seq, records == 0 ? " (the start hash in MANIFEST)" : "");
        case CHAIN_FAULT_HASH:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl seq %lld: the hash does not match the record (modified)",
                               seq);
        case CHAIN_FAULT_FIRST:
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl seq 1: not the ledger's first record MANIFEST names");
        default:
                return -EIO;
        }
}

/* Where to cut records.jsonl in two for two cores: just after the first LF at or after its
 * middle. 0: no cut (a file of one line, or too small to be worth it). */
static off_t chain_split(int fd) {
        char buf[4096];
        struct stat st;

        if (fstat(fd, &st) < 0 || st.st_size < 2)
                return 0;
        for (off_t pos = st.st_size / 2; pos < st.st_size;) {
                ssize_t n = pread(fd, buf, sizeof buf, pos);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return 0;
                char *nl = memchr(buf, '\n', (size_t) n);
                if (nl) {
                        off_t cut = pos + (nl - buf) + 1;
                        return cut < st.st_size ? cut : 0;
                }
                pos += n;
        }
        return 0;
}

/* Checks that records.jsonl chains from MANIFEST's start hash to its end hash without a gap.
 * Without CB, the second half of the file is walked on another thread: it checks its own lines
 * and, at the join, that its first line continues the first half; the problem named is the
 * first in the file, in the words and with the line number a walk from the start gives. CB (in
 * order, on this thread) sees every record that chained. */
static int verify_chain(int dirfd, const struct manifest *m, export_record_cb cb, void *userdata,
                        struct export_verify_report *rep) {
        _cleanup_(ledger_hasher_freep) struct ledger_hasher *hasher_a = NULL, *hasher_b = NULL;
        bool stop = false;
        int k;

        _cleanup_close_ int fd = file_open_regular_at(dirfd, "records.jsonl");
        if (fd < 0)
                return fd;
        k = ledger_hasher_new(&hasher_a);
        if (k < 0)
                return k;
        struct chain_walk a = {
                .m = m, .hasher = hasher_a, .joined = true, .seq = m->start_seq, .cb = cb, .userdata = userdata,
                .fd = fd, .from = 0, .to = (off_t) INT64_MAX,
        };
        memcpy(a.prev, m->start_hash, LEDGER_HASH_SIZE);
        struct chain_walk b = a;
        pthread_t thread;
        bool split = false;

        off_t cut = cb ? 0 : chain_split(fd);
        if (cut > 0 && ledger_hasher_new(&hasher_b) >= 0) {
                b = (struct chain_walk) { .m = m, .hasher = hasher_b, .fd = fd, .from = cut, .to = (off_t) INT64_MAX, .stop = &stop };
                a.to = cut;
                split = pthread_create(&thread, NULL, chain_walk_thread, &b) == 0;
                if (!split)
                        a.to = (off_t) INT64_MAX;
        }
        k = chain_walk_run(&a);
        if (split) {
                if (k < 0)
                        __atomic_store_n(&stop, true, __ATOMIC_RELAXED);
                (void) pthread_join(thread, NULL);
        }
        /* The first half's problem comes first. */
        if (a.error < 0)
                return a.error;
        if (k == -EBADMSG)
                return chain_problem(rep, &a, 0);
        if (split) {
                if (b.error < 0)
                        return b.error;
                /* The join: the second half's first line is the line after the first half's
                 * last. Its form comes first, as on any line (a fault of the second half's
                 * then); then that it continues the first half. */
                bool parsed = !(b.records == 0 && (b.fault == CHAIN_FAULT_LINE || b.fault == CHAIN_FAULT_NOT_RECORD));
                struct chain_walk join = a;
                join.fault_seq = b.first_seq;
                if (parsed && b.first_seq != a.seq + 1) {
                        join.fault = CHAIN_FAULT_SEQ;
                        join.fault_due = a.seq + 1;
                        return chain_problem(rep, &join, 0);
                }
                if (parsed && memcmp(b.first_prev, a.prev, LEDGER_HASH_SIZE) != 0) {
                        join.fault = CHAIN_FAULT_PREV;
                        return chain_problem(rep, &join, 0);
                }
                if (b.fault != CHAIN_OK)
                        return chain_problem(rep, &b, a.records);
                if (b.records > 0) {
                        a.records += b.records;
                        a.seq = b.seq;
                        memcpy(a.prev, b.prev, LEDGER_HASH_SIZE);
                }
        }
        rep->records = a.records;
        if (a.records != m->records || a.seq != m->end_seq)
                return problem(rep, EXPORT_PROBLEM_CHAIN, "records.jsonl holds %llu records up to seq %lld; MANIFEST says %llu up to %lld",
                               (unsigned long long) a.records, (long long) a.seq, (unsigned long long) m->records,
                               (long long) m->end_seq);
        if (memcmp(a.prev, m->end_hash, LEDGER_HASH_SIZE) != 0)
                return problem(rep, EXPORT_PROBLEM_CHAIN, "the last record's hash is not the end hash in MANIFEST");
        rep->chain_checked = true;
        return 0;
}

static bool not_regular(int r) {
        return r == -ELOOP || r == -EISDIR || r == -EBADFD;
}

int export_verify(const char *dir, const struct trusted_key *key, export_record_cb cb, void *userdata,
                  struct export_verify_report *rep) {
        _cleanup_free_ char *text = NULL, *sig = NULL;
        size_t size, sig_size;
        struct manifest m;
        bool has_records = false;
        int r;

        *rep = (struct export_verify_report) {};
        /* One directory fd for every read: the folder checked is the folder listed. */
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();
        r = read_file_at(dirfd, "MANIFEST", MANIFEST_TEXT_MAX, &text, &size);
        if (r == -ENOENT)
                return problem(rep, EXPORT_PROBLEM_MANIFEST, "no MANIFEST");
        if (not_regular(r))
                return problem(rep, EXPORT_PROBLEM_MANIFEST, "MANIFEST is not a regular file");
        if (r == -EFBIG)
                return problem(rep, EXPORT_PROBLEM_MANIFEST, "MANIFEST is larger than %u bytes", MANIFEST_TEXT_MAX);
        if (r < 0)
                return r;
        r = read_file_at(dirfd, "MANIFEST.sig", SIGNATURE_SIZE + 1, &sig, &sig_size);
        if (r == -ENOENT)
                return problem(rep, EXPORT_PROBLEM_SIGNATURE, "no MANIFEST.sig");
        if (not_regular(r))
                return problem(rep, EXPORT_PROBLEM_SIGNATURE, "MANIFEST.sig is not a regular file");
        if (r < 0 && r != -EFBIG)
                return r;
        if (r == -EFBIG || signature_verify(key, text, size, (const uint8_t *) sig, sig_size) < 0)
                return problem(rep, EXPORT_PROBLEM_SIGNATURE, "MANIFEST.sig is not %s's signature over MANIFEST", trusted_key_name(key));
        r = manifest_parse(text, size, &m, rep->problem, sizeof rep->problem);
        if (r < 0) {
                rep->kind = EXPORT_PROBLEM_MANIFEST;
                return r;
        }
        rep->manifest = m;
        rep->signed_ok = true;
        snprintf(rep->week, sizeof rep->week, "%s", m.week);

        /* The files are hashed on the other core while this one lists the folder and walks the
         * chain (collect's callback, CB, sees records only once the files matched: then the
         * chain comes after). The problems are named in the same order as ever: a file's hash,
         * a file added, the chain. */
        struct files_sha256 job = { .dirfd = dirfd, .n = m.n_files };
        for (size_t i = 0; i < m.n_files; i++) {
                job.names[i] = m.files[i].name;
                has_records |= streq(m.files[i].name, "records.jsonl");
        }
        files_sha256_start(&job);

        /* A file slipped into the folder would look as if it belonged to the signed export. */
        char added[256] = "";
        DIR *d;
        int list_r = dir_stream_at(dirfd, &d);
        if (list_r >= 0) {
                struct dirent *de;
                while (!added[0] && (de = readdir(d))) {
                        bool listed = streq(de->d_name, ".") || streq(de->d_name, "..") ||
                                      streq(de->d_name, "MANIFEST") || streq(de->d_name, "MANIFEST.sig");
                        for (size_t i = 0; !listed && i < m.n_files; i++)
                                listed = streq(de->d_name, m.files[i].name);
                        if (!listed)
                                snprintf(added, sizeof added, "%s", de->d_name);
                }
                closedir(d);
        }

        struct export_verify_report chain = *rep;
        int chain_r = 0;
        bool chain_done = has_records && !cb;
        if (chain_done)
                chain_r = verify_chain(dirfd, &m, NULL, NULL, &chain);
        files_sha256_wait(&job);

        for (size_t i = 0; i < m.n_files; i++) {
                r = job.errors[i];
                if (r == -ENOENT)
                        return problem(rep, EXPORT_PROBLEM_FILE_MISSING, "%s is listed in MANIFEST but missing", m.files[i].name);
                if (not_regular(r))
                        return problem(rep, EXPORT_PROBLEM_FILE_MISSING, "%s is not a regular file", m.files[i].name);
                if (r < 0)
                        return r;
                if (memcmp(job.hashes[i], m.files[i].sha256, 32) != 0)
                        return problem(rep, EXPORT_PROBLEM_FILE_CHANGED, "%s: its SHA-256 differs from MANIFEST (changed)", m.files[i].name);
                rep->files++;
        }
        if (list_r < 0)
                return list_r;
        if (added[0])
                return problem(rep, EXPORT_PROBLEM_FILE_ADDED, "%s is not listed in MANIFEST", added);

        if (!has_records)
                return 0;
        if (!chain_done)
                return verify_chain(dirfd, &m, cb, userdata, rep);
        rep->records = chain.records;
        rep->chain_checked = chain.chain_checked;
        rep->kind = chain.kind;
        memcpy(rep->problem, chain.problem, sizeof rep->problem);
        return chain_r;
}

/* ---- across weeks ------------------------------------------------------------------------ */

static bool zero_hash(const uint8_t *h) {
        for (size_t i = 0; i < LEDGER_HASH_SIZE; i++)
                if (h[i])
                        return false;
        return true;
}

/* Whether A and B name different first records (both known). */
static bool other_ledger(const struct manifest *a, const struct manifest *b) {
        return a->version >= 2 && b->version >= 2 && a->ledger_seq > 0 && b->ledger_seq > 0 &&
               memcmp(a->ledger_hash, b->ledger_hash, LEDGER_HASH_SIZE) != 0;
}

enum export_link export_link_check(const struct manifest *a, const struct manifest *b, enum export_lang lang,
                                   char *detail, size_t size) {
        bool en = lang == EXPORT_LANG_EN;
        char next[EXPORT_WEEK_MAX] = "";
        bool continuous = b->start_seq == a->end_seq && memcmp(b->start_hash, a->end_hash, LEDGER_HASH_SIZE) == 0;
        long long a_end = (long long) a->end_seq, b_start = (long long) b->start_seq;

        if (!streq(a->machine_id, b->machine_id)) {
                snprintf(detail, size, en ? "%s is from machine-id %s, %s from %s" :
                                            "%s はマシンID %s、%s は %s の端末のもの（別の端末）",
                         a->week, a->machine_id, b->week, b->machine_id);
                return EXPORT_LINK_OTHER_WORKSTATION;
        }
        if (streq(a->week, b->week)) {
                bool same = a->start_seq == b->start_seq && a->end_seq == b->end_seq &&
                            memcmp(a->start_hash, b->start_hash, LEDGER_HASH_SIZE) == 0 &&
                            memcmp(a->end_hash, b->end_hash, LEDGER_HASH_SIZE) == 0 && !other_ledger(a, b);
                if (same)
                        snprintf(detail, size, en ? "%s given twice (the same records)" : "%s が二重に提出された（同じ記録）",
                                 a->week);
                else
                        snprintf(detail, size, en ? "%s given twice with different records (seq %lld..%lld and %lld..%lld)" :
                                                    "%s が異なる記録で二重に提出された（記録番号 %lld〜%lld と %lld〜%lld）",
                                 a->week, (long long) a->start_seq + 1, a_end, b_start + 1, (long long) b->end_seq);
                return same ? EXPORT_LINK_DUPLICATE : EXPORT_LINK_CONFLICT;
        }
        /* A ledger started afresh: another first record, or a chain beginning again at 0. */
        if (other_ledger(a, b) || (!continuous && b->start_seq == 0 && zero_hash(b->start_hash) && a->end_seq > 0) ||
            (!continuous && b->start_seq < a->end_seq && b->ledger_seq <= 1 && a->ledger_seq <= 1 &&
             (b->ledger_seq != a->ledger_seq || b->ledger_seq == 0))) {
                snprintf(detail, size, en ? "%s belongs to another ledger than %s: the ledger was wiped and started afresh "
                                            "between them (%s ends at seq %lld, %s starts after seq %lld)" :
                                            "%s は %s と別の記録台帳：その間に記録台帳が消去され、新たに始められた"
                                            "（%s は記録番号 %lld で終わり、%s は記録番号 %lld の次から始まる）",
                         b->week, a->week, a->week, a_end, b->week, b_start);
                return EXPORT_LINK_NEW_LEDGER;
        }
        (void) export_week_next(a->week, next);
        bool adjacent = streq(next, b->week);
        if (continuous) {
                if (adjacent) {
                        snprintf(detail, size, en ? "%s continues %s at seq %lld" : "%s は %s の最終記録（記録番号 %lld）から連続",
                                 b->week, a->week, a_end);
                        return EXPORT_LINK_CONTINUOUS;
                }
                snprintf(detail, size, en ? "the weeks between %s and %s are missing, but the chain goes on at seq %lld: "
                                            "they held no record" :
                                            "%s と %s の間の週が欠けているが、記録番号 %lld から連続しており、その間に記録はない",
                         a->week, b->week, a_end);
                return EXPORT_LINK_GAP_EMPTY;
        }
        if (!adjacent && b->start_seq > a->end_seq) {
                snprintf(detail, size, en ? "the weeks between %s and %s are missing, and with them records %lld..%lld" :
                                            "%s と %s の間の週が欠けており、記録番号 %lld〜%lld も欠けている",
                         a->week, b->week, a_end + 1, b_start);
                return EXPORT_LINK_GAP;
        }
        if (b->start_seq != a->end_seq)
                snprintf(detail, size, en ? "%s starts after seq %lld but %s ended at seq %lld: records removed or "
                                            "renumbered between them" :
                                            "%s は記録番号 %lld の次から始まるが %s は記録番号 %lld で終わる：その間の記録が削除または番号変更された",
                         b->week, b_start, a->week, a_end);
        else
                snprintf(detail, size, en ? "%s starts from another hash than %s ended with (seq %lld): a record was "
                                            "changed (the past rewritten) or one of the weeks altered" :
                                            "%s の開始ハッシュが %s の最終記録（記録番号 %lld）のハッシュと異なる：記録の改ざん、またはいずれかの週の改変",
                         b->week, a->week, b_start);
        return EXPORT_LINK_BROKEN;
}
