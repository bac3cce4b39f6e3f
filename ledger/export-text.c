/* SPDX-License-Identifier: MIT */
/* What the city reads (export.h): dates as Excel reads them, the labels, and the records'
 * reason codes and kyokad's own wording turned into sentences a city official understands, in
 * Japanese by default and in English. The tables are explicit, not gettext: a week exports the
 * same bytes whatever the exporting shell's locale. The journal's English text is not shown in
 * Japanese; it stays in records.jsonl. Text this file does not know is shown as it is, never
 * dropped. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"

#define JA(lang) ((lang) != EXPORT_LANG_EN)
#define T(lang, ja, en) (JA(lang) ? (ja) : (en))

/* ---- dates ---------------------------------------------------------------------------------- */

/* Days since 1970-01-01 -> the proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = (int64_t) yoe + era * 400 + (m <= 2);
        *ret_m = m;
        *ret_d = d;
}

/* snprintf(BUF, SIZE, "%.*s", N, S) without the format: at most SIZE - 1 bytes of the N. */
static void copy_bounded(char *buf, size_t size, const char *s, size_t n) {
        if (size == 0)
                return;
        n = MIN(n, size - 1);
        memcpy(buf, s, n);
        buf[n] = 0;
}

/* snprintf(BUF, SIZE, "%s", S). */
static void copy_str(char *buf, size_t size, const char *s) {
        copy_bounded(buf, size, s, strlen(s));
}

/* Appends S to the string of O bytes in BUF (SIZE bytes), as far as it fits (as snprintf() cuts
 * "%s%s"): the new length. */
static size_t append_str(char *buf, size_t size, size_t o, const char *s) {
        if (size == 0 || o + 1 >= size)
                return o;
        copy_str(buf + o, size - o, s);
        return o + strlen(buf + o);
}

static char *put_digits(char *p, unsigned v, int width) {
        for (int i = width - 1; i >= 0; i--, v /= 10)
                p[i] = (char) ('0' + v % 10);
        return p + width;
}

int export_format_time(int64_t t, int64_t offset, char *buf, size_t size) {
        int64_t local;
        struct tm tm;
        time_t tt;

        if (size > 0)
                buf[0] = 0;
        if (offset < -24 * 3600 || offset > 24 * 3600 || __builtin_add_overflow(t, offset, &local) ||
            __builtin_add_overflow(local, 0, &tt))
                return -EINVAL;
        /* Years 1970..9999, every record kyokad writes: the digits directly (what gmtime_r() and
         * the format below give; a million rows a week). */
        if (local >= 0 && local < INT64_C(253402300800) && size >= 20) {
                int64_t y;
                unsigned m, d, sec = (unsigned) (local % 86400);
                civil_from_days(local / 86400, &y, &m, &d);
                char *p = put_digits(buf, (unsigned) y, 4);
                *p++ = '/';
                p = put_digits(p, m, 2);
                *p++ = '/';
                p = put_digits(p, d, 2);
                *p++ = ' ';
                p = put_digits(p, sec / 3600, 2);
                *p++ = ':';
                p = put_digits(p, sec / 60 % 60, 2);
                *p++ = ':';
                p = put_digits(p, sec % 60, 2);
                *p = 0;
                return 0;
        }
        if (!gmtime_r(&tt, &tm))
                return -EINVAL;
        int n = snprintf(buf, size, "%04d/%02d/%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

void export_format_offset(int64_t offset, char *buf, size_t size) {
        int64_t a = offset < 0 ? -offset : offset;
        /* Every record's offset is within a day: its digits directly (a row or two a record). */
        if (a <= 24 * 3600 && size >= 10) {
                char *p = stpcpy(buf, offset < 0 ? "UTC-" : "UTC+");
                p = put_digits(p, (unsigned) (a / 3600), 2);
                *p++ = ':';
                p = put_digits(p, (unsigned) (a / 60 % 60), 2);
                *p = 0;
                return;
        }
        snprintf(buf, size, "UTC%c%02d:%02d", offset < 0 ? '-' : '+', (int) (a / 3600 % 100), (int) (a / 60 % 60));
}

/* ---- labels --------------------------------------------------------------------------------- */

static const char *const event_ja[_LEDGER_EVENT_MAX] = {
        [LEDGER_EVENT_CONNECTED] = "接続",
        [LEDGER_EVENT_REEVALUATED] = "再判定",
        [LEDGER_EVENT_REMOVED] = "取り外し",
        [LEDGER_EVENT_APPEARED] = "検出",
        [LEDGER_EVENT_VIOLATION] = "無許可の有効化を遮断",
        [LEDGER_EVENT_POLICY_LOADED] = "ポリシー適用",
        [LEDGER_EVENT_POLICY_REFUSED] = "ポリシー不採用",
        [LEDGER_EVENT_PERMIT_EXPIRED] = "許可期限切れ",
        [LEDGER_EVENT_STARTED] = "kyokad 起動",
        [LEDGER_EVENT_STOPPED] = "kyokad 停止",
        [LEDGER_EVENT_UNCLEAN_SHUTDOWN] = "前回の異常終了を検出",
        [LEDGER_EVENT_ENFORCEMENT_FAILED] = "制御の失敗",
        [LEDGER_EVENT_CLOCK_JUMP] = "時刻の変更",
        [LEDGER_EVENT_FAULT] = "障害",
        [LEDGER_EVENT_LEDGER_DELAYED] = "記録の遅延",
        [LEDGER_EVENT_LEDGER_LOST] = "記録の欠落",
        [LEDGER_EVENT_LEDGER_PRUNED] = "保存期間満了による削除",
        [LEDGER_EVENT_MEDIUM_INSERTED] = "媒体の挿入",
        [LEDGER_EVENT_MEDIUM_REMOVED] = "媒体の取り出し",
        [LEDGER_EVENT_FIXED_DISK] = "端末の固定ディスク（対象外）",
        [LEDGER_EVENT_WIRELESS_JOINED] = "無線LANに接続",
        [LEDGER_EVENT_WIRELESS_LEFT] = "無線LANから切断",
        [LEDGER_EVENT_SCAN_PASSED] = "ウイルス検査 合格（使用可）",
        [LEDGER_EVENT_SCAN_INFECTED] = "ウイルス検出（使用停止）",
        [LEDGER_EVENT_SCAN_HELD] = "ウイルス検査 未完了（保留）",
        [LEDGER_EVENT_FILE_WRITTEN] = "ファイルの持ち出し（書き込み）",
        [LEDGER_EVENT_FILE_READ] = "ファイルの持ち込み（読み取り）",
        [LEDGER_EVENT_FILES_LOST] = "ファイル記録の欠落",
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
        [LEDGER_EVENT_CLOCK_JUMP] = "Clock set",
        [LEDGER_EVENT_FAULT] = "Fault",
        [LEDGER_EVENT_LEDGER_DELAYED] = "Records delayed",
        [LEDGER_EVENT_LEDGER_LOST] = "Records lost",
        [LEDGER_EVENT_LEDGER_PRUNED] = "Records deleted after retention",
        [LEDGER_EVENT_MEDIUM_INSERTED] = "Medium inserted",
        [LEDGER_EVENT_MEDIUM_REMOVED] = "Medium removed",
        [LEDGER_EVENT_FIXED_DISK] = "Fixed disk of the workstation (not governed)",
        [LEDGER_EVENT_WIRELESS_JOINED] = "Joined a wireless network",
        [LEDGER_EVENT_WIRELESS_LEFT] = "Left a wireless network",
        [LEDGER_EVENT_SCAN_PASSED] = "Virus scan passed (usable)",
        [LEDGER_EVENT_SCAN_INFECTED] = "Virus found (de-authorised)",
        [LEDGER_EVENT_SCAN_HELD] = "Virus scan not finished (held)",
        [LEDGER_EVENT_FILE_WRITTEN] = "File carried out (written)",
        [LEDGER_EVENT_FILE_READ] = "File carried in (read)",
        [LEDGER_EVENT_FILES_LOST] = "File records lost",
};

/* kyokad records a policy that took effect, one read again unchanged, and one kept because the
 * policy offered was refused (it records the refusal first, as a fault) all as policy-loaded;
 * the record's reason code tells them apart (ledger/record.h). */
enum export_policy_kind export_policy_kind(const struct ledger_record *r) {
        if (r->event != LEDGER_EVENT_POLICY_LOADED)
                return EXPORT_POLICY_APPLIED;
        if (streq(r->reason, LEDGER_REASON_POLICY_ACCEPTED_COPY))
                return EXPORT_POLICY_KEPT;
        if (streq(r->reason, LEDGER_REASON_POLICY_UNCHANGED))
                return EXPORT_POLICY_UNCHANGED;
        return EXPORT_POLICY_APPLIED;
}

const char *export_label_event(const struct ledger_record *r, enum export_lang lang) {
        if (r->event == LEDGER_EVENT_POLICY_LOADED)
                switch (export_policy_kind(r)) {
                case EXPORT_POLICY_KEPT:
                        return T(lang, "ポリシー不採用（前回承認のポリシーを継続）", "Policy refused: the last accepted one stays");
                case EXPORT_POLICY_UNCHANGED:
                        return T(lang, "ポリシー再読込（変更なし）", "Policy read again (unchanged)");
                default:
                        break;
                }
        if (r->event == LEDGER_EVENT_PERMIT_EXPIRED && r->subject == LEDGER_SUBJECT_POLICY)
                return T(lang, "ポリシーの有効期限切れ", "Policy expired");
        if (r->event == LEDGER_EVENT_REEVALUATED && r->decision != LEDGER_DECISION_BLOCK)
                return T(lang, "再判定（使用を許可）", "Re-evaluated: permitted");
        if (r->event == LEDGER_EVENT_REEVALUATED && r->decision == LEDGER_DECISION_BLOCK)
                return T(lang, "再判定（使用を停止）", "Re-evaluated: blocked");
        /* A refused association was cut off at once: it never was a connection. */
        if (r->event == LEDGER_EVENT_WIRELESS_JOINED && r->decision == LEDGER_DECISION_BLOCK)
                return T(lang, "無線LANへの接続を遮断", "Wireless network refused: cut off");
        const char *const *t = JA(lang) ? event_ja : event_en;
        if ((size_t) r->event >= _LEDGER_EVENT_MAX)
                return "?";
        /* An event without a label (a table not kept up) is shown by its name, never as NULL. */
        return t[r->event] ?: ledger_event_to_string(r->event);
}

const char *export_label_decision(enum ledger_decision d, enum export_lang lang) {
        static const char *const ja[_LEDGER_DECISION_MAX] = { "", "許可", "読み取り専用で許可", "拒否" };
        static const char *const en[_LEDGER_DECISION_MAX] = { "", "Allowed", "Allowed read-only", "Blocked" };
        if ((size_t) d >= _LEDGER_DECISION_MAX)
                return "?";
        return JA(lang) ? ja[d] : en[d];
}

static bool has_interface_class(const char *interfaces, const char *cls) {
        for (const char *p = interfaces; *p; p += strcspn(p, ","), p += *p == ',') {
                if (strncmp(p, cls, 2) == 0)
                        return true;
        }
        return false;
}

/* A storage medium: a USB device with a mass-storage interface, or a medium on another bus
 * (an SD card, a disc or its drive, an NVMe or SATA disk that is not the workstation's own). */
static bool is_storage(const struct ledger_record *r) {
        return (r->subject == LEDGER_SUBJECT_USB && has_interface_class(r->interfaces, "08")) ||
               (r->subject == LEDGER_SUBJECT_MEDIA && r->event != LEDGER_EVENT_FIXED_DISK);
}

/* An optical drive is decided as a drive; the medium used is each disc put in it. */
static bool is_optical_drive(const struct ledger_record *r) {
        return r->subject == LEDGER_SUBJECT_MEDIA && streq(r->bus, "optical");
}

const char *export_label_category(const struct ledger_record *r, enum export_lang lang) {
        switch (r->subject) {
        case LEDGER_SUBJECT_USB:
                /* Storage first: a stick that also claims to be a keyboard is still a medium. */
                if (is_storage(r))
                        return T(lang, "USB記憶媒体", "USB storage");
                if (has_interface_class(r->interfaces, "03"))
                        return T(lang, "USB入力機器", "USB input device");
                if (has_interface_class(r->interfaces, "09"))
                        return T(lang, "USBハブ", "USB hub");
                if (has_interface_class(r->interfaces, "06"))
                        return T(lang, "USB機器（カメラ・スマートフォン等）", "USB device (camera, phone)");
                if (has_interface_class(r->interfaces, "02") || has_interface_class(r->interfaces, "e0"))
                        return T(lang, "USB通信機器", "USB communication device");
                return T(lang, "USB機器", "USB device");
        case LEDGER_SUBJECT_NETWORK:
                /* A record about a wireless network, not the link itself. */
                if (export_is_wireless(r))
                        return T(lang, "無線LAN", "Wireless network");
                return T(lang, "ネットワーク", "Network link");
        case LEDGER_SUBJECT_POLICY:
                return T(lang, "ポリシー", "Policy");
        case LEDGER_SUBJECT_DAEMON:
                return T(lang, "制御ソフト (kyokad)", "Control software (kyokad)");
        case LEDGER_SUBJECT_LEDGER:
                return T(lang, "記録台帳", "Ledger");
        case LEDGER_SUBJECT_MEDIA:
                /* Removable storage that is not on USB, by the record's bus. */
                if (streq(r->bus, "mmc"))
                        return T(lang, "SDカード", "SD card");
                if (streq(r->bus, "optical"))
                        return T(lang, "光ディスク（CD・DVD等）", "Optical disc (CD, DVD)");
                if (streq(r->bus, "nvme"))
                        return T(lang, "NVMe記憶媒体（外付けSSD等）", "NVMe storage (external SSD)");
                if (streq(r->bus, "ata"))
                        return T(lang, "SATA記憶媒体（eSATA等）", "SATA storage (eSATA)");
                return T(lang, "外部記録媒体", "Storage medium");
        default:
                return "?";
        }
}

void export_device_name(const struct ledger_record *r, char *buf, size_t size) {
        buf[0] = 0;
        if (r->subject == LEDGER_SUBJECT_USB) {
                /* snprintf(BUF, SIZE, "%s%s%s", ...) piece by piece (a row a record). */
                size_t o = append_str(buf, size, 0, r->manufacturer);
                o = append_str(buf, size, o, r->manufacturer[0] && r->product_name[0] ? " " : "");
                (void) append_str(buf, size, o, r->product_name);
        } else if (export_is_wireless(r))
                /* The network by its SSID, escaped when it was recorded (anybody's bytes) and in
                 * quotes (a CSV cell never starts with its "="), its access point and security,
                 * then the card. */
                snprintf(buf, size, "\"%s\" %s %s (%s)", r->ssid, r->bssid[0] ? r->bssid : "-",
                         r->security[0] ? r->security : "-", r->ifname);
        else if (r->subject == LEDGER_SUBJECT_NETWORK)
                snprintf(buf, size, "%s", r->ifname);
        else if (r->subject == LEDGER_SUBJECT_MEDIA)
                /* vendor and model as the medium reports them, and the kernel's name for it */
                snprintf(buf, size, "%s%s%s%s%s%s", r->manufacturer, r->manufacturer[0] && r->product_name[0] ? " " : "",
                         r->product_name, r->manufacturer[0] || r->product_name[0] ? " (" : "", r->device_name,
                         r->manufacturer[0] || r->product_name[0] ? ")" : "");
}

void export_medium_name(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size) {
        char name[2 * USB_STRING_MAX + 8];

        export_device_name(r, name, sizeof name);
        if (r->subject == LEDGER_SUBJECT_MEDIA)
                snprintf(buf, size, "%s: %s", export_label_category(r, lang), name);
        else
                copy_str(buf, size, name);
}

bool export_is_wireless(const struct ledger_record *r) {
        return r->subject == LEDGER_SUBJECT_NETWORK &&
               (r->event == LEDGER_EVENT_WIRELESS_JOINED || r->event == LEDGER_EVENT_WIRELESS_LEFT);
}

/* ---- errors --------------------------------------------------------------------------------- */

static const struct {
        int e;
        const char *ja, *en;
} errnos[] = {
        { EPERM, "操作が許可されていない", "operation not permitted" },
        { ENOENT, "存在しない", "no such file or directory" },
        { EIO, "入出力エラー", "input/output error" },
        { ENXIO, "機器がない", "no such device or address" },
        { ENOMEM, "メモリ不足", "out of memory" },
        { EACCES, "アクセス権がない", "permission denied" },
        { EBUSY, "使用中", "device or resource busy" },
        { EEXIST, "既に存在する", "file exists" },
        { ENODEV, "機器がない", "no such device" },
        { EINVAL, "不正な値", "invalid argument" },
        { ENOSPC, "ディスクの空き容量不足", "no space left on device" },
        { EROFS, "読み取り専用", "read-only file system" },
        { EAGAIN, "一時的に利用できない", "resource temporarily unavailable" },
        { ENAMETOOLONG, "名前が長すぎる", "file name too long" },
        { ETIMEDOUT, "時間切れ", "timed out" },
        { ENOBUFS, "待ち行列が満杯", "no buffer space available" },
        { EOPNOTSUPP, "未対応の操作", "operation not supported" },
        { EBADMSG, "不正なデータ", "bad message" },
        { EPROTO, "手順の誤り", "protocol error" },
        { ESTALE, "内容が古い", "stale" },
        { ENOKEY, "鍵がない", "required key not available" },
        { EKEYEXPIRED, "有効期限切れ", "key has expired" },
        { EKEYREJECTED, "鍵が受け入れられない", "key was rejected" },
        { EXDEV, "別の端末用", "cross-device link" },
        { ENOTDIR, "フォルダーではない", "not a directory" },
        { ELOOP, "シンボリックリンク", "too many levels of symbolic links" },
        { ESRCH, "プロセスがない", "no such process" },
        { EFBIG, "大きすぎる", "file too large" },
        { ECANCELED, "中止された", "operation canceled" },
};

void export_errno(int64_t e, enum export_lang lang, char *buf, size_t size) {
        const char *name = e > 0 && e < 4096 ? strerrorname_np((int) e) : NULL;

        for (size_t i = 0; i < ELEMENTSOF(errnos); i++)
                if (errnos[i].e == e) {
                        snprintf(buf, size, JA(lang) ? "%s（%s）" : "%s (%s)", name ?: "?", T(lang, errnos[i].ja, errnos[i].en));
                        return;
                }
        if (name)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "errno %lld", (long long) e);
}

/* ---- reasons -------------------------------------------------------------------------------- */

/* Appends to BUF (SIZE) at *O, never past the end. */
_printf_(4, 5) static void add(char *buf, size_t size, size_t *o, const char *fmt, ...) {
        va_list ap;
        if (*o >= size)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(buf + *o, size - *o, fmt, ap);
        va_end(ap);
        if (n > 0)
                *o = MIN(size, *o + (size_t) n);
}

/* Copies the text of S up to the first occurrence of STOP (or all of it) into DST. */
static const char *take_until(const char *s, const char *stop, char *dst, size_t size) {
        const char *e = stop ? strstr(s, stop) : NULL;
        size_t n = e ? (size_t) (e - s) : strlen(s);
        if (n >= size)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = 0;
        return e;
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "(permit X expired DATE)", "(permit X not valid before DATE)", "(permit X is for port P)" after
 * a default: which permit named the device, and why it did not apply. */
static void reason_permit_note(const char *s, enum export_lang lang, char *buf, size_t size, size_t *o) {
        char permit[LEDGER_TEXT_MAX], rest[LEDGER_TEXT_MAX];
        const char *p;

        if (!starts_with(s, " (permit "))
                return;
        s += strlen(" (permit ");
        if ((p = take_until(s, " expired ", permit, sizeof permit))) {
                take_until(p + strlen(" expired "), ")", rest, sizeof rest);
                add(buf, size, o, T(lang, "。許可番号 %s は %s に期限切れ", "; permit %s expired %s"), permit, rest);
        } else if ((p = take_until(s, " not valid before ", permit, sizeof permit))) {
                take_until(p + strlen(" not valid before "), ")", rest, sizeof rest);
                add(buf, size, o, T(lang, "。許可番号 %s の有効期間は %s から", "; permit %s is valid from %s"), permit, rest);
        } else if (take_until(s, " is for other access points)", permit, sizeof permit)) {
                add(buf, size, o, T(lang, "。許可番号 %s は別のアクセスポイント用", "; permit %s is for other access points"),
                    permit);
        } else if ((p = take_until(s, " needs at least ", permit, sizeof permit))) {
                take_until(p + strlen(" needs at least "), ")", rest, sizeof rest);
                add(buf, size, o, T(lang, "。許可番号 %s は暗号化方式 %s 以上が必要", "; permit %s needs at least %s"),
                    permit, rest);
        } else if ((p = take_until(s, " is for port ", permit, sizeof permit))) {
                take_until(p + strlen(" is for port "), ")", rest, sizeof rest);
                add(buf, size, o, T(lang, "。許可番号 %s は別の接続口（%s）用", "; permit %s is for another port (%s)"),
                    permit, rest);
        }
}

/* The decision reasons of policy_decision_describe() (policy/policy-match.c) and kyokad's own. */
static bool decision_reason(const char *s, enum export_lang lang, char *buf, size_t size) {
        static const struct {
                const char *code, *ja, *en;
        } defaults[] = {
                { "default usb_hid", "許可番号なし（キーボード・マウス等の入力機器の既定の扱い）",
                  "no permit: the default for keyboards and mice" },
                { "default usb_hub", "許可番号なし（USBハブの既定の扱い）", "no permit: the default for hubs" },
                { "default usb_other", "許可番号なし（許可のない機器の既定の扱い）", "no permit: the default for other devices" },
                { "default network", "許可番号なし（ネットワークの既定の扱い）", "no permit: the default for network links" },
                { "default wireless", "許可番号なし（承認されていない無線LANの既定の扱い）",
                  "no permit: the default for wireless networks" },
                { "default media", "許可番号なし（許可のない記録媒体の既定の扱い）",
                  "no permit: the default for removable media" },
        };
        char permit[LEDGER_TEXT_MAX], cls[LEDGER_TEXT_MAX];
        size_t o = 0;
        const char *p;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                if (starts_with(s, defaults[i].code)) {
                        add(buf, size, &o, "%s", T(lang, defaults[i].ja, defaults[i].en));
                        reason_permit_note(s + strlen(defaults[i].code), lang, buf, size, &o);
                        goto tail;
                }
        if (starts_with(s, "permit ") && (p = take_until(s + 7, " does not permit wireless mode ", permit, sizeof permit))) {
                take_until(p + strlen(" does not permit wireless mode "), ";", cls, sizeof cls);
                add(buf, size, &o, T(lang, "許可番号 %s は無線の動作モード %s（アクセスポイント等）を許可していない",
                                     "permit %s does not permit wireless mode %s"), permit, cls);
                goto tail;
        }
        if (starts_with(s, "wireless mode ") && strstr(s, " needs a permit")) {
                take_until(s + strlen("wireless mode "), " ", cls, sizeof cls);
                add(buf, size, &o, T(lang, "無線の動作モード %s（アクセスポイント等）には許可が必要",
                                     "wireless mode %s needs a permit"), cls);
                goto tail;
        }
        if (starts_with(s, "permit ") && (p = take_until(s + 7, " does not approve interface ", permit, sizeof permit))) {
                take_until(p + strlen(" does not approve interface "), ";", cls, sizeof cls);
                add(buf, size, &o, T(lang, "許可番号 %s はインターフェース %s を許可していない",
                                     "permit %s does not approve interface %s"), permit, cls);
                goto tail;
        }
        if (starts_with(s, "permit ")) {
                p = s + 7;
                size_t n = strcspn(p, " ;");
                snprintf(permit, sizeof permit, "%.*s", (int) MIN(n, sizeof permit - 1), p);
                add(buf, size, &o, T(lang, "許可番号 %s による", "under permit %s"), permit);
                p += n;
                if (starts_with(p, " (read-only)"))
                        add(buf, size, &o, "%s", T(lang, "（読み取り専用）", " (read-only)"));
                else if (starts_with(p, " (")) {
                        bool ro = strstr(p, "read-only;") != NULL;
                        const char *c = strstr(p, "interface ");
                        const char *first = strstr(p, "first ");
                        char what[16] = "";
                        if (first)
                                take_until(first + 6, ")", what, sizeof what);
                        else if (c)
                                take_until(c + 10, " ", what, sizeof what);
                        add(buf, size, &o, T(lang, "（%s許可対象外のインターフェース %s%s は無効化）",
                                             " (%sthe unlisted interface %s%s disabled)"),
                            ro ? T(lang, "読み取り専用、", "read-only; ") : "", what,
                            first ? T(lang, " ほか", " and others") : "");
                }
                goto tail;
        }
        if (starts_with(s, "lockdown: no valid policy")) {
                add(buf, size, &o, "%s", T(lang, "有効なポリシーがないため全面遮断中", "no valid policy: everything blocked"));
                if (strstr(s, "(HID-only device allowed)"))
                        add(buf, size, &o, "%s", T(lang, "（入力機器のみ使用可）", " (keyboards and mice allowed)"));
                else if (strstr(s, "(hub allowed)"))
                        add(buf, size, &o, "%s", T(lang, "（USBハブのみ使用可）", " (hubs allowed)"));
                goto tail;
        }
        if (streq(s, "loopback")) {
                add(buf, size, &o, "%s", T(lang, "ループバック（端末内部の通信。常に許可）", "loopback (inside the workstation; always allowed)"));
                return true;
        }
        if (starts_with(s, "descriptors unreadable or malformed")) {
                add(buf, size, &o, "%s", T(lang, "機器の情報（ディスクリプター）を読み取れないため使用不可",
                                           "its descriptors are unreadable or malformed"));
                goto tail;
        }
        if (starts_with(s, "read-only could not be enforced")) {
                add(buf, size, &o, "%s", T(lang, "読み取り専用にできないため使用を停止", "read-only could not be enforced: blocked"));
                return true;
        }
        if (starts_with(s, "present at installation")) {
                add(buf, size, &o, "%s", T(lang, "導入時から存在（ポリシー適用前のため現状のまま）",
                                           "present at installation, before any policy: left as it was"));
                return true;
        }
        if (streq(s, "removed"))
                return true;
        if (starts_with(s, "removed (seen after lost")) {
                add(buf, size, &o, "%s", T(lang, "取りこぼしたイベントの後の再確認で取り外しを検出",
                                           "found removed after lost events"));
                return true;
        }
        if (streq(s, "the policy's valid_until passed")) {
                add(buf, size, &o, "%s", T(lang, "ポリシー全体の有効期限が過ぎた", "the policy's validity ended"));
                return true;
        }
        return false;

tail:
        if ((p = strstr(s, "; blocked: its controller ")))
                add(buf, size, &o, "%s", T(lang, "。ただし接続先のUSBコントローラーの設定を変更できないため使用不可",
                                           "; blocked: its USB controller could not be configured"));
        return true;
}

/* The fault kinds of kyokad's recorder (daemon/recorder.c, fault_table): the reason code. */
static const struct {
        const char *code, *ja, *en;
} faults[] = {
        { "access-file", "記憶媒体のアクセス制御ファイルの操作に失敗", "access file of a storage device" },
        { "block-watch", "記憶媒体（ブロックデバイス）の監視に失敗", "watching block devices" },
        { "clock-jump", "システム時刻の変更", "the system clock was set" },
        { "clock-watch", "時刻変更の監視に失敗", "watching the clock" },
        { "control-socket", "管理用の接続口（制御ソケット）の作成に失敗", "the control socket" },
        { "controller-lockdown", "USBコントローラーの既定の遮断に失敗", "closing a USB controller" },
        { "driver-bind", "機器へのドライバーの割り当てに失敗", "binding a driver" },
        { "enforce", "制御の実行に失敗", "enforcing a decision" },
        { "enumerate", "USB機器の再確認に失敗", "enumerating USB devices" },
        { "identity", "USB機器の識別情報を読み取れない", "reading a USB device's identity" },
        { "ledger-failing", "記録台帳に書き込めない（記録はメモリ上で待機）", "the ledger cannot be written (records wait in memory)" },
        { "marker", "稼働記録用ファイルの操作に失敗", "kyokad's run marker" },
        { "network-enumerate", "ネットワークの再確認に失敗", "enumerating network links" },
        { "network-firewall", "ネットワーク遮断規則の設定に失敗", "the network firewall" },
        { "network-install-list", "導入時のネットワーク一覧の記録に失敗", "recording the links present at installation" },
        { "network-unenforced", "ネットワークの制御が無効", "network enforcement is off" },
        { "network-untracked", "ネットワークインターフェースを追跡できない", "tracking a network link" },
        { "oom", "メモリ不足", "out of memory" },
        { "policy-copy", "承認済みポリシーの控えの保存に失敗", "keeping a copy of the accepted policy" },
        { "policy-copy-refused", "保存済みの承認ポリシーの控えも不採用", "the kept copy of the accepted policy is refused too" },
        { "policy-fallback", "提示されたポリシーを不採用（前回承認のポリシーを適用）",
          "the policy offered was refused (the last accepted one applies)" },
        { "policy-key", "信頼された鍵の一つを除外", "a trusted key was left out" },
        { "policy-refused", "提示されたポリシーを不採用", "the policy offered was refused" },
        { "read-only", "読み取り専用の設定に失敗", "making a storage device read-only" },
        { "timer", "タイマーの設定に失敗", "arming a timer" },
        { "usb-boot-default", "起動時にUSB機器が既定で使用可能な設定だった", "USB devices were allowed by default at boot" },
};

/* Whether R's reason is the fault NAME, with or without a cause after the colon. */
static bool fault_is(const struct ledger_record *r, const char *name) {
        size_t n = strlen(name);
        return strncmp(r->reason, name, n) == 0 && (r->reason[n] == 0 || r->reason[n] == LEDGER_REASON_CAUSE_SEPARATOR);
}

/* Why a policy was refused: policy_load()'s typed cause, the part of the reason after the colon
 * ("policy-refused:bad-signature"); a bad signature told apart by its errno. */
static const char *policy_refusal(const struct ledger_record *r, enum export_lang lang) {
        static const struct {
                const char *cause, *ja, *en;
        } why[] = {
                { "unreadable", "ポリシーを読み取れない", "it cannot be read" },
                { "unsigned", "署名ファイルがない（署名されていない）", "it is not signed" },
                { "no-keys", "信頼された鍵がない", "there is no trusted key" },
                { "invalid", "署名はあるが内容に誤りがある", "it is signed but not a valid policy" },
                { "expired", "ポリシーの有効期限が過ぎている", "it has expired" },
                { "other-host", "別の端末用のポリシー", "it is for another workstation" },
                { "rollback", "通し番号が前回以下（古いポリシーへの巻き戻しの拒否）",
                  "its serial is not newer than the last accepted one (a rollback)" },
                { "serial-reused", "同じ通し番号で内容が異なる", "its serial was used before with other contents" },
                { "state-corrupt", "巻き戻し防止の記録を読み取れない", "the anti-rollback state cannot be read" },
                { "state-unwritable", "通し番号を記録できない", "its serial could not be recorded" },
        };
        const char *cause = strchr(r->reason, LEDGER_REASON_CAUSE_SEPARATOR);

        if (!cause)
                return T(lang, "理由は records.jsonl を参照", "see records.jsonl for why");
        cause++;
        if (streq(cause, "bad-signature"))
                switch (r->error_number) {
                case EBADMSG:
                        return T(lang, "署名が承認者の鍵と一致しない（署名後の改変、または信頼されていない鍵による署名）",
                                 "its signature matches no trusted key (changed after signing, or signed with an untrusted key)");
                case EINVAL:
                        return T(lang, "署名ファイルが不正", "its signature file is malformed");
                default:
                        return T(lang, "署名を検証できない", "its signature cannot be checked");
                }
        if (streq(cause, "unreadable") && r->error_number == EFBIG)
                return T(lang, "ポリシーのファイルが大きすぎる", "the file is too large");
        for (size_t i = 0; i < ELEMENTSOF(why); i++)
                if (streq(cause, why[i].cause))
                        return T(lang, why[i].ja, why[i].en);
        return T(lang, "理由は records.jsonl を参照", "see records.jsonl for why");
}

void export_reason(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size) {
        static const struct {
                const char *code, *ja, *en;
        } others[] = {
                { LEDGER_REASON_POLICY_ACCEPTED, "承認済みの新しいポリシー", "a newly approved policy" },
                { LEDGER_REASON_POLICY_UNCHANGED, "適用中のポリシーを再読込", "the policy in force, read again" },
                { LEDGER_REASON_POLICY_ACCEPTED_COPY, "提示されたポリシーを不採用（前回承認のポリシーを適用）",
                  "the policy offered was refused (the last accepted one applies)" },
                { LEDGER_REASON_POLICY_EXPIRED, "ポリシーの有効期限（valid_until）が過ぎた", "the policy's valid_until passed" },
                { LEDGER_REASON_KILLED, "kyokad が強制終了またはクラッシュした（端末は稼働中）",
                  "kyokad was killed or crashed (same boot)" },
                { LEDGER_REASON_MACHINE_DOWN, "kyokad を停止せずに端末が停止した（電源断、クラッシュ、リセット）",
                  "the machine went down without stopping kyokad" },
                { LEDGER_REASON_UNKNOWN_END, "kyokad が正常に停止しなかった", "kyokad did not stop cleanly" },
        };
        char fault[LEDGER_TEXT_MAX];
        const char *sep;

        buf[0] = 0;
        if (!r->reason[0])
                return;
        /* A fault's name, and after the colon its cause (remarks say the cause). */
        sep = strchr(r->reason, LEDGER_REASON_CAUSE_SEPARATOR);
        copy_bounded(fault, sizeof fault, r->reason, sep ? (size_t) (sep - r->reason) : strlen(r->reason));
        for (size_t i = 0; i < ELEMENTSOF(faults); i++)
                if (streq(fault, faults[i].code)) {
                        copy_str(buf, size, T(lang, faults[i].ja, faults[i].en));
                        return;
                }
        for (size_t i = 0; i < ELEMENTSOF(others); i++)
                if (streq(r->reason, others[i].code)) {
                        copy_str(buf, size, T(lang, others[i].ja, others[i].en));
                        return;
                }
        if (decision_reason(r->reason, lang, buf, size))
                return;
        /* Unknown: as it is (a newer kyokad's reason); the English in a Japanese report is the
         * lesser harm next to dropping it. */
        copy_str(buf, size, r->reason);
}

/* ---- remarks -------------------------------------------------------------------------------- */

static void remarks_policy(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size, size_t *o) {
        if (r->event == LEDGER_EVENT_POLICY_LOADED) {
                switch (export_policy_kind(r)) {
                case EXPORT_POLICY_KEPT:
                        /* Why it was refused is in the refusal recorded just before. */
                        add(buf, size, o, T(lang, "提示されたポリシーは不採用。前回承認の通し番号 %lld を継続適用",
                                            "the policy offered was refused; the last accepted serial %lld stays in force"),
                            (long long) r->policy_serial);
                        return;
                case EXPORT_POLICY_UNCHANGED:
                        add(buf, size, o, T(lang, "通し番号 %lld を再読込（変更なし）", "serial %lld read again (unchanged)"),
                            (long long) r->policy_serial);
                        return;
                case EXPORT_POLICY_APPLIED:
                        add(buf, size, o, T(lang, "通し番号 %lld を適用", "serial %lld took effect"), (long long) r->policy_serial);
                        return;
                }
        }
        if (r->event == LEDGER_EVENT_POLICY_REFUSED) {
                add(buf, size, o, T(lang, "%s", "%s"), policy_refusal(r, lang));
                if (fault_is(r, "policy-fallback"))
                        add(buf, size, o, "%s", T(lang, "。前回承認のポリシーを適用", "; the last accepted policy applies"));
                else if (fault_is(r, "policy-copy-refused") || r->policy_serial == 0)
                        add(buf, size, o, "%s", T(lang, "。有効なポリシーがないため全面遮断を継続", "; the built-in lockdown stays"));
                else
                        add(buf, size, o, T(lang, "。適用中の通し番号 %lld を継続", "; serial %lld in force stays"),
                            (long long) r->policy_serial);
                return;
        }
}

/* The particulars of a fault that kyokad writes in a known form. */
static void remarks_fault(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size, size_t *o) {
        const char *m = r->message;
        unsigned long long n, q;
        long long a, b;
        char from[40], to[40];

        switch (r->event) {
        case LEDGER_EVENT_CLOCK_JUMP:
                if (sscanf(m, "The system clock was set forward by %lld.%lld s", &a, &b) == 2)
                        add(buf, size, o, T(lang, "時刻が %lld.%03lld 秒進められた。以前の記録は変更前の時刻",
                                            "set forward by %lld.%03lld s; earlier records carry the old time"), a, b);
                else if (sscanf(m, "The system clock was set back by %lld.%lld s", &a, &b) == 2)
                        add(buf, size, o, T(lang, "時刻が %lld.%03lld 秒戻された。以前の記録は変更前の時刻",
                                            "set back by %lld.%03lld s; earlier records carry the old time"), a, b);
                return;
        case LEDGER_EVENT_UNCLEAN_SHUTDOWN:
                /* What kind of end is the reason (export_reason); here the last record. */
                if (sscanf(strstr(m, "the last record before this is seq ") ?: "", "the last record before this is seq %lld", &a) == 1)
                        add(buf, size, o, T(lang, "直前の記録は記録番号 %lld", "the last record before is seq %lld"), a);
                return;
        case LEDGER_EVENT_LEDGER_DELAYED:
                if (sscanf(m, "%llu records waited in memory from %39s to %39[^:]", &n, from, to) == 3)
                        add(buf, size, o, T(lang, "記録 %llu 件が %s から %s まで書き込めずメモリ上で待機（失われた記録なし）",
                                            "%llu records waited in memory from %s to %s (none lost)"), n, from, to);
                return;
        case LEDGER_EVENT_LEDGER_LOST:
                if (sscanf(m, "records lost: %llu (the queue of %llu records", &n, &q) == 2)
                        add(buf, size, o, T(lang, "記録 %llu 件を失った（待機できる %llu 件を超えた）。内容は端末のジャーナルにある",
                                            "%llu records lost (the queue of %llu was full); they are in the journal"), n, q);
                return;
        case LEDGER_EVENT_LEDGER_PRUNED:
                if (sscanf(m, "records %lld..%lld deleted", &a, &b) == 2)
                        add(buf, size, o, T(lang, "保存期間を過ぎ出力済みの記録 %lld〜%lld を削除（ハッシュの連鎖は継続）",
                                            "records %lld..%lld deleted: past retention and exported (the chain goes on)"), a, b);
                return;
        case LEDGER_EVENT_STOPPED:
                if (r->outcome == LEDGER_OUTCOME_FAILED)
                        add(buf, size, o, "%s", T(lang, "エラーにより停止", "stopped after an error"));
                return;
        default:
                return;
        }
}

void export_remarks(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size) {
        size_t o = 0;
        char e[96];

        buf[0] = 0;
        if (r->subject == LEDGER_SUBJECT_POLICY)
                remarks_policy(r, lang, buf, size, &o);
        else if (r->subject == LEDGER_SUBJECT_DAEMON || r->subject == LEDGER_SUBJECT_LEDGER)
                remarks_fault(r, lang, buf, size, &o);
        if (r->event == LEDGER_EVENT_VIOLATION)
                add(buf, size, &o, T(lang, "%s許可なく有効化され、その都度無効化（%lld 回）",
                                     "%sset up without a permit and set down again each time (%lld times)"),
                    o ? T(lang, "。", "; ") : "", (long long) r->count);
        if (r->event == LEDGER_EVENT_WIRELESS_JOINED && r->decision == LEDGER_DECISION_BLOCK)
                add(buf, size, &o, T(lang, "%s承認されていない無線LANへの接続を、その都度直ちに切断（%lld 回）",
                                     "%sjoined without a permit and cut off at once each time (%lld times)"),
                    o ? T(lang, "。", "; ") : "", (long long) r->count);
        /* A refused policy says why above; its errno adds nothing a reader can use. */
        if (r->outcome == LEDGER_OUTCOME_FAILED && r->subject != LEDGER_SUBJECT_POLICY) {
                export_errno(r->error_number, lang, e, sizeof e);
                add(buf, size, &o, T(lang, "%s失敗: %s", "%sfailed: %s"), o ? T(lang, "。", "; ") : "", e);
        }
        /* The particulars kyokad wrote only in English: in Japanese, where to find them. */
        if (o == 0 && (r->subject == LEDGER_SUBJECT_DAEMON || r->subject == LEDGER_SUBJECT_LEDGER) &&
            r->event != LEDGER_EVENT_STARTED && r->event != LEDGER_EVENT_STOPPED && r->message[0]) {
                if (JA(lang))
                        add(buf, size, &o, "詳細（英文）は records.jsonl の記録番号 %lld", (long long) r->seq);
                else
                        add(buf, size, &o, "%s", r->message);
        }
}

/* ---- what is counted ------------------------------------------------------------------------ */

bool export_is_usage(const struct ledger_record *r) {
        return (r->subject == LEDGER_SUBJECT_USB || r->subject == LEDGER_SUBJECT_NETWORK ||
                r->subject == LEDGER_SUBJECT_POLICY || r->subject == LEDGER_SUBJECT_MEDIA) &&
               r->event != LEDGER_EVENT_POLICY_REFUSED;
}

bool export_is_loopback(const struct ledger_record *r) {
        return r->subject == LEDGER_SUBJECT_NETWORK && streq(r->reason, "loopback");
}

bool export_is_use(const struct ledger_record *r) {
        return (r->subject == LEDGER_SUBJECT_USB || r->subject == LEDGER_SUBJECT_NETWORK ||
                r->subject == LEDGER_SUBJECT_MEDIA) &&
               (r->event == LEDGER_EVENT_CONNECTED || r->event == LEDGER_EVENT_APPEARED ||
                r->event == LEDGER_EVENT_REEVALUATED || r->event == LEDGER_EVENT_WIRELESS_JOINED ||
                r->event == LEDGER_EVENT_MEDIUM_INSERTED) &&
               (r->decision == LEDGER_DECISION_ALLOW || r->decision == LEDGER_DECISION_READ_ONLY) &&
               r->outcome == LEDGER_OUTCOME_DONE && !export_is_loopback(r);
}

bool export_is_blocked_attempt(const struct ledger_record *r) {
        return r->decision == LEDGER_DECISION_BLOCK &&
               (r->event == LEDGER_EVENT_CONNECTED || r->event == LEDGER_EVENT_APPEARED ||
                r->event == LEDGER_EVENT_VIOLATION || r->event == LEDGER_EVENT_WIRELESS_JOINED ||
                r->event == LEDGER_EVENT_MEDIUM_INSERTED);
}

/* ---- the record book ------------------------------------------------------------------------ */

enum export_media_kind export_media_kind(const struct ledger_record *r) {
        bool allowed = r->decision == LEDGER_DECISION_ALLOW || r->decision == LEDGER_DECISION_READ_ONLY;

        /* A file record names its medium when it can; a loss no medium could be named for is
         * in faults.csv only. */
        bool named = r->bus_path[0] || (r->subject == LEDGER_SUBJECT_MEDIA && r->device_name[0]);
        switch (r->event) {
        case LEDGER_EVENT_FILE_WRITTEN:
                return named ? EXPORT_MEDIA_FILE_WRITTEN : EXPORT_MEDIA_NONE;
        case LEDGER_EVENT_FILE_READ:
                return named ? EXPORT_MEDIA_FILE_READ : EXPORT_MEDIA_NONE;
        case LEDGER_EVENT_FILES_LOST:
                return named ? EXPORT_MEDIA_FILES_LOST : EXPORT_MEDIA_NONE;
        default:
                break;
        }
        if (!is_storage(r))
                return EXPORT_MEDIA_NONE;
        switch (r->event) {
        case LEDGER_EVENT_CONNECTED:
                if (is_optical_drive(r))
                        return EXPORT_MEDIA_NONE;       /* the drive; its discs follow as medium-inserted */
                __attribute__((fallthrough));
        case LEDGER_EVENT_MEDIUM_INSERTED:
                return allowed && r->outcome == LEDGER_OUTCOME_DONE ? EXPORT_MEDIA_CONNECTED : EXPORT_MEDIA_NONE;
        case LEDGER_EVENT_REEVALUATED:
                if (r->outcome != LEDGER_OUTCOME_DONE)
                        return EXPORT_MEDIA_NONE;
                return allowed ? EXPORT_MEDIA_PERMITTED : EXPORT_MEDIA_WITHDRAWN;
        case LEDGER_EVENT_PERMIT_EXPIRED:
                return EXPORT_MEDIA_WITHDRAWN;
        case LEDGER_EVENT_REMOVED:
                if (is_optical_drive(r))
                        return EXPORT_MEDIA_NONE;
                __attribute__((fallthrough));
        case LEDGER_EVENT_MEDIUM_REMOVED:
                /* A removal carries the decision the medium had: only a medium in use. */
                return allowed ? EXPORT_MEDIA_REMOVED : EXPORT_MEDIA_NONE;
        default:
                return EXPORT_MEDIA_NONE;
        }
}

const char *export_label_media(enum export_media_kind k, enum export_lang lang) {
        switch (k) {
        case EXPORT_MEDIA_CONNECTED: return T(lang, "接続（使用開始）", "Connected (in use)");
        case EXPORT_MEDIA_PERMITTED: return T(lang, "許可により使用開始（接続中）", "Permitted while connected (in use)");
        case EXPORT_MEDIA_WITHDRAWN: return T(lang, "使用停止（許可の取消・期限切れ）", "Use stopped (permit withdrawn or expired)");
        case EXPORT_MEDIA_REMOVED: return T(lang, "取り外し（使用終了）", "Removed (use ended)");
        case EXPORT_MEDIA_FILE_WRITTEN: return T(lang, "ファイル持ち出し（書き込み）", "File carried out (written)");
        case EXPORT_MEDIA_FILE_READ: return T(lang, "ファイル持ち込み（読み取り）", "File carried in (read)");
        case EXPORT_MEDIA_FILES_LOST: return T(lang, "ファイル記録の欠落（件数）", "File records lost (count)");
        default: return "";
        }
}

#define TRACKED_MEDIA 256

struct media_tracker {
        struct {
                char key[LEDGER_HEX4_MAX * 2 + LEDGER_BUS_MAX + USB_STRING_MAX + USB_PATH_MAX + MEDIA_PATH_MAX + 4];
                char permit[LEDGER_TEXT_MAX];
        } slots[TRACKED_MEDIA];
        size_t next;
};

int media_tracker_new(struct media_tracker **ret) {
        struct media_tracker *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

struct media_tracker *media_tracker_free(struct media_tracker *t) {
        free(t);
        return NULL;
}

const char *media_tracker_permit(struct media_tracker *t, const struct ledger_record *r) {
        char key[sizeof t->slots[0].key];
        bool in_use = r->permit[0] && r->decision != LEDGER_DECISION_BLOCK;

        if (!is_storage(r))
                return r->permit;
        /* "BUS SERIAL PATH" or "VENDOR:PRODUCT SERIAL BUS_PATH" (it fits: the key is sized for it). */
        char *p = key;
        if (r->subject == LEDGER_SUBJECT_MEDIA) {
                p = stpcpy(stpcpy(p, r->bus), " ");
                p = stpcpy(stpcpy(p, r->serial), " ");
                p = stpcpy(p, r->device_path);
        } else {
                p = stpcpy(stpcpy(p, r->vendor), ":");
                p = stpcpy(stpcpy(p, r->product), " ");
                p = stpcpy(stpcpy(p, r->serial), " ");
                p = stpcpy(p, r->bus_path);
        }
        _Static_assert(sizeof key >= LEDGER_BUS_MAX + USB_STRING_MAX + MEDIA_PATH_MAX &&
                       sizeof key >= 2 * LEDGER_HEX4_MAX + USB_STRING_MAX + USB_PATH_MAX, "key too small");
        for (size_t i = 0; i < TRACKED_MEDIA; i++)
                if (t->slots[i].key[0] && streq(t->slots[i].key, key)) {
                        if (in_use)
                                snprintf(t->slots[i].permit, sizeof t->slots[i].permit, "%s", r->permit);
                        return r->permit[0] ? r->permit : t->slots[i].permit;
                }
        if (in_use) {
                /* Round robin: the medium seen longest ago is forgotten first. */
                snprintf(t->slots[t->next].key, sizeof t->slots[0].key, "%s", key);
                snprintf(t->slots[t->next].permit, sizeof t->slots[0].permit, "%s", r->permit);
                t->next = (t->next + 1) % TRACKED_MEDIA;
        }
        return r->permit;
}

const struct policy_approval *export_approval_of(const struct policy *p, const char *permit) {
        const struct policy_usb_entry *u;
        const struct policy_net_entry *n;
        const struct policy_media_entry *m;

        if (!p || !permit || !permit[0])
                return NULL;
        if ((u = policy_find_usb_permit(p, permit)))
                return &u->approval;
        if ((n = policy_find_net_permit(p, permit)))
                return &n->approval;
        if ((m = policy_find_media_permit(p, permit)))
                return &m->approval;
        return NULL;
}

const char *export_problem_label(enum export_problem k, enum export_lang lang) {
        switch (k) {
        case EXPORT_PROBLEM_MANIFEST: return T(lang, "MANIFEST がない、または形式が不正", "no MANIFEST, or not in its format");
        case EXPORT_PROBLEM_SIGNATURE: return T(lang, "署名が一致しない（改ざん、または別の端末の鍵）",
                                                "the signature does not match (changed, or another workstation's key)");
        case EXPORT_PROBLEM_FILE_MISSING: return T(lang, "ファイルが欠けている", "a file is missing");
        case EXPORT_PROBLEM_FILE_CHANGED: return T(lang, "ファイルが変更されている", "a file was changed");
        case EXPORT_PROBLEM_FILE_ADDED: return T(lang, "記載のないファイルがある", "a file was added");
        case EXPORT_PROBLEM_CHAIN: return T(lang, "記録のハッシュの連鎖が途切れている（記録の削除・改ざん）",
                                            "the records do not chain (removed or changed)");
        default: return "";
        }
}
