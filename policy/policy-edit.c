/* SPDX-License-Identifier: MIT */
/* Editing a policy as text, so that approve and revoke keep the approver's comments and layout.
 *
 * libconfig can write a configuration back, but it drops every comment, and the comments of a
 * policy are where a city writes why a permit exists. So the edits here work on the bytes: the
 * old text's syntax tree (policy-config.c, which keeps each setting's and element's offsets)
 * says where the top-level `serial`, the `usb`, `network`, `wireless` and `media` lists and
 * each entry are; the edit splices text at those offsets.
 *
 * Every result is checked to be the old file's syntax tree value for value, but for the serial
 * raised by one and one list element more or less; an added element is read as an entry with
 * every check a whole parse would make, against the old policy (policy_parse_added_entry). The
 * old policy is parsed once; of the result only the bytes around each change are read (see
 * "checking an edit around the bytes it changed"), and the whole result only when those cannot
 * tell. If the check fails, the edit falls back to the canonical writer, which loses the
 * comments but not the policy, and whose result is parsed whole. */
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
bool policy_edit_force_full_check = false;
unsigned policy_edit_full_checks = 0;

#define INDENT "    "                 /* the canonical writer's: entries at one level, fields at two */

/* ---- where things are in the old text ---------------------------------------------------- */

/* The old text's syntax tree carries the offsets of every setting and element; the few token
 * offsets it does not hold (a list's '(', the comma after an element, the serial's literal) are
 * the tokens right after one it holds, found by pconf_next_token. */
struct doc {
        const char *text;
        size_t len;
        const struct pconf_node *root;
        bool serial_found;
        size_t serial_start, serial_end;      /* the serial's literal */
        size_t serial_after;                  /* the end of the '=' before it */
};

struct list {
        bool found;
        const struct pconf_node *node;        /* the setting `usb = ( ... )` */
        size_t open, close;                   /* offsets of '(' and ')' */
        size_t n;
};

struct element {
        size_t start, end;            /* '{' .. one past its '}' */
        bool has_comma;
        size_t comma;                 /* offset of the ',' that follows the element */
        size_t first_key;             /* offset of its first setting's name, 0 if none */
        unsigned line;                /* of its '{' */
};

/* The token of NODE's value: a setting's name, its '=' and then the value's first token. */
static void value_token(const struct doc *d, const struct pconf_node *node, struct pconf_token *ret_eq,
                        struct pconf_token *ret) {
        pconf_next_token(d->text, d->len, pconf_start(node), ret);      /* the name */
        pconf_next_token(d->text, d->len, ret->end, ret_eq);
        pconf_next_token(d->text, d->len, ret_eq->end, ret);
}

static int doc_init(const char *text, size_t len, const struct pconf *tree, struct doc *ret) {
        struct doc d = { .text = text, .len = len, .root = pconf_root(tree) };
        struct pconf_token tok, eq;

        /* libconfig 1.5 ends the input quietly at a block comment that is never closed; the
         * edits have always refused one (the canonical form is written instead), and still do. */
        size_t n = pconf_length(d.root);
        pconf_next_token(text, len, n > 0 ? pconf_end(pconf_elem(d.root, n - 1)) : 0, &tok);
        if (tok.kind == PCONF_TOKEN_PUNCT && (tok.c == ';' || tok.c == ','))
                pconf_next_token(text, len, tok.end, &tok);
        if (tok.kind != PCONF_TOKEN_END)
                return -EINVAL;

        const struct pconf_node *s = pconf_member(d.root, "serial");
        if (s) {
                value_token(&d, s, &eq, &tok);
                if (tok.kind != PCONF_TOKEN_INT && tok.kind != PCONF_TOKEN_OTHER)
                        return -EINVAL;
                d.serial_found = true;
                d.serial_after = eq.end;
                d.serial_start = tok.start;
                d.serial_end = tok.end;
        }
        *ret = d;
        return 0;
}

/* The top-level list NAME; not found if there is none (or it is not a list: the policy would
 * not be valid). */
static void doc_list(const struct doc *d, const char *name, struct list *ret) {
        const struct pconf_node *m = pconf_member(d->root, name);
        struct pconf_token tok, eq;

        *ret = (struct list) {};
        if (!m || pconf_type(m) != PCONF_LIST)
                return;
        value_token(d, m, &eq, &tok);
        if (tok.kind != PCONF_TOKEN_PUNCT || tok.c != '(')
                return;
        *ret = (struct list) {
                .found = true,
                .node = m,
                .open = tok.start,
                .close = pconf_end(m) - 1,
                .n = pconf_length(m),
        };
}

static void doc_element(const struct doc *d, const struct list *l, size_t i, struct element *ret) {
        const struct pconf_node *g = pconf_elem(l->node, i);
        struct pconf_token tok;

        *ret = (struct element) {
                .start = pconf_start(g),
                .end = pconf_end(g),
                .first_key = pconf_length(g) > 0 ? pconf_start(pconf_elem(g, 0)) : 0,
                .line = pconf_line(g),
        };
        pconf_next_token(d->text, d->len, ret->end, &tok);
        if (tok.kind == PCONF_TOKEN_PUNCT && tok.c == ',') {
                ret->has_comma = true;
                ret->comma = tok.start;
        }
}

/* Appends the value of the string literal [START, END) (quotes included) to F, undoing the
 * escapes as the edits always have: "\x00" as a NUL (which ends the permit compared), "\X41"
 * as written. Only for permits written with a backslash. */
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

/* Whether element I of L is the one the edits remove for PERMIT: its `permit` is a string that
 * says PERMIT. -ENOMEM. */
static int element_has_permit(const struct doc *d, const struct list *l, size_t i, const char *permit) {
        const struct pconf_node *m = pconf_member(pconf_elem(l->node, i), "permit");
        struct pconf_token tok, eq;

        if (!m || pconf_type(m) != PCONF_STRING)
                return false;
        if (!memchr(d->text + pconf_start(m), '\\', pconf_end(m) - pconf_start(m)))
                return streq(pconf_string(m), permit);

        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (value_token(d, m, &eq, &tok); tok.kind == PCONF_TOKEN_STRING && tok.end <= pconf_end(m);
             pconf_next_token(d->text, d->len, tok.end, &tok))
                decode_string(d->text, tok.start, tok.end, f);
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        return streq(buf, permit);
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

static int edits_apply(struct edits *ed, const char *text, size_t len, char **ret, size_t *ret_len) {
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
        *ret_len = (size_t) (o - buf);
        return 0;
}

/* Replaces the serial's token by NEW_SERIAL, if the token says what the parser read. */
static int edit_serial(struct edits *ed, const struct doc *d, uint64_t old_serial, uint64_t new_serial) {
        char token[32], *end;

        if (!d->serial_found || d->serial_end - d->serial_start >= sizeof token)
                return -EINVAL;
        memcpy(token, d->text + d->serial_start, d->serial_end - d->serial_start);
        token[d->serial_end - d->serial_start] = 0;

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
        return edits_add(ed, d->serial_start, d->serial_end - d->serial_start, s);
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
static int edits_for_add(struct edits *ed, const struct doc *d, const struct list *l, const char *name,
                         format_fn format, const void *entry) {
        _cleanup_free_ char *block = NULL, *brace = NULL, *field = NULL;
        const char *t = d->text;
        struct layout lo = { INDENT, INDENT INDENT };
        struct element le;
        int r;

        /* A new entry takes the last one's indentation, so a file with its own layout keeps it. */
        const struct element *last = NULL;
        if (l->found && l->n > 0) {
                doc_element(d, l, l->n - 1, &le);
                last = &le;
        }
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
                return edit_append_list(ed, t, d->len, name, block);

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
        size_t next = rest_of_line_blank(t, d->len, last->end);
        bool own_line = next != SIZE_MAX && next <= l->close;
        if (asprintf(&s, own_line ? "%s\n" : "\n%s", block) < 0)
                return -ENOMEM;
        return edits_add(ed, own_line ? next : last->end, 0, s);
}

/* Removes element I of L with the comma that separates it from its neighbours; whole lines when
 * the entry has its lines to itself, so no blank hole is left. Comments above it stay. */
static int edits_for_remove(struct edits *ed, const struct doc *d, const struct list *l, size_t i) {
        struct element el, prev_el;
        const struct element *e = &el;
        const char *t = d->text;
        int r;

        doc_element(d, l, i, &el);
        size_t start = e->start, end = e->has_comma ? e->comma + 1 : e->end, ls;

        if (line_start_blank(t, start, &ls)) {
                size_t next = rest_of_line_blank(t, d->len, end);
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
                const struct element *prev = &prev_el;
                doc_element(d, l, i - 1, &prev_el);
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

/* ---- checking an edit around the bytes it changed ------------------------------------------
 *
 * The edited text is the old one with a few byte ranges replaced. Each range lies in a window
 * of the old text that begins at the end of a punctuation token (which never reaches past
 * itself: the lexer takes the same tokens up to it in both texts) and ends at the start of a
 * token (from which both texts are the same bytes up to the next window). Since the lexer keeps
 * no state between tokens, the edited text's tokens are the old text's with each window's
 * tokens replaced by the ones lexed there in the edited text; and in the grammar's place of the
 * window (a serial's value; the end of a list after an element; one element and a comma) those
 * tokens say exactly what changed. So only the windows are read, the rest of a 40 MB policy is
 * not. Whatever the windows do not establish (a list made new at the end of the file, an edit
 * whose window is not the expected one) is left to the whole check, check_edit(). */

struct window {
        size_t from, to;              /* in the old text */
        size_t new_from, new_to;      /* the same places in the edited text */
        size_t n_edits;
};

/* Places W in the edited text; -EAGAIN if an edit straddles one of its ends. */
static int window_map(const struct edits *ed, struct window *w) {
        ssize_t before = 0, within = 0;

        w->n_edits = 0;
        for (size_t i = 0; i < ed->n; i++) {
                const struct edit *e = &ed->e[i];
                ssize_t delta = (ssize_t) (e->insert ? strlen(e->insert) : 0) - (ssize_t) e->remove;

                if (e->offset < w->from) {
                        if (e->offset + e->remove > w->from)
                                return -EAGAIN;
                        before += delta;
                } else if (e->offset <= w->to) {
                        if (e->offset + e->remove > w->to)
                                return -EAGAIN;
                        within += delta;
                        w->n_edits++;
                }
        }
        w->new_from = (size_t) ((ssize_t) w->from + before);
        w->new_to = (size_t) ((ssize_t) w->to + before + within);
        return 0;
}

static bool token_is(const struct pconf_token *t, char c) {
        return t->kind == PCONF_TOKEN_PUNCT && t->c == c;
}

/* The serial's window: its literal; *RET_OK whether it now says OLD_SERIAL + 1. */
static int check_serial_window(const struct doc *d, const struct edits *ed, const char *out, size_t out_len,
                               uint64_t old_serial, struct window *w, bool *ret_ok) {
        struct pconf_token t;
        int r;

        pconf_next_token(d->text, d->len, d->serial_end, &t);
        *w = (struct window) { .from = d->serial_after, .to = t.start };
        r = window_map(ed, w);
        if (r < 0)
                return r;
        pconf_next_token(out, out_len, w->new_from, &t);
        if (t.kind != PCONF_TOKEN_INT)
                return -EAGAIN;
        *ret_ok = !t.truncated && t.i >= 0 && (uint64_t) t.i == old_serial + 1;
        pconf_next_token(out, out_len, t.end, &t);
        return t.start == w->new_to ? 0 : -EAGAIN;
}

static unsigned line_at(const char *text, unsigned line, size_t from, size_t to) {
        for (const char *p = text + from; (p = memchr(p, '\n', (size_t) (text + to - p))); p++)
                line++;
        return line;
}

/* An added entry's window: from the old list's last element (or its '(') to its ')', where the
 * edited text must hold one element more (*RET_FRAG: a tree of it). */
static int check_add_window(const struct doc *d, const struct edits *ed, const char *out, size_t out_len,
                            const struct list *l, struct window *w, struct pconf **ret_frag) {
        _cleanup_(pconf_freep) struct pconf *frag = NULL;
        struct pconf_error e;
        struct pconf_token t;
        unsigned line;
        int r;

        if (!l->found)
                return -EAGAIN;
        if (l->n > 0) {
                struct element last;
                doc_element(d, l, l->n - 1, &last);
                *w = (struct window) { .from = last.end, .to = l->close };
                line = line_at(d->text, last.line, last.start, last.end);
        } else {
                *w = (struct window) { .from = l->open + 1, .to = l->close };
                line = line_at(d->text, pconf_line(l->node), pconf_start(l->node), l->open + 1);
        }
        pconf_next_token(d->text, d->len, w->from, &t);
        if (!token_is(&t, ')') || t.start != l->close)
                return -EAGAIN;
        r = window_map(ed, w);
        if (r < 0)
                return r;
        if (w->new_to >= out_len || out[w->new_to] != ')')
                return -EAGAIN;

        r = pconf_parse_list_tail(out + w->new_from, w->new_to + 1 - w->new_from, line, l->n > 0, &frag, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || pconf_length(pconf_root(frag)) != 1)
                return -EAGAIN;
        *ret_frag = TAKE_PTR(frag);
        return 0;
}

/* A removed entry's window: the element and the comma that went with it. The edited text must
 * hold nothing there, and the element must be the one the whole check would look for: the
 * first with the permit, in the lists' order. */
static int check_remove_window(const struct doc *d, const struct edits *ed, const char *out, size_t out_len,
                               const struct list *l, size_t i, const char *permit, struct window *w) {
        struct element el, prev;
        struct pconf_token t;
        int r;

        for (size_t k = 0; k < ELEMENTSOF(edit_lists); k++) {
                const struct pconf_node *m = pconf_member(d->root, edit_lists[k]);
                r = find_permit_element(m, permit);
                if (r >= 0) {
                        if (m != l->node || (size_t) r != i)
                                return -EAGAIN;
                        break;
                }
        }
        if (r < 0)
                return -EAGAIN;

        doc_element(d, l, i, &el);
        if (i > 0) {
                doc_element(d, l, i - 1, &prev);
                if (!prev.has_comma)
                        return -EAGAIN;
        }
        if (el.has_comma) {
                /* [after the comma before it or the '(', to the token after its own comma) */
                pconf_next_token(d->text, d->len, el.comma + 1, &t);
                *w = (struct window) { .from = i > 0 ? prev.comma + 1 : l->open + 1, .to = t.start };
        } else {
                /* the last: [after the element before it or the '(', to the ')') */
                pconf_next_token(d->text, d->len, el.end, &t);
                if (!token_is(&t, ')') || t.start != l->close)
                        return -EAGAIN;
                *w = (struct window) { .from = i > 0 ? prev.end : l->open + 1, .to = l->close };
        }
        pconf_next_token(d->text, d->len, i > 0 && !el.has_comma ? prev.comma + 1 : w->from, &t);
        if (t.start != el.start)
                return -EAGAIN;

        r = window_map(ed, w);
        if (r < 0)
                return r;
        pconf_next_token(out, out_len, w->new_from, &t);
        return t.start == w->new_to ? 0 : -EAGAIN;
}

/* Whether OUT is the old text with exactly the requested change, from its windows alone: 0, or
 * -EBADMSG if it is not (what check_edit would say), or -EAGAIN if the windows cannot tell. */
static int check_edit_windows(const struct doc *d, const struct edits *ed, const char *out, size_t out_len,
                              const struct list *l, size_t index, const char *key, const struct policy *old,
                              const struct edit_request *req, const char *source, struct policy_diag *diag) {
        _cleanup_(pconf_freep) struct pconf *frag = NULL;
        _cleanup_(policy_freep) struct policy *added = NULL;
        struct window ws, wl;
        bool serial_ok = false;
        int r;

        r = check_serial_window(d, ed, out, out_len, old->serial, &ws, &serial_ok);
        if (r < 0)
                return r;
        if (req->kind == EDIT_REMOVE)
                r = check_remove_window(d, ed, out, out_len, l, index, req->permit, &wl);
        else
                r = check_add_window(d, ed, out, out_len, l, &wl, &frag);
        if (r < 0)
                return r;
        /* every edit in one of the two windows, which do not meet */
        if (ws.n_edits != 1 || ws.n_edits + wl.n_edits != ed->n || (ws.to > wl.from && wl.to > ws.from))
                return -EAGAIN;

        /* The edited text's tree is known now: what check_edit would find wrong with it. */
        if (!serial_ok)
                return -EBADMSG;
        if (req->kind == EDIT_REMOVE)
                return 0;
        r = policy_parse_added_entry(old, pconf_elem(pconf_root(frag), 0), key, l->n, source, &added, diag);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        return entry_is_requested(added, req) ? 0 : -EBADMSG;
}

/* The text edit, checked around what it changed (check_edit_windows). Returns 0 with the checked
 * text in *RET, -EAGAIN with a text the whole check must judge, or any other failure, which
 * only means "use the fallback". */
static int edit_text(const char *text, size_t len, const struct policy *p, const struct pconf *tree,
                     const struct edit_request *req, const char *source, char **ret, struct policy_diag *diag) {
        _cleanup_(edits_done) struct edits ed = {};
        _cleanup_free_ char *out = NULL;
        struct list l = {};
        const char *key = NULL;
        size_t index = 0, out_len;
        struct doc d;
        int r;

        r = doc_init(text, len, tree, &d);
        if (r < 0)
                return r;

        r = edit_serial(&ed, &d, p->serial, p->serial + 1);
        if (r < 0)
                return r;

        switch (req->kind) {
        case EDIT_ADD_USB: key = "usb"; break;
        case EDIT_ADD_NET: key = "network"; break;
        case EDIT_ADD_WIRELESS: key = "wireless"; break;
        case EDIT_ADD_MEDIA: key = "media"; break;
        case EDIT_REMOVE: break;
        }
        switch (req->kind) {
        case EDIT_ADD_USB:
        case EDIT_ADD_NET:
        case EDIT_ADD_WIRELESS:
        case EDIT_ADD_MEDIA:
                doc_list(&d, key, &l);
                r = edits_for_add(&ed, &d, &l, key,
                                  req->kind == EDIT_ADD_USB ? format_usb_entry :
                                  req->kind == EDIT_ADD_NET ? format_net_entry :
                                  req->kind == EDIT_ADD_WIRELESS ? format_wireless_entry : format_media_entry,
                                  req->kind == EDIT_ADD_USB ? (const void *) req->usb :
                                  req->kind == EDIT_ADD_NET ? (const void *) req->net :
                                  req->kind == EDIT_ADD_WIRELESS ? (const void *) req->wireless : (const void *) req->media);
                break;
        case EDIT_REMOVE:
                r = -ENOENT;
                for (size_t k = 0; k < ELEMENTSOF(edit_lists) && r == -ENOENT; k++) {
                        doc_list(&d, edit_lists[k], &l);
                        for (size_t i = 0; i < l.n; i++) {
                                r = element_has_permit(&d, &l, i, req->permit);
                                if (r < 0)
                                        return r;
                                if (r > 0) {
                                        key = edit_lists[k];
                                        index = i;
                                        r = edits_for_remove(&ed, &d, &l, i);
                                        break;
                                }
                                r = -ENOENT;
                        }
                }
                break;
        }
        if (r < 0)
                return r;

        r = edits_apply(&ed, text, len, &out, &out_len);
        if (r < 0)
                return r;

        r = policy_edit_force_full_check ? -EAGAIN :
            check_edit_windows(&d, &ed, out, out_len, &l, index, key, p, req, source, diag);
        if (r < 0 && r != -EAGAIN)
                return r;
        *ret = TAKE_PTR(out);
        return r;
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
        r = policy_edit_force_fallback ? -ECANCELED : edit_text(text, len, p, tree, req, source, &out, &d);
        if (r == -EAGAIN) {
                policy_edit_full_checks++;
                r = check_edit(out, source, p, tree, req, &d);
        }
        policy_diag_done(&d);
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
