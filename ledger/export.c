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

#define MANIFEST_MAX (64u << 10)
#define JSONL_LINE_MAX (64u << 10)

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

int export_formats_parse(const char *s, unsigned *ret) {
        unsigned f = 0;
        const char *p = s;

        while (p && *p) {
                size_t n = strcspn(p, ",");
                if (n == 3 && strncmp(p, "csv", 3) == 0)
                        f |= EXPORT_CSV;
                else if (n == 4 && strncmp(p, "json", 4) == 0)
                        f |= EXPORT_JSON;
                else if (n == 4 && strncmp(p, "html", 4) == 0)
                        f |= EXPORT_HTML;
                else
                        return -EINVAL;
                p += n;
                if (*p == ',')
                        p++;
        }
        if (f == 0)
                return -EINVAL;
        *ret = f;
        return 0;
}

/* ---- labels ------------------------------------------------------------------------------ */

static const char *const event_ja[_LEDGER_EVENT_MAX] = {
        [LEDGER_EVENT_CONNECTED] = "接続",
        [LEDGER_EVENT_REEVALUATED] = "再判定",
        [LEDGER_EVENT_REMOVED] = "取り外し",
        [LEDGER_EVENT_APPEARED] = "検出",
        [LEDGER_EVENT_VIOLATION] = "無許可の有効化を遮断",
        [LEDGER_EVENT_POLICY_LOADED] = "ポリシー適用",
        [LEDGER_EVENT_POLICY_REFUSED] = "ポリシー拒否",
        [LEDGER_EVENT_PERMIT_EXPIRED] = "許可期限切れ",
        [LEDGER_EVENT_STARTED] = "kyokad 起動",
        [LEDGER_EVENT_STOPPED] = "kyokad 停止",
        [LEDGER_EVENT_UNCLEAN_SHUTDOWN] = "異常終了を検出",
        [LEDGER_EVENT_ENFORCEMENT_FAILED] = "制御の失敗",
        [LEDGER_EVENT_CLOCK_JUMP] = "時刻の跳躍",
        [LEDGER_EVENT_FAULT] = "障害",
        [LEDGER_EVENT_LEDGER_DELAYED] = "記録の遅延",
        [LEDGER_EVENT_LEDGER_LOST] = "記録の欠落",
        [LEDGER_EVENT_LEDGER_PRUNED] = "保存期間満了による削除",
        [LEDGER_EVENT_WIRELESS_JOINED] = "無線LANに接続",
        [LEDGER_EVENT_WIRELESS_LEFT] = "無線LANから切断",
};

static const char *const event_en[_LEDGER_EVENT_MAX] = {
        [LEDGER_EVENT_CONNECTED] = "Connected",
        [LEDGER_EVENT_REEVALUATED] = "Re-evaluated",
        [LEDGER_EVENT_REMOVED] = "Removed",
        [LEDGER_EVENT_APPEARED] = "Appeared",
        [LEDGER_EVENT_VIOLATION] = "Brought up while blocked: forced down",
        [LEDGER_EVENT_POLICY_LOADED] = "Policy took effect",
        [LEDGER_EVENT_POLICY_REFUSED] = "Policy refused",
        [LEDGER_EVENT_PERMIT_EXPIRED] = "Permit expired",
        [LEDGER_EVENT_STARTED] = "kyokad started",
        [LEDGER_EVENT_STOPPED] = "kyokad stopped",
        [LEDGER_EVENT_UNCLEAN_SHUTDOWN] = "Unclean shutdown detected",
        [LEDGER_EVENT_ENFORCEMENT_FAILED] = "Enforcement failed",
        [LEDGER_EVENT_CLOCK_JUMP] = "Clock jump",
        [LEDGER_EVENT_FAULT] = "Fault",
        [LEDGER_EVENT_LEDGER_DELAYED] = "Records delayed",
        [LEDGER_EVENT_LEDGER_LOST] = "Records lost",
        [LEDGER_EVENT_LEDGER_PRUNED] = "Records deleted after retention",
        [LEDGER_EVENT_WIRELESS_JOINED] = "Joined a wireless network",
        [LEDGER_EVENT_WIRELESS_LEFT] = "Left a wireless network",
};

const char *export_label_event(const struct ledger_record *r, enum export_lang lang) {
        const char *const *t = lang == EXPORT_LANG_EN ? event_en : event_ja;
        /* An event without a label (a table not kept up) is shown by its name, never as NULL. */
        if ((size_t) r->event >= _LEDGER_EVENT_MAX)
                return "?";
        return t[r->event] ?: ledger_event_to_string(r->event);
}

const char *export_label_decision(enum ledger_decision d, enum export_lang lang) {
        static const char *const ja[_LEDGER_DECISION_MAX] = { "", "許可", "読み取り専用で許可", "拒否" };
        static const char *const en[_LEDGER_DECISION_MAX] = { "", "Allowed", "Allowed read-only", "Blocked" };
        if ((size_t) d >= _LEDGER_DECISION_MAX)
                return "?";
        return lang == EXPORT_LANG_EN ? en[d] : ja[d];
}

static bool has_interface_class(const char *interfaces, const char *cls) {
        for (const char *p = interfaces; *p; p += strcspn(p, ","), p += *p == ',') {
                if (strncmp(p, cls, 2) == 0)
                        return true;
        }
        return false;
}

const char *export_label_device_type(const struct ledger_record *r, enum export_lang lang) {
        bool en = lang == EXPORT_LANG_EN;

        switch (r->subject) {
        case LEDGER_SUBJECT_USB:
                /* Storage first: a stick that also claims to be a keyboard is still a medium. */
                if (has_interface_class(r->interfaces, "08"))
                        return en ? "USB storage" : "USB記憶媒体";
                if (has_interface_class(r->interfaces, "03"))
                        return en ? "USB input device" : "USB入力機器";
                if (has_interface_class(r->interfaces, "09"))
                        return en ? "USB hub" : "USBハブ";
                return en ? "USB device" : "USB機器";
        case LEDGER_SUBJECT_NETWORK:
                /* A record about a wireless network, not the link itself. */
                if (r->ssid[0] || r->event == LEDGER_EVENT_WIRELESS_JOINED || r->event == LEDGER_EVENT_WIRELESS_LEFT)
                        return en ? "Wireless network" : "無線LAN";
                return en ? "Network link" : "ネットワーク";
        case LEDGER_SUBJECT_POLICY:
                return en ? "Policy" : "ポリシー";
        case LEDGER_SUBJECT_DAEMON:
                return "kyokad";
        case LEDGER_SUBJECT_LEDGER:
                return en ? "Ledger" : "記録台帳";
        default:
                return "?";
        }
}

void export_device_name(const struct ledger_record *r, char *buf, size_t size) {
        buf[0] = 0;
        switch (r->subject) {
        case LEDGER_SUBJECT_USB:
                snprintf(buf, size, "%s%s%s", r->manufacturer, r->manufacturer[0] && r->product_name[0] ? " " : "",
                         r->product_name);
                break;
        case LEDGER_SUBJECT_NETWORK:
                /* The network by its (escaped) SSID, its access point and security, then the card. */
                if (r->event == LEDGER_EVENT_WIRELESS_JOINED || r->event == LEDGER_EVENT_WIRELESS_LEFT)
                        snprintf(buf, size, "\"%s\" %s %s (%s)", r->ssid, r->bssid[0] ? r->bssid : "-",
                                 r->security[0] ? r->security : "-", r->ifname);
                else
                        snprintf(buf, size, "%s%s%s%s", r->ifname, r->link_kind[0] ? " (" : "", r->link_kind,
                                 r->link_kind[0] ? ")" : "");
                break;
        case LEDGER_SUBJECT_POLICY:
                if (r->policy_serial > 0)
                        snprintf(buf, size, "serial %lld", (long long) r->policy_serial);
                break;
        default:
                break;
        }
}

void export_vendor_product(const struct ledger_record *r, char *buf, size_t size) {
        buf[0] = 0;
        if (r->subject == LEDGER_SUBJECT_USB && r->vendor[0])
                snprintf(buf, size, "%s:%s", r->vendor, r->product);
        else if (r->subject == LEDGER_SUBJECT_NETWORK)
                snprintf(buf, size, "%s", r->driver);
        else if (r->subject == LEDGER_SUBJECT_POLICY)
                snprintf(buf, size, "%s", r->signer);
}

void export_user(const struct ledger_record *r, char *buf, size_t size) {
        buf[0] = 0;
        if (r->uid >= 0)
                snprintf(buf, size, "%s (%lld)", r->user, (long long) r->uid);
}

void export_remarks(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size) {
        const char *parts[3] = { r->reason, r->message, NULL };
        char failure[96];
        size_t o = 0;

        if (r->outcome == LEDGER_OUTCOME_FAILED) {
                const char *name = r->error_number > 0 ? strerrorname_np((int) r->error_number) : NULL;
                snprintf(failure, sizeof failure, "%s: errno %lld%s%s", lang == EXPORT_LANG_EN ? "failed" : "失敗",
                         (long long) r->error_number, name ? " " : "", name ?: "");
                parts[2] = failure;
        }
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                if (!parts[i] || !parts[i][0] || o >= size)
                        continue;
                o += (size_t) snprintf(buf + o, size - o, "%s%s", o ? "; " : "", parts[i]);
        }
}

/* ---- writing ----------------------------------------------------------------------------- */

static bool is_usage(const struct ledger_record *r) {
        return (r->subject == LEDGER_SUBJECT_USB || r->subject == LEDGER_SUBJECT_NETWORK ||
                r->subject == LEDGER_SUBJECT_POLICY) && r->event != LEDGER_EVENT_POLICY_REFUSED;
}

static const char *const export_files[] = { "faults.csv", "records.jsonl", "report.html", "usage.csv" };
enum { FILE_FAULTS, FILE_RECORDS, FILE_REPORT, FILE_USAGE, _FILE_MAX };

struct writer {
        FILE *f[_FILE_MAX];
        char *tmp[_FILE_MAX];             /* their temporary names in the week's directory */
        struct html_report *html;
        enum export_lang lang;
        uint64_t usage_rows, fault_rows;
};

static int writer_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                         const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct writer *w = userdata;
        int k;

        if (w->f[FILE_USAGE] && is_usage(r)) {
                k = csv_write_row(w->f[FILE_USAGE], r, w->lang);
                if (k < 0)
                        return k;
                w->usage_rows++;
        }
        if (w->f[FILE_FAULTS] && ledger_record_is_fault(r)) {
                k = csv_write_row(w->f[FILE_FAULTS], r, w->lang);
                if (k < 0)
                        return k;
                w->fault_rows++;
        }
        if (w->f[FILE_RECORDS]) {
                k = jsonl_write_record(w->f[FILE_RECORDS], r, prev, hash);
                if (k < 0)
                        return k;
        }
        if (w->html) {
                k = html_report_add(w->html, r);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Closes F (written to TMP under DIRFD), fsyncs it and renames it over NAME in the same
 * directory: renameat replaces whatever is at NAME, a symlink included, and never follows it. */
static int finish_file(FILE *f, int dirfd, const char *tmp, const char *name) {
        int r = 0;

        if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0)
                r = negative_errno();
        if (fclose(f) != 0 && r == 0)
                r = negative_errno();
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

/* A new file for NAME, created exclusively under an unpredictable name: nothing planted in the
 * directory beforehand can be written through. */
static int open_tmp(int dirfd, const char *name, FILE **ret, char **ret_tmp) {
        _cleanup_free_ char *tmp = NULL;
        int r;

        _cleanup_close_ int fd = file_create_tmp_at(dirfd, name, 0644, &tmp);
        if (fd < 0)
                return fd;
        /* The same mode whatever the exporting shell's umask. */
        FILE *f = fchmod(fd, 0644) >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
                r = negative_errno();
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        TAKE_FD(fd);
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

int export_write(struct ledger *l, const struct export_week *week, enum export_lang lang, unsigned formats,
                 const char *out, const struct signing_key *key, const char *key_fingerprint,
                 struct export_result *ret, char *err, size_t err_size) {
        _cleanup_(html_report_freep) struct html_report *html = NULL;
        _cleanup_free_ char *manifest_text = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        struct ledger_record host, policy;
        struct manifest m = {};
        struct writer w = { .lang = lang };
        char hostdir[LEDGER_HOSTNAME_MAX];
        struct export_result res = {};
        int64_t first, end;
        size_t manifest_size;
        int r;

        set_error(err, err_size, "%s", "");
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

        export_host(l, m.end_seq, &host);
        snprintf(m.host, sizeof m.host, "%s", host.hostname);
        snprintf(m.machine_id, sizeof m.machine_id, "%s", host.machine_id);
        snprintf(m.week, sizeof m.week, "%s", week->name);
        path_component(m.host, hostdir, sizeof hostdir);
        if (snprintf(res.dir, sizeof res.dir, "%s/%s/%s", out, hostdir, week->name) >= (int) sizeof res.dir)
                return -ENAMETOOLONG;
        dirfd = open_week_dir(out, hostdir, week->name, err, err_size);
        if (dirfd < 0)
                return dirfd;
        remove_stale_tmp(dirfd);

        bool want[_FILE_MAX] = {
                [FILE_FAULTS] = formats & EXPORT_CSV,
                [FILE_USAGE] = formats & EXPORT_CSV,
                [FILE_RECORDS] = formats & EXPORT_JSON,
                [FILE_REPORT] = formats & EXPORT_HTML,
        };
        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (!want[i])
                        continue;
                r = open_tmp(dirfd, export_files[i], &w.f[i], &w.tmp[i]);
                if (r < 0)
                        goto fail;
        }
        if (w.f[FILE_USAGE] && ((r = csv_write_header(w.f[FILE_USAGE], lang)) < 0 ||
                                (r = csv_write_header(w.f[FILE_FAULTS], lang)) < 0))
                goto fail;
        if (want[FILE_REPORT]) {
                r = html_report_new(&html);
                if (r < 0)
                        goto fail;
                w.html = html;
        }

        /* One pass over the week, every format fed from the same records. */
        if (end > first) {
                r = ledger_foreach(l, first, end - 1, writer_record, &w);
                if (r < 0)
                        goto fail;
        }

        if (want[FILE_REPORT]) {
                bool has_policy = ledger_find_last(l, LEDGER_EVENT_POLICY_LOADED, first, &policy) >= 0;
                struct html_context c = {
                        .host = m.host,
                        .machine_id = m.machine_id,
                        .week = week,
                        .policy_at_start = has_policy ? &policy : NULL,
                        .first_seq = first,
                        .last_seq = end - 1,
                        .start_hash = m.start_hash,
                        .end_hash = m.end_hash,
                };
                r = html_report_write(html, w.f[FILE_REPORT], &c, lang);
                if (r < 0)
                        goto fail;
        }

        for (size_t i = 0; i < _FILE_MAX; i++) {
                if (!w.f[i]) {
                        /* A format left out this time must not linger from an earlier export. */
                        (void) unlinkat(dirfd, export_files[i], 0);
                        continue;
                }
                _cleanup_free_ char *tmp = TAKE_PTR(w.tmp[i]);
                r = finish_file(TAKE_PTR(w.f[i]), dirfd, tmp, export_files[i]);
                if (r < 0)
                        goto fail;
                snprintf(m.files[m.n_files].name, sizeof m.files[0].name, "%s", export_files[i]);
                r = file_sha256_at(dirfd, export_files[i], m.files[m.n_files].sha256);
                if (r < 0)
                        goto fail;
                m.n_files++;
        }

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
        *ret = res;
        return 0;

fail:
        for (size_t i = 0; i < _FILE_MAX; i++)
                if (w.f[i]) {
                        fclose(w.f[i]);
                        (void) unlinkat(dirfd, w.tmp[i], 0);
                        free(w.tmp[i]);
                }
        return r;
}

/* ---- verification ------------------------------------------------------------------------ */

_printf_(2, 3) static int problem(struct export_verify_report *rep, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->problem, sizeof rep->problem, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

static int verify_chain(int dirfd, const struct manifest *m, struct export_verify_report *rep) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        uint8_t prev[LEDGER_HASH_SIZE], enc[LEDGER_ENCODING_MAX];
        size_t cap = 0;
        ssize_t n;
        int64_t seq = m->start_seq;

        _cleanup_close_ int fd = file_open_regular_at(dirfd, "records.jsonl");
        if (fd < 0)
                return fd;
        f = fdopen(fd, "r");
        if (!f)
                return negative_errno();
        TAKE_FD(fd);
        memcpy(prev, m->start_hash, LEDGER_HASH_SIZE);

        while ((n = getline(&line, &cap, f)) >= 0) {
                struct ledger_record r;
                uint8_t p[LEDGER_HASH_SIZE], h[LEDGER_HASH_SIZE], computed[LEDGER_HASH_SIZE];
                unsigned long line_no = (unsigned long) rep->records + 1;

                if ((size_t) n > JSONL_LINE_MAX || n == 0 || line[n - 1] != '\n')
                        return problem(rep, "records.jsonl line %lu: too long or not terminated", line_no);
                struct json_object *o = json_tokener_parse(line);
                int k = o ? ledger_record_from_json(o, &r, p, h) : -EBADMSG;
                json_object_put(o);
                if (k < 0)
                        return problem(rep, "records.jsonl line %lu: not a record", line_no);
                if (r.seq != seq + 1)
                        return problem(rep, "records.jsonl line %lu: seq %lld where %lld was due (gap or reordering)",
                                       line_no, (long long) r.seq, (long long) seq + 1);
                if (memcmp(p, prev, LEDGER_HASH_SIZE) != 0)
                        return problem(rep, "records.jsonl seq %lld: prev_hash is not the previous record's hash%s",
                                       (long long) r.seq, rep->records == 0 ? " (the start hash in MANIFEST)" : "");
                size_t len = ledger_record_encode(&r, enc);
                k = ledger_chain_hash(prev, enc, len, computed);
                if (k < 0)
                        return k;
                if (memcmp(computed, h, LEDGER_HASH_SIZE) != 0)
                        return problem(rep, "records.jsonl seq %lld: the hash does not match the record (modified)",
                                       (long long) r.seq);
                memcpy(prev, h, LEDGER_HASH_SIZE);
                seq = r.seq;
                rep->records++;
        }
        if (rep->records != m->records || seq != m->end_seq)
                return problem(rep, "records.jsonl holds %llu records up to seq %lld; MANIFEST says %llu up to %lld",
                               (unsigned long long) rep->records, (long long) seq, (unsigned long long) m->records,
                               (long long) m->end_seq);
        if (memcmp(prev, m->end_hash, LEDGER_HASH_SIZE) != 0)
                return problem(rep, "the last record's hash is not the end hash in MANIFEST");
        rep->chain_checked = true;
        return 0;
}

static bool not_regular(int r) {
        return r == -ELOOP || r == -EISDIR || r == -EBADFD;
}

int export_verify(const char *dir, const struct trusted_key *key, struct export_verify_report *rep) {
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
        r = read_file_at(dirfd, "MANIFEST", MANIFEST_MAX, &text, &size);
        if (r == -ENOENT)
                return problem(rep, "no MANIFEST");
        if (not_regular(r))
                return problem(rep, "MANIFEST is not a regular file");
        if (r < 0)
                return r;
        r = read_file_at(dirfd, "MANIFEST.sig", SIGNATURE_SIZE + 1, &sig, &sig_size);
        if (r == -ENOENT)
                return problem(rep, "no MANIFEST.sig");
        if (not_regular(r))
                return problem(rep, "MANIFEST.sig is not a regular file");
        if (r < 0 && r != -EFBIG)
                return r;
        if (r == -EFBIG || signature_verify(key, text, size, (const uint8_t *) sig, sig_size) < 0)
                return problem(rep, "MANIFEST.sig is not %s's signature over MANIFEST", trusted_key_name(key));
        r = manifest_parse(text, size, &m, rep->problem, sizeof rep->problem);
        if (r < 0)
                return r;
        snprintf(rep->week, sizeof rep->week, "%s", m.week);

        for (size_t i = 0; i < m.n_files; i++) {
                uint8_t h[32];
                r = file_sha256_at(dirfd, m.files[i].name, h);
                if (r == -ENOENT)
                        return problem(rep, "%s is listed in MANIFEST but missing", m.files[i].name);
                if (not_regular(r))
                        return problem(rep, "%s is not a regular file", m.files[i].name);
                if (r < 0)
                        return r;
                if (memcmp(h, m.files[i].sha256, 32) != 0)
                        return problem(rep, "%s: its SHA-256 differs from MANIFEST (changed)", m.files[i].name);
                rep->files++;
                has_records |= streq(m.files[i].name, "records.jsonl");
        }

        /* A file slipped into the folder would look as if it belonged to the signed export. */
        DIR *d;
        r = dir_stream_at(dirfd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d))) {
                bool listed = streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "MANIFEST") ||
                              streq(de->d_name, "MANIFEST.sig");
                for (size_t i = 0; !listed && i < m.n_files; i++)
                        listed = streq(de->d_name, m.files[i].name);
                if (!listed) {
                        problem(rep, "%s is not listed in MANIFEST", de->d_name);
                        closedir(d);
                        return -EBADMSG;
                }
        }
        closedir(d);

        if (has_records)
                return verify_chain(dirfd, &m, rep);
        return 0;
}
