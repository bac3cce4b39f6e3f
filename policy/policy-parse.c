/* SPDX-License-Identifier: MIT */
/* The policy parser: the exact signed bytes -> struct policy, or every problem as
 * "SOURCE:LINE: FIELD: message" (docs/policy.md, "Messages").
 *
 * policy-config.c reads the syntax (libconfig 1.5's); everything else is checked here, walking
 * each group in file order and collecting all problems rather than stopping at the first, so
 * that an admin fixes a file in one round. Checks that relate entries to each other (duplicate permits, one device in two
 * overlapping windows) sort pointer copies, so a 100,000-entry policy stays O(n log n). */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"
#include "hexutil.h"
#include "macro.h"
#include "policy-config.h"
#include "policy-image.h"
#include "policy-match.h"
#include "timeutil.h"
#include "utf8.h"

#define DIAG_MAX 100                  /* messages kept; more would drown the first ones */
#define PREFIX_MAX 40                 /* "network[N]" */
#define FIELD_MAX 128                 /* a prefix, a dot and a key name bounded to 64 */
#define QUOTE_BYTES 48                /* of a bad value quoted back in a message */
#define QUOTE_MAX (QUOTE_BYTES * 4 + 8)

struct message {
        unsigned line;
        size_t seq;                   /* tie-break: keeps messages of one line in walk order */
        char *text;
};

/* Dates repeat across entries (a batch of permits shares approved_on and its window), and
 * converting a local date costs mktime(), which stats /etc/localtime every call: at 100,000
 * entries that was a tenth of the parse. The conversions of one parse are cached here; the
 * timezone cannot meaningfully change within one parse. */
#define TIME_CACHE_SLOTS 16
#define KEY_CACHE_SLOTS 64
struct key;
struct time_cache_slot {
        char text[ISO8601_MAX];       /* "" when unused */
        bool until;
        int64_t t;
};

struct parser {
        const char *source;
        const char *text;
        size_t len;
        struct message *messages;
        size_t n_messages;
        size_t n_errors;
        size_t n_warnings;
        size_t n_dropped;
        bool oom;
        struct time_cache_slot time_cache[TIME_CACHE_SLOTS];
        unsigned time_cache_next;
        /* Keys found by their name's address: the tree keeps each name once (policy-config.c
         * interns them), so a 100,000-entry parse compares a few dozen names, not millions. */
        struct key_cache_slot {
                const char *name;
                const struct key *keys, *k;
        } key_cache[KEY_CACHE_SLOTS];
};

static void parser_done(struct parser *ps) {
        for (size_t i = 0; i < ps->n_messages; i++)
                free(ps->messages[i].text);
        free(ps->messages);
}

_printf_(5, 6) static void report(struct parser *ps, bool warning, unsigned line, const char *field, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL, *text = NULL;
        va_list ap;

        if (warning)
                ps->n_warnings++;
        else
                ps->n_errors++;
        if (ps->n_messages >= DIAG_MAX) {
                ps->n_dropped++;
                return;
        }

        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL;
                ps->oom = true;
                return;
        }
        /* Problems of the whole file (syntax, NUL, @include) concern no single field. */
        r = asprintf(&text, "%s:%u: %s%s%s%s", ps->source, line, warning ? "warning: " : "",
                     field ?: "", field ? ": " : "", msg);
        if (r < 0) {
                text = NULL;
                ps->oom = true;
                return;
        }
        if (!ps->messages) {
                ps->messages = calloc(DIAG_MAX, sizeof(struct message));
                if (!ps->messages) {
                        ps->oom = true;
                        return;
                }
        }
        ps->messages[ps->n_messages] = (struct message) {
                .line = line,
                .seq = ps->n_messages,
                .text = TAKE_PTR(text),
        };
        ps->n_messages++;
}

#define fail_at(ps, line, field, ...) report(ps, false, line, field, __VA_ARGS__)
#define warn_at(ps, line, field, ...) report(ps, true, line, field, __VA_ARGS__)

/* A bad value quoted back: sanitised (it may be any bytes) and bounded (it may be huge). */
static const char *quote(const char *s, char buf[static QUOTE_MAX]) {
        size_t n = strlen(s);
        bool cut = n > QUOTE_BYTES;

        if (cut)
                n = utf8_cut(s, n, QUOTE_BYTES);
        size_t k = identity_sanitize(s, n, buf, QUOTE_MAX - 4);
        if (cut)
                memcpy(buf + k, "...", 4);
        return buf;
}

/* "PREFIX.KEY" (or "KEY"), each cut to its bound. Made for every key read, not only for the
 * ones reported: memcpy rather than snprintf, which took a tenth of a 100,000-entry parse. */
static const char *field_name(char buf[static FIELD_MAX], const char *prefix, const char *key) {
        char *o = buf;
        if (prefix) {
                size_t n = strnlen(prefix, 39);
                memcpy(o, prefix, n);
                o += n;
                *o++ = '.';
        }
        size_t n = strnlen(key, 64);
        memcpy(o, key, n);
        o[n] = 0;
        return buf;
}

/* "NAME[I]", NAME cut to MAX bytes: what snprintf(BUF, SIZE, "%.*s[%zu]") writes, for every
 * entry and every array element, where snprintf took a tenth of a 100,000-entry parse. */
static const char *indexed(char *buf, size_t size, const char *name, size_t max, size_t i) {
        char digits[24], *d = digits + sizeof digits - 1;
        size_t n = strnlen(name, max);

        *d = 0;
        do {
                *--d = (char) ('0' + i % 10);
                i /= 10;
        } while (i > 0);
        size_t k = (size_t) (digits + sizeof digits - 1 - d);
        if (n + k + 3 > size) {
                snprintf(buf, size, "%.*s[%s]", (int) n, name, d);
                return buf;
        }
        memcpy(buf, name, n);
        buf[n] = '[';
        memcpy(buf + n + 1, d, k);
        buf[n + 1 + k] = ']';
        buf[n + 2 + k] = 0;
        return buf;
}

static unsigned line_of(const struct pconf_node *s) {
        return pconf_line(s);
}

/* Whether S (LEN bytes) is valid UTF-8, and whether it holds control characters or the code
 * points that disguise text (utf8_is_unsafe_codepoint), which can make one permit or name look
 * like another in `policyctl show` and the ledger. One pass, ASCII without a call: every
 * string of a policy goes through here. */
static void check_text(const char *s, size_t len, bool *ret_valid, bool *ret_control) {
        bool control = false;
        uint32_t cp;

        for (size_t i = 0, n; i < len; i += n) {
                /* Eight ASCII bytes at a time: any byte < 0x20 or == 0x7f is a control. */
                uint64_t w;
                if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & UINT64_C(0x8080808080808080)) == 0)) {
                        uint64_t del = w ^ UINT64_C(0x7f7f7f7f7f7f7f7f);
                        control = control || ((w - UINT64_C(0x2020202020202020)) & ~w & UINT64_C(0x8080808080808080)) ||
                                  ((del - UINT64_C(0x0101010101010101)) & ~del & UINT64_C(0x8080808080808080));
                        n = 8;
                        continue;
                }
                unsigned char c = (unsigned char) s[i];
                if (c < 0x80) {
                        control = control || c < 0x20 || c == 0x7f;
                        n = 1;
                        continue;
                }
                n = utf8_decode(s + i, len - i, &cp);
                if (n == 0) {
                        *ret_valid = false;
                        *ret_control = control;
                        return;
                }
                control = control || utf8_is_unsafe_codepoint(cp);
        }
        *ret_valid = true;
        *ret_control = control;
}

enum {
        STR_OPTIONAL = 0,
        STR_REQUIRED = 1 << 0,        /* must not be empty */
};

/* Checks a string setting: type, UTF-8, no control characters, the length bound. Returns 0
 * with *ret pointing into the config, or -EINVAL after reporting why. */
static int get_string(struct parser *ps, const struct pconf_node *s, const char *field, size_t max, unsigned flags,
                      const char **ret) {
        char q[QUOTE_MAX];

        if (pconf_type(s) != PCONF_STRING) {
                fail_at(ps, line_of(s), field, "expected a string");
                return -EINVAL;
        }
        const char *v = pconf_string(s);
        bool valid, control;
        check_text(v, s->v.str.len, &valid, &control);
        if (!valid) {
                fail_at(ps, line_of(s), field, "invalid UTF-8: \"%s\"", quote(v, q));
                return -EINVAL;
        }
        if (control) {
                fail_at(ps, line_of(s), field, "contains a control character: \"%s\"", quote(v, q));
                return -EINVAL;
        }
        if (s->v.str.len > max) {
                fail_at(ps, line_of(s), field, "longer than %zu bytes", max);
                return -EINVAL;
        }
        if ((flags & STR_REQUIRED) && v[0] == 0) {
                fail_at(ps, line_of(s), field, "must not be empty");
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* A string setting, checked (get_string), into *RET: the tree's string, which the policy keeps
 * (struct policy's `strings`). A 100,000-entry policy has a million of them: copying each was a
 * tenth of its parse. */
static int dup_string(struct parser *ps, const struct pconf_node *s, const char *field, size_t max, unsigned flags,
                      char **ret) {
        const char *v;
        int r = get_string(ps, s, field, max, flags, &v);
        if (r < 0)
                return r;
        *ret = (char *) v;
        return 0;
}

static int get_int64(struct parser *ps, const struct pconf_node *s, const char *field, int64_t *ret) {
        int t = pconf_type(s);
        if (t != PCONF_INT && t != PCONF_INT64) {
                fail_at(ps, line_of(s), field, "expected an integer");
                return -EINVAL;
        }
        /* libconfig 1.5 kept the low 32 bits of a literal without "L" (99999999999 read as
         * 1215752191); the reader does the same for its oracle's sake, and says so. */
        int64_t v = pconf_int64(s);
        if (t == PCONF_INT && s->truncated) {
                fail_at(ps, line_of(s), field, "does not fit a 32-bit integer: write it with an L suffix (42L)");
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* A date or time; with UNTIL, a date alone means "through that day" (the next local midnight). */
static int get_time(struct parser *ps, const struct pconf_node *s, const char *field, bool until, int64_t *ret,
                    char **ret_text) {
        const char *v;
        char q[QUOTE_MAX];
        int64_t t;
        bool date_only;

        int r = get_string(ps, s, field, ISO8601_MAX, STR_OPTIONAL, &v);
        if (r < 0)
                return r;
        struct time_cache_slot *hit = NULL;
        for (size_t i = 0; i < ELEMENTSOF(ps->time_cache) && !hit; i++)
                if (ps->time_cache[i].until == until && streq(ps->time_cache[i].text, v))
                        hit = &ps->time_cache[i];
        if (hit)
                t = hit->t;
        else {
                if (time_parse_iso8601(v, &t, &date_only) < 0) {
                        fail_at(ps, line_of(s), field, "expected a date \"YYYY-MM-DD\" or a time \"YYYY-MM-DDTHH:MM[:SS][+HH:MM]\", got \"%s\"",
                              quote(v, q));
                        return -EINVAL;
                }
                if (until && date_only)
                        t = time_next_local_midnight(t);
                /* get_string bounded V by ISO8601_MAX, NUL included; an empty text never parses */
                struct time_cache_slot *slot = &ps->time_cache[ps->time_cache_next++ % TIME_CACHE_SLOTS];
                if (strlen(v) < sizeof slot->text) {
                        strcpy(slot->text, v);
                        slot->until = until;
                        slot->t = t;
                }
        }
        *ret_text = (char *) v;      /* the tree's, as dup_string */
        *ret = t;
        return 0;
}

static int get_hex4(struct parser *ps, const struct pconf_node *s, const char *field, uint16_t *ret) {
        const char *v;
        char q[QUOTE_MAX];
        int r = get_string(ps, s, field, POLICY_STRING_MAX, STR_OPTIONAL, &v);
        if (r < 0)
                return r;
        if (hex_parse_u16(v, strlen(v), ret) < 0) {
                fail_at(ps, line_of(s), field, "expected 4 hex digits, got \"%s\"", quote(v, q));
                return -EINVAL;
        }
        return 0;
}

/* One of a few words: returns its index in WORDS (NULL-terminated). */
static int get_word(struct parser *ps, const struct pconf_node *s, const char *field, const char *const *words,
                    const char *expected) {
        const char *v;
        char q[QUOTE_MAX];
        int r = get_string(ps, s, field, POLICY_STRING_MAX, STR_OPTIONAL, &v);
        if (r < 0)
                return r;
        for (int i = 0; words[i]; i++)
                if (streq(v, words[i]))
                        return i;
        fail_at(ps, line_of(s), field, "expected %s, got \"%s\"", expected, quote(v, q));
        return -EINVAL;
}

static int get_interfaces(struct parser *ps, const struct pconf_node *s, const char *field,
                          struct policy_usb_entry *e) {
        char f[FIELD_MAX + 16], q[QUOTE_MAX];
        int r = 0;

        if (pconf_type(s) != PCONF_ARRAY) {
                fail_at(ps, line_of(s), field, "expected an array of strings, e.g. [ \"08:06:50\" ]");
                return -EINVAL;
        }
        int n = (int) pconf_length(s);
        if (n == 0) {
                fail_at(ps, line_of(s), field, "empty: list at least one interface, or omit the key");
                return -EINVAL;
        }
        if (n > USB_INTERFACES_MAX) {
                fail_at(ps, line_of(s), field, "more than %d interfaces", USB_INTERFACES_MAX);
                return -EINVAL;
        }
        e->interfaces = calloc((size_t) n, sizeof(struct policy_interface_pattern));
        if (!e->interfaces) {
                ps->oom = true;
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                const struct pconf_node *el = pconf_elem(s, (size_t) i);
                const char *v;

                indexed(f, sizeof f, field, 127, (size_t) i);
                if (get_string(ps, el, f, POLICY_STRING_MAX, STR_OPTIONAL, &v) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (policy_interface_pattern_parse(v, strlen(v), &e->interfaces[i]) < 0) {
                        fail_at(ps, line_of(el), f,
                              "expected \"CC:SS:PP\" (2 hex digits each, SS and PP may be \"*\"), got \"%s\"",
                              quote(v, q));
                        r = -EINVAL;
                }
        }
        e->n_interfaces = (size_t) n;
        e->has_interfaces = true;
        return r;
}

static bool workstation_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        /* A hostname (RFC 1123 letters, digits, '-', '.'); a machine-id's 32 hex digits fit too. */
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n && s[0] != '-' &&
               s[0] != '.';
}

/* "ws-01, ws-02": the list as one text, for messages and displays. */
static char *workstations_join(char *const *v, size_t n) {
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(v[i]) + 2;
        char *t = malloc(len), *o = t;
        if (!t)
                return NULL;
        *o = 0;
        for (size_t i = 0; i < n; i++)
                o = stpcpy(stpcpy(o, i ? ", " : ""), v[i]);
        return t;
}

/* Frees the array V of N strings, and with OWN the strings (not the policy's strings). */
static void strv_free(char **v, size_t n, bool own) {
        for (size_t i = 0; own && v && i < n; i++)
                free(v[i]);
        free(v);
}

/* A host name or machine-id, or an array/list of them (a fleet): into *RET (N names), each
 * valid and named once. */
static int get_workstations(struct parser *ps, const struct pconf_node *s, const char *field, char ***ret,
                            size_t *ret_n) {
        char f[FIELD_MAX + 16], q[QUOTE_MAX];
        bool single = pconf_type(s) == PCONF_STRING;
        int n = single ? 1 : (int) pconf_length(s);
        char **v;
        int r = 0;

        if (!single && pconf_type(s) != PCONF_ARRAY && pconf_type(s) != PCONF_LIST) {
                fail_at(ps, line_of(s), field, "expected a host name or machine-id, or an array of them, "
                        "e.g. [ \"ws-01\", \"ws-02\" ]");
                return -EINVAL;
        }
        if (n == 0) {
                fail_at(ps, line_of(s), field, "empty: name at least one workstation, or omit the key");
                return -EINVAL;
        }
        if (n > POLICY_WORKSTATIONS_MAX) {
                fail_at(ps, line_of(s), field, "more than %d workstations", POLICY_WORKSTATIONS_MAX);
                return -EINVAL;
        }
        v = calloc((size_t) n, sizeof *v);
        if (!v) {
                ps->oom = true;
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                const struct pconf_node *el = single ? s : pconf_elem(s, (size_t) i);
                const char *w;

                if (single)
                        snprintf(f, sizeof f, "%s", field);
                else
                        indexed(f, sizeof f, field, 127, (size_t) i);
                if (get_string(ps, el, f, POLICY_STRING_MAX, STR_OPTIONAL, &w) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (!workstation_valid(w)) {
                        fail_at(ps, line_of(el), f, "expected a hostname or a 32-hex-digit machine-id, got \"%s\"",
                                quote(w, q));
                        r = -EINVAL;
                        continue;
                }
                for (int j = 0; j < i; j++)
                        if (v[j] && strcasecmp(v[j], w) == 0) {
                                fail_at(ps, line_of(el), f, "\"%s\" is named twice", quote(w, q));
                                r = -EINVAL;
                        }
                v[i] = (char *) w;          /* the tree's, as dup_string */
        }
        if (r < 0) {
                strv_free(v, (size_t) n, false);
                return r;
        }
        strv_free(*ret, *ret_n, false);
        *ret = v;
        *ret_n = (size_t) n;
        return 0;
}

/* get_workstations for an entry's list, whose count is a uint32_t (bounded by POLICY_WORKSTATIONS_MAX). */
static int get_approval_workstations(struct parser *ps, const struct pconf_node *s, const char *field,
                                     struct policy_approval *a) {
        size_t n = 0;
        int r = get_workstations(ps, s, field, &a->workstations, &n);

        a->n_workstations = (uint32_t) n;
        return r;
}

enum key_kind {
        KEY_PERMIT,
        KEY_TEXT,                     /* optional free text */
        KEY_APPROVED_BY,
        KEY_APPROVED_ON,
        KEY_VALID_FROM,
        KEY_VALID_UNTIL,
        KEY_VENDOR,
        KEY_PRODUCT,
        KEY_SERIAL,
        KEY_INTERFACES,
        KEY_UNLISTED,
        KEY_ACCESS,
        KEY_HIDRAW,
        KEY_SCAN,
        KEY_MAC,
        KEY_PATH,
        KEY_KIND,
        KEY_NAME,
        KEY_WIRELESS_MODES,
        KEY_SSID,
        KEY_SSID_HEX,
        KEY_BSSID,
        KEY_SECURITY,
        KEY_WORKSTATIONS,
};

struct key {
        const char *name;
        enum key_kind kind;
        bool required;
};

static const struct key usb_keys[] = {
        { "permit", KEY_PERMIT, true },
        { "vendor", KEY_VENDOR, true },
        { "product", KEY_PRODUCT, true },
        { "serial", KEY_SERIAL, true },
        { "path", KEY_PATH, false },
        { "interfaces", KEY_INTERFACES, false },
        { "unlisted_interfaces", KEY_UNLISTED, false },
        { "access", KEY_ACCESS, false },
        { "hidraw", KEY_HIDRAW, false },
        { "scan", KEY_SCAN, false },
        { "label", KEY_TEXT, false },
        { "purpose", KEY_TEXT, false },
        { "holder", KEY_TEXT, false },
        { "workstations", KEY_WORKSTATIONS, false },
        { "approved_by", KEY_APPROVED_BY, true },
        { "approved_on", KEY_APPROVED_ON, true },
        { "valid_from", KEY_VALID_FROM, false },
        { "valid_until", KEY_VALID_UNTIL, false },
        {},
};

static const struct key net_keys[] = {
        { "permit", KEY_PERMIT, true },
        { "mac", KEY_MAC, false },
        { "path", KEY_PATH, false },
        { "kind", KEY_KIND, false },
        { "name", KEY_NAME, false },
        { "wireless_modes", KEY_WIRELESS_MODES, false },
        { "label", KEY_TEXT, false },
        { "purpose", KEY_TEXT, false },
        { "holder", KEY_TEXT, false },
        { "workstations", KEY_WORKSTATIONS, false },
        { "approved_by", KEY_APPROVED_BY, true },
        { "approved_on", KEY_APPROVED_ON, true },
        { "valid_from", KEY_VALID_FROM, false },
        { "valid_until", KEY_VALID_UNTIL, false },
        {},
};

static const struct key wireless_keys[] = {
        { "permit", KEY_PERMIT, true },
        { "ssid", KEY_SSID, false },
        { "ssid_hex", KEY_SSID_HEX, false },
        { "bssid", KEY_BSSID, false },
        { "security", KEY_SECURITY, false },
        { "label", KEY_TEXT, false },
        { "purpose", KEY_TEXT, false },
        { "holder", KEY_TEXT, false },
        { "workstations", KEY_WORKSTATIONS, false },
        { "approved_by", KEY_APPROVED_BY, true },
        { "approved_on", KEY_APPROVED_ON, true },
        { "valid_from", KEY_VALID_FROM, false },
        { "valid_until", KEY_VALID_UNTIL, false },
        {},
};

static const struct key *key_find(const struct key *keys, const char *name) {
        for (const struct key *k = keys; k->name; k++)
                if (k->name[0] == name[0] && streq(k->name, name))
                        return k;
        return NULL;
}

static const struct key *key_find_cached(struct parser *ps, const struct key *keys, const char *name) {
        struct key_cache_slot *slot = &ps->key_cache[((uintptr_t) name / 8) % KEY_CACHE_SLOTS];

        if (slot->name != name || slot->keys != keys)
                *slot = (struct key_cache_slot) { name, keys, key_find(keys, name) };
        return slot->k;
}

static bool seen_key(const struct key *keys, const bool *seen, const char *name) {
        return seen[key_find(keys, name) - keys];
}

static char **text_field(struct policy_approval *a, const char *name) {
        if (streq(name, "label"))
                return &a->label;
        if (streq(name, "purpose"))
                return &a->purpose;
        return &a->holder;
}

/* What the cross-entry checks need to know of an entry, beyond the struct itself. */
struct entry_state {
        unsigned permit_line;
        bool identity_ok;             /* vendor, product and serial parsed */
        bool window_ok;               /* valid_from/valid_until parsed and consistent */
};

static const char *const unlisted_words[] = { "block-device", "disable", NULL };
static const char *const access_words[] = { "read-write", "read-only", NULL };
static const char *const hidraw_words[] = { "root", "user", NULL };
/* In enum policy_scan's order from POLICY_SCAN_NONE: the word's index + 1 is its value. */
static const char *const scan_words[] = { "none", "required", "in-and-out", NULL };
#define SCAN_WORDS_EXPECTED "\"none\", \"required\" or \"in-and-out\""

const char *policy_scan_to_string(enum policy_scan s) {
        return s > POLICY_SCAN_DEFAULT && s < _POLICY_SCAN_MAX ? scan_words[s - 1] : NULL;
}

/* `wireless_modes = [ "ap", "monitor" ]`: the modes a network entry lets its link be in. */
static int get_wireless_modes(struct parser *ps, const struct pconf_node *s, const char *field, unsigned *ret) {
        char f[FIELD_MAX + 16], q[QUOTE_MAX];
        unsigned modes = 0;
        int r = 0;

        if (pconf_type(s) != PCONF_ARRAY || (int) pconf_length(s) == 0) {
                fail_at(ps, line_of(s), field, "expected a non-empty array of strings, e.g. [ \"ap\" ]");
                return -EINVAL;
        }
        for (int i = 0; i < (int) pconf_length(s); i++) {
                const struct pconf_node *el = pconf_elem(s, (size_t) i);
                enum wireless_mode m;
                const char *v;

                indexed(f, sizeof f, field, 127, (size_t) i);
                if (get_string(ps, el, f, POLICY_STRING_MAX, STR_OPTIONAL, &v) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (wireless_mode_from_permit_name(v, &m) < 0) {
                        fail_at(ps, line_of(el), f, "expected \"ap\", \"p2p-go\", \"mesh\", \"ibss\" or \"monitor\", got \"%s\"",
                                quote(v, q));
                        r = -EINVAL;
                        continue;
                }
                modes |= 1u << m;
        }
        if (r >= 0)
                *ret = modes;
        return r;
}

/* `bssid = [ "02:00:00:00:01:00" ]`: the access points a wireless entry is limited to. */
static int get_bssids(struct parser *ps, const struct pconf_node *s, const char *field, struct policy_wireless_entry *e) {
        char f[FIELD_MAX + 16], q[QUOTE_MAX];
        int r = 0;

        if (pconf_type(s) != PCONF_ARRAY) {
                fail_at(ps, line_of(s), field, "expected an array of MAC addresses, e.g. [ \"02:00:00:00:01:00\" ]");
                return -EINVAL;
        }
        int n = (int) pconf_length(s);
        if (n == 0) {
                fail_at(ps, line_of(s), field, "empty: list at least one access point, or omit the key (any)");
                return -EINVAL;
        }
        if (n > WIRELESS_BSSIDS_MAX) {
                fail_at(ps, line_of(s), field, "more than %d access points", WIRELESS_BSSIDS_MAX);
                return -EINVAL;
        }
        e->bssids = calloc((size_t) n, sizeof *e->bssids);
        if (!e->bssids) {
                ps->oom = true;
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                const struct pconf_node *el = pconf_elem(s, (size_t) i);
                const char *v;

                indexed(f, sizeof f, field, 127, (size_t) i);
                if (get_string(ps, el, f, POLICY_STRING_MAX, STR_OPTIONAL, &v) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (mac_parse(v, strlen(v), HEX_ANY_CASE, e->bssids[i]) < 0) {
                        fail_at(ps, line_of(el), f, "expected a MAC address \"aa:bb:cc:dd:ee:ff\", got \"%s\"", quote(v, q));
                        r = -EINVAL;
                }
        }
        e->n_bssids = (size_t) n;
        return r;
}

/* `ssid` (text) or `ssid_hex` (any bytes: an SSID need not be text). */
static int get_ssid(struct parser *ps, const struct pconf_node *s, const char *field, bool hex,
                    struct policy_wireless_entry *e) {
        char q[QUOTE_MAX];
        const char *v;
        int r = get_string(ps, s, field, POLICY_STRING_MAX, STR_REQUIRED, &v);
        if (r < 0)
                return r;
        size_t n = strlen(v);
        if (hex) {
                if (n % 2 != 0 || n > 2 * WIRELESS_SSID_MAX ||
                    hex_parse_bytes(v, n, 0, HEX_ANY_CASE, e->ssid, n / 2) < 0) {
                        fail_at(ps, line_of(s), field, "expected 2 to %d hex digits (1 to %d bytes), got \"%s\"",
                                2 * WIRELESS_SSID_MAX, WIRELESS_SSID_MAX, quote(v, q));
                        return -EINVAL;
                }
                n /= 2;
        } else {
                if (n > WIRELESS_SSID_MAX) {
                        fail_at(ps, line_of(s), field, "longer than %d bytes (an SSID's limit)", WIRELESS_SSID_MAX);
                        return -EINVAL;
                }
                memcpy(e->ssid, v, n);
        }
        e->ssid_len = n;
        e->ssid_is_hex = hex;
        return 0;
}

static const char *const security_words[] = { "open", "wpa2-psk", "wpa2-enterprise", "wpa3-sae", NULL };

static bool entry_approves_hid(const struct policy_usb_entry *e) {
        for (size_t i = 0; i < e->n_interfaces; i++)
                if (e->interfaces[i].c.cls == USB_CLASS_HID)
                        return true;
        return false;
}

/* Parses one usb, network or wireless entry (a group). USB, NET or WIFI is the struct to fill. */
static void parse_entry(struct parser *ps, const struct pconf_node *g, const char *prefix, const struct key *keys,
                        struct policy_usb_entry *usb, struct policy_net_entry *net, struct policy_wireless_entry *wifi,
                        struct entry_state *st) {
        struct policy_approval *a = usb ? &usb->approval : net ? &net->approval : &wifi->approval;
        const struct pconf_node *unlisted = NULL, *serial = NULL, *hidraw = NULL;
        _Static_assert(ELEMENTSOF(usb_keys) >= ELEMENTSOF(net_keys) && ELEMENTSOF(usb_keys) >= ELEMENTSOF(wireless_keys),
                       "seen[] too small");
        bool seen[ELEMENTSOF(usb_keys)] = {}, ok_ssid = false;
        bool ok_from = true, ok_until = true, ok_vendor = false, ok_product = false, ok_serial = false;
        char f[FIELD_MAX], q[QUOTE_MAX];
        int r;

        a->line = line_of(g);
        a->valid_from = TIME_NEG_INFINITY;
        a->valid_until = TIME_INFINITY;

        for (int i = 0; i < (int) pconf_length(g); i++) {
                const struct pconf_node *s = pconf_elem(g, (size_t) i);
                const char *name = pconf_name(s);
                const struct key *k = key_find_cached(ps, keys, name);

                field_name(f, prefix, name);
                if (!k) {
                        fail_at(ps, line_of(s), f, "unknown key");
                        continue;
                }
                seen[k - keys] = true;

                switch (k->kind) {
                case KEY_PERMIT:
                        if (dup_string(ps, s, f, POLICY_STRING_MAX, STR_REQUIRED, &a->permit) >= 0)
                                st->permit_line = line_of(s);
                        break;
                case KEY_TEXT:
                        (void) dup_string(ps, s, f, POLICY_STRING_MAX, STR_OPTIONAL, text_field(a, name));
                        break;
                case KEY_APPROVED_BY:
                        (void) dup_string(ps, s, f, POLICY_STRING_MAX, STR_REQUIRED, &a->approved_by);
                        break;
                case KEY_WORKSTATIONS:
                        (void) get_approval_workstations(ps, s, f, a);
                        break;
                case KEY_APPROVED_ON:
                        (void) get_time(ps, s, f, false, &a->approved_on, &a->approved_on_text);
                        break;
                case KEY_VALID_FROM:
                        ok_from = get_time(ps, s, f, false, &a->valid_from, &a->valid_from_text) >= 0;
                        break;
                case KEY_VALID_UNTIL:
                        ok_until = get_time(ps, s, f, true, &a->valid_until, &a->valid_until_text) >= 0;
                        break;
                case KEY_VENDOR:
                        ok_vendor = get_hex4(ps, s, f, &usb->vendor) >= 0;
                        break;
                case KEY_PRODUCT:
                        ok_product = get_hex4(ps, s, f, &usb->product) >= 0;
                        break;
                case KEY_SERIAL:
                        ok_serial = dup_string(ps, s, f, USB_STRING_MAX - 1, STR_OPTIONAL, &usb->serial) >= 0;
                        serial = s;
                        break;
                case KEY_INTERFACES:
                        (void) get_interfaces(ps, s, f, usb);
                        break;
                case KEY_UNLISTED:
                        unlisted = s;
                        r = get_word(ps, s, f, unlisted_words, "\"block-device\" or \"disable\"");
                        if (r >= 0)
                                usb->unlisted = r == 0 ? UNLISTED_BLOCK_DEVICE : UNLISTED_DISABLE;
                        break;
                case KEY_ACCESS:
                        r = get_word(ps, s, f, access_words, "\"read-write\" or \"read-only\"");
                        if (r >= 0)
                                usb->read_only = r == 1;
                        break;
                case KEY_HIDRAW:
                        hidraw = s;
                        r = get_word(ps, s, f, hidraw_words, "\"root\" or \"user\"");
                        if (r >= 0)
                                usb->hidraw_user = r == 1;
                        break;
                case KEY_SCAN:
                        r = get_word(ps, s, f, scan_words, SCAN_WORDS_EXPECTED);
                        if (r >= 0)
                                usb->scan = (enum policy_scan) (r + 1);
                        break;
                case KEY_MAC: {
                        const char *v;
                        if (get_string(ps, s, f, POLICY_STRING_MAX, STR_OPTIONAL, &v) < 0)
                                break;
                        if (mac_parse(v, strlen(v), HEX_ANY_CASE, net->mac) < 0) {
                                fail_at(ps, line_of(s), f, "expected a MAC address \"aa:bb:cc:dd:ee:ff\", got \"%s\"", quote(v, q));
                                break;
                        }
                        net->has_mac = true;
                        break;
                }
                case KEY_PATH:
                        /* udev's ID_PATH: of the USB device itself, or of a link's parent device */
                        (void) dup_string(ps, s, f, (usb ? USB_PATH_MAX : NET_PATH_MAX) - 1, STR_REQUIRED,
                                          usb ? &usb->path : &net->path);
                        break;
                case KEY_KIND:
                        (void) dup_string(ps, s, f, NET_KIND_MAX - 1, STR_REQUIRED, &net->kind);
                        break;
                case KEY_NAME:
                        (void) dup_string(ps, s, f, NET_NAME_MAX - 1, STR_REQUIRED, &net->name);
                        break;
                case KEY_WIRELESS_MODES:
                        (void) get_wireless_modes(ps, s, f, &net->wireless_modes);
                        break;
                case KEY_SSID:
                case KEY_SSID_HEX:
                        ok_ssid = get_ssid(ps, s, f, k->kind == KEY_SSID_HEX, wifi) >= 0;
                        break;
                case KEY_BSSID:
                        (void) get_bssids(ps, s, f, wifi);
                        break;
                case KEY_SECURITY:
                        r = get_word(ps, s, f, security_words,
                                     "\"open\", \"wpa2-psk\", \"wpa2-enterprise\" or \"wpa3-sae\"");
                        if (r >= 0)
                                (void) wireless_security_from_policy_name(security_words[r], &wifi->security);
                        break;
                }
        }

        /* Missing keys are reported at the line where the entry starts. */
        for (const struct key *k = keys; k->name; k++)
                if (k->required && !seen[k - keys])
                        fail_at(ps, a->line, field_name(f, prefix, k->name), "missing (required)");

        if (usb) {
                if (!seen_key(keys, seen, "interfaces"))
                        warn_at(ps, a->line, field_name(f, prefix, "interfaces"),
                                "not given: any interface set is approved (a storage device that is also a keyboard would pass)");
                if (unlisted && !seen_key(keys, seen, "interfaces"))
                        warn_at(ps, line_of(unlisted), field_name(f, prefix, "unlisted_interfaces"),
                                "has no effect without interfaces");
                /* Anyone can make a device that reports the vendor:product of an approved model
                 * and no serial; on a fixed port it must at least be plugged there. */
                if (ok_serial && usb->serial[0] == 0 && usb->path)
                        warn_at(ps, line_of(serial), field_name(f, prefix, "serial"),
                                "\"\" approves every unit of this model that reports no serial number, on port \"%s\"",
                                quote(usb->path, q));
                else if (ok_serial && usb->serial[0] == 0)
                        warn_at(ps, line_of(serial), field_name(f, prefix, "serial"),
                                "\"\" approves every unit of this model that reports no serial number (a clone needs "
                                "only vendor:product): binding it to its port narrows it (path; policyctl approve "
                                "--bind-port)");
                if (hidraw && usb->hidraw_user && usb->has_interfaces && !entry_approves_hid(usb))
                        warn_at(ps, line_of(hidraw), field_name(f, prefix, "hidraw"),
                                "has no effect: interfaces approves no HID interface (03:*:*)");
        } else if (net && !seen_key(keys, seen, "mac") && !seen_key(keys, seen, "path") && !seen_key(keys, seen, "kind") &&
                   !seen_key(keys, seen, "name"))
                fail_at(ps, a->line, prefix, "needs at least one of mac, path, kind, name");
        else if (wifi) {
                bool text = seen_key(keys, seen, "ssid"), hex = seen_key(keys, seen, "ssid_hex");
                if (!text && !hex)
                        fail_at(ps, a->line, prefix, "needs ssid (text) or ssid_hex");
                else if (text && hex)
                        fail_at(ps, a->line, prefix, "has both ssid and ssid_hex: give one");
                /* Anyone can name a network anything; without encryption nothing proves it is
                 * the city's. */
                else if (ok_ssid && wifi->security == WIRELESS_SECURITY_OPEN && wifi->n_bssids == 0)
                        warn_at(ps, a->line, field_name(f, prefix, "bssid"),
                                "not given for an open network: any access point that calls itself this is approved");
        }

        if (ok_from && ok_until && a->valid_from_text && a->valid_until_text && a->valid_from >= a->valid_until) {
                char q2[QUOTE_MAX];
                const struct pconf_node *s = pconf_member(g, "valid_from");
                fail_at(ps, line_of(s), field_name(f, prefix, "valid_from"), "\"%s\" is not before valid_until \"%s\"",
                      quote(a->valid_from_text, q), quote(a->valid_until_text, q2));
                ok_from = false;
        }

        st->identity_ok = usb ? ok_vendor && ok_product && ok_serial : wifi ? ok_ssid : false;
        st->window_ok = ok_from && ok_until;
}

/* Parses the list KEY ("usb", "network" or "wireless") into freshly allocated entries. */
static int parse_list(struct parser *ps, const struct pconf_node *list, const char *key, struct policy *p,
                      struct entry_state **ret_states) {
        char prefix[PREFIX_MAX];
        bool is_usb = streq(key, "usb"), is_wifi = streq(key, "wireless");

        if (pconf_type(list) != PCONF_LIST) {
                fail_at(ps, line_of(list), key, "expected a list of groups: %s = ( { ... }, { ... } );", key);
                return -EINVAL;
        }
        size_t n = (size_t) (int) pconf_length(list);
        if (n == 0)
                return 0;

        struct entry_state *states = calloc(n, sizeof(struct entry_state));
        void *entries = calloc(n, is_usb ? sizeof(struct policy_usb_entry) :
                                  is_wifi ? sizeof(struct policy_wireless_entry) : sizeof(struct policy_net_entry));
        if (!states || !entries) {
                free(states);
                free(entries);
                ps->oom = true;
                return -ENOMEM;
        }
        if (is_usb) {
                p->usb = entries;
                p->n_usb = n;
        } else if (is_wifi) {
                p->wireless = entries;
                p->n_wireless = n;
        } else {
                p->net = entries;
                p->n_net = n;
        }
        *ret_states = states;

        for (size_t i = 0; i < n; i++) {
                const struct pconf_node *g = pconf_elem(list, (size_t) i);

                indexed(prefix, sizeof prefix, key, SIZE_MAX, i);
                if (pconf_type(g) != PCONF_GROUP) {
                        struct policy_approval *a = is_usb ? &p->usb[i].approval :
                                                    is_wifi ? &p->wireless[i].approval : &p->net[i].approval;
                        a->line = line_of(g);
                        a->valid_from = TIME_NEG_INFINITY;
                        a->valid_until = TIME_INFINITY;
                        fail_at(ps, line_of(g), prefix, "expected a group { ... }");
                        continue;
                }
                if (is_wifi)
                        p->wireless[i].security = WIRELESS_SECURITY_WPA2_PSK;  /* open only if an entry says so */
                parse_entry(ps, g, prefix, is_usb ? usb_keys : is_wifi ? wireless_keys : net_keys,
                            is_usb ? &p->usb[i] : NULL, !is_usb && !is_wifi ? &p->net[i] : NULL,
                            is_wifi ? &p->wireless[i] : NULL, &states[i]);
        }
        return 0;
}

/* ---- media entries and fixed disks ------------------------------------------------------ */

static const char *const bus_words[] = { "mmc", "optical", "nvme", "ata", "scsi", "virtio", NULL };

/* The identity keys media entries and fixed disks share: bus, vendor, model, serial, path (and
 * for media, mmc's oemid and date). Returns true if NAME was one of them (handled). */
struct media_keys {
        bool seen_bus, ok_bus;
        enum media_bus bus;
        char **vendor, **model, **serial, **oemid, **date, **path;
        const struct pconf_node *oemid_s, *date_s;
};

static bool media_identity_key(struct parser *ps, const struct pconf_node *s, const char *name, const char *f,
                               struct media_keys *k) {
        char **target = NULL;
        size_t max = MEDIA_STRING_MAX - 1;

        if (streq(name, "bus")) {
                k->seen_bus = true;
                int r = get_word(ps, s, f, bus_words, "\"mmc\", \"optical\", \"nvme\", \"ata\", \"scsi\" or \"virtio\"");
                if (r >= 0) {
                        k->bus = (enum media_bus) r;
                        k->ok_bus = true;
                }
                return true;
        }
        if (streq(name, "vendor"))
                target = k->vendor;
        else if (streq(name, "model"))
                target = k->model;
        else if (streq(name, "serial"))
                target = k->serial;
        else if (streq(name, "path")) {
                target = k->path;
                max = MEDIA_PATH_MAX - 1;
        } else if (k->oemid && streq(name, "oemid")) {
                target = k->oemid;
                k->oemid_s = s;
                max = MEDIA_SHORT_MAX - 1;
        } else if (k->date && streq(name, "date")) {
                target = k->date;
                k->date_s = s;
                max = MEDIA_SHORT_MAX - 1;
        } else
                return false;
        /* Empty would compare equal to a field the medium does not have: say so by leaving the
         * key out instead. */
        (void) dup_string(ps, s, f, max, STR_REQUIRED, target);
        return true;
}

/* What both kinds of entry must satisfy once every key is read. */
static void media_identity_check(struct parser *ps, unsigned line, const char *prefix, struct media_keys *k) {
        char f[FIELD_MAX];

        if (!k->seen_bus)
                fail_at(ps, line, field_name(f, prefix, "bus"), "missing (required)");
        if (!*k->serial && !*k->path)
                fail_at(ps, line, prefix, "needs a serial or a path: an entry without either would cover every medium "
                        "of its kind");
        if (k->ok_bus && k->bus != MEDIA_BUS_MMC) {
                if (k->oemid_s)
                        fail_at(ps, line_of(k->oemid_s), field_name(f, prefix, "oemid"), "only SD/MMC cards (bus \"mmc\") have one");
                if (k->date_s)
                        fail_at(ps, line_of(k->date_s), field_name(f, prefix, "date"), "only SD/MMC cards (bus \"mmc\") have one");
        }
}

static void parse_media_entry(struct parser *ps, const struct pconf_node *g, const char *prefix,
                              struct policy_media_entry *e, struct entry_state *st) {
        struct policy_approval *a = &e->approval;
        struct media_keys k = { .vendor = &e->vendor, .model = &e->model, .serial = &e->serial, .oemid = &e->oemid,
                                .date = &e->date, .path = &e->path };
        bool seen_permit = false, seen_by = false, seen_on = false, ok_from = true, ok_until = true;
        char f[FIELD_MAX], q[QUOTE_MAX];

        a->line = line_of(g);
        a->valid_from = TIME_NEG_INFINITY;
        a->valid_until = TIME_INFINITY;

        for (int i = 0; i < (int) pconf_length(g); i++) {
                const struct pconf_node *s = pconf_elem(g, (size_t) i);
                const char *name = pconf_name(s);

                field_name(f, prefix, name);
                if (media_identity_key(ps, s, name, f, &k))
                        continue;
                if (streq(name, "permit")) {
                        seen_permit = true;
                        if (dup_string(ps, s, f, POLICY_STRING_MAX, STR_REQUIRED, &a->permit) >= 0)
                                st->permit_line = line_of(s);
                } else if (streq(name, "access")) {
                        int r = get_word(ps, s, f, access_words, "\"read-write\" or \"read-only\"");
                        if (r >= 0)
                                e->read_only = r == 1;
                } else if (streq(name, "scan")) {
                        int r = get_word(ps, s, f, scan_words, SCAN_WORDS_EXPECTED);
                        if (r >= 0)
                                e->scan = (enum policy_scan) (r + 1);
                } else if (streq(name, "label") || streq(name, "purpose") || streq(name, "holder"))
                        (void) dup_string(ps, s, f, POLICY_STRING_MAX, STR_OPTIONAL, text_field(a, name));
                else if (streq(name, "workstations"))
                        (void) get_approval_workstations(ps, s, f, a);
                else if (streq(name, "approved_by")) {
                        seen_by = true;
                        (void) dup_string(ps, s, f, POLICY_STRING_MAX, STR_REQUIRED, &a->approved_by);
                } else if (streq(name, "approved_on")) {
                        seen_on = true;
                        (void) get_time(ps, s, f, false, &a->approved_on, &a->approved_on_text);
                } else if (streq(name, "valid_from"))
                        ok_from = get_time(ps, s, f, false, &a->valid_from, &a->valid_from_text) >= 0;
                else if (streq(name, "valid_until"))
                        ok_until = get_time(ps, s, f, true, &a->valid_until, &a->valid_until_text) >= 0;
                else
                        fail_at(ps, line_of(s), f, "unknown key");
        }

        if (!seen_permit)
                fail_at(ps, a->line, field_name(f, prefix, "permit"), "missing (required)");
        if (!seen_by)
                fail_at(ps, a->line, field_name(f, prefix, "approved_by"), "missing (required)");
        if (!seen_on)
                fail_at(ps, a->line, field_name(f, prefix, "approved_on"), "missing (required)");
        media_identity_check(ps, a->line, prefix, &k);
        e->bus = k.bus;
        /* A drive's discs have no identity of their own: a path is the normal optical permit.
         * Anything else without a serial is every medium of that model in that slot. */
        if (k.ok_bus && k.bus != MEDIA_BUS_OPTICAL && !e->serial && e->path)
                warn_at(ps, a->line, field_name(f, prefix, "serial"),
                        "not given: the entry approves every %s medium in the slot \"%s\"", bus_words[k.bus],
                        quote(e->path, q));

        if (ok_from && ok_until && a->valid_from_text && a->valid_until_text && a->valid_from >= a->valid_until) {
                char q2[QUOTE_MAX];
                const struct pconf_node *s = pconf_member(g, "valid_from");
                fail_at(ps, line_of(s), field_name(f, prefix, "valid_from"), "\"%s\" is not before valid_until \"%s\"",
                        quote(a->valid_from_text, q), quote(a->valid_until_text, q2));
                ok_from = false;
        }
        st->identity_ok = k.ok_bus;
        st->window_ok = ok_from && ok_until;
}

static void parse_fixed_disk(struct parser *ps, const struct pconf_node *g, const char *prefix,
                             struct policy_fixed_disk *d) {
        struct media_keys k = { .vendor = &d->vendor, .model = &d->model, .serial = &d->serial, .path = &d->path };
        char f[FIELD_MAX];

        d->line = line_of(g);
        for (int i = 0; i < (int) pconf_length(g); i++) {
                const struct pconf_node *s = pconf_elem(g, (size_t) i);
                const char *name = pconf_name(s);

                field_name(f, prefix, name);
                if (media_identity_key(ps, s, name, f, &k))
                        continue;
                if (streq(name, "label"))
                        (void) dup_string(ps, s, f, POLICY_STRING_MAX, STR_OPTIONAL, &d->label);
                else
                        fail_at(ps, line_of(s), f, "unknown key");
        }
        media_identity_check(ps, d->line, prefix, &k);
        d->bus = k.bus;
        /* A disc is a medium whatever drive it is in. */
        if (k.ok_bus && k.bus == MEDIA_BUS_OPTICAL)
                fail_at(ps, d->line, field_name(f, prefix, "bus"), "an optical drive cannot be a fixed disk: its discs are "
                        "media (approve the drive with a media entry)");
}

/* `media` (entries with approvals) or `fixed_disks`. */
static int parse_media_list(struct parser *ps, const struct pconf_node *list, const char *key, struct policy *p,
                            struct entry_state **ret_states) {
        char prefix[PREFIX_MAX];
        bool fixed = streq(key, "fixed_disks");

        if (pconf_type(list) != PCONF_LIST) {
                fail_at(ps, line_of(list), key, "expected a list of groups: %s = ( { ... }, { ... } );", key);
                return -EINVAL;
        }
        size_t n = (size_t) (int) pconf_length(list);
        if (n == 0)
                return 0;
        if (fixed) {
                p->fixed = calloc(n, sizeof(struct policy_fixed_disk));
                if (!p->fixed) {
                        ps->oom = true;
                        return -ENOMEM;
                }
                p->n_fixed = n;
        } else {
                struct entry_state *states = calloc(n, sizeof(struct entry_state));
                p->media = calloc(n, sizeof(struct policy_media_entry));
                if (!states || !p->media) {
                        free(states);
                        p->media = mfree(p->media);
                        ps->oom = true;
                        return -ENOMEM;
                }
                p->n_media = n;
                *ret_states = states;
        }
        for (size_t i = 0; i < n; i++) {
                const struct pconf_node *g = pconf_elem(list, (size_t) i);

                indexed(prefix, sizeof prefix, key, SIZE_MAX, i);
                if (pconf_type(g) != PCONF_GROUP) {
                        if (fixed)
                                p->fixed[i].line = line_of(g);
                        else {
                                p->media[i].approval.line = line_of(g);
                                p->media[i].approval.valid_from = TIME_NEG_INFINITY;
                                p->media[i].approval.valid_until = TIME_INFINITY;
                        }
                        fail_at(ps, line_of(g), prefix, "expected a group { ... }");
                        continue;
                }
                if (fixed)
                        parse_fixed_disk(ps, g, prefix, &p->fixed[i]);
                else
                        parse_media_entry(ps, g, prefix, &p->media[i], &(*ret_states)[i]);
        }
        return 0;
}

static const char *const action_words[] = { "block", "allow", NULL };

static void parse_defaults(struct parser *ps, const struct pconf_node *g, struct policy *p) {
        char f[FIELD_MAX];

        if (pconf_type(g) != PCONF_GROUP) {
                fail_at(ps, line_of(g), "defaults", "expected a group { usb_hid = \"allow\"; ... }");
                return;
        }
        for (int i = 0; i < (int) pconf_length(g); i++) {
                const struct pconf_node *s = pconf_elem(g, (size_t) i);
                const char *name = pconf_name(s);
                enum policy_action *target;

                field_name(f, "defaults", name);
                if (streq(name, "usb_hid"))
                        target = &p->default_usb_hid;
                else if (streq(name, "usb_hub"))
                        target = &p->default_usb_hub;
                else if (streq(name, "usb_other"))
                        target = &p->default_usb_other;
                else if (streq(name, "network"))
                        target = &p->default_network;
                else if (streq(name, "wireless"))
                        target = &p->default_wireless;
                else if (streq(name, "media"))
                        target = &p->default_media;
                else if (streq(name, "scan")) {
                        int r = get_word(ps, s, f, scan_words, SCAN_WORDS_EXPECTED);
                        if (r >= 0)
                                p->default_scan = (enum policy_scan) (r + 1);
                        continue;
                } else {
                        fail_at(ps, line_of(s), f, "unknown key");
                        continue;
                }
                int r = get_word(ps, s, f, action_words, "\"allow\" or \"block\"");
                if (r >= 0)
                        *target = r == 1 ? POLICY_ALLOW : POLICY_BLOCK;
        }
}

/* The scan group: the bounds of every virus scan (docs/policy.md "scan"). */
static void parse_scan_limits(struct parser *ps, const struct pconf_node *g, struct policy *p) {
        static const struct {
                const char *name;
                size_t offset;
                int64_t min, max;
        } keys[] = {
                { "max_seconds", offsetof(struct policy_scan_limits, max_seconds), 1, POLICY_SCAN_SECONDS_MAX },
                { "max_megabytes", offsetof(struct policy_scan_limits, max_megabytes), 1, POLICY_SCAN_MEGABYTES_MAX },
                { "max_database_days", offsetof(struct policy_scan_limits, max_database_days), 0,
                  POLICY_SCAN_DATABASE_DAYS_MAX },
        };
        char f[FIELD_MAX];

        if (pconf_type(g) != PCONF_GROUP) {
                fail_at(ps, line_of(g), "scan", "expected a group { max_seconds = 900; ... }");
                return;
        }
        for (int i = 0; i < (int) pconf_length(g); i++) {
                const struct pconf_node *s = pconf_elem(g, (size_t) i);
                const char *name = pconf_name(s);
                size_t k = 0;
                int64_t v;

                field_name(f, "scan", name);
                while (k < ELEMENTSOF(keys) && !streq(keys[k].name, name))
                        k++;
                if (k == ELEMENTSOF(keys)) {
                        fail_at(ps, line_of(s), f, "unknown key");
                        continue;
                }
                if (get_int64(ps, s, f, &v) < 0)
                        continue;
                if (v < keys[k].min || v > keys[k].max) {
                        fail_at(ps, line_of(s), f, "must be %" PRId64 "..%" PRId64 ", got %" PRId64, keys[k].min,
                                keys[k].max, v);
                        continue;
                }
                *(int64_t *) ((char *) &p->scan_limits + keys[k].offset) = v;
        }
}

/* Entries named in cross-entry messages: "usb[3]" or "network[0]". */
struct entry_ref {
        const char *permit;
        const char *list;
        size_t index;
        unsigned line;
        const struct policy_usb_entry *usb;
};

static uint64_t hash_bytes(uint64_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(1099511628211);
        return h;
}

/* Keeps, in order, the REFS (N) whose key another of them shares (EQUAL; HASH agreeing for
 * equal keys); returns how many. Only those can be reported by the checks across entries, and
 * sorting only them spares a 100,000-entry policy two sorts of all its entries. -ENOMEM. */
static ssize_t keep_shared(struct entry_ref *refs, size_t n, uint64_t (*hash)(const struct entry_ref *),
                           bool (*equal)(const struct entry_ref *, const struct entry_ref *)) {
        size_t size = 16;
        while (size < 2 * n)
                size *= 2;
        if (n >= UINT32_MAX)
                return -ENOMEM;
        /* the first of each key (+ 1), and every entry's hash: keys are compared on equal hashes */
        _cleanup_free_ uint32_t *slots = calloc(size, sizeof *slots);
        _cleanup_free_ uint64_t *hashes = malloc(n * sizeof *hashes + 1);
        _cleanup_free_ bool *shared = calloc(n, sizeof *shared);
        if (!slots || !hashes || !shared)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                uint64_t hi = hashes[i] = hash(&refs[i]);
                for (size_t h = (size_t) hi & (size - 1);; h = (h + 1) & (size - 1)) {
                        uint32_t f = slots[h];
                        if (f == 0) {
                                slots[h] = (uint32_t) (i + 1);
                                break;
                        }
                        if (hashes[f - 1] == hi && equal(&refs[f - 1], &refs[i])) {
                                shared[f - 1] = shared[i] = true;
                                break;
                        }
                }
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (shared[i])
                        refs[k++] = refs[i];
        return (ssize_t) k;
}

static uint64_t permit_hash(const struct entry_ref *r) {
        return hash_bytes(UINT64_C(14695981039346656037), r->permit);
}

static bool permit_equal(const struct entry_ref *a, const struct entry_ref *b) {
        return streq(a->permit, b->permit);
}

static int permit_cmp(const void *a, const void *b) {
        const struct entry_ref *x = a, *y = b;
        int c = strcmp(x->permit, y->permit);
        if (c != 0)
                return c;
        return x->line < y->line ? -1 : x->line > y->line;
}

static void check_duplicate_permits(struct parser *ps, const struct policy *p, const struct entry_state *usb_st,
                                    const struct entry_state *net_st, const struct entry_state *wifi_st,
                                    const struct entry_state *media_st) {
        _cleanup_free_ struct entry_ref *refs = NULL;
        size_t n = 0;
        char f[FIELD_MAX], q[QUOTE_MAX];

        if (p->n_usb + p->n_net + p->n_wireless + p->n_media == 0)
                return;
        refs = calloc(p->n_usb + p->n_net + p->n_wireless + p->n_media, sizeof(struct entry_ref));
        if (!refs) {
                ps->oom = true;
                return;
        }
        for (size_t i = 0; i < p->n_usb; i++)
                if (p->usb[i].approval.permit)
                        refs[n++] = (struct entry_ref) { p->usb[i].approval.permit, "usb", i, usb_st[i].permit_line, NULL };
        for (size_t i = 0; i < p->n_net; i++)
                if (p->net[i].approval.permit)
                        refs[n++] = (struct entry_ref) { p->net[i].approval.permit, "network", i, net_st[i].permit_line, NULL };
        for (size_t i = 0; i < p->n_wireless; i++)
                if (p->wireless[i].approval.permit)
                        refs[n++] = (struct entry_ref) { p->wireless[i].approval.permit, "wireless", i, wifi_st[i].permit_line,
                                                         NULL };
        for (size_t i = 0; i < p->n_media; i++)
                if (p->media[i].approval.permit)
                        refs[n++] = (struct entry_ref) { p->media[i].approval.permit, "media", i, media_st[i].permit_line, NULL };
        ssize_t k = keep_shared(refs, n, permit_hash, permit_equal);
        if (k < 0) {
                ps->oom = true;
                return;
        }
        n = (size_t) k;
        qsort(refs, n, sizeof(struct entry_ref), permit_cmp);

        for (size_t i = 1, first = 0; i < n; i++) {
                if (!streq(refs[i].permit, refs[first].permit)) {
                        first = i;
                        continue;
                }
                snprintf(f, sizeof f, "%s[%zu].permit", refs[i].list, refs[i].index);
                fail_at(ps, refs[i].line, f, "duplicate permit \"%s\" (first at line %u)", quote(refs[i].permit, q),
                      refs[first].line);
        }
}

static int device_cmp(const void *a, const void *b) {
        const struct entry_ref *x = a, *y = b;
        const struct policy_usb_entry *u = x->usb, *v = y->usb;
        if (u->vendor != v->vendor)
                return u->vendor < v->vendor ? -1 : 1;
        if (u->product != v->product)
                return u->product < v->product ? -1 : 1;
        int c = strcmp(u->serial, v->serial);
        if (c != 0)
                return c;
        /* Entries for any port (no path) first. */
        if (!u->path != !v->path)
                return u->path ? 1 : -1;
        c = u->path ? strcmp(u->path, v->path) : 0;
        if (c != 0)
                return c;
        if (u->approval.valid_from != v->approval.valid_from)
                return u->approval.valid_from < v->approval.valid_from ? -1 : 1;
        return x->line < y->line ? -1 : x->line > y->line;
}

static bool same_model_serial(const struct policy_usb_entry *u, const struct policy_usb_entry *v) {
        return u->vendor == v->vendor && u->product == v->product && streq(u->serial, v->serial);
}

static uint64_t model_serial_hash(const struct entry_ref *r) {
        const struct policy_usb_entry *u = r->usb;
        return hash_bytes(UINT64_C(14695981039346656037) ^ ((uint64_t) u->vendor << 16 | u->product), u->serial);
}

static bool model_serial_equal(const struct entry_ref *a, const struct entry_ref *b) {
        return same_model_serial(a->usb, b->usb);
}

/* The same device on the same port (or both on any port). */
static bool same_device(const struct policy_usb_entry *u, const struct policy_usb_entry *v) {
        return same_model_serial(u, v) && streq_ptr(u->path, v->path);
}

static void report_overlap(struct parser *ps, const struct entry_ref *later, const struct entry_ref *earlier) {
        char f[FIELD_MAX], q[QUOTE_MAX];
        const struct policy_usb_entry *u = later->usb;

        snprintf(f, sizeof f, "usb[%zu]", later->index);
        fail_at(ps, later->line, f, "device %04x:%04x serial \"%s\" is also approved by usb[%zu] (line %u) for an overlapping time",
                u->vendor, u->product, quote(u->serial, q), earlier->index, earlier->line);
}

/* REFS[from, to) are one device's entries for any port (no path), sorted by valid_from; B is an
 * entry for one port. When the entries for any port do not overlap each other (the first pass
 * reports it if they do), their ends are sorted too, and the last one starting before B ends is
 * the only one that can overlap B. */
static void check_port_against_any(struct parser *ps, const struct entry_ref *refs, size_t from, size_t to,
                                   const struct entry_ref *b) {
        size_t lo = from, hi = to;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (refs[mid].usb->approval.valid_from < b->usb->approval.valid_until)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo > from && refs[lo - 1].usb->approval.valid_until > b->usb->approval.valid_from)
                report_overlap(ps, b, &refs[lo - 1]);
}

/* Two entries for one device whose windows overlap would make the decision depend on which one
 * a lookup finds first; an admin renewing a permit gives the new one a later valid_from. Entries
 * bound to different ports (path) never match the same plug; an entry for any port overlaps
 * every port's. */
static void check_overlapping_devices(struct parser *ps, const struct policy *p, const struct entry_state *st) {
        _cleanup_free_ struct entry_ref *refs = NULL;
        size_t n = 0;

        if (p->n_usb < 2)
                return;
        refs = calloc(p->n_usb, sizeof(struct entry_ref));
        if (!refs) {
                ps->oom = true;
                return;
        }
        for (size_t i = 0; i < p->n_usb; i++)
                if (st[i].identity_ok && st[i].window_ok)
                        refs[n++] = (struct entry_ref) { .list = "usb", .index = i, .line = p->usb[i].approval.line,
                                                         .usb = &p->usb[i] };
        /* Entries overlap only within one vendor:product:serial. */
        ssize_t k = keep_shared(refs, n, model_serial_hash, model_serial_equal);
        if (k < 0) {
                ps->oom = true;
                return;
        }
        n = (size_t) k;
        qsort(refs, n, sizeof(struct entry_ref), device_cmp);

        /* Sorted by valid_from within a device: an entry overlaps an earlier one exactly when it
         * starts before the latest end seen so far. */
        for (size_t i = 1, latest = 0; i < n; i++) {
                if (!same_device(refs[i].usb, refs[latest].usb)) {
                        latest = i;
                        continue;
                }
                const struct policy_usb_entry *u = refs[i].usb, *l = refs[latest].usb;
                if (u->approval.valid_from < l->approval.valid_until)
                        report_overlap(ps, &refs[i], &refs[latest]);
                if (u->approval.valid_until > l->approval.valid_until)
                        latest = i;
        }

        /* Within one vendor:product:serial, the entries for any port come first. */
        for (size_t i = 0, any_end = 0, group = 0; i < n; i++) {
                if (!same_model_serial(refs[i].usb, refs[group].usb)) {
                        group = i;
                        any_end = i;
                }
                if (!refs[i].usb->path)
                        any_end = i + 1;
                else if (any_end > group)
                        check_port_against_any(ps, refs, group, any_end, &refs[i]);
        }
}

/* The next "@include" in [P, END), or NULL. memchr for the '@' first: a policy rarely has one,
 * and memmem's search was slower than the rest of this scan. */
static const char *next_include(const char *p, const char *end) {
        while ((p = memchr(p, '@', (size_t) (end - p)))) {
                if ((size_t) (end - p) >= 8 && memcmp(p, "@include", 8) == 0)
                        return p;
                p++;
        }
        return NULL;
}

/* Refuses what must never be read: an embedded NUL (libconfig read a file only up to it, while
 * the signature covers all of it) and @include (the included file is not signed). */
static void prescan(struct parser *ps) {
        const char *t = ps->text, *end = ps->text + ps->len, *counted = t;
        unsigned line = 1;

        /* Whole-buffer searches: a 40 MB policy has a million lines. */
        for (const char *p = t; p < end && (p = next_include(p, end)); p += 8) {
                const char *b = p;
                while (b > t && strchr(" \t\r\f\v", b[-1]) && b[-1])
                        b--;
                if (b > t && b[-1] != '\n')
                        continue;
                for (; (counted = memchr(counted, '\n', (size_t) (p - counted))); counted++)
                        line++;
                counted = p;
                fail_at(ps, line, NULL, "@include is refused: an included file would not be covered by the signature");
        }
        const char *nul = memchr(t, 0, ps->len);
        if (nul) {
                line = 1;
                for (const char *p = t; (p = memchr(p, '\n', (size_t) (nul - p))); p++)
                        line++;
                fail_at(ps, line, NULL, "contains a NUL byte");
        }
}

/* An entry limited to some workstations names only workstations the policy is for: a name the
 * policy does not list would be an entry that applies nowhere (a typo the approver must see). */
static void check_one_workstations(struct parser *ps, const struct policy *p, const struct policy_approval *a,
                                   const char *list, size_t i) {
        char f[FIELD_MAX], q[QUOTE_MAX];

        if (p->n_workstations == 0)
                return;
        for (size_t j = 0; j < a->n_workstations; j++)
                if (!policy_names_host(p->workstations, p->n_workstations, a->workstations[j], NULL)) {
                        snprintf(f, sizeof f, "%s[%zu].workstations", list, i);
                        fail_at(ps, a->line, f, "\"%s\" is not one of the policy's workstations (%s)",
                                quote(a->workstations[j], q), p->workstation);
                }
}

static void check_entry_workstations(struct parser *ps, const struct policy *p) {
        for (size_t i = 0; i < p->n_usb; i++)
                check_one_workstations(ps, p, &p->usb[i].approval, "usb", i);
        for (size_t i = 0; i < p->n_net; i++)
                check_one_workstations(ps, p, &p->net[i].approval, "network", i);
        for (size_t i = 0; i < p->n_wireless; i++)
                check_one_workstations(ps, p, &p->wireless[i].approval, "wireless", i);
        for (size_t i = 0; i < p->n_media; i++)
                check_one_workstations(ps, p, &p->media[i].approval, "media", i);
}

static void parse_root(struct parser *ps, const struct pconf_node *root, struct policy *p,
                       struct entry_state **usb_st, struct entry_state **net_st, struct entry_state **wifi_st,
                       struct entry_state **media_st) {
        static const char *const required[] = { "kyoka_policy", "serial", "issued", "issuer", "contract" };

        for (int i = 0; i < (int) pconf_length(root); i++) {
                const struct pconf_node *s = pconf_elem(root, (size_t) i);
                const char *name = pconf_name(s);
                int64_t v;

                if (streq(name, "kyoka_policy")) {
                        if (get_int64(ps, s, name, &v) < 0)
                                continue;
                        if (v != POLICY_FORMAT_VERSION)
                                fail_at(ps, line_of(s), name, "unsupported format version %" PRId64 " (this kyoka reads %d)",
                                      v, POLICY_FORMAT_VERSION);
                        else
                                p->version = (int) v;
                } else if (streq(name, "serial")) {
                        if (get_int64(ps, s, name, &v) < 0)
                                continue;
                        if (v <= 0)
                                fail_at(ps, line_of(s), name, "must be a positive integer, got %" PRId64, v);
                        else
                                p->serial = (uint64_t) v;
                } else if (streq(name, "issued"))
                        (void) get_time(ps, s, name, false, &p->issued, &p->issued_text);
                else if (streq(name, "issuer"))
                        (void) dup_string(ps, s, name, POLICY_STRING_MAX, STR_REQUIRED, &p->issuer);
                else if (streq(name, "contract"))
                        (void) dup_string(ps, s, name, POLICY_STRING_MAX, STR_REQUIRED, &p->contract);
                else if (streq(name, "contractor"))
                        (void) dup_string(ps, s, name, POLICY_STRING_MAX, STR_OPTIONAL, &p->contractor);
                else if (streq(name, "responsible"))
                        (void) dup_string(ps, s, name, POLICY_STRING_MAX, STR_OPTIONAL, &p->responsible);
                else if (streq(name, "workstation")) {
                        if (get_workstations(ps, s, name, &p->workstations, &p->n_workstations) < 0)
                                continue;
                        free(p->workstation);
                        p->workstation = workstations_join(p->workstations, p->n_workstations);
                        if (!p->workstation)
                                ps->oom = true;
                } else if (streq(name, "valid_until"))
                        (void) get_time(ps, s, name, true, &p->valid_until, &p->valid_until_text);
                else if (streq(name, "defaults"))
                        parse_defaults(ps, s, p);
                else if (streq(name, "scan"))
                        parse_scan_limits(ps, s, p);
                else if (streq(name, "usb"))
                        (void) parse_list(ps, s, name, p, usb_st);
                else if (streq(name, "network"))
                        (void) parse_list(ps, s, name, p, net_st);
                else if (streq(name, "wireless"))
                        (void) parse_list(ps, s, name, p, wifi_st);
                else if (streq(name, "media") || streq(name, "fixed_disks"))
                        (void) parse_media_list(ps, s, name, p, media_st);
                else
                        fail_at(ps, line_of(s), name, "unknown key");
        }

        /* The file has no line of its own for a missing header key: line 1 is where it belongs. */
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!pconf_member(root, required[i]))
                        fail_at(ps, 1, required[i], "missing (required)");
        check_entry_workstations(ps, p);
}

static int msg_cmp(const void *a, const void *b) {
        const struct message *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the messages, sorted into file order, on to DIAG (appended). */
static int diag_take(struct parser *ps, struct policy_diag *diag) {
        if (!diag || ps->n_messages == 0)
                return 0;
        qsort(ps->messages, ps->n_messages, sizeof(struct message), msg_cmp);

        size_t extra = ps->n_dropped > 0;
        char **m = reallocarray(diag->messages, diag->n_messages + ps->n_messages + extra, sizeof(char *));
        if (!m)
                return -ENOMEM;
        diag->messages = m;
        for (size_t i = 0; i < ps->n_messages; i++)
                m[diag->n_messages++] = TAKE_PTR(ps->messages[i].text);
        if (extra) {
                if (asprintf(&m[diag->n_messages], "%s: %zu more problems not shown", ps->source, ps->n_dropped) < 0)
                        return -ENOMEM;
                diag->n_messages++;
        }
        diag->n_errors += ps->n_errors;
        diag->n_warnings += ps->n_warnings;
        return 0;
}

/* The end of a parse: out of memory, else the messages handed to DIAG, then -EINVAL if any was
 * an error. */
static int parser_finish(struct parser *ps, struct policy_diag *diag) {
        if (ps->oom)
                return -ENOMEM;
        int r = diag_take(ps, diag);
        if (r < 0)
                return r;
        return ps->n_errors > 0 ? -EINVAL : 0;
}

static struct policy *policy_new(const char *source) {
        struct policy *p = calloc(1, sizeof(struct policy));
        if (!p)
                return NULL;
        p->source = strdup(source);
        if (!p->source)
                return mfree(p);
        p->valid_until = TIME_INFINITY;
        p->default_usb_hid = POLICY_ALLOW;
        p->default_usb_hub = POLICY_ALLOW;
        p->default_usb_other = POLICY_BLOCK;
        p->default_network = POLICY_BLOCK;
        p->default_wireless = POLICY_BLOCK;
        p->default_media = POLICY_BLOCK;
        p->scan_limits = (struct policy_scan_limits) {
                .max_seconds = POLICY_SCAN_SECONDS_DEFAULT,
                .max_megabytes = POLICY_SCAN_MEGABYTES_DEFAULT,
                .max_database_days = POLICY_SCAN_DATABASE_DAYS_DEFAULT,
        };
        return p;
}

int policy_parse_tree(const char *text, size_t len, const char *source, struct policy **ret, struct pconf **ret_tree,
                      struct policy_diag *diag) {
        _cleanup_(parser_done) struct parser ps = {
                .source = source ?: "policy",
                .text = text,
                .len = len,
        };
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(pconf_freep) struct pconf *tree = NULL;
        _cleanup_free_ struct entry_state *usb_st = NULL, *net_st = NULL, *wifi_st = NULL, *media_st = NULL;
        struct pconf_error e = {};
        int r;

        if (!text && len > 0)
                return -EINVAL;

        if (len > POLICY_FILE_MAX)
                fail_at(&ps, 1, NULL, "larger than %u MiB", POLICY_FILE_MAX >> 20);
        else
                prescan(&ps);
        if (ps.n_errors > 0)
                goto finish;

        p = policy_new(ps.source);
        if (!p)
                return -ENOMEM;
        r = pconf_parse(text, len, &tree, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fail_at(&ps, MAX(e.line, 1u), NULL, "%s", e.text);
                goto finish;
        }
        /* P's strings are the tree's: P keeps them when the tree goes */
        p->strings = pconf_take_strings(tree);

        parse_root(&ps, pconf_root(tree), p, &usb_st, &net_st, &wifi_st, &media_st);
        if (ps.oom)
                return -ENOMEM;
        check_duplicate_permits(&ps, p, usb_st, net_st, wifi_st, media_st);
        if (usb_st)
                check_overlapping_devices(&ps, p, usb_st);

finish:
        r = parser_finish(&ps, diag);
        if (r < 0)
                return r;

        r = policy_index_build(p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        if (ret_tree)
                *ret_tree = TAKE_PTR(tree);
        return 0;
}

int policy_parse(const char *text, size_t len, const char *source, struct policy **ret, struct policy_diag *diag) {
        return policy_parse_tree(text, len, source, ret, NULL, diag);
}

/* The one new entry U against the entries of P for the same device: what
 * check_overlapping_devices would say of the policy with U added as usb[INDEX]. P is valid, so
 * its own entries do not overlap each other. */
static void check_added_usb_overlap(struct parser *ps, const struct policy *p, const struct policy_usb_entry *u,
                                    size_t index) {
        char f[FIELD_MAX], q[QUOTE_MAX];

        for (size_t i = 0; i < p->n_usb; i++) {
                const struct policy_usb_entry *v = &p->usb[i];
                /* the same port, or either for any port; different ports never match one plug */
                if (!same_model_serial(u, v) || (u->path && v->path && !streq(u->path, v->path)))
                        continue;
                if (u->approval.valid_from >= v->approval.valid_until || v->approval.valid_from >= u->approval.valid_until)
                        continue;
                snprintf(f, sizeof f, "usb[%zu]", index);
                fail_at(ps, u->approval.line, f,
                        "device %04x:%04x serial \"%s\" is also approved by usb[%zu] (line %u) for an overlapping time",
                        u->vendor, u->product, quote(u->serial, q), i, v->approval.line);
        }
}

int policy_parse_added_entry(const struct policy *p, const struct pconf_node *g, const char *key, size_t index,
                             const char *source, struct policy **ret, struct policy_diag *diag) {
        _cleanup_(parser_done) struct parser ps = { .source = source ?: "policy" };
        _cleanup_(policy_freep) struct policy *q = NULL;
        struct entry_state st = {};
        struct policy_approval *a;
        char prefix[PREFIX_MAX], f[FIELD_MAX], qb[QUOTE_MAX];
        int r;

        bool is_usb = streq(key, "usb"), is_net = streq(key, "network"), is_wifi = streq(key, "wireless"),
             is_media = streq(key, "media");
        if (!is_usb && !is_net && !is_wifi && !is_media)
                return -EINVAL;
        q = policy_new(ps.source);
        if (!q)
                return -ENOMEM;
        q->strings_borrowed = true;     /* G's tree is the caller's, and outlives Q */
        snprintf(prefix, sizeof prefix, "%s[%zu]", key, index);
        if (pconf_type(g) != PCONF_GROUP) {
                fail_at(&ps, line_of(g), prefix, "expected a group { ... }");
                goto finish;
        }
        if (is_usb) {
                q->usb = calloc(1, sizeof *q->usb);
                if (!q->usb)
                        return -ENOMEM;
                q->n_usb = 1;
                parse_entry(&ps, g, prefix, usb_keys, q->usb, NULL, NULL, &st);
                a = &q->usb->approval;
        } else if (is_net) {
                q->net = calloc(1, sizeof *q->net);
                if (!q->net)
                        return -ENOMEM;
                q->n_net = 1;
                parse_entry(&ps, g, prefix, net_keys, NULL, q->net, NULL, &st);
                a = &q->net->approval;
        } else if (is_wifi) {
                q->wireless = calloc(1, sizeof *q->wireless);
                if (!q->wireless)
                        return -ENOMEM;
                q->n_wireless = 1;
                q->wireless->security = WIRELESS_SECURITY_WPA2_PSK;
                parse_entry(&ps, g, prefix, wireless_keys, NULL, NULL, q->wireless, &st);
                a = &q->wireless->approval;
        } else {
                q->media = calloc(1, sizeof *q->media);
                if (!q->media)
                        return -ENOMEM;
                q->n_media = 1;
                parse_media_entry(&ps, g, prefix, q->media, &st);
                a = &q->media->approval;
        }
        if (ps.oom)
                return -ENOMEM;

        /* What policy_parse checks across entries, for this one against P's. */
        check_one_workstations(&ps, p, a, key, index);
        if (a->permit && (policy_find_usb_permit(p, a->permit) || policy_find_net_permit(p, a->permit) ||
                          policy_find_wireless_permit(p, a->permit) || policy_find_media_permit(p, a->permit))) {
                snprintf(f, sizeof f, "%s.permit", prefix);
                fail_at(&ps, st.permit_line, f, "duplicate permit \"%s\"", quote(a->permit, qb));
        }
        if (is_usb && st.identity_ok && st.window_ok)
                check_added_usb_overlap(&ps, p, q->usb, index);

finish:
        r = parser_finish(&ps, diag);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(q);
        return 0;
}

int policy_parse_file(const char *path, struct policy **ret, struct policy_diag *diag) {
        _cleanup_free_ char *text = NULL;
        size_t size;

        int r = read_file_bounded(path, POLICY_FILE_MAX, &text, &size);
        if (r < 0)
                return r;
        return policy_parse(text, size, path, ret, diag);
}

void policy_diag_done(struct policy_diag *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_messages; i++)
                free(d->messages[i]);
        free(d->messages);
        *d = (struct policy_diag) {};
}

/* OWN: the strings were allocated each on its own (not the syntax tree's). */
static void approval_done(struct policy_approval *a, bool own) {
        strv_free(a->workstations, a->n_workstations, own);
        if (!own)
                return;
        free(a->permit);
        free(a->label);
        free(a->approved_by);
        free(a->purpose);
        free(a->holder);
        free(a->approved_on_text);
        free(a->valid_from_text);
        free(a->valid_until_text);
}

static void usb_entry_done(struct policy_usb_entry *e, bool own) {
        approval_done(&e->approval, own);
        free(e->interfaces);
        if (!own)
                return;
        free(e->serial);
        free(e->path);
}

static void net_entry_done(struct policy_net_entry *e, bool own) {
        approval_done(&e->approval, own);
        if (!own)
                return;
        free(e->path);
        free(e->kind);
        free(e->name);
}

static void wireless_entry_done(struct policy_wireless_entry *e, bool own) {
        approval_done(&e->approval, own);
        free(e->bssids);
}

static void media_entry_done(struct policy_media_entry *e, bool own) {
        approval_done(&e->approval, own);
        if (!own)
                return;
        free(e->vendor);
        free(e->model);
        free(e->serial);
        free(e->oemid);
        free(e->date);
        free(e->path);
}

struct policy *policy_free(struct policy *p) {
        if (!p)
                return NULL;
        if (p->image)   /* strings in the image's mapping, not allocated here */
                return policy_image_free(p);
        bool own = !p->strings && !p->strings_borrowed;
        policy_index_free(p->index);
        for (size_t i = 0; i < p->n_usb; i++)
                usb_entry_done(&p->usb[i], own);
        free(p->usb);
        for (size_t i = 0; i < p->n_net; i++)
                net_entry_done(&p->net[i], own);
        free(p->net);
        for (size_t i = 0; i < p->n_wireless; i++)
                wireless_entry_done(&p->wireless[i], own);
        free(p->wireless);
        for (size_t i = 0; i < p->n_media; i++)
                media_entry_done(&p->media[i], own);
        free(p->media);
        for (size_t i = 0; own && i < p->n_fixed; i++) {
                struct policy_fixed_disk *d = &p->fixed[i];
                free(d->vendor);
                free(d->model);
                free(d->serial);
                free(d->path);
                free(d->label);
        }
        free(p->fixed);
        free(p->source);
        free(p->workstation);
        strv_free(p->workstations, p->n_workstations, own);
        if (own) {
                free(p->issued_text);
                free(p->issuer);
                free(p->contract);
                free(p->contractor);
                free(p->responsible);
                free(p->valid_until_text);
        }
        pconf_strings_free(p->strings);
        return mfree(p);
}

bool policy_names_host(char *const *list, size_t n, const char *hostname, const char *machine_id) {
        if (n == 0)
                return true;
        /* Host names are case-insensitive, and a machine-id may be written in either case. */
        for (size_t i = 0; i < n; i++)
                if ((hostname && strcasecmp(list[i], hostname) == 0) || (machine_id && strcasecmp(list[i], machine_id) == 0))
                        return true;
        return false;
}

/* Keeps, in order, the entries of ARRAY (N of SIZE bytes each) that apply on the host. */
#define RESTRICT(array, n, done, hostname, machine_id, dropped)                                                 \
        do {                                                                                                    \
                size_t _k = 0;                                                                                  \
                for (size_t _i = 0; _i < (n); _i++) {                                                           \
                        if (policy_names_host((array)[_i].approval.workstations, (array)[_i].approval.n_workstations, \
                                              hostname, machine_id)) {                                          \
                                if (_k != _i)                                                                   \
                                        (array)[_k] = (array)[_i];                                              \
                                _k++;                                                                           \
                        } else {                                                                                \
                                done(&(array)[_i], !p->strings && !p->strings_borrowed);                        \
                                (dropped)++;                                                                    \
                        }                                                                                       \
                }                                                                                               \
                (n) = _k;                                                                                       \
        } while (0)

int policy_restrict_to_host(struct policy *p, const char *hostname, const char *machine_id) {
        int dropped = 0;

        RESTRICT(p->usb, p->n_usb, usb_entry_done, hostname, machine_id, dropped);
        RESTRICT(p->net, p->n_net, net_entry_done, hostname, machine_id, dropped);
        RESTRICT(p->wireless, p->n_wireless, wireless_entry_done, hostname, machine_id, dropped);
        RESTRICT(p->media, p->n_media, media_entry_done, hostname, machine_id, dropped);
        if (dropped == 0)
                return 0;
        /* The indices point into the arrays just compacted. */
        policy_index_free(p->index);
        p->index = NULL;
        int r = policy_index_build(p);
        return r < 0 ? r : dropped;
}

int policy_check_applicable(const struct policy *p, int64_t now, const char *hostname, const char *machine_id) {
        if (now >= p->valid_until)
                return -EKEYEXPIRED;
        if (!policy_names_host(p->workstations, p->n_workstations, hostname, machine_id))
                return -EXDEV;
        return 0;
}

const struct policy_usb_entry *policy_find_usb_permit(const struct policy *p, const char *permit) {
        for (size_t i = 0; i < p->n_usb; i++)
                if (streq_ptr(p->usb[i].approval.permit, permit))
                        return &p->usb[i];
        return NULL;
}

const struct policy_net_entry *policy_find_net_permit(const struct policy *p, const char *permit) {
        for (size_t i = 0; i < p->n_net; i++)
                if (streq_ptr(p->net[i].approval.permit, permit))
                        return &p->net[i];
        return NULL;
}

const struct policy_wireless_entry *policy_find_wireless_permit(const struct policy *p, const char *permit) {
        for (size_t i = 0; i < p->n_wireless; i++)
                if (streq_ptr(p->wireless[i].approval.permit, permit))
                        return &p->wireless[i];
        return NULL;
}

const struct policy_media_entry *policy_find_media_permit(const struct policy *p, const char *permit) {
        for (size_t i = 0; i < p->n_media; i++)
                if (streq_ptr(p->media[i].approval.permit, permit))
                        return &p->media[i];
        return NULL;
}

const char *policy_action_to_string(enum policy_action a) {
        switch (a) {
        case POLICY_ALLOW:
                return "allow";
        case POLICY_BLOCK:
                return "block";
        }
        return NULL;
}
