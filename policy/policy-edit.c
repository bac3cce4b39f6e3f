/* SPDX-License-Identifier: MIT */
/* Editing a policy as text, so that approve and revoke keep the approver's comments and layout.
 *
 * libconfig can write a configuration back, but it drops every comment, and the comments of a
 * policy are where a city writes why a permit exists. So the edits here work on the bytes: a
 * small scanner that knows libconfig's lexical rules (strings with escapes, `#`, `//` and
 * block comments) finds the top-level `serial`, the `usb`, `network` and `wireless` lists, each entry's
 * braces, its permit and the commas between entries; the edit splices text at those offsets.
 *
 * The scanner is not trusted to be right: every result is read again (policy-config.c) and
 * must be the old file's syntax tree value for value, but for the serial raised by one and one
 * list element more or less; an added element is read as an entry with every check a whole
 * parse would make, against the old policy (policy_parse_added_entry). The old policy is
 * parsed once, the result never whole: on a 40 MB policy a whole parse is most of the time.
 * If the check fails, the edit falls back to the canonical writer, which loses the comments
 * but not the policy, and whose result is parsed whole. */
#include "policy-edit.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexutil.h"
#include "macro.h"
#include "policy-config.h"
#include "timeutil.h"

bool policy_edit_force_fallback = false;

#define SCAN_DEPTH_MAX 64             /* a policy nests three deep; this only bounds the recursion */
#define INDENT "    "                 /* the canonical writer's: entries at one level, fields at two */

/* ---- the scanner ------------------------------------------------------------------------ */

struct element {
        size_t start, end;            /* '{' .. one past its '}' */
        bool has_comma;
        size_t comma;                 /* offset of the ',' that follows the element */
        size_t first_key;             /* offset of its first setting's name, 0 if none */
        char *permit;                 /* decoded value of its `permit` (scanned for a removal), or NULL */
};

struct list {
        bool found;
        size_t open, close;           /* offsets of '(' and ')' */
        size_t n, allocated;
        struct element *elements;
};

enum token_type {
        TOKEN_EOF,
        TOKEN_WORD,                   /* a name, number or boolean */
        TOKEN_STRING,
        TOKEN_PUNCT,
};

struct token {
        enum token_type type;
        size_t start, end;
        char c;                       /* for TOKEN_PUNCT */
};

struct scanner {
        const char *text;
        size_t len;
        size_t pos;
        bool serial_found;
        size_t serial_start, serial_end;
        bool want_permits;            /* decode each entry's permit (to find the one to remove) */
        /* The token peek_token read last, from CACHE_POS to CACHE_NEXT: every token is peeked
         * before it is taken, and a 40 MB policy has ten million of them. */
        bool cached;
        size_t cache_pos, cache_next;
        struct token cache;
        struct list usb, net, wireless, media;
};

static void list_done(struct list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->elements[i].permit);
        l->elements = mfree(l->elements);
        l->n = l->allocated = 0;
}

static void scanner_done(struct scanner *sc) {
        list_done(&sc->usb);
        list_done(&sc->net);
        list_done(&sc->wireless);
        list_done(&sc->media);
}

static bool is_word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '*' ||
               c == '.' || c == '+' || c == '-';
}

/* Skips blanks and comments; -EINVAL for an unterminated block comment. */
static int skip_blank(struct scanner *sc) {
        const char *t = sc->text;

        while (sc->pos < sc->len) {
                char c = t[sc->pos];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v')
                        sc->pos++;
                else if (c == '#' || (c == '/' && sc->pos + 1 < sc->len && t[sc->pos + 1] == '/')) {
                        const char *nl = memchr(t + sc->pos, '\n', sc->len - sc->pos);
                        sc->pos = nl ? (size_t) (nl - t) + 1 : sc->len;
                } else if (c == '/' && sc->pos + 1 < sc->len && t[sc->pos + 1] == '*') {
                        const char *e = memmem(t + sc->pos + 2, sc->len - sc->pos - 2, "*/", 2);
                        if (!e)
                                return -EINVAL;
                        sc->pos = (size_t) (e - t) + 2;
                } else
                        break;
        }
        return 0;
}

static int lex_token(struct scanner *sc, struct token *ret) {
        const char *t = sc->text;
        int r;

        r = skip_blank(sc);
        if (r < 0)
                return r;

        struct token tok = { .start = sc->pos };
        if (sc->pos >= sc->len) {
                tok.type = TOKEN_EOF;
                tok.end = sc->pos;
                *ret = tok;
                return 0;
        }

        char c = t[sc->pos];
        if (c == '=' || c == ':' || c == ';' || c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' ||
            c == '}') {
                tok.type = TOKEN_PUNCT;
                tok.c = c;
                sc->pos++;
        } else if (c == '"') {
                sc->pos++;
                for (;;) {
                        if (sc->pos >= sc->len)
                                return -EINVAL;
                        if (t[sc->pos] == '\\')
                                sc->pos += 2;
                        else if (t[sc->pos++] == '"')
                                break;
                }
                if (sc->pos > sc->len)
                        return -EINVAL;
                tok.type = TOKEN_STRING;
        } else if (is_word_char(c)) {
                while (sc->pos < sc->len && is_word_char(t[sc->pos]))
                        sc->pos++;
                tok.type = TOKEN_WORD;
        } else
                return -EINVAL; /* @include and anything libconfig would not take either */

        tok.end = sc->pos;
        *ret = tok;
        return 0;
}

static int next_token(struct scanner *sc, struct token *ret) {
        if (sc->cached && sc->cache_pos == sc->pos) {
                *ret = sc->cache;
                sc->pos = sc->cache_next;
                return 0;
        }
        return lex_token(sc, ret);
}

static int peek_token(struct scanner *sc, struct token *ret) {
        size_t saved = sc->pos;
        int r = next_token(sc, ret);
        if (r >= 0) {
                sc->cached = true;
                sc->cache_pos = saved;
                sc->cache_next = sc->pos;
                sc->cache = *ret;
        }
        sc->pos = saved;
        return r;
}

static bool token_is(const struct token *tok, char c) {
        return tok->type == TOKEN_PUNCT && tok->c == c;
}

static bool token_equals(const struct scanner *sc, const struct token *tok, const char *word) {
        size_t n = strlen(word);
        return tok->type == TOKEN_WORD && tok->end - tok->start == n && memcmp(sc->text + tok->start, word, n) == 0;
}

/* Appends the value of the string literal [START, END) (quotes included) to F, undoing the
 * escapes libconfig knows; an unknown escape stays as written, as libconfig keeps it. */
static void decode_string(const char *t, size_t start, size_t end, FILE *f) {
        for (size_t i = start + 1; i + 1 < end; i++) {
                if (t[i] != '\\' || i + 2 >= end) {
                        fputc(t[i], f);
                        continue;
                }
                char e = t[++i];
                uint8_t b;
                switch (e) {
                case 'n': fputc('\n', f); break;
                case 'r': fputc('\r', f); break;
                case 't': fputc('\t', f); break;
                case 'f': fputc('\f', f); break;
                case '\\': fputc('\\', f); break;
                case '"': fputc('"', f); break;
                case 'x':
                        if (i + 3 < end && hex_parse_bytes(t + i + 1, 2, 0, HEX_ANY_CASE, &b, 1) >= 0) {
                                fputc(b, f);
                                i += 2;
                                break;
                        }
                        __attribute__((fallthrough));
                default:
                        fputc('\\', f);
                        fputc(e, f);
                }
        }
}

static int parse_value(struct scanner *sc, unsigned depth, char **ret_string);

/* Settings up to (not including) CLOSE ('}', or 0 for the end of the file). At depth 0 it notes
 * `serial` and the `usb`/`network` lists; inside an entry (OWNER) it notes `permit`. */
static int parse_settings(struct scanner *sc, unsigned depth, char close, struct element *owner) {
        struct token tok, name;
        int r;

        if (depth > SCAN_DEPTH_MAX)
                return -E2BIG;

        for (;;) {
                r = peek_token(sc, &tok);
                if (r < 0)
                        return r;
                if (close == 0 ? tok.type == TOKEN_EOF : token_is(&tok, close))
                        return 0;

                r = next_token(sc, &name);
                if (r < 0)
                        return r;
                if (name.type != TOKEN_WORD)
                        return -EINVAL;
                if (owner && owner->first_key == 0)
                        owner->first_key = name.start;
                r = next_token(sc, &tok);
                if (r < 0)
                        return r;
                if (!token_is(&tok, '=') && !token_is(&tok, ':'))
                        return -EINVAL;

                r = peek_token(sc, &tok);
                if (r < 0)
                        return r;

                struct list *l = NULL;
                if (depth == 0 && token_equals(sc, &name, "usb"))
                        l = &sc->usb;
                else if (depth == 0 && token_equals(sc, &name, "network"))
                        l = &sc->net;
                else if (depth == 0 && token_equals(sc, &name, "wireless"))
                        l = &sc->wireless;
                else if (depth == 0 && token_equals(sc, &name, "media"))
                        l = &sc->media;

                if (l && token_is(&tok, '(')) {
                        if (l->found)
                                return -EINVAL;
                        l->found = true;
                        l->open = tok.start;
                        sc->pos = tok.end;
                        r = 0;
                        for (bool first = true;; first = false) {
                                r = peek_token(sc, &tok);
                                if (r < 0)
                                        return r;
                                if (first && token_is(&tok, ')'))
                                        break;

                                struct element e = { .start = tok.start };
                                if (!token_is(&tok, '{'))
                                        return -EINVAL; /* entries are groups */
                                sc->pos = tok.end;
                                r = parse_settings(sc, depth + 2, '}', &e);
                                if (r >= 0)
                                        r = next_token(sc, &tok);
                                if (r < 0) {
                                        free(e.permit);
                                        return r;
                                }
                                e.end = tok.end;

                                if (l->n == l->allocated) {
                                        /* Doubling: a policy may hold 100,000 entries. */
                                        size_t a = l->allocated ? 2 * l->allocated : 16;
                                        struct element *n = reallocarray(l->elements, a, sizeof *n);
                                        if (!n) {
                                                free(e.permit);
                                                return -ENOMEM;
                                        }
                                        l->elements = n;
                                        l->allocated = a;
                                }
                                l->elements[l->n++] = e;

                                r = next_token(sc, &tok);
                                if (r < 0)
                                        return r;
                                if (token_is(&tok, ',')) {
                                        l->elements[l->n - 1].has_comma = true;
                                        l->elements[l->n - 1].comma = tok.start;
                                        continue;
                                }
                                if (!token_is(&tok, ')'))
                                        return -EINVAL;
                                sc->pos = tok.start; /* the ')' is consumed below */
                                break;
                        }
                        r = next_token(sc, &tok);
                        if (r < 0)
                                return r;
                        l->close = tok.start;
                } else if (depth == 0 && token_equals(sc, &name, "serial")) {
                        if (tok.type != TOKEN_WORD || sc->serial_found)
                                return -EINVAL;
                        sc->serial_found = true;
                        sc->serial_start = tok.start;
                        sc->serial_end = tok.end;
                        sc->pos = tok.end;
                } else if (owner && sc->want_permits && token_equals(sc, &name, "permit") && tok.type == TOKEN_STRING) {
                        _cleanup_free_ char *s = NULL;
                        r = parse_value(sc, depth, &s);
                        if (r < 0)
                                return r;
                        free(owner->permit);
                        owner->permit = TAKE_PTR(s);
                } else {
                        r = parse_value(sc, depth, NULL);
                        if (r < 0)
                                return r;
                }

                /* The terminator is optional in libconfig. */
                r = peek_token(sc, &tok);
                if (r < 0)
                        return r;
                if (token_is(&tok, ';') || token_is(&tok, ','))
                        sc->pos = tok.end;
        }
}

/* One value: a scalar, (adjacent) strings, a group, a list or an array. With RET_STRING, the
 * value must be a string and is returned decoded. */
static int parse_value(struct scanner *sc, unsigned depth, char **ret_string) {
        struct token tok;
        int r;

        if (depth > SCAN_DEPTH_MAX)
                return -E2BIG;

        r = next_token(sc, &tok);
        if (r < 0)
                return r;

        if (tok.type == TOKEN_STRING) {
                _cleanup_free_ char *buf = NULL;
                size_t size = 0;
                _cleanup_fclose_ FILE *f = ret_string ? open_memstream(&buf, &size) : NULL;
                if (ret_string && !f)
                        return -ENOMEM;
                for (;;) {
                        if (f)
                                decode_string(sc->text, tok.start, tok.end, f);
                        r = peek_token(sc, &tok);
                        if (r < 0)
                                return r;
                        if (tok.type != TOKEN_STRING)
                                break;
                        sc->pos = tok.end;
                }
                if (f) {
                        if (fclose(TAKE_PTR(f)) != 0)
                                return -ENOMEM;
                        *ret_string = TAKE_PTR(buf);
                }
                return 0;
        }
        if (ret_string)
                return -EINVAL;

        if (tok.type == TOKEN_WORD)
                return 0;
        if (token_is(&tok, '{')) {
                r = parse_settings(sc, depth + 1, '}', NULL);
                if (r < 0)
                        return r;
                r = next_token(sc, &tok);
                return r < 0 ? r : 0;
        }
        if (token_is(&tok, '(') || token_is(&tok, '[')) {
                char close = tok.c == '(' ? ')' : ']';
                for (bool first = true;; first = false) {
                        r = peek_token(sc, &tok);
                        if (r < 0)
                                return r;
                        if (first && token_is(&tok, close)) {
                                sc->pos = tok.end;
                                return 0;
                        }
                        r = parse_value(sc, depth + 1, NULL);
                        if (r < 0)
                                return r;
                        r = next_token(sc, &tok);
                        if (r < 0)
                                return r;
                        if (token_is(&tok, close))
                                return 0;
                        if (!token_is(&tok, ','))
                                return -EINVAL;
                }
        }
        return -EINVAL;
}

static int scan(const char *text, size_t len, bool want_permits, struct scanner *ret) {
        struct scanner sc = { .text = text, .len = len, .want_permits = want_permits };
        int r;

        r = parse_settings(&sc, 0, 0, NULL);
        if (r < 0) {
                scanner_done(&sc);
                return r;
        }
        *ret = sc;
        return 0;
}

/* ---- layout helpers ---------------------------------------------------------------------- */

/* If only blanks and comments that end on this line follow POS, the offset just after the
 * line's newline; otherwise SIZE_MAX. */
static size_t rest_of_line_blank(const char *t, size_t len, size_t pos) {
        while (pos < len) {
                char c = t[pos];
                if (c == ' ' || c == '\t' || c == '\r')
                        pos++;
                else if (c == '\n')
                        return pos + 1;
                else if (c == '#' || (c == '/' && pos + 1 < len && t[pos + 1] == '/')) {
                        const char *nl = memchr(t + pos, '\n', len - pos);
                        return nl ? (size_t) (nl - t) + 1 : SIZE_MAX;
                } else if (c == '/' && pos + 1 < len && t[pos + 1] == '*') {
                        const char *e = memmem(t + pos + 2, len - pos - 2, "*/", 2);
                        if (!e || memchr(t + pos, '\n', (size_t) (e - (t + pos))))
                                return SIZE_MAX;
                        pos = (size_t) (e - t) + 2;
                } else
                        return SIZE_MAX;
        }
        return SIZE_MAX;
}

/* True if only blanks precede POS on its line; *ret_line_start is where the line begins. */
static bool line_start_blank(const char *t, size_t pos, size_t *ret_line_start) {
        size_t i = pos;
        while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
                i--;
        if (i > 0 && t[i - 1] != '\n')
                return false;
        *ret_line_start = i;
        return true;
}

/* ---- writing an entry -------------------------------------------------------------------- */

char *policy_quote_string(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                case '\f': fputs("\\f", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* Where an entry's braces and its fields start: the file's own, taken from its last entry. */
struct layout {
        const char *brace;
        const char *field;
};

static void put_string(FILE *f, const struct layout *lo, const char *key, const char *value) {
        _cleanup_free_ char *q = NULL;

        if (!value)
                return;
        q = policy_quote_string(value);
        if (!q) {
                /* Leaves the entry short: the re-parse notices, and the fallback runs. */
                fputs("\n", f);
                return;
        }
        fprintf(f, "%s%s = %s;\n", lo->field, key, q);
}

/* A date as written if we have the text, else from the value (an exclusive end written as a
 * time, which is exact). NULL when the date is not set. */
static const char *date_text(const char *text, int64_t value, char buf[static ISO8601_MAX]) {
        if (text)
                return text;
        if (value == TIME_INFINITY || value == TIME_NEG_INFINITY)
                return NULL;
        if (time_format_iso8601(value, buf, ISO8601_MAX) < 0)
                return NULL;
        return buf;
}

/* The field order is the canonical writer's (docs/policy.md), so edited and rewritten files
 * read the same. */
static void put_approval_tail(FILE *f, const struct layout *lo, const struct policy_approval *a) {
        char b1[ISO8601_MAX], b2[ISO8601_MAX], b3[ISO8601_MAX];
        const char *on = a->approved_on_text;

        if (!on && time_format_date(a->approved_on, b1, sizeof b1) >= 0)
                on = b1;
        put_string(f, lo, "label", a->label);
        put_string(f, lo, "purpose", a->purpose);
        put_string(f, lo, "holder", a->holder);
        if (a->n_workstations > 0) {
                fprintf(f, "%sworkstations = [ ", lo->field);
                for (size_t i = 0; i < a->n_workstations; i++) {
                        _cleanup_free_ char *q = policy_quote_string(a->workstations[i]);
                        fprintf(f, "%s%s", i ? ", " : "", q ?: "\"\"");
                }
                fputs(" ];\n", f);
        }
        put_string(f, lo, "approved_by", a->approved_by);
        put_string(f, lo, "approved_on", on);
        put_string(f, lo, "valid_from", date_text(a->valid_from_text, a->valid_from, b2));
        put_string(f, lo, "valid_until", date_text(a->valid_until_text, a->valid_until, b3));
        fprintf(f, "%s}", lo->brace);
}

/* The entry as a block, without a trailing newline. */
/* The entry's `scan` key as policy-write.c spells it; NULL (no key) when it follows defaults.scan. */
static const char *scan_text(enum policy_scan scan) {
        return policy_scan_to_string(scan);
}

static int format_usb_entry(const void *entry, const struct layout *lo, char **ret) {
        const struct policy_usb_entry *e = entry;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        char hex[5];

        if (!f)
                return -ENOMEM;

        fprintf(f, "%s{\n", lo->brace);
        put_string(f, lo, "permit", e->approval.permit);
        snprintf(hex, sizeof hex, "%04x", e->vendor);
        put_string(f, lo, "vendor", hex);
        snprintf(hex, sizeof hex, "%04x", e->product);
        put_string(f, lo, "product", hex);
        put_string(f, lo, "serial", e->serial ? e->serial : "");
        put_string(f, lo, "path", e->path);
        if (e->has_interfaces) {
                fprintf(f, "%sinterfaces = [", lo->field);
                for (size_t i = 0; i < e->n_interfaces; i++) {
                        char c[POLICY_INTERFACE_PATTERN_MAX];
                        policy_interface_pattern_format(&e->interfaces[i], c);
                        fprintf(f, "%s\"%s\"", i > 0 ? ", " : " ", c);
                }
                fprintf(f, "%s];\n", e->n_interfaces > 0 ? " " : "");
                if (e->unlisted == UNLISTED_DISABLE)
                        put_string(f, lo, "unlisted_interfaces", "disable");
        }
        put_string(f, lo, "access", e->read_only ? "read-only" : "read-write");
        if (e->hidraw_user)
                put_string(f, lo, "hidraw", "user");
        put_string(f, lo, "scan", scan_text(e->scan));
        put_approval_tail(f, lo, &e->approval);

        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int format_net_entry(const void *entry, const struct layout *lo, char **ret) {
        const struct policy_net_entry *e = entry;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;

        fprintf(f, "%s{\n", lo->brace);
        put_string(f, lo, "permit", e->approval.permit);
        if (e->has_mac) {
                char mac[18];
                mac_format(e->mac, mac);
                put_string(f, lo, "mac", mac);
        }
        put_string(f, lo, "path", e->path);
        put_string(f, lo, "kind", e->kind);
        put_string(f, lo, "name", e->name);
        if (e->wireless_modes) {
                bool first = true;
                fprintf(f, "%swireless_modes = [", lo->field);
                for (int m = 0; m < _WIRELESS_MODE_MAX; m++)
                        if (e->wireless_modes & (1u << m)) {
                                fprintf(f, "%s\"%s\"", first ? " " : ", ", wireless_mode_to_string(m));
                                first = false;
                        }
                fputs(" ];\n", f);
        }
        put_approval_tail(f, lo, &e->approval);

        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int format_wireless_entry(const void *entry, const struct layout *lo, char **ret) {
        const struct policy_wireless_entry *e = entry;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        char ssid[WIRELESS_SSID_HEX_MAX];

        if (!f)
                return -ENOMEM;

        fprintf(f, "%s{\n", lo->brace);
        put_string(f, lo, "permit", e->approval.permit);
        if (!e->ssid_is_hex && wireless_ssid_is_printable(e->ssid, e->ssid_len)) {
                memcpy(ssid, e->ssid, e->ssid_len);
                ssid[e->ssid_len] = 0;
                put_string(f, lo, "ssid", ssid);
        } else {
                wireless_ssid_hex(e->ssid, e->ssid_len, ssid);
                put_string(f, lo, "ssid_hex", ssid);
        }
        if (e->n_bssids > 0) {
                fprintf(f, "%sbssid = [", lo->field);
                for (size_t i = 0; i < e->n_bssids; i++) {
                        char mac[18];
                        mac_format(e->bssids[i], mac);
                        fprintf(f, "%s\"%s\"", i > 0 ? ", " : " ", mac);
                }
                fputs(" ];\n", f);
        }
        put_string(f, lo, "security", wireless_security_to_string(e->security));
        put_approval_tail(f, lo, &e->approval);

        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int format_media_entry(const void *entry, const struct layout *lo, char **ret) {
        const struct policy_media_entry *e = entry;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;

        fprintf(f, "%s{\n", lo->brace);
        put_string(f, lo, "permit", e->approval.permit);
        put_string(f, lo, "bus", media_bus_to_string(e->bus));
        put_string(f, lo, "vendor", e->vendor);
        put_string(f, lo, "model", e->model);
        put_string(f, lo, "serial", e->serial);
        put_string(f, lo, "oemid", e->oemid);
        put_string(f, lo, "date", e->date);
        put_string(f, lo, "path", e->path);
        put_string(f, lo, "access", e->read_only ? "read-only" : "read-write");
        put_string(f, lo, "scan", scan_text(e->scan));
        put_approval_tail(f, lo, &e->approval);

        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- splicing ---------------------------------------------------------------------------- */

struct edit {
        size_t offset, remove;
        char *insert;                 /* owned; may be NULL */
};

struct edits {
        struct edit e[6];
        size_t n;
};

static void edits_done(struct edits *ed) {
        for (size_t i = 0; i < ed->n; i++)
                free(ed->e[i].insert);
        ed->n = 0;
}

/* Takes INSERT; NULL for a pure removal. */
static int edits_add(struct edits *ed, size_t offset, size_t remove, char *insert) {
        if (ed->n >= ELEMENTSOF(ed->e)) {
                free(insert);
                return -E2BIG;
        }
        ed->e[ed->n++] = (struct edit) { offset, remove, insert };
        return 0;
}

static int edits_add_text(struct edits *ed, size_t offset, size_t remove, const char *s) {
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        return edits_add(ed, offset, remove, copy);
}

static int edit_cmp(const void *a, const void *b) {
        const struct edit *x = a, *y = b;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int edits_apply(struct edits *ed, const char *text, size_t len, char **ret) {
        size_t size = len + 1, pos = 0;

        qsort(ed->e, ed->n, sizeof ed->e[0], edit_cmp);
        for (size_t i = 0; i < ed->n; i++) {
                const struct edit *e = &ed->e[i];
                if (e->offset < pos || e->offset + e->remove > len)
                        return -EINVAL; /* overlapping edits: a scanner bug, the fallback handles it */
                size += e->insert ? strlen(e->insert) : 0;
                pos = e->offset + e->remove;
        }

        /* One buffer of the final size: a policy may be 40 MB, a memstream grows it by doubling. */
        char *buf = malloc(size), *o = buf;
        if (!buf)
                return -ENOMEM;
        pos = 0;
        for (size_t i = 0; i < ed->n; i++) {
                const struct edit *e = &ed->e[i];
                o = mempcpy(o, text + pos, e->offset - pos);
                if (e->insert)
                        o = stpcpy(o, e->insert);
                pos = e->offset + e->remove;
        }
        o = mempcpy(o, text + pos, len - pos);
        *o = 0;
        *ret = buf;
        return 0;
}

/* Replaces the serial's token by NEW_SERIAL, if the token says what the parser read. */
static int edit_serial(struct edits *ed, const struct scanner *sc, uint64_t old_serial, uint64_t new_serial) {
        char token[32], *end;

        if (!sc->serial_found || sc->serial_end - sc->serial_start >= sizeof token)
                return -EINVAL;
        memcpy(token, sc->text + sc->serial_start, sc->serial_end - sc->serial_start);
        token[sc->serial_end - sc->serial_start] = 0;

        bool hex = token[0] == '0' && (token[1] == 'x' || token[1] == 'X');
        errno = 0;
        unsigned long long v = strtoull(hex ? token + 2 : token, &end, hex ? 16 : 10);
        if (errno != 0 || end == token || (*end && strcmp(end, "L") != 0 && strcmp(end, "LL") != 0) ||
            v != old_serial)
                return -EINVAL;

        char *s;
        /* libconfig reads a bare integer beyond 32 bits as 64-bit; "L" says so explicitly. */
        if (asprintf(&s, "%" PRIu64 "%s", new_serial, new_serial > INT32_MAX ? "L" : "") < 0)
                return -ENOMEM;
        return edits_add(ed, sc->serial_start, sc->serial_end - sc->serial_start, s);
}

/* Blanks from the start of POS's line up to POS, or NULL if something else precedes it. */
static char *indent_at(const char *t, size_t pos) {
        size_t ls;
        if (!line_start_blank(t, pos, &ls))
                return NULL;
        return strndup(t + ls, pos - ls);
}

/* Text for a new list at the end of the file (no list of that name exists yet). */
static int edit_append_list(struct edits *ed, const char *text, size_t len, const char *name, const char *block) {
        char *s;
        bool needs_newline = len > 0 && text[len - 1] != '\n';

        if (asprintf(&s, "%s\n%s = (\n%s\n);\n", needs_newline ? "\n" : "", name, block) < 0)
                return -ENOMEM;
        return edits_add(ed, len, 0, s);
}

typedef int (*format_fn)(const void *entry, const struct layout *lo, char **ret);

/* Adds the new entry after the list's last one (or into the empty list, or a new list). */
static int edits_for_add(struct edits *ed, const struct scanner *sc, const struct list *l, const char *name,
                         format_fn format, const void *entry) {
        _cleanup_free_ char *block = NULL, *brace = NULL, *field = NULL;
        const char *t = sc->text;
        struct layout lo = { INDENT, INDENT INDENT };
        int r;

        /* A new entry takes the last one's indentation, so a file with its own layout keeps it. */
        const struct element *last = l->found && l->n > 0 ? &l->elements[l->n - 1] : NULL;
        if (last) {
                brace = indent_at(t, last->start);
                field = last->first_key > 0 ? indent_at(t, last->first_key) : NULL;
                if (brace && field) {
                        lo.brace = brace;
                        lo.field = field;
                }
        }
        r = format(entry, &lo, &block);
        if (r < 0)
                return r;

        if (!l->found)
                return edit_append_list(ed, t, sc->len, name, block);

        char *s;
        if (!last) {
                size_t ls;
                /* "(\n)" gets the block on its own lines; "( )" or "()" is opened up. */
                bool own_line = line_start_blank(t, l->close, &ls) && ls > l->open;
                if (asprintf(&s, own_line ? "%s\n" : "\n%s\n", block) < 0)
                        return -ENOMEM;
                return edits_add(ed, own_line ? ls : l->close, 0, s);
        }

        if (last->has_comma)
                return -EINVAL; /* libconfig 1.5 takes no trailing comma: the scan went wrong */

        r = edits_add_text(ed, last->end, 0, ",");
        if (r < 0)
                return r;

        /* A comment after the last entry's brace stays with that entry: the new block goes on
         * the next line. */
        size_t next = rest_of_line_blank(t, sc->len, last->end);
        bool own_line = next != SIZE_MAX && next <= l->close;
        if (asprintf(&s, own_line ? "%s\n" : "\n%s", block) < 0)
                return -ENOMEM;
        return edits_add(ed, own_line ? next : last->end, 0, s);
}

/* Removes element I of L with the comma that separates it from its neighbours; whole lines when
 * the entry has its lines to itself, so no blank hole is left. Comments above it stay. */
static int edits_for_remove(struct edits *ed, const struct scanner *sc, const struct list *l, size_t i) {
        const struct element *e = &l->elements[i];
        const char *t = sc->text;
        size_t start = e->start, end = e->has_comma ? e->comma + 1 : e->end, ls;
        int r;

        if (line_start_blank(t, start, &ls)) {
                size_t next = rest_of_line_blank(t, sc->len, end);
                if (next != SIZE_MAX && next <= l->close) {
                        start = ls;
                        end = next;
                }
        }
        r = edits_add(ed, start, end - start, NULL);
        if (r < 0)
                return r;

        /* The last entry has no comma of its own: the one before it loses its comma. */
        if (!e->has_comma && i > 0) {
                const struct element *prev = &l->elements[i - 1];
                if (!prev->has_comma)
                        return -EINVAL;
                r = edits_add(ed, prev->comma, 1, NULL);
        }
        return r;
}

/* ---- checking and the fallback ------------------------------------------------------------ */

enum edit_kind {
        EDIT_ADD_USB,
        EDIT_ADD_NET,
        EDIT_ADD_WIRELESS,
        EDIT_ADD_MEDIA,
        EDIT_REMOVE,
};

struct edit_request {
        enum edit_kind kind;
        const char *permit;
        const struct policy_usb_entry *usb;
        const struct policy_net_entry *net;
        const struct policy_wireless_entry *wireless;
        const struct policy_media_entry *media;
};

static bool permit_exists(const struct policy *p, const char *permit) {
        return policy_find_usb_permit(p, permit) || policy_find_net_permit(p, permit) ||
               policy_find_wireless_permit(p, permit) || policy_find_media_permit(p, permit);
}

static void diag_move(struct policy_diag *dst, struct policy_diag *src) {
        if (!dst) {
                policy_diag_done(src);
        } else {
                policy_diag_done(dst);
                *dst = *src;
        }
        *src = (struct policy_diag) {};
}

/* Whether the entry of P with the requested permit is the requested one (the fields the edit
 * wrote that decide what it approves). */
static bool entry_is_requested(const struct policy *p, const struct edit_request *req) {
        switch (req->kind) {
        case EDIT_ADD_USB: {
                const struct policy_usb_entry *e = policy_find_usb_permit(p, req->permit);
                return e && e->vendor == req->usb->vendor && e->product == req->usb->product &&
                       streq_ptr(e->serial, req->usb->serial ? req->usb->serial : "") &&
                       e->read_only == req->usb->read_only && e->n_interfaces == req->usb->n_interfaces &&
                       e->hidraw_user == req->usb->hidraw_user && streq_ptr(e->path, req->usb->path) &&
                       e->scan == req->usb->scan;
        }
        case EDIT_ADD_NET: {
                const struct policy_net_entry *e = policy_find_net_permit(p, req->permit);
                return e && e->has_mac == req->net->has_mac && (!e->has_mac || memcmp(e->mac, req->net->mac, 6) == 0) &&
                       e->wireless_modes == req->net->wireless_modes;
        }
        case EDIT_ADD_WIRELESS: {
                const struct policy_wireless_entry *e = policy_find_wireless_permit(p, req->permit), *w = req->wireless;
                return e && e->ssid_len == w->ssid_len && memcmp(e->ssid, w->ssid, w->ssid_len) == 0 &&
                       e->n_bssids == w->n_bssids &&
                       (w->n_bssids == 0 || memcmp(e->bssids, w->bssids, w->n_bssids * sizeof *w->bssids) == 0) &&
                       e->security == w->security;
        }
        case EDIT_ADD_MEDIA: {
                const struct policy_media_entry *e = policy_find_media_permit(p, req->permit), *m = req->media;
                return e && e->bus == m->bus && streq_ptr(e->vendor, m->vendor) && streq_ptr(e->model, m->model) &&
                       streq_ptr(e->serial, m->serial) && streq_ptr(e->oemid, m->oemid) && streq_ptr(e->date, m->date) &&
                       streq_ptr(e->path, m->path) && e->read_only == m->read_only && e->scan == m->scan;
        }
        case EDIT_REMOVE:
                return !permit_exists(p, req->permit);
        }
        return false;
}

/* Whether TEXT is OLD with exactly the requested change, by parsing it whole: it parses, has the
 * new serial and one entry more (the requested one) or one less (without it). For the canonical
 * fallback, which shares nothing with the old text. */
static int check_result(const char *text, const char *source, const struct policy *old, const struct edit_request *req,
                        struct policy_diag *diag) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        int r;

        r = policy_parse(text, strlen(text), source, &p, diag);
        if (r < 0)
                return r;

        if (p->serial != old->serial + 1)
                return -EBADMSG;

        size_t n_old = old->n_usb + old->n_net + old->n_wireless + old->n_media,
               n_new = p->n_usb + p->n_net + p->n_wireless + p->n_media;
        bool counts = req->kind == EDIT_REMOVE ? n_new + 1 == n_old :
                      n_new == n_old + 1 &&
                      p->n_usb == old->n_usb + (req->kind == EDIT_ADD_USB) &&
                      p->n_net == old->n_net + (req->kind == EDIT_ADD_NET) &&
                      p->n_wireless == old->n_wireless + (req->kind == EDIT_ADD_WIRELESS) &&
                      p->n_media == old->n_media + (req->kind == EDIT_ADD_MEDIA);
        if (!counts || !entry_is_requested(p, req))
                return -EBADMSG;
        /* The workstation's own disks are never edited by approve or revoke. */
        if (p->n_fixed != old->n_fixed)
                return -EBADMSG;
        return 0;
}

static const char *const edit_lists[] = { "usb", "network", "wireless", "media" };

/* The element of OLD's list KEY (a group) whose permit is PERMIT: its index, or -ENOENT. */
static int find_permit_element(const struct pconf_node *list, const char *permit) {
        if (!list || pconf_type(list) != PCONF_LIST)
                return -ENOENT;
        for (size_t i = 0; i < pconf_length(list); i++) {
                const struct pconf_node *m = pconf_member(pconf_elem(list, i), "permit");
                if (m && streq_ptr(pconf_string(m), permit))
                        return (int) MIN(i, (size_t) INT_MAX);
        }
        return -ENOENT;
}

/* Whether the edited TEXT is the old text (read as OLD_TREE into the valid policy OLD) with
 * exactly the requested change, without parsing the policy again: TEXT must read as the same
 * settings in the same order, value for value, but for `serial` raised by one and one list
 * with one element more at its end (or a new list of one at the end of the file) or the
 * requested element less. An added element is read as an entry with every check policy_parse
 * makes of it, alone and against OLD's entries (policy_parse_added_entry), and must be the
 * requested one. A removed entry leaves a valid policy valid: no check relates entries but to
 * refuse two of them. */
static int check_edit(const char *text, const char *source, const struct policy *old, const struct pconf *old_tree,
                      const struct edit_request *req, struct policy_diag *diag) {
        _cleanup_(pconf_freep) struct pconf *tree = NULL;
        _cleanup_(policy_freep) struct policy *added = NULL;
        struct pconf_error e;
        const char *key = NULL;
        int r, removed = -1;

        r = pconf_parse(text, strlen(text), &tree, &e);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;

        const struct pconf_node *o = pconf_root(old_tree), *n = pconf_root(tree);
        switch (req->kind) {
        case EDIT_ADD_USB: key = "usb"; break;
        case EDIT_ADD_NET: key = "network"; break;
        case EDIT_ADD_WIRELESS: key = "wireless"; break;
        case EDIT_ADD_MEDIA: key = "media"; break;
        case EDIT_REMOVE:
                for (size_t i = 0; i < ELEMENTSOF(edit_lists) && removed < 0; i++) {
                        removed = find_permit_element(pconf_member(o, edit_lists[i]), req->permit);
                        key = edit_lists[i];
                }
                if (removed < 0)
                        return -EBADMSG;
                break;
        }

        bool new_list = req->kind != EDIT_REMOVE && !pconf_member(o, key);
        if (pconf_length(n) != pconf_length(o) + new_list)
                return -EBADMSG;
        const struct pconf_node *entry = NULL;
        size_t index = 0;
        for (size_t i = 0; i < pconf_length(n); i++) {
                const struct pconf_node *a = pconf_elem(n, i), *b = i < pconf_length(o) ? pconf_elem(o, i) : NULL;

                if (!b) {
                        /* the list the edit made: `KEY = ( { ... } );` */
                        if (!streq(pconf_name(a), key) || pconf_type(a) != PCONF_LIST || pconf_length(a) != 1)
                                return -EBADMSG;
                        entry = pconf_elem(a, 0);
                } else if (!streq(pconf_name(a), pconf_name(b)))
                        return -EBADMSG;
                else if (streq(pconf_name(a), "serial")) {
                        if ((pconf_type(a) != PCONF_INT && pconf_type(a) != PCONF_INT64) || a->truncated ||
                            pconf_int64(a) < 0 || (uint64_t) pconf_int64(a) != old->serial + 1)
                                return -EBADMSG;
                } else if (streq(pconf_name(a), key)) {
                        size_t k = pconf_length(b);
                        if (pconf_type(a) != PCONF_LIST || pconf_type(b) != PCONF_LIST)
                                return -EBADMSG;
                        if (req->kind == EDIT_REMOVE) {
                                if (pconf_length(a) + 1 != k)
                                        return -EBADMSG;
                                for (size_t j = 0; j + 1 < k; j++)
                                        if (!pconf_equal(pconf_elem(a, j), pconf_elem(b, j + (j >= (size_t) removed))))
                                                return -EBADMSG;
                        } else {
                                if (pconf_length(a) != k + 1)
                                        return -EBADMSG;
                                for (size_t j = 0; j < k; j++)
                                        if (!pconf_equal(pconf_elem(a, j), pconf_elem(b, j)))
                                                return -EBADMSG;
                                entry = pconf_elem(a, k);
                                index = k;
                        }
                } else if (!pconf_equal(a, b))
                        return -EBADMSG;
        }
        if (req->kind == EDIT_REMOVE)
                return 0;
        if (!entry)
                return -EBADMSG;

        r = policy_parse_added_entry(old, entry, key, index, source, &added, diag);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        return entry_is_requested(added, req) ? 0 : -EBADMSG;
}

/* The text edit; any failure here only means "use the fallback". */
static int edit_text(const char *text, size_t len, const struct policy *p, const struct edit_request *req,
                     char **ret) {
        _cleanup_(scanner_done) struct scanner sc = {};
        _cleanup_(edits_done) struct edits ed = {};
        int r;

        r = scan(text, len, req->kind == EDIT_REMOVE, &sc);
        if (r < 0)
                return r;

        r = edit_serial(&ed, &sc, p->serial, p->serial + 1);
        if (r < 0)
                return r;

        switch (req->kind) {
        case EDIT_ADD_USB:
                r = edits_for_add(&ed, &sc, &sc.usb, "usb", format_usb_entry, req->usb);
                break;
        case EDIT_ADD_NET:
                r = edits_for_add(&ed, &sc, &sc.net, "network", format_net_entry, req->net);
                break;
        case EDIT_ADD_WIRELESS:
                r = edits_for_add(&ed, &sc, &sc.wireless, "wireless", format_wireless_entry, req->wireless);
                break;
        case EDIT_ADD_MEDIA:
                r = edits_for_add(&ed, &sc, &sc.media, "media", format_media_entry, req->media);
                break;
        case EDIT_REMOVE:
                r = -ENOENT;
                for (struct list *l = &sc.usb; r == -ENOENT && l;
                     l = l == &sc.usb ? &sc.net : l == &sc.net ? &sc.wireless : l == &sc.wireless ? &sc.media : NULL)
                        for (size_t i = 0; i < l->n; i++)
                                if (streq_ptr(l->elements[i].permit, req->permit)) {
                                        r = edits_for_remove(&ed, &sc, l, i);
                                        break;
                                }
                break;
        }
        if (r < 0)
                return r;

        return edits_apply(&ed, text, len, ret);
}

/* P with the change made in memory, written canonically. The copy shares P's strings and the
 * new entry's: nothing in it is freed but the arrays made here. */
static int edit_canonical(const struct policy *p, const struct edit_request *req, char **ret) {
        _cleanup_free_ struct policy_usb_entry *usb = NULL;
        _cleanup_free_ struct policy_net_entry *net = NULL;
        _cleanup_free_ struct policy_wireless_entry *wireless = NULL;
        _cleanup_free_ struct policy_media_entry *media = NULL;
        struct policy q = *p;

        q.index = NULL;
        q.serial = p->serial + 1;

        usb = calloc(p->n_usb + 1, sizeof *usb);
        net = calloc(p->n_net + 1, sizeof *net);
        wireless = calloc(p->n_wireless + 1, sizeof *wireless);
        media = calloc(p->n_media + 1, sizeof *media);
        if (!usb || !net || !wireless || !media)
                return -ENOMEM;

        q.n_usb = q.n_net = q.n_wireless = q.n_media = 0;
        for (size_t i = 0; i < p->n_usb; i++)
                if (req->kind != EDIT_REMOVE || !streq_ptr(p->usb[i].approval.permit, req->permit))
                        usb[q.n_usb++] = p->usb[i];
        for (size_t i = 0; i < p->n_net; i++)
                if (req->kind != EDIT_REMOVE || !streq_ptr(p->net[i].approval.permit, req->permit))
                        net[q.n_net++] = p->net[i];
        for (size_t i = 0; i < p->n_wireless; i++)
                if (req->kind != EDIT_REMOVE || !streq_ptr(p->wireless[i].approval.permit, req->permit))
                        wireless[q.n_wireless++] = p->wireless[i];
        for (size_t i = 0; i < p->n_media; i++)
                if (req->kind != EDIT_REMOVE || !streq_ptr(p->media[i].approval.permit, req->permit))
                        media[q.n_media++] = p->media[i];
        if (req->kind == EDIT_ADD_USB)
                usb[q.n_usb++] = *req->usb;
        if (req->kind == EDIT_ADD_NET)
                net[q.n_net++] = *req->net;
        if (req->kind == EDIT_ADD_WIRELESS)
                wireless[q.n_wireless++] = *req->wireless;
        if (req->kind == EDIT_ADD_MEDIA)
                media[q.n_media++] = *req->media;
        q.usb = usb;
        q.net = net;
        q.wireless = wireless;
        q.media = media;

        return policy_write(&q, ret);
}

static int edit(const char *text, size_t len, const char *source, const struct edit_request *req, char **ret_text,
                bool *ret_rewritten, struct policy_diag *diag) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(pconf_freep) struct pconf *tree = NULL;
        _cleanup_free_ char *out = NULL;
        struct policy_diag d = {};
        int r;

        if (!req->permit || !*req->permit)
                return -EINVAL;

        r = policy_parse_tree(text, len, source, &p, &tree, &d);
        if (r < 0) {
                /* The caller shows why the policy as it stands is invalid. */
                diag_move(diag, &d);
                return r;
        }
        policy_diag_done(&d);

        bool exists = permit_exists(p, req->permit);
        if (req->kind == EDIT_REMOVE && !exists)
                return -ENOENT;
        if (req->kind != EDIT_REMOVE && exists)
                return -EEXIST;
        if (p->serial >= INT64_MAX)
                return -EOVERFLOW;

        bool rewritten = false;
        r = policy_edit_force_fallback ? -ECANCELED : edit_text(text, len, p, req, &out);
        if (r >= 0) {
                r = check_edit(out, source, p, tree, req, &d);
                policy_diag_done(&d);
        }
        if (r < 0) {
                out = mfree(out);
                r = edit_canonical(p, req, &out);
                if (r < 0)
                        return r;
                rewritten = true;
                r = check_result(out, source, p, req, &d);
                if (r < 0) {
                        /* Even the canonical form does not hold the change: say why, write nothing. */
                        diag_move(diag, &d);
                        return r == -EBADMSG ? r : -EBADMSG;
                }
                policy_diag_done(&d);
        }

        *ret_text = TAKE_PTR(out);
        if (ret_rewritten)
                *ret_rewritten = rewritten;
        return 0;
}

int policy_edit_add_usb(const char *text, size_t len, const char *source, const struct policy_usb_entry *entry,
                        char **ret_text, bool *ret_rewritten, struct policy_diag *diag) {
        return edit(text, len, source,
                    &(struct edit_request) { .kind = EDIT_ADD_USB, .permit = entry->approval.permit, .usb = entry },
                    ret_text, ret_rewritten, diag);
}

int policy_edit_add_net(const char *text, size_t len, const char *source, const struct policy_net_entry *entry,
                        char **ret_text, bool *ret_rewritten, struct policy_diag *diag) {
        return edit(text, len, source,
                    &(struct edit_request) { .kind = EDIT_ADD_NET, .permit = entry->approval.permit, .net = entry },
                    ret_text, ret_rewritten, diag);
}

int policy_edit_add_wireless(const char *text, size_t len, const char *source, const struct policy_wireless_entry *entry,
                             char **ret_text, bool *ret_rewritten, struct policy_diag *diag) {
        return edit(text, len, source,
                    &(struct edit_request) { .kind = EDIT_ADD_WIRELESS, .permit = entry->approval.permit, .wireless = entry },
                    ret_text, ret_rewritten, diag);
}

int policy_edit_add_media(const char *text, size_t len, const char *source, const struct policy_media_entry *entry,
                          char **ret_text, bool *ret_rewritten, struct policy_diag *diag) {
        return edit(text, len, source,
                    &(struct edit_request) { .kind = EDIT_ADD_MEDIA, .permit = entry->approval.permit, .media = entry },
                    ret_text, ret_rewritten, diag);
}

int policy_edit_remove(const char *text, size_t len, const char *source, const char *permit, char **ret_text,
                       bool *ret_rewritten, struct policy_diag *diag) {
        return edit(text, len, source, &(struct edit_request) { .kind = EDIT_REMOVE, .permit = permit }, ret_text,
                    ret_rewritten, diag);
}
