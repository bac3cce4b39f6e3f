/* SPDX-License-Identifier: MIT */
/* The reader of the libconfig 1.5 syntax (policy-config.h): a hand-written lexer that follows
 * libconfig 1.5's flex rules byte for byte, and a recursive descent over its bison grammar.
 *
 * Where the two must agree to the line:
 * - a setting's line is the line of its name; an element's is where libconfig's parser stood
 *   when it made it: the line of a scalar's token, of a group's '{', a list's '(' or an array's
 *   '[', but for a string the line of the token after it (bison needs that lookahead to know
 *   whether another string follows to be joined);
 * - an error's line is the line at the end of the first token the grammar cannot take (an LR
 *   parser stops at exactly that token), "duplicate setting name" the line of the name;
 * - the lexer's odd corners: a `#` or `//` comment needs its newline (at the end of the file
 *   without one it is a stray character), an unterminated string or block comment ends the
 *   input quietly, "\x00" adds nothing, an unknown escape keeps its backslash, a decimal literal
 *   without L is atoi()'s (its low 32 bits), \v is not blank. */
#include "policy-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

#define ARENA_BLOCK (1u << 20)
#define DUP_HASH_FROM 32              /* members of a group checked for duplicates linearly */

struct arena_block {
        struct arena_block *next;
        size_t used, size;
        max_align_t data[];
};

struct pconf {
        struct arena_block *blocks;
        struct arena_block *strings;  /* the values' strings, apart: pconf_take_strings() */
        struct pconf_node root;
};

static void *arena_alloc_in(struct arena_block **blocks, size_t size, size_t align) {
        struct arena_block *b = *blocks;

        if (b)
                b->used = (b->used + align - 1) & ~(align - 1);
        if (!b || b->size - b->used < size) {
                size_t bs = MAX((size_t) ARENA_BLOCK, size);
                b = malloc(sizeof(struct arena_block) + bs);
                if (!b)
                        return NULL;
                b->size = bs;
                b->used = 0;
                b->next = *blocks;
                *blocks = b;
        }
        void *p = (char *) b->data + b->used;
        b->used += size;
        return p;
}

static void *arena_alloc(struct pconf *c, size_t size, size_t align) {
        return arena_alloc_in(&c->blocks, size, align);
}

static void arena_free(struct arena_block *b) {
        for (struct arena_block *next; b; b = next) {
                next = b->next;
                free(b);
        }
}

static char *arena_strndup_in(struct arena_block **blocks, const char *s, size_t n) {
        char *d = arena_alloc_in(blocks, n + 1, 1);
        if (!d)
                return NULL;
        memcpy(d, s, n);
        d[n] = 0;
        return d;
}

static char *arena_strndup(struct pconf *c, const char *s, size_t n) {
        return arena_strndup_in(&c->blocks, s, n);
}

struct pconf *pconf_free(struct pconf *c) {
        if (!c)
                return NULL;
        arena_free(c->blocks);
        arena_free(c->strings);
        return mfree(c);
}

struct pconf_strings *pconf_take_strings(struct pconf *c) {
        struct arena_block *b = TAKE_PTR(c->strings);
        return (struct pconf_strings *) b;
}

struct pconf_strings *pconf_strings_free(struct pconf_strings *s) {
        arena_free((struct arena_block *) s);
        return NULL;
}

const struct pconf_node *pconf_root(const struct pconf *c) {
        return &c->root;
}

const struct pconf_node *pconf_member(const struct pconf_node *g, const char *name) {
        if (g->type != PCONF_GROUP)
                return NULL;
        for (size_t i = 0; i < g->v.c.n; i++)
                if (strcmp(g->v.c.elems[i]->name, name) == 0)
                        return g->v.c.elems[i];
        return NULL;
}

/* ---- the lexer ------------------------------------------------------------------------------ */

enum token_type {
        T_EOF,
        T_NAME,
        T_STRING,                     /* decoded and appended to the reader's string buffer */
        T_BOOL,
        T_INT,
        T_INT64,
        T_HEX,
        T_HEX64,
        T_FLOAT,
        T_EQUALS,
        T_COMMA,
        T_SEMICOLON,
        T_GROUP_START,
        T_GROUP_END,
        T_ARRAY_START,
        T_ARRAY_END,
        T_LIST_START,
        T_LIST_END,
        T_GARBAGE,
};

struct token {
        enum token_type type;
        size_t start, end;
        unsigned line;                /* the line the lexer is on after the token */
};

#define INTERN_SLOTS 512               /* distinct names kept once; a policy has a few dozen */

struct intern {
        uint32_t hash;
        uint32_t len;
        const char *name;
};

struct reader {
        const char *text;
        size_t len, pos;
        unsigned line;
        struct token tok;             /* the lookahead */
        struct pconf *c;
        /* The string value being read (its literals decoded and joined), STR_LEN bytes of which
         * the first PCONF_STRING_MAX + 1 are kept: a longer one is refused by its length. The
         * text itself is not copied: a 40 MB policy is mostly not strings. */
        bool in_string;
        char *str;
        size_t str_len, str_size;
        struct intern interned[INTERN_SLOTS];
        size_t n_interned;
        bool scan_only;               /* tokens only: the text is not written (pconf_root_int64) */
        const struct pconf_node **stack;      /* elements of the open containers */
        size_t stack_len, stack_size;
        bool oom;
        bool unterminated;            /* a string or block comment ran to the end of the text */
        struct pconf_error *err;
        bool failed;
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_xdigit(char c) {
        return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static unsigned xdigit_value(char c) {
        return is_digit(c) ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
}

/* The lexer's classes of bytes, looked up once a byte: a 40 MB policy is read byte by byte. */
enum {
        C_BLANK = 1 << 0,             /* ' ' \t \r \f (not \v, as libconfig) */
        C_NAME_START = 1 << 1,
        C_NAME = 1 << 2,
        C_STRING_STOP = 1 << 3,       /* '"' and '\\', where a string literal's plain run ends */
        C_NEWLINE = 1 << 4,
};

static const uint8_t byte_class[256] = {
        [' '] = C_BLANK, ['\t'] = C_BLANK, ['\r'] = C_BLANK, ['\f'] = C_BLANK,
        ['\n'] = C_NEWLINE,
        ['a' ... 'z'] = C_NAME_START | C_NAME, ['A' ... 'Z'] = C_NAME_START | C_NAME, ['*'] = C_NAME_START | C_NAME,
        ['0' ... '9'] = C_NAME, ['-'] = C_NAME, ['_'] = C_NAME,
        ['"'] = C_STRING_STOP, ['\\'] = C_STRING_STOP,
};

static bool is_name_start(char c) {
        return byte_class[(uint8_t) c] & C_NAME_START;
}

static bool is_name_char(char c) {
        return byte_class[(uint8_t) c] & C_NAME;
}

static void str_put(struct reader *r, const char *s, size_t n) {
        if (r->scan_only)
                return;
        size_t keep = r->str_len > PCONF_STRING_MAX ? 0 : MIN(n, (size_t) PCONF_STRING_MAX + 1 - r->str_len);
        if (keep > r->str_size - r->str_len) {
                size_t size = MAX(MAX(r->str_size * 2, (size_t) 256), r->str_len + keep);
                char *b = realloc(r->str, size);
                if (!b) {
                        r->oom = true;
                        keep = 0;
                } else {
                        r->str = b;
                        r->str_size = size;
                }
        }
        if (keep > 0)
                memcpy(r->str + r->str_len, s, keep);
        r->str_len += n;
}

static void count_lines(struct reader *r, size_t from, size_t to) {
        const char *p = r->text + from, *end = r->text + to;
        while ((p = memchr(p, '\n', (size_t) (end - p)))) {
                r->line++;
                p++;
        }
}

/* A string literal from the opening quote at POS; returns the position after it, or LEN if it
 * does not end (the input then ends there for libconfig too). *ENDED says which. */
static size_t lex_string(struct reader *r, size_t pos, bool *ended) {
        const char *t = r->text;
        size_t len = r->len, p = pos + 1;

        if (!r->in_string) {
                r->in_string = true;
                r->str_len = 0;
        }

        for (;;) {
                size_t q = p;
                for (; q < len; q++) {
                        uint8_t k = byte_class[(uint8_t) t[q]];
                        if (k & C_STRING_STOP)
                                break;
                        if (k & C_NEWLINE)
                                r->line++;
                }
                str_put(r, t + p, q - p);
                if (q >= len) {
                        *ended = false;
                        r->unterminated = true;
                        return len;
                }
                if (t[q] == '"') {
                        *ended = true;
                        return q + 1;
                }
                char e = q + 1 < len ? t[q + 1] : 0, b;
                p = q + 2;
                switch (e) {
                case 'n': b = '\n'; break;
                case 'r': b = '\r'; break;
                case 't': b = '\t'; break;
                case 'f': b = '\f'; break;
                case '\\': b = '\\'; break;
                case '"': b = '"'; break;
                case 'x':
                case 'X':
                        if (q + 3 < len && is_xdigit(t[q + 2]) && is_xdigit(t[q + 3])) {
                                b = (char) (xdigit_value(t[q + 2]) << 4 | xdigit_value(t[q + 3]));
                                p = q + 4;
                                if (b == 0)
                                        continue;     /* libconfig appends it as a C string: nothing */
                                break;
                        }
                        __attribute__((fallthrough));
                default:
                        /* a backslash that starts no escape is kept; what follows is read as usual */
                        b = '\\';
                        p = q + 1;
                }
                str_put(r, &b, 1);
        }
}

/* A number at POS (a digit, sign or dot): the longest of libconfig's integer, integer64, hex,
 * hex64 and float patterns. Returns the token type, T_GARBAGE for a lone sign. */
static enum token_type lex_number(struct reader *r, size_t pos, size_t *ret_end) {
        const char *t = r->text;
        size_t len = r->len, q = pos;

        if (t[q] == '0' && q + 2 < len && (t[q + 1] | 0x20) == 'x' && is_xdigit(t[q + 2])) {
                q += 2;
                while (q < len && is_xdigit(t[q]))
                        q++;
                if (q < len && t[q] == 'L') {
                        q += 1 + (q + 1 < len && t[q + 1] == 'L');
                        *ret_end = q;
                        return T_HEX64;
                }
                *ret_end = q;
                return T_HEX;
        }
        if (t[q] == '+' || t[q] == '-')
                q++;
        size_t digits = q;
        while (q < len && is_digit(t[q]))
                q++;
        bool have_digits = q > digits;

        bool is_float = false;
        if (q < len && t[q] == '.') {
                q++;
                while (q < len && is_digit(t[q]))
                        q++;
                is_float = true;
        } else if (!have_digits) {
                *ret_end = pos + 1;
                return T_GARBAGE;
        } else if (q < len && t[q] == 'L') {
                q += 1 + (q + 1 < len && t[q + 1] == 'L');
                *ret_end = q;
                return T_INT64;
        }
        /* an exponent needs its digits: "1e" is 1 and the name "e" */
        if (q < len && (t[q] | 0x20) == 'e') {
                size_t e = q + 1;
                if (e < len && (t[e] == '+' || t[e] == '-'))
                        e++;
                if (e < len && is_digit(t[e])) {
                        while (e < len && is_digit(t[e]))
                                e++;
                        q = e;
                        is_float = true;
                }
        }
        *ret_end = q;
        return is_float ? T_FLOAT : T_INT;
}

static void lex(struct reader *r) {
        const char *t = r->text;
        size_t len = r->len, p = r->pos;
        struct token tok = {};

        for (;;) {
                if (p >= len) {
                        tok = (struct token) { T_EOF, len, len, r->line };
                        r->pos = len;
                        r->tok = tok;
                        return;
                }
                char c = t[p];
                uint8_t k = byte_class[(uint8_t) c];
                if (k & C_BLANK) {
                        do
                                p++;
                        while (p < len && (byte_class[(uint8_t) t[p]] & C_BLANK));
                        continue;
                }
                if (k & C_NEWLINE) {
                        r->line++;
                        p++;
                        continue;
                }
                if (c == '#' || (c == '/' && p + 1 < len && t[p + 1] == '/')) {
                        const char *nl = memchr(t + p, '\n', len - p);
                        if (!nl)
                                break;        /* no newline to end it: a stray character */
                        p = (size_t) (nl - t);
                        continue;
                }
                if (c == '/' && p + 1 < len && t[p + 1] == '*') {
                        const char *e = memmem(t + p + 2, len - p - 2, "*/", 2);
                        size_t end = e ? (size_t) (e - t) + 2 : len;
                        if (!e)
                                r->unterminated = true;
                        count_lines(r, p, end);
                        p = end;
                        continue;
                }
                break;
        }

        char c = t[p];
        tok.start = p;
        switch (c) {
        case '=':
        case ':':
                tok.type = T_EQUALS;
                p++;
                break;
        case ',': tok.type = T_COMMA; p++; break;
        case ';': tok.type = T_SEMICOLON; p++; break;
        case '{': tok.type = T_GROUP_START; p++; break;
        case '}': tok.type = T_GROUP_END; p++; break;
        case '[': tok.type = T_ARRAY_START; p++; break;
        case ']': tok.type = T_ARRAY_END; p++; break;
        case '(': tok.type = T_LIST_START; p++; break;
        case ')': tok.type = T_LIST_END; p++; break;
        case '"': {
                bool ended;
                size_t before = r->str_len;
                bool was = r->in_string;
                p = lex_string(r, p, &ended);
                tok.type = ended ? T_STRING : T_EOF;
                if (!ended) {
                        r->str_len = before;   /* it is not a string: the input ends */
                        r->in_string = was;
                }
                break;
        }
        default:
                if (is_name_start(c)) {
                        while (p < len && is_name_char(t[p]))
                                p++;
                        size_t n = p - tok.start;
                        if ((n == 4 && strncasecmp(t + tok.start, "true", 4) == 0) ||
                            (n == 5 && strncasecmp(t + tok.start, "false", 5) == 0))
                                tok.type = T_BOOL;
                        else
                                tok.type = T_NAME;
                } else if (is_digit(c) || c == '+' || c == '-' || c == '.')
                        tok.type = lex_number(r, p, &p);
                else {
                        tok.type = T_GARBAGE;
                        p++;
                }
        }
        tok.end = p;
        tok.line = r->line;
        r->pos = p;
        r->tok = tok;
}

/* ---- values --------------------------------------------------------------------------------- */

/* strtoull()'s magnitude of the digits in [S, E) in BASE, saturated. */
static uint64_t magnitude(const char *s, const char *e, unsigned base, bool *overflow) {
        uint64_t v = 0;
        *overflow = false;
        for (; s < e; s++) {
                unsigned d = xdigit_value(*s);
                if (v > (UINT64_MAX - d) / base) {
                        *overflow = true;
                        return UINT64_MAX;
                }
                v = v * base + d;
        }
        return v;
}

/* strtoll()'s value of a signed decimal literal, saturated; *EXACT false if it was. */
static int64_t decimal(const char *s, const char *e, bool *exact) {
        bool neg = *s == '-', overflow;
        if (*s == '-' || *s == '+')
                s++;
        uint64_t m = magnitude(s, e, 10, &overflow);
        if (neg) {
                if (overflow || m > (uint64_t) INT64_MAX + 1) {
                        *exact = false;
                        return INT64_MIN;
                }
                *exact = true;
                return m == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) m;
        }
        if (overflow || m > INT64_MAX) {
                *exact = false;
                return INT64_MAX;
        }
        *exact = true;
        return (int64_t) m;
}

_printf_(4, 5) static void fail(struct reader *r, enum pconf_error_kind kind, unsigned line, const char *fmt, ...) {
        va_list ap;

        if (r->failed)
                return;
        r->failed = true;
        r->err->kind = kind;
        r->err->line = line;
        va_start(ap, fmt);
        vsnprintf(r->err->text, sizeof r->err->text, fmt, ap);
        va_end(ap);
}

static void syntax_error(struct reader *r) {
        fail(r, PCONF_ERROR_SYNTAX, r->tok.line, "syntax error");
}

static struct pconf_node *node_new(struct reader *r, enum pconf_type type, unsigned line, const char *name) {
        struct pconf_node *n = arena_alloc(r->c, sizeof *n, _Alignof(struct pconf_node));
        if (!n) {
                r->oom = true;
                return NULL;
        }
        *n = (struct pconf_node) { .type = type, .line = line, .name = name };
        return n;
}

static int stack_push(struct reader *r, const struct pconf_node *n) {
        if (r->stack_len == r->stack_size) {
                size_t size = MAX(r->stack_size * 2, (size_t) 64);
                const struct pconf_node **s = reallocarray(r->stack, size, sizeof *s);
                if (!s) {
                        r->oom = true;
                        return -ENOMEM;
                }
                r->stack = s;
                r->stack_size = size;
        }
        r->stack[r->stack_len++] = n;
        return 0;
}

/* Moves the elements pushed since FROM into container N. */
static int stack_pop_into(struct reader *r, size_t from, struct pconf_node *n) {
        size_t k = r->stack_len - from;
        const struct pconf_node **e = NULL;

        if (k > 0) {
                e = arena_alloc(r->c, k * sizeof *e, _Alignof(const struct pconf_node *));
                if (!e) {
                        r->oom = true;
                        return -ENOMEM;
                }
                memcpy(e, r->stack + from, k * sizeof *e);
        }
        n->v.c.elems = e;
        n->v.c.n = k;
        r->stack_len = from;
        return 0;
}

/* A scalar token's value into N. */
static int scalar(struct reader *r, struct pconf_node *n) {
        const char *s = r->text + r->tok.start, *e = r->text + r->tok.end;
        bool overflow, exact;
        uint64_t m;

        switch (r->tok.type) {
        case T_BOOL:
                n->type = PCONF_BOOL;
                n->v.i = (*s | 0x20) == 't';
                return 0;
        case T_INT: {
                /* atoi(): strtol's value, then its low 32 bits */
                int64_t v = decimal(s, e, &exact);
                n->type = PCONF_INT;
                n->v.i = (int32_t) (uint32_t) (uint64_t) v;
                n->truncated = !exact || n->v.i != v;
                return 0;
        }
        case T_INT64:
                while (e[-1] == 'L')
                        e--;
                n->type = PCONF_INT64;
                n->v.i = decimal(s, e, &exact);
                return 0;
        case T_HEX:
                m = magnitude(s + 2, e, 16, &overflow);
                n->type = PCONF_INT;
                n->hex = true;
                n->v.i = (int32_t) (uint32_t) m;
                n->truncated = m > INT32_MAX;
                return 0;
        case T_HEX64:
                while (e[-1] == 'L')
                        e--;
                m = magnitude(s + 2, e, 16, &overflow);
                n->type = PCONF_INT64;
                n->hex = true;
                n->v.i = (int64_t) m;
                return 0;
        case T_FLOAT: {
                char buf[128], *copy = buf;
                size_t k = (size_t) (e - s);
                if (k >= sizeof buf) {
                        copy = malloc(k + 1);
                        if (!copy) {
                                r->oom = true;
                                return -ENOMEM;
                        }
                }
                memcpy(copy, s, k);
                copy[k] = 0;
                n->type = PCONF_FLOAT;
                n->v.f = strtod(copy, NULL);
                if (copy != buf)
                        free(copy);
                return 0;
        }
        default:
                return -EINVAL;
        }
}

static bool token_is_scalar(enum token_type t) {
        return t >= T_STRING && t <= T_FLOAT;
}

/* The string value whose first literal is the lookahead: joins the adjacent ones. Leaves the
 * token after them as the lookahead. */
static int string_value(struct reader *r, struct pconf_node *n) {
        while (r->tok.type == T_STRING) {
                n->end = (uint32_t) r->tok.end;
                lex(r);
                if (r->oom)
                        return -ENOMEM;
        }
        size_t len = r->str_len;
        r->in_string = false;
        if (len > PCONF_STRING_MAX) {
                fail(r, PCONF_ERROR_BOUND, n->line, "string longer than %u bytes", PCONF_STRING_MAX);
                return -EINVAL;
        }
        char *v = arena_strndup_in(&r->c->strings, len > 0 ? r->str : "", len);
        if (!v) {
                r->oom = true;
                return -ENOMEM;
        }
        n->type = PCONF_STRING;
        n->v.str.s = v;
        n->v.str.len = len;
        return 0;
}

static int settings(struct reader *r, struct pconf_node *g, unsigned depth);

/* A value at the lookahead, into N (already named and placed, or an element: ELEMENT). */
static int value(struct reader *r, struct pconf_node *n, unsigned depth, bool element) {
        enum token_type t = r->tok.type;
        int k;

        if (t == T_STRING) {
                k = string_value(r, n);
                if (k < 0)
                        return k;
                /* libconfig made the element when it saw the token after the strings */
                if (element)
                        n->line = r->tok.line;
                return 0;
        }
        if (token_is_scalar(t)) {
                k = scalar(r, n);
                if (k < 0)
                        return k;
                n->end = (uint32_t) r->tok.end;
                lex(r);
                return 0;
        }
        if (t != T_GROUP_START && t != T_ARRAY_START && t != T_LIST_START) {
                syntax_error(r);
                return -EINVAL;
        }
        if (depth + 1 > PCONF_DEPTH_MAX) {
                fail(r, PCONF_ERROR_BOUND, r->tok.line, "nested deeper than %d levels", PCONF_DEPTH_MAX);
                return -EINVAL;
        }
        lex(r);
        if (t == T_GROUP_START) {
                n->type = PCONF_GROUP;
                k = settings(r, n, depth + 1);
                if (k < 0)
                        return k;
                if (r->tok.type != T_GROUP_END) {
                        syntax_error(r);
                        return -EINVAL;
                }
                n->end = (uint32_t) r->tok.end;
                lex(r);
                return 0;
        }

        bool array = t == T_ARRAY_START;
        enum token_type close = array ? T_ARRAY_END : T_LIST_END;
        size_t from = r->stack_len;
        n->type = array ? PCONF_ARRAY : PCONF_LIST;
        if (r->tok.type != close)
                for (;;) {
                        if (array && !token_is_scalar(r->tok.type)) {
                                syntax_error(r);
                                return -EINVAL;
                        }
                        struct pconf_node *e = node_new(r, PCONF_NONE, r->tok.line, NULL);
                        if (!e)
                                return -ENOMEM;
                        e->start = (uint32_t) r->tok.start;
                        k = value(r, e, depth + 1, true);
                        if (k < 0)
                                return k;
                        /* an array's first element decides its type; int and int64 differ */
                        if (array && r->stack_len > from && r->stack[from]->type != e->type) {
                                fail(r, PCONF_ERROR_SYNTAX, e->line, "mismatched element type in array");
                                return -EINVAL;
                        }
                        if (stack_push(r, e) < 0)
                                return -ENOMEM;
                        if (r->tok.type == close)
                                break;
                        if (r->tok.type != T_COMMA) {
                                syntax_error(r);
                                return -EINVAL;
                        }
                        lex(r);
                }
        n->end = (uint32_t) r->tok.end;
        lex(r);
        return stack_pop_into(r, from, n);
}

static uint32_t name_hash_n(const char *s, size_t n) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t) s[i]) * 16777619u;
        return h;
}

static uint32_t name_hash(const char *s) {
        return name_hash_n(s, strlen(s));
}

/* The name S (N bytes) in the arena, once for all settings of that name while there is room. */
static const char *intern(struct reader *r, const char *s, size_t n, uint32_t h) {
        size_t k = h & (INTERN_SLOTS - 1);

        for (; r->interned[k].name; k = (k + 1) & (INTERN_SLOTS - 1))
                if (r->interned[k].hash == h && r->interned[k].len == n && memcmp(r->interned[k].name, s, n) == 0)
                        return r->interned[k].name;
        const char *d = arena_strndup(r->c, s, n);
        if (d && r->n_interned < INTERN_SLOTS / 2) {
                r->interned[k] = (struct intern) { h, (uint32_t) n, d };
                r->n_interned++;
        }
        return d;
}

/* The members of a group with many: an open-addressing set of their names (stack indices + 1). */
struct dup_set {
        uint32_t *slots;
        size_t size, n;
};

static void dup_set_done(struct dup_set *d) {
        free(d->slots);
}

/* Adds member I (on the stack); false if its name is there already. */
static int dup_set_add(struct reader *r, struct dup_set *d, size_t i) {
        if (2 * (d->n + 1) > d->size) {
                size_t size = MAX(d->size * 2, (size_t) 4 * DUP_HASH_FROM);
                uint32_t *s = calloc(size, sizeof *s);
                if (!s)
                        return -ENOMEM;
                for (size_t k = 0; k < d->size; k++)
                        if (d->slots[k]) {
                                size_t h = name_hash(r->stack[d->slots[k] - 1]->name) & (size - 1);
                                while (s[h])
                                        h = (h + 1) & (size - 1);
                                s[h] = d->slots[k];
                        }
                free(d->slots);
                d->slots = s;
                d->size = size;
        }
        const char *name = r->stack[i]->name;
        size_t h = name_hash(name) & (d->size - 1);
        for (; d->slots[h]; h = (h + 1) & (d->size - 1))
                if (strcmp(r->stack[d->slots[h] - 1]->name, name) == 0)
                        return 0;
        d->slots[h] = (uint32_t) (i + 1);
        d->n++;
        return 1;
}

/* Settings up to the lookahead '}' (or the end of the input for the root) into group G. */
static int settings(struct reader *r, struct pconf_node *g, unsigned depth) {
        _cleanup_(dup_set_done) struct dup_set dups = {};
        uint32_t hashes[DUP_HASH_FROM];
        enum token_type close = depth == 0 ? T_EOF : T_GROUP_END;
        size_t from = r->stack_len;
        int k;

        while (r->tok.type != close) {
                if (r->tok.type != T_NAME) {
                        syntax_error(r);
                        return -EINVAL;
                }
                size_t nlen = r->tok.end - r->tok.start;
                if (nlen > PCONF_NAME_MAX) {
                        fail(r, PCONF_ERROR_BOUND, r->tok.line, "a name longer than %d bytes", PCONF_NAME_MAX);
                        return -EINVAL;
                }
                uint32_t h = name_hash_n(r->text + r->tok.start, nlen);
                const char *name = intern(r, r->text + r->tok.start, nlen, h);
                struct pconf_node *n = name ? node_new(r, PCONF_NONE, r->tok.line, name) : NULL;
                if (!n) {
                        r->oom = true;
                        return -ENOMEM;
                }
                n->start = (uint32_t) r->tok.start;
                if (stack_push(r, n) < 0)
                        return -ENOMEM;
                size_t i = r->stack_len - 1, members = i - from;
                bool dup = false;
                if (members < DUP_HASH_FROM) {
                        for (size_t j = from; j < i && !dup; j++)
                                dup = hashes[j - from] == h &&
                                      (r->stack[j]->name == name || strcmp(r->stack[j]->name, name) == 0);
                        hashes[members] = h;
                } else {
                        if (dups.n == 0)
                                for (size_t j = from; j < i; j++)
                                        if (dup_set_add(r, &dups, j) < 0) {
                                                r->oom = true;
                                                return -ENOMEM;
                                        }
                        k = dup_set_add(r, &dups, i);
                        if (k < 0) {
                                r->oom = true;
                                return -ENOMEM;
                        }
                        dup = k == 0;
                }
                if (dup) {
                        fail(r, PCONF_ERROR_SYNTAX, n->line, "duplicate setting name");
                        return -EINVAL;
                }
                /* the value has been placed (and stays there on an error: freed with the arena) */
                lex(r);
                if (r->tok.type != T_EQUALS) {
                        syntax_error(r);
                        return -EINVAL;
                }
                lex(r);
                k = value(r, n, depth, false);
                if (k < 0)
                        return k;
                if (r->tok.type == T_SEMICOLON || r->tok.type == T_COMMA)
                        lex(r);
        }
        return stack_pop_into(r, from, g);
}

/* A reader over a copy of TEXT (strings are decoded in place), its tree's root of TYPE. A NUL
 * byte is refused (libconfig would stop reading there). Returns 0, -EINVAL with R->err filled,
 * -ENOMEM. */
static int reader_init(struct reader *r, const char *text, size_t len, unsigned line, enum pconf_type type) {
        if (len > PCONF_TEXT_MAX)
                return -E2BIG;

        r->len = len;
        r->line = line;
        r->c = calloc(1, sizeof(struct pconf));
        if (!r->c)
                return -ENOMEM;
        r->c->root.type = type;
        r->text = text;

        const char *nul = len > 0 ? memchr(text, 0, len) : NULL;
        if (nul) {
                for (const char *p = text; (p = memchr(p, '\n', (size_t) (nul - p))); p++)
                        line++;
                fail(r, PCONF_ERROR_BOUND, line, "contains a NUL byte");
                return -EINVAL;
        }
        return 0;
}

/* The end of a read: the tree in *RET, or freed and the error in *ERR. */
static int reader_finish(struct reader *r, int k, struct pconf **ret, struct pconf_error *err) {
        if (r->oom)
                k = -ENOMEM;
        free(r->stack);
        free(r->str);
        if (k < 0) {
                pconf_free(r->c);
                if (k == -EINVAL && err)
                        *err = *r->err;
                return k;
        }
        *ret = r->c;
        return 0;
}

int pconf_parse(const char *text, size_t len, struct pconf **ret, struct pconf_error *err) {
        struct pconf_error e = {};
        struct reader r = { .err = &e };
        int k;

        if (!text && len > 0)
                return -EINVAL;
        k = reader_init(&r, text, len, 1, PCONF_GROUP);
        if (k >= 0) {
                lex(&r);
                k = settings(&r, &r.c->root, 0);
        }
        if (k == -E2BIG) {
                fail(&r, PCONF_ERROR_BOUND, 1, "larger than %u bytes", PCONF_TEXT_MAX);
                k = -EINVAL;
        }
        return reader_finish(&r, k, ret, err);
}

int pconf_parse_list_tail(const char *text, size_t len, unsigned line, bool after_element, struct pconf **ret,
                          struct pconf_error *err) {
        struct pconf_error e = {};
        struct reader r = { .err = &e };
        int k;

        if (!text && len > 0)
                return -EINVAL;
        k = reader_init(&r, text, len, line, PCONF_LIST);
        if (k == -E2BIG) {
                fail(&r, PCONF_ERROR_BOUND, line, "larger than %u bytes", PCONF_TEXT_MAX);
                k = -EINVAL;
        }
        if (k >= 0) {
                lex(&r);
                for (bool comma = after_element; r.tok.type != T_LIST_END;) {
                        if (comma) {
                                if (r.tok.type != T_COMMA) {
                                        syntax_error(&r);
                                        k = -EINVAL;
                                        break;
                                }
                                lex(&r);
                        }
                        struct pconf_node *n = node_new(&r, PCONF_NONE, r.tok.line, NULL);
                        if (!n) {
                                k = -ENOMEM;
                                break;
                        }
                        n->start = (uint32_t) r.tok.start;
                        /* as the elements of a list that is a top-level setting's value */
                        k = value(&r, n, 1, true);
                        if (k < 0)
                                break;
                        if (stack_push(&r, n) < 0) {
                                k = -ENOMEM;
                                break;
                        }
                        comma = true;
                }
        }
        if (k >= 0) {
                r.c->root.end = (uint32_t) r.tok.end;
                lex(&r);
                if (r.tok.type != T_EOF || r.unterminated) {
                        syntax_error(&r);
                        k = -EINVAL;
                }
        }
        if (k >= 0)
                k = stack_pop_into(&r, 0, &r.c->root);
        return reader_finish(&r, k, ret, err);
}

void pconf_next_token(const char *text, size_t len, size_t pos, struct pconf_token *ret) {
        struct reader r = {
                .text = text,
                .len = len,
                .pos = MIN(pos, len),
                .scan_only = true,
        };
        struct pconf_node v = {};

        lex(&r);
        struct pconf_token t = { .start = r.tok.start, .end = r.tok.end, .newlines = r.line };
        switch (r.tok.type) {
        case T_EOF:
                t.kind = r.unterminated ? PCONF_TOKEN_BAD : PCONF_TOKEN_END;
                break;
        case T_NAME:
                t.kind = PCONF_TOKEN_NAME;
                break;
        case T_STRING:
                t.kind = PCONF_TOKEN_STRING;
                break;
        case T_INT:
        case T_INT64:
        case T_HEX:
        case T_HEX64:
                t.kind = PCONF_TOKEN_INT;
                (void) scalar(&r, &v);
                t.i = v.v.i;
                t.int64 = v.type == PCONF_INT64;
                t.truncated = v.truncated;
                break;
        case T_BOOL:
        case T_FLOAT:
                t.kind = PCONF_TOKEN_OTHER;
                break;
        case T_GARBAGE:
                t.kind = PCONF_TOKEN_BAD;
                break;
        default:
                t.kind = PCONF_TOKEN_PUNCT;
                t.c = text[t.start] == ':' ? '=' : text[t.start];
                break;
        }
        *ret = t;
}

bool pconf_equal(const struct pconf_node *a, const struct pconf_node *b) {
        if (a->type != b->type || a->hex != b->hex || a->truncated != b->truncated)
                return false;
        if ((a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name) != 0))
                return false;
        switch (a->type) {
        case PCONF_INT:
        case PCONF_INT64:
        case PCONF_BOOL:
                return a->v.i == b->v.i;
        case PCONF_FLOAT:
                return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
        case PCONF_STRING:
                return a->v.str.len == b->v.str.len && memcmp(a->v.str.s, b->v.str.s, a->v.str.len) == 0;
        case PCONF_GROUP:
        case PCONF_ARRAY:
        case PCONF_LIST:
                if (a->v.c.n != b->v.c.n)
                        return false;
                /* the depth is bounded by PCONF_DEPTH_MAX, so is this recursion */
                for (size_t i = 0; i < a->v.c.n; i++)
                        if (!pconf_equal(a->v.c.elems[i], b->v.c.elems[i]))
                                return false;
                return true;
        default:
                return true;
        }
}

int pconf_root_int64(const char *text, size_t len, const char *name, int64_t *ret) {
        struct reader r = {
                .text = text,
                .len = len,
                .line = 1,
                .scan_only = true,
        };
        unsigned depth = 0;
        size_t n = strlen(name);

        if (!text || memchr(text, 0, len))
                return -EINVAL;
        for (lex(&r); r.tok.type != T_EOF; lex(&r)) {
                switch (r.tok.type) {
                case T_GROUP_START:
                case T_ARRAY_START:
                case T_LIST_START:
                        depth++;
                        break;
                case T_GROUP_END:
                case T_ARRAY_END:
                case T_LIST_END:
                        if (depth == 0)
                                return -EINVAL;
                        depth--;
                        break;
                case T_NAME:
                        if (depth > 0 || r.tok.end - r.tok.start != n || memcmp(text + r.tok.start, name, n) != 0)
                                break;
                        lex(&r);
                        if (r.tok.type != T_EQUALS)
                                return -EINVAL;
                        lex(&r);
                        struct pconf_node v = {};
                        if (r.tok.type != T_INT && r.tok.type != T_INT64 && r.tok.type != T_HEX && r.tok.type != T_HEX64)
                                return -EINVAL;
                        if (scalar(&r, &v) < 0 || v.truncated)
                                return -EINVAL;
                        *ret = v.v.i;
                        return 0;
                case T_GARBAGE:
                        return -EINVAL;
                default:
                        break;
                }
        }
        return -ENOENT;
}
