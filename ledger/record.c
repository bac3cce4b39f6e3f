/* SPDX-License-Identifier: MIT */
/* The record model and its canonical encoding (record.h, docs/ledger.md). One field table
 * drives the encoding, the decoding, the JSON form and the database columns, so that they
 * cannot drift apart. */
#include "record.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "fileio.h"
#include "host-id.h"
#include "hexutil.h"
#include "json-util.h"
#include "macro.h"
#include "utf8.h"

static const char *const subject_names[_LEDGER_SUBJECT_MAX] = {
        [LEDGER_SUBJECT_USB] = "usb",
        [LEDGER_SUBJECT_NETWORK] = "network",
        [LEDGER_SUBJECT_POLICY] = "policy",
        [LEDGER_SUBJECT_DAEMON] = "daemon",
        [LEDGER_SUBJECT_LEDGER] = "ledger",
        [LEDGER_SUBJECT_MEDIA] = "media",
};

static const char *const event_names[_LEDGER_EVENT_MAX] = {
        [LEDGER_EVENT_CONNECTED] = "connected",
        [LEDGER_EVENT_REEVALUATED] = "re-evaluated",
        [LEDGER_EVENT_REMOVED] = "removed",
        [LEDGER_EVENT_APPEARED] = "appeared",
        [LEDGER_EVENT_VIOLATION] = "violation",
        [LEDGER_EVENT_POLICY_LOADED] = "policy-loaded",
        [LEDGER_EVENT_POLICY_REFUSED] = "policy-refused",
        [LEDGER_EVENT_PERMIT_EXPIRED] = "permit-expired",
        [LEDGER_EVENT_STARTED] = "started",
        [LEDGER_EVENT_STOPPED] = "stopped",
        [LEDGER_EVENT_UNCLEAN_SHUTDOWN] = "unclean-shutdown",
        [LEDGER_EVENT_ENFORCEMENT_FAILED] = "enforcement-failed",
        [LEDGER_EVENT_CLOCK_JUMP] = "clock-jump",
        [LEDGER_EVENT_FAULT] = "fault",
        [LEDGER_EVENT_LEDGER_DELAYED] = "ledger-delayed",
        [LEDGER_EVENT_LEDGER_LOST] = "ledger-lost",
        [LEDGER_EVENT_LEDGER_PRUNED] = "ledger-pruned",
        [LEDGER_EVENT_MEDIUM_INSERTED] = "medium-inserted",
        [LEDGER_EVENT_MEDIUM_REMOVED] = "medium-removed",
        [LEDGER_EVENT_FIXED_DISK] = "fixed-disk",
        [LEDGER_EVENT_WIRELESS_JOINED] = "wireless-joined",
        [LEDGER_EVENT_WIRELESS_LEFT] = "wireless-left",
        [LEDGER_EVENT_SCAN_PASSED] = "scan-passed",
        [LEDGER_EVENT_SCAN_INFECTED] = "scan-infected",
        [LEDGER_EVENT_SCAN_HELD] = "scan-held",
        [LEDGER_EVENT_FILE_WRITTEN] = "file-written",
        [LEDGER_EVENT_FILE_READ] = "file-read",
        [LEDGER_EVENT_FILES_LOST] = "files-lost",
};

static const char *const decision_names[_LEDGER_DECISION_MAX] = {
        [LEDGER_DECISION_NONE] = "none",
        [LEDGER_DECISION_ALLOW] = "allow",
        [LEDGER_DECISION_READ_ONLY] = "read-only",
        [LEDGER_DECISION_BLOCK] = "block",
};

static const char *const outcome_names[_LEDGER_OUTCOME_MAX] = {
        [LEDGER_OUTCOME_DONE] = "done",
        [LEDGER_OUTCOME_FAILED] = "failed",
};

#define INT_FIELD_SINCE(f, v) { #f, v, LEDGER_FIELD_INT, offsetof(struct ledger_record, f), sizeof(int64_t), NULL, 0 }
#define INT_FIELD(f) INT_FIELD_SINCE(f, 1)
#define TEXT_FIELD_SINCE(f, v) { #f, v, LEDGER_FIELD_TEXT, offsetof(struct ledger_record, f), \
                                 sizeof(((struct ledger_record *) 0)->f), NULL, 0 }
#define TEXT_FIELD(f) TEXT_FIELD_SINCE(f, 1)
#define ENUM_FIELD(f, n) { #f, 1, LEDGER_FIELD_ENUM, offsetof(struct ledger_record, f), sizeof(int), n, ELEMENTSOF(n) }

/* The canonical order. A field is only ever appended, with a new LEDGER_ENCODING_VERSION as its
 * "since": a record of version V encodes the fields with since <= V, so older records keep
 * their bytes. */
const struct ledger_field ledger_fields[] = {
        INT_FIELD(seq),
        INT_FIELD(time),
        INT_FIELD(time_nsec),
        INT_FIELD(utc_offset),
        TEXT_FIELD(boot_id),
        TEXT_FIELD(hostname),
        TEXT_FIELD(machine_id),
        ENUM_FIELD(subject, subject_names),
        ENUM_FIELD(event, event_names),
        TEXT_FIELD(vendor),
        TEXT_FIELD(product),
        TEXT_FIELD(serial),
        TEXT_FIELD(manufacturer),
        TEXT_FIELD(product_name),
        TEXT_FIELD(bus_path),
        TEXT_FIELD(interfaces),
        TEXT_FIELD(ifname),
        TEXT_FIELD(mac),
        TEXT_FIELD(link_kind),
        TEXT_FIELD(link_path),
        TEXT_FIELD(driver),
        INT_FIELD(policy_serial),
        TEXT_FIELD(signer),
        ENUM_FIELD(decision, decision_names),
        TEXT_FIELD(reason),
        TEXT_FIELD(permit),
        INT_FIELD(uid),
        TEXT_FIELD(user),
        ENUM_FIELD(outcome, outcome_names),
        INT_FIELD(error_number),
        TEXT_FIELD(message),
        INT_FIELD_SINCE(count, 2),
        TEXT_FIELD_SINCE(bus, 3),
        TEXT_FIELD_SINCE(device_name, 3),
        TEXT_FIELD_SINCE(device_path, 3),
        TEXT_FIELD_SINCE(oemid, 3),
        TEXT_FIELD_SINCE(manufacture_date, 3),
        TEXT_FIELD_SINCE(wireless_mode, 4),
        TEXT_FIELD_SINCE(ssid, 4),
        TEXT_FIELD_SINCE(bssid, 4),
        TEXT_FIELD_SINCE(security, 4),
        INT_FIELD_SINCE(files, 5),
        INT_FIELD_SINCE(bytes, 5),
        INT_FIELD_SINCE(duration_ms, 5),
        TEXT_FIELD_SINCE(scanner, 5),
        TEXT_FIELD_SINCE(signature, 5),
        TEXT_FIELD_SINCE(file_path, 5),
        TEXT_FIELD_SINCE(sha256, 5),
        INT_FIELD_SINCE(pid, 5),
        TEXT_FIELD_SINCE(process, 5),
};
const size_t ledger_fields_count = ELEMENTSOF(ledger_fields);
_Static_assert(ELEMENTSOF(ledger_fields) == LEDGER_FIELDS_COUNT, "LEDGER_FIELDS_COUNT is not the field count");

_Static_assert(ELEMENTSOF(ledger_fields) * 4 + 1 + sizeof(struct ledger_record) < LEDGER_ENCODING_MAX,
               "LEDGER_ENCODING_MAX too small");

static bool version_known(int64_t v) {
        return v >= LEDGER_ENCODING_VERSION_MIN && v <= LEDGER_ENCODING_VERSION;
}

/* The version R is encoded in: its own, or the current one for a record not yet stored. */
static uint8_t record_version(const struct ledger_record *r) {
        return version_known(r->version) ? r->version : LEDGER_ENCODING_VERSION;
}

static const char *enum_name(const char *const *names, size_t n, int v) {
        return v >= 0 && (size_t) v < n ? names[v] : NULL;
}

const char *ledger_subject_to_string(enum ledger_subject s) {
        return enum_name(subject_names, ELEMENTSOF(subject_names), (int) s);
}
const char *ledger_event_to_string(enum ledger_event e) {
        return enum_name(event_names, ELEMENTSOF(event_names), (int) e);
}
const char *ledger_decision_to_string(enum ledger_decision d) {
        return enum_name(decision_names, ELEMENTSOF(decision_names), (int) d);
}
const char *ledger_outcome_to_string(enum ledger_outcome o) {
        return enum_name(outcome_names, ELEMENTSOF(outcome_names), (int) o);
}

static int enum_lookup(const char *const *names, size_t n, const char *s, size_t len) {
        for (size_t i = 0; i < n; i++)
                if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
                        return (int) i;
        return -EINVAL;
}

int ledger_event_from_string(const char *s, enum ledger_event *ret) {
        int v = enum_lookup(event_names, ELEMENTSOF(event_names), s, strlen(s));
        if (v < 0)
                return v;
        *ret = (enum ledger_event) v;
        return 0;
}

bool ledger_record_is_fault(const struct ledger_record *r) {
        return r->outcome == LEDGER_OUTCOME_FAILED || r->subject == LEDGER_SUBJECT_DAEMON ||
               r->subject == LEDGER_SUBJECT_LEDGER || r->event == LEDGER_EVENT_POLICY_REFUSED ||
               r->event == LEDGER_EVENT_SCAN_INFECTED || r->event == LEDGER_EVENT_SCAN_HELD ||
               r->event == LEDGER_EVENT_FILES_LOST;
}

size_t ledger_text_set(char *dst, size_t size, const char *src) {
        size_t o = 0, len;

        if (size == 0)
                return 0;
        dst[0] = 0;
        if (!src)
                return 0;

        /* One character at a time, so that the output is cut at a character (or escape)
         * boundary; identity_sanitize decides what is escaped, so both agree. Escapes already
         * in SRC are copied whole. */
        len = strlen(src);
        for (size_t i = 0; i < len;) {
                char piece[4 * 4 + 1];
                size_t n, m;

                /* Fast path, the same result: a run of printable ASCII but the backslash is
                 * copied as it is (identity_sanitize keeps each such byte, one a character). */
                size_t run = 0;
                while (i + run < len && (uint8_t) src[i + run] >= 0x20 && (uint8_t) src[i + run] < 0x7f &&
                       src[i + run] != '\\')
                        run++;
                if (run > 0) {
                        size_t fit = MIN(run, size - 1 - o);
                        memcpy(dst + o, src + i, fit);
                        o += fit;
                        i += fit;
                        if (fit < run)
                                break;
                        continue;
                }
                if (identity_is_escape(src + i, len - i)) {
                        n = 4;
                        memcpy(piece, src + i, 4);
                        m = 4;
                } else {
                        uint32_t cp;
                        n = utf8_decode(src + i, len - i, &cp);
                        if (n > 0 && cp != '\\' && !utf8_is_unsafe_codepoint(cp)) {
                                /* What identity_sanitize() keeps as it is (Japanese text, say). */
                                memcpy(piece, src + i, n);
                                m = n;
                        } else {
                                /* a byte that starts no valid character is escaped alone */
                                n = n ?: 1;
                                m = identity_sanitize(src + i, n, piece, sizeof piece);
                        }
                }
                if (o + m + 1 > size)
                        break;
                memcpy(dst + o, piece, m);
                o += m;
                i += n;
        }
        dst[o] = 0;
        return o;
}

void ledger_record_init(struct ledger_record *r, enum ledger_subject subject, enum ledger_event event) {
        struct timespec ts;
        struct tm tm;

        *r = (struct ledger_record) {
                .version = LEDGER_ENCODING_VERSION,
                .subject = subject,
                .event = event,
                .count = 1,
                .uid = -1,
        };
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        r->time = ts.tv_sec;
        r->time_nsec = ts.tv_nsec;
        if (localtime_r(&ts.tv_sec, &tm))
                r->utc_offset = tm.tm_gmtoff;
}

/* Reads a 32-hex-digit id (the boot id comes with dashes). */
void ledger_host_fill(struct ledger_record *r) {
        struct host_id h;

        host_id_read(&h);
        ledger_text_set(r->hostname, sizeof r->hostname, h.hostname);
        memcpy(r->machine_id, h.machine_id, sizeof r->machine_id);
        memcpy(r->boot_id, h.boot_id, sizeof r->boot_id);
}

void ledger_record_set_usb(struct ledger_record *r, const struct usb_identity *id) {
        size_t o = 0;

        snprintf(r->vendor, sizeof r->vendor, "%04x", id->vendor);
        snprintf(r->product, sizeof r->product, "%04x", id->product);
        ledger_text_set(r->serial, sizeof r->serial, id->has_serial ? id->serial : "");
        ledger_text_set(r->manufacturer, sizeof r->manufacturer, id->manufacturer);
        ledger_text_set(r->product_name, sizeof r->product_name, id->product_name);
        ledger_text_set(r->bus_path, sizeof r->bus_path, id->bus_path);
        r->interfaces[0] = 0;
        for (size_t i = 0; i < MIN(id->n_interfaces, (size_t) USB_INTERFACES_MAX); i++) {
                char c[9];
                usb_interface_class_format(&id->interfaces[i], c);
                o += (size_t) snprintf(r->interfaces + o, sizeof r->interfaces - o, "%s%s", i ? "," : "", c);
        }
}

void ledger_record_set_media(struct ledger_record *r, const struct media_identity *id) {
        ledger_text_set(r->bus, sizeof r->bus, media_bus_to_string(id->bus) ?: "");
        ledger_text_set(r->device_name, sizeof r->device_name, id->name);
        ledger_text_set(r->device_path, sizeof r->device_path, id->path);
        ledger_text_set(r->manufacturer, sizeof r->manufacturer, id->vendor);
        ledger_text_set(r->product_name, sizeof r->product_name, id->model);
        ledger_text_set(r->serial, sizeof r->serial, id->serial);
        ledger_text_set(r->oemid, sizeof r->oemid, id->oemid);
        ledger_text_set(r->manufacture_date, sizeof r->manufacture_date, id->date);
}

void ledger_record_set_net(struct ledger_record *r, const struct net_identity *id) {
        ledger_text_set(r->ifname, sizeof r->ifname, id->name);
        r->mac[0] = 0;
        if (id->has_mac)
                mac_format(id->mac, r->mac);
        ledger_text_set(r->link_kind, sizeof r->link_kind, id->kind);
        ledger_text_set(r->link_path, sizeof r->link_path, id->path);
        ledger_text_set(r->driver, sizeof r->driver, id->driver);
        ledger_text_set(r->wireless_mode, sizeof r->wireless_mode, wireless_mode_to_string(id->wireless));
}

void ledger_record_set_wireless(struct ledger_record *r, const struct wireless_network *n) {
        char ssid[WIRELESS_SSID_TEXT_MAX];

        wireless_ssid_text(n->ssid, n->ssid_len, ssid);
        ledger_text_set(r->ssid, sizeof r->ssid, ssid);
        r->bssid[0] = 0;
        if (n->has_bssid)
                mac_format(n->bssid, r->bssid);
        ledger_text_set(r->security, sizeof r->security, wireless_security_to_string(n->security));
}

/* Whether S (N bytes and a NUL, N < SIZE) is text as ledger_text_set(…, SIZE, S) leaves it,
 * which then gives it back unchanged. A run of printable ASCII but the backslash is copied as
 * it is: checked here directly (most text is just that); anything else as ledger_text_set()
 * sees it. */
static bool text_is_clean(const char *s, size_t n, size_t size) {
        char tmp[LEDGER_MESSAGE_MAX];
        size_t i = 0;

        while (i < n && (uint8_t) s[i] >= 0x20 && (uint8_t) s[i] < 0x7f && s[i] != '\\')
                i++;
        if (i == n)
                return true;
        return ledger_text_set(tmp, size, s) == n && memcmp(tmp, s, n) == 0;
}

int ledger_record_normalise(struct ledger_record *r) {
        if (r->time_nsec < 0 || r->time_nsec > 999999999)
                return -EINVAL;
        if (r->utc_offset < -24 * 3600 || r->utc_offset > 24 * 3600)
                return -EINVAL;
        if (r->version == 0)
                r->version = LEDGER_ENCODING_VERSION;
        if (!version_known(r->version))
                return -EINVAL;
        /* A record filled in without ledger_record_init() (count 0), or a caller's counter gone
         * wrong: the record exists, so it stands for one event at least. Refusing would drop it. */
        if (r->count < 1)
                r->count = 1;
        if (r->version < 2 && r->count != 1)
                return -EINVAL;
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                char *p = (char *) r + f->offset;

                /* A field its version does not encode must be empty: it would be shown, stored
                 * and exported, but not hashed. */
                if (f->since > r->version && f->type == LEDGER_FIELD_TEXT && p[0] != 0)
                        return -EINVAL;
                /* The same for numbers from version 5 on (count, since 2, has its own rule). */
                if (f->since > r->version && f->since >= 5 && f->type == LEDGER_FIELD_INT && *(int64_t *) p != 0)
                        return -EINVAL;

                if (f->type == LEDGER_FIELD_ENUM) {
                        int v = *(int *) p;
                        if (v < 0 || (size_t) v >= f->n_names)
                                return -EINVAL;
                } else if (f->type == LEDGER_FIELD_TEXT) {
                        char tmp[LEDGER_MESSAGE_MAX];
                        _Static_assert(LEDGER_MESSAGE_MAX >= USB_STRING_MAX, "tmp too small");
                        /* A buffer the caller filled may lack its NUL: bound it first. */
                        p[f->size - 1] = 0;
                        ledger_text_set(tmp, f->size, p);
                        memcpy(p, tmp, strlen(tmp) + 1);
                }
        }
        return 0;
}

bool ledger_record_is_normal(const struct ledger_record *r) {
        /* ledger_record_normalise()'s checks and changes, in its order, as questions. */
        if (r->time_nsec < 0 || r->time_nsec > 999999999 || r->utc_offset < -24 * 3600 || r->utc_offset > 24 * 3600)
                return false;
        if (!version_known(r->version) || r->count < 1 || (r->version < 2 && r->count != 1))
                return false;
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                const char *p = (const char *) r + f->offset;

                if (f->since > r->version && f->type == LEDGER_FIELD_TEXT && p[0] != 0)
                        return false;
                if (f->since > r->version && f->since >= 5 && f->type == LEDGER_FIELD_INT && *(const int64_t *) p != 0)
                        return false;
                if (f->type == LEDGER_FIELD_ENUM) {
                        int v = *(const int *) p;
                        if (v < 0 || (size_t) v >= f->n_names)
                                return false;
                } else if (f->type == LEDGER_FIELD_TEXT) {
                        if (p[f->size - 1] != 0 || !text_is_clean(p, strlen(p), f->size))
                                return false;
                }
        }
        return true;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
        return p + 4;
}

static uint32_t get_u32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

size_t ledger_record_encode(const struct ledger_record *r, uint8_t *buf) {
        uint8_t *p = buf, version = record_version(r);

        *p++ = version;
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                const char *field = (const char *) r + f->offset;

                if (f->since > version)
                        continue;

                switch (f->type) {
                case LEDGER_FIELD_INT: {
                        uint64_t v = (uint64_t) *(const int64_t *) field;
                        p = put_u32(p, 8);
                        for (int k = 7; k >= 0; k--)
                                *p++ = (uint8_t) (v >> (8 * k));
                        break;
                }
                case LEDGER_FIELD_TEXT: {
                        size_t n = strnlen(field, f->size - 1);
                        p = put_u32(p, (uint32_t) n);
                        memcpy(p, field, n);
                        p += n;
                        break;
                }
                case LEDGER_FIELD_ENUM: {
                        const char *name = enum_name(f->names, f->n_names, *(const int *) field) ?: "";
                        size_t n = strlen(name);
                        p = put_u32(p, (uint32_t) n);
                        memcpy(p, name, n);
                        p += n;
                        break;
                }
                }
        }
        return (size_t) (p - buf);
}

int ledger_record_decode(const uint8_t *buf, size_t size, struct ledger_record *ret) {
        struct ledger_record r;
        int k = ledger_record_decode_into(buf, size, &r, NULL);
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}

int ledger_record_decode_into(const uint8_t *buf, size_t size, struct ledger_record *ret, uint16_t *ret_lengths) {
        size_t o = 1;

        if (size < 1 || !version_known(buf[0]))
                return -EBADMSG;
        *ret = (struct ledger_record) { .count = 1, .version = buf[0] };
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                char *field = (char *) ret + f->offset;

                if (ret_lengths)
                        ret_lengths[i] = 0;
                if (f->since > ret->version)
                        continue;

                if (size - o < 4)
                        return -EBADMSG;
                uint32_t n = get_u32(buf + o);
                o += 4;
                if (n > size - o)
                        return -EBADMSG;
                const uint8_t *v = buf + o;
                o += n;
                if (ret_lengths)
                        ret_lengths[i] = (uint16_t) MIN(n, (uint32_t) UINT16_MAX);

                switch (f->type) {
                case LEDGER_FIELD_INT: {
                        uint64_t x = 0;
                        if (n != 8)
                                return -EBADMSG;
                        for (int k = 0; k < 8; k++)
                                x = x << 8 | v[k];
                        *(int64_t *) field = (int64_t) x;
                        break;
                }
                case LEDGER_FIELD_TEXT: {
                        if (n >= f->size || memchr(v, 0, n))
                                return -EBADMSG;
                        memcpy(field, v, n);
                        field[n] = 0;
                        /* Only sanitised text is ever encoded: anything else was not written by us. */
                        if (!text_is_clean(field, n, f->size))
                                return -EBADMSG;
                        break;
                }
                case LEDGER_FIELD_ENUM: {
                        int e = enum_lookup(f->names, f->n_names, (const char *) v, n);
                        if (e < 0)
                                return -EBADMSG;
                        *(int *) field = e;
                        break;
                }
                }
        }
        /* The ranges ledger_record_normalise() enforces on every record appended. */
        if (o != size || ret->time_nsec < 0 || ret->time_nsec > 999999999 || ret->utc_offset < -24 * 3600 ||
            ret->utc_offset > 24 * 3600 || ret->count < 1)
                return -EBADMSG;
        return 0;
}

int ledger_chain_hash(const uint8_t prev[static LEDGER_HASH_SIZE], const uint8_t *encoding, size_t size,
                      uint8_t ret[static LEDGER_HASH_SIZE]) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned len = 0;
        int ok;

        if (!ctx)
                return -ENOMEM;
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, prev, LEDGER_HASH_SIZE) == 1 &&
             EVP_DigestUpdate(ctx, encoding, size) == 1 &&
             EVP_DigestFinal_ex(ctx, ret, &len) == 1 && len == LEDGER_HASH_SIZE;
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : -EIO;
}

struct ledger_hasher {
        EVP_MD *md;
        EVP_MD_CTX *ctx;
};

int ledger_hasher_new(struct ledger_hasher **ret) {
        struct ledger_hasher *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
        h->ctx = EVP_MD_CTX_new();
        if (!h->md || !h->ctx) {
                ledger_hasher_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

struct ledger_hasher *ledger_hasher_free(struct ledger_hasher *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        EVP_MD_free(h->md);
        free(h);
        return NULL;
}

int ledger_hasher_chain(struct ledger_hasher *h, const uint8_t prev[static LEDGER_HASH_SIZE], const uint8_t *encoding,
                        size_t size, uint8_t ret[static LEDGER_HASH_SIZE]) {
        unsigned len = 0;

        return EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 && EVP_DigestUpdate(h->ctx, prev, LEDGER_HASH_SIZE) == 1 &&
               EVP_DigestUpdate(h->ctx, encoding, size) == 1 && EVP_DigestFinal_ex(h->ctx, ret, &len) == 1 &&
               len == LEDGER_HASH_SIZE ? 0 : -EIO;
}

int ledger_record_to_json(const struct ledger_record *r, const uint8_t *prev_hash, const uint8_t *hash,
                          struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        uint8_t version = record_version(r);
        char hex[LEDGER_HASH_HEX];

        if (!o)
                return -ENOMEM;
        /* Version 1 records keep the shape they were exported in before version 2 existed. */
        if (version >= 2 && json_add(o, "version", json_object_new_int(version)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                const char *field = (const char *) r + f->offset;
                int q;

                if (f->since > version)
                        continue;
                if (f->type == LEDGER_FIELD_INT)
                        q = json_add(o, f->name, json_object_new_int64(*(const int64_t *) field));
                else if (f->type == LEDGER_FIELD_TEXT)
                        q = json_add_string_bounded(o, f->name, field, f->size - 1);
                else
                        q = json_add_string(o, f->name, enum_name(f->names, f->n_names, *(const int *) field) ?: "");
                if (q < 0)
                        return -ENOMEM;
        }
        for (int k = 0; k < 2; k++) {
                const uint8_t *h = k == 0 ? prev_hash : hash;
                if (!h)
                        continue;
                hex_encode(h, LEDGER_HASH_SIZE, hex);
                if (json_add_string(o, k == 0 ? "prev_hash" : "hash", hex) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- records.jsonl without json-c ---------------------------------------------------------- */

_Static_assert(6 * sizeof(struct ledger_record) + 4096 < LEDGER_JSONL_MAX, "LEDGER_JSONL_MAX too small");

/* A string as json-c's json_escape_str() writes it with JSON_C_TO_STRING_NOSLASHESCAPE. */
static char *jsonl_put_string(char *p, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";

        *p++ = '"';
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) s[i];
                switch (c) {
                case '\b': *p++ = '\\'; *p++ = 'b'; break;
                case '\n': *p++ = '\\'; *p++ = 'n'; break;
                case '\r': *p++ = '\\'; *p++ = 'r'; break;
                case '\t': *p++ = '\\'; *p++ = 't'; break;
                case '\f': *p++ = '\\'; *p++ = 'f'; break;
                case '"': *p++ = '\\'; *p++ = '"'; break;
                case '\\': *p++ = '\\'; *p++ = '\\'; break;
                default:
                        if (c < 0x20) {
                                memcpy(p, "\\u00", 4);
                                p[4] = hex[c >> 4];
                                p[5] = hex[c & 15];
                                p += 6;
                        } else
                                *p++ = (char) c;
                }
        }
        *p++ = '"';
        return p;
}

static char *jsonl_put_key(char *p, const char *key, bool first) {
        if (!first)
                *p++ = ',';
        *p++ = '"';
        while (*key)
                *p++ = *key++;
        *p++ = '"';
        *p++ = ':';
        return p;
}


size_t ledger_record_to_jsonl(const struct ledger_record *r, const uint8_t prev_hash[static LEDGER_HASH_SIZE],
                              const uint8_t hash[static LEDGER_HASH_SIZE], char *buf) {
        uint8_t version = record_version(r);
        char hex[LEDGER_HASH_HEX], *p = buf;
        bool first = true;

        *p++ = '{';
        if (version >= 2) {
                p = decimal_put_int64(jsonl_put_key(p, "version", first), version);
                first = false;
        }
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                const char *field = (const char *) r + f->offset;

                if (f->since > version)
                        continue;
                p = jsonl_put_key(p, f->name, first);
                first = false;
                if (f->type == LEDGER_FIELD_INT)
                        p = decimal_put_int64(p, *(const int64_t *) field);
                else if (f->type == LEDGER_FIELD_TEXT)
                        p = jsonl_put_string(p, field, strnlen(field, f->size - 1));
                else {
                        const char *name = enum_name(f->names, f->n_names, *(const int *) field) ?: "";
                        p = jsonl_put_string(p, name, strlen(name));
                }
        }
        for (int k = 0; k < 2; k++) {
                hex_encode(k == 0 ? prev_hash : hash, LEDGER_HASH_SIZE, hex);
                p = jsonl_put_string(jsonl_put_key(p, k == 0 ? "prev_hash" : "hash", false), hex, LEDGER_HASH_SIZE * 2);
        }
        *p++ = '}';
        return (size_t) (p - buf);
}

struct jsonl_cursor {
        const char *p, *end;
};

static bool jsonl_literal(struct jsonl_cursor *c, const char *s) {
        const char *p = c->p;
        for (; *s; s++, p++)
                if (p >= c->end || *p != *s)
                        return false;
        c->p = p;
        return true;
}

/* 64 lowercase or uppercase hex digits (hex_decode()'s rule; the record's form is checked
 * afterwards by writing it again). */
static bool jsonl_hash(struct jsonl_cursor *c, uint8_t ret[static LEDGER_HASH_SIZE]) {
        if (!jsonl_literal(c, "\"") || c->end - c->p < 2 * LEDGER_HASH_SIZE + 1)
                return false;
        for (size_t i = 0; i < LEDGER_HASH_SIZE; i++) {
                int hi = hexval(c->p[2 * i]), lo = hexval(c->p[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return false;
                ret[i] = (uint8_t) (hi << 4 | lo);
        }
        c->p += 2 * LEDGER_HASH_SIZE;
        return jsonl_literal(c, "\"");
}

/* ,"KEY": (no comma before the first). */
static bool jsonl_key(struct jsonl_cursor *c, const char *key, bool first) {
        const char *start = c->p;
        if ((first || jsonl_literal(c, ",")) && jsonl_literal(c, "\"") && jsonl_literal(c, key) &&
            jsonl_literal(c, "\":"))
                return true;
        c->p = start;   /* not this key: the cursor stays (a version 1 line has no "version") */
        return false;
}

static bool jsonl_int(struct jsonl_cursor *c, int64_t *ret) {
        bool neg = c->p < c->end && *c->p == '-';
        uint64_t u = 0;
        size_t n = 0;

        if (neg)
                c->p++;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                if (n++ >= 19)
                        return false;           /* json-c's limits: the general reader decides */
                u = u * 10 + (uint64_t) (*c->p++ - '0');
        }
        if (n == 0 || u > (uint64_t) INT64_MAX + neg)
                return false;
        *ret = neg ? (int64_t) (0 - u) : (int64_t) u;
        return true;
}

/* A string into BUF (SIZE bytes with its NUL); false for anything longer or with an escape
 * that ledger_record_to_jsonl() does not write. */
static bool jsonl_string(struct jsonl_cursor *c, char *buf, size_t size, size_t *ret_len) {
        size_t o = 0;

        if (!jsonl_literal(c, "\""))
                return false;
        while (c->p < c->end && *c->p != '"') {
                uint8_t ch = (uint8_t) *c->p++;
                if (ch < 0x20)
                        return false;
                if (ch == '\\') {
                        if (c->p >= c->end)
                                return false;
                        switch (*c->p++) {
                        case 'b': ch = '\b'; break;
                        case 'n': ch = '\n'; break;
                        case 'r': ch = '\r'; break;
                        case 't': ch = '\t'; break;
                        case 'f': ch = '\f'; break;
                        case '"': ch = '"'; break;
                        case '\\': ch = '\\'; break;
                        case 'u': {
                                int hi, lo;
                                if (c->end - c->p < 4 || c->p[0] != '0' || c->p[1] != '0' ||
                                    (hi = hexval(c->p[2])) < 0 || (lo = hexval(c->p[3])) < 0 || hi > 1 ||
                                    (hi == 0 && lo == 0))
                                        return false;
                                ch = (uint8_t) (hi << 4 | lo);
                                c->p += 4;
                                break;
                        }
                        default:
                                return false;
                        }
                }
                /* Never a NUL (neither raw nor \u0000 is taken): the caller's strlen() is the length. */
                if (o + 1 >= size || ch == 0)
                        return false;
                buf[o++] = (char) ch;
        }
        if (!jsonl_literal(c, "\""))
                return false;
        buf[o] = 0;
        *ret_len = o;
        return true;
}

int ledger_record_from_jsonl(const char *line, size_t len, struct ledger_record *ret,
                             uint8_t ret_prev_hash[static LEDGER_HASH_SIZE], uint8_t ret_hash[static LEDGER_HASH_SIZE]) {
        /* On the stack, not _Thread_local: a static TLS block is zeroed in every thread of every
         * program that links this file (kyokad's I/O threads: 64 KiB resident each, though they
         * never parse a line); a stack frame is touched only as far as the line is long. */
        char again[LEDGER_JSONL_MAX];
        struct ledger_record r = { .version = 1, .count = 1 };
        uint8_t hashes[2][LEDGER_HASH_SIZE];
        struct jsonl_cursor c = { line, line + len };
        bool first = true;
        char text[LEDGER_MESSAGE_MAX];
        size_t n;

        _Static_assert(LEDGER_MESSAGE_MAX >= LEDGER_FILE_PATH_MAX && LEDGER_MESSAGE_MAX >= USB_STRING_MAX,
                       "text too small");
        if (len >= LEDGER_JSONL_MAX || !jsonl_literal(&c, "{"))
                return -EBADMSG;
        if (jsonl_key(&c, "version", true)) {
                int64_t v;
                if (!jsonl_int(&c, &v) || v < 2 || !version_known(v))
                        return -EBADMSG;
                r.version = (uint8_t) v;
                first = false;
        }
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                char *field = (char *) &r + f->offset;

                if (f->since > r.version)
                        continue;
                if (!jsonl_key(&c, f->name, first))
                        return -EBADMSG;
                first = false;
                if (f->type == LEDGER_FIELD_INT) {
                        if (!jsonl_int(&c, (int64_t *) field))
                                return -EBADMSG;
                } else if (f->type == LEDGER_FIELD_TEXT) {
                        if (!jsonl_string(&c, field, f->size, &n))
                                return -EBADMSG;
                } else {
                        if (!jsonl_string(&c, text, sizeof text, &n))
                                return -EBADMSG;
                        int e = enum_lookup(f->names, f->n_names, text, n);
                        if (e < 0)
                                return -EBADMSG;
                        *(int *) field = e;
                }
        }
        for (int k = 0; k < 2; k++)
                if (!jsonl_key(&c, k == 0 ? "prev_hash" : "hash", false) || !jsonl_hash(&c, hashes[k]))
                        return -EBADMSG;
        if (!jsonl_literal(&c, "}") || c.p != c.end)
                return -EBADMSG;

        /* As ledger_record_from_json(): sanitised text, a count that was written. */
        if (!ledger_record_is_normal(&r))
                return -EBADMSG;
        /* Only the one form the writer has: then json-c reads the same record from it. */
        if (ledger_record_to_jsonl(&r, hashes[0], hashes[1], again) != len || memcmp(again, line, len) != 0)
                return -EBADMSG;
        *ret = r;
        memcpy(ret_prev_hash, hashes[0], LEDGER_HASH_SIZE);
        memcpy(ret_hash, hashes[1], LEDGER_HASH_SIZE);
        return 0;
}

static int json_hash(struct json_object *o, const char *key, uint8_t *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        return hex_decode(json_object_get_string(v), ret, LEDGER_HASH_SIZE) < 0 ? -EBADMSG : 0;
}

int ledger_record_from_json(struct json_object *o, struct ledger_record *ret, uint8_t *ret_prev_hash,
                            uint8_t *ret_hash) {
        struct ledger_record r = { .version = 1, .count = 1 };
        uint8_t prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE];
        struct json_object *v;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        /* No "version": written before version 2, by a writer that knew no other. */
        if (json_object_object_get_ex(o, "version", &v)) {
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 2 ||
                    !version_known(json_object_get_int64(v)))
                        return -EBADMSG;
                r.version = (uint8_t) json_object_get_int64(v);
        }
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                char *field = (char *) &r + f->offset;

                /* A newer field in an older record would be shown but not hashed: refuse it. */
                if (f->since > r.version) {
                        if (json_object_object_get_ex(o, f->name, NULL))
                                return -EBADMSG;
                        continue;
                }
                if (!json_object_object_get_ex(o, f->name, &v))
                        return -EBADMSG;
                if (f->type == LEDGER_FIELD_INT) {
                        if (!json_object_is_type(v, json_type_int))
                                return -EBADMSG;
                        errno = 0;
                        *(int64_t *) field = json_object_get_int64(v);
                        if (errno != 0)
                                return -EBADMSG;
                        continue;
                }
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                const char *s = json_object_get_string(v);
                size_t n = (size_t) json_object_get_string_len(v);
                if (f->type == LEDGER_FIELD_ENUM) {
                        int e = enum_lookup(f->names, f->n_names, s, n);
                        if (e < 0)
                                return -EBADMSG;
                        *(int *) field = e;
                        continue;
                }
                if (n >= f->size || strlen(s) != n)
                        return -EBADMSG;
                memcpy(field, s, n + 1);
        }
        if (ret_prev_hash && json_hash(o, "prev_hash", prev) < 0)
                return -EBADMSG;
        if (ret_hash && json_hash(o, "hash", hash) < 0)
                return -EBADMSG;

        /* Text must already be in sanitised form (re-sanitising would hide a change), and the
         * count one that was written (>= 1). */
        if (!ledger_record_is_normal(&r))
                return -EBADMSG;

        *ret = r;
        if (ret_prev_hash)
                memcpy(ret_prev_hash, prev, LEDGER_HASH_SIZE);
        if (ret_hash)
                memcpy(ret_hash, hash, LEDGER_HASH_SIZE);
        return 0;
}

int ledger_record_format_time(const struct ledger_record *r, char *buf, size_t size) {
        int64_t local, off = r->utc_offset;
        char sign = off < 0 ? '-' : '+';
        struct tm tm;
        time_t t;

        if (size > 0)
                buf[0] = 0;          /* callers that ignore an error print "" */
        /* The wall clock the workstation showed then, whatever TZ the reader has. A record read
         * back from a file may hold any time: out of range is an error, not an overflow. */
        if (off < -24 * 3600 || off > 24 * 3600 || __builtin_add_overflow(r->time, off, &local) ||
            __builtin_add_overflow(local, 0, &t))
                return -EINVAL;
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        if (off < 0)
                off = -off;
        int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, (int) (off / 3600),
                         (int) (off / 60 % 60));
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}
