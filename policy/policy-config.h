/* SPDX-License-Identifier: MIT */
/* The reader of policy files: the libconfig 1.5 syntax (docs/policy.md) -> a tree of settings.
 *
 * It reads what libconfig 1.5's config_read_string() reads, to the same tree with the same
 * source lines and the same "syntax error" lines (tests/unit/test-policy-config.c and
 * tests/fuzz/fuzz-policy-config.c hold it to libconfig), with three differences on purpose:
 * @include is not a directive but a syntax error (an included file would not be signed;
 * policy-parse.c refuses it with its own message first), a NUL byte is refused, and nesting,
 * names and strings are bounded (PCONF_DEPTH_MAX, PCONF_NAME_MAX, PCONF_STRING_MAX).
 *
 * libconfig spends more time allocating and freeing its tree than reading a 40 MB policy; here
 * every node, name and string lives in one arena freed at once. The tree is read-only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCONF_DEPTH_MAX 32            /* a policy nests four deep (root, list, entry, array) */
#define PCONF_NAME_MAX 256            /* bytes of a setting's name */
#define PCONF_STRING_MAX (1u << 20)   /* bytes of one string value (adjacent strings together) */
#define PCONF_TEXT_MAX UINT32_MAX     /* bytes of a text: the tree's offsets are 32-bit */

/* The values of libconfig's CONFIG_TYPE_*, so that the two trees compare directly. */
enum pconf_type {
        PCONF_NONE = 0,
        PCONF_GROUP = 1,
        PCONF_INT = 2,
        PCONF_INT64 = 3,
        PCONF_FLOAT = 4,
        PCONF_STRING = 5,
        PCONF_BOOL = 6,
        PCONF_ARRAY = 7,
        PCONF_LIST = 8,
};

struct pconf_node {
        uint8_t type;                 /* enum pconf_type */
        bool hex;                     /* an integer written 0x... */
        bool truncated;               /* an integer literal without L that does not fit 32 bits:
                                       * libconfig 1.5 keeps its low 32 bits, so does the value */
        unsigned line;                /* libconfig's source line of the setting */
        uint32_t start, end;          /* bytes of the text it was read from: a setting from its
                                       * name, an element from its value's first token, to one
                                       * past the value's last token (see pconf_next_token) */
        const char *name;             /* NULL for the elements of lists and arrays */
        union {
                int64_t i;            /* INT (as int32), INT64, BOOL (0 or 1) */
                double f;
                struct {
                        const char *s;        /* NUL-terminated; libconfig drops "\x00" too */
                        size_t len;
                } str;
                struct {
                        const struct pconf_node *const *elems;
                        size_t n;
                } c;                  /* GROUP, ARRAY, LIST */
        } v;
};

struct pconf;

enum pconf_error_kind {
        PCONF_ERROR_SYNTAX = 1,       /* what libconfig 1.5 refuses as well, on the same line */
        PCONF_ERROR_BOUND,            /* a bound of ours (depth, name, string, NUL byte) */
};

struct pconf_error {
        enum pconf_error_kind kind;
        unsigned line;
        char text[80];                /* libconfig's wording where libconfig refuses it too */
};

/* Reads TEXT (LEN bytes, need not be NUL-terminated; at most PCONF_TEXT_MAX). Returns 0 and the
 * tree in *RET, -EINVAL with *ERR filled if the text is not a configuration, -ENOMEM. */
int pconf_parse(const char *text, size_t len, struct pconf **ret, struct pconf_error *err);
struct pconf *pconf_free(struct pconf *c);
static inline void pconf_freep(struct pconf **c) {
        if (*c)
                pconf_free(*c);
}

/* The strings of C's values (what pconf_string returns), handed over: they stay valid after
 * pconf_free(C), until pconf_strings_free(). NULL if C has none, or they were taken already. */
struct pconf_strings;
struct pconf_strings *pconf_take_strings(struct pconf *c);
struct pconf_strings *pconf_strings_free(struct pconf_strings *s);

/* The root group (line 0, no name). */
const struct pconf_node *pconf_root(const struct pconf *c);

static inline enum pconf_type pconf_type(const struct pconf_node *n) {
        return (enum pconf_type) n->type;
}
static inline const char *pconf_name(const struct pconf_node *n) {
        return n->name;
}
static inline unsigned pconf_line(const struct pconf_node *n) {
        return n->line;
}
static inline size_t pconf_start(const struct pconf_node *n) {
        return n->start;
}
static inline size_t pconf_end(const struct pconf_node *n) {
        return n->end;
}
static inline bool pconf_is_container(const struct pconf_node *n) {
        return n->type == PCONF_GROUP || n->type == PCONF_ARRAY || n->type == PCONF_LIST;
}
/* Elements of a group, list or array; 0 for a scalar. */
static inline size_t pconf_length(const struct pconf_node *n) {
        return pconf_is_container(n) ? n->v.c.n : 0;
}
static inline const struct pconf_node *pconf_elem(const struct pconf_node *n, size_t i) {
        return i < pconf_length(n) ? n->v.c.elems[i] : NULL;
}
/* The string of a STRING node, NULL for any other. */
static inline const char *pconf_string(const struct pconf_node *n) {
        return n->type == PCONF_STRING ? n->v.str.s : NULL;
}
/* The value of an INT, INT64 or BOOL node; 0 for any other. */
static inline int64_t pconf_int64(const struct pconf_node *n) {
        return n->type == PCONF_INT || n->type == PCONF_INT64 || n->type == PCONF_BOOL ? n->v.i : 0;
}
static inline double pconf_float(const struct pconf_node *n) {
        return n->type == PCONF_FLOAT ? n->v.f : 0.0;
}
/* The member NAME of group G (linear: groups are small), or NULL. */
const struct pconf_node *pconf_member(const struct pconf_node *g, const char *name);

/* Whether A and B hold the same: types, names, values and elements, not lines. */
bool pconf_equal(const struct pconf_node *a, const struct pconf_node *b);

/* The integer value of the top-level setting NAME of TEXT, found by the lexer alone, without
 * building a tree (for reporting what a checked edit wrote). -ENOENT if there is none, -EINVAL
 * if it is not an integer that fits or the text is not one the lexer reads. For text that
 * pconf_parse() has accepted. */
int pconf_root_int64(const char *text, size_t len, const char *name, int64_t *ret);

/* ---- reading around an edit (policy-edit.c) --------------------------------------------------
 * The lexer is stateless between tokens: from the end of a token, the rest of a text lexes the
 * same whatever came before. So an edit of a text already read is checked by lexing only around
 * the bytes it changed, from a token end before them to a token start after them. */

enum pconf_token_kind {
        PCONF_TOKEN_END,              /* the end of the text, after blanks and closed comments */
        PCONF_TOKEN_PUNCT,            /* = : , ; { } [ ] ( ), in C */
        PCONF_TOKEN_NAME,
        PCONF_TOKEN_STRING,           /* one literal */
        PCONF_TOKEN_INT,              /* an integer: decimal or hex, with or without L */
        PCONF_TOKEN_OTHER,            /* a boolean or a float */
        PCONF_TOKEN_BAD,              /* a stray byte, or a string or block comment that does not
                                       * end (libconfig ends the input there quietly) */
};

struct pconf_token {
        enum pconf_token_kind kind;
        char c;                       /* PUNCT: the character ('=' for ':' too) */
        size_t start, end;
        unsigned newlines;            /* newlines from where the lexer started to END */
        /* INT: the value as pconf_parse reads it (INT: its low 32 bits), whether the literal is
         * a 64-bit one (L), and whether a literal without L did not fit 32 bits */
        int64_t i;
        bool int64, truncated;
};

/* The token that follows POS in TEXT (LEN bytes), blanks and comments skipped. POS must not be
 * inside a token or comment. */
void pconf_next_token(const char *text, size_t len, size_t pos, struct pconf_token *ret);

/* Reads TEXT as the rest of a list from just after its '(' (AFTER_ELEMENT false) or from just
 * after one of its elements (true): elements separated by commas (after an element, each one
 * preceded by one), the closing ')' and nothing else. LINE is the line TEXT starts on; the
 * elements are nested as those of a top-level list. Returns 0 and a tree whose root holds the
 * elements read (as a list, not a group), -EINVAL with *ERR filled, -ENOMEM. */
int pconf_parse_list_tail(const char *text, size_t len, unsigned line, bool after_element, struct pconf **ret,
                          struct pconf_error *err);
