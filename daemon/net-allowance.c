/* SPDX-License-Identifier: MIT */
#include "net-allowance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hexutil.h"
#include "macro.h"

#define HEADER "kyoka network links at installation 1\n"
/* One line: "aa:bb:cc:dd:ee:ff" or "-", P or C, then kind, name, path as sanitised text, each
 * field ended by a tab, the last by a newline. */
#define LINE_MAX_BYTES (18 + 2 + NET_KIND_MAX + NET_NAME_MAX + NET_PATH_MAX + 8)
#define FILE_MAX (sizeof(HEADER) + (size_t) NET_ALLOWANCE_MAX * LINE_MAX_BYTES)

struct net_allowance *net_allowance_free(struct net_allowance *a) {
        if (!a)
                return NULL;
        free(a->links);
        return mfree(a);
}

int net_allowance_add(struct net_allowance *a, const struct net_identity *id) {
        if (a->n >= NET_ALLOWANCE_MAX)
                return -E2BIG;
        struct net_identity *more = realloc(a->links, (a->n + 1) * sizeof *more);
        if (!more)
                return -ENOMEM;
        a->links = more;
        struct net_identity *l = &a->links[a->n++];
        *l = *id;
        l->ifindex = 0;
        l->driver[0] = 0;
        return 0;
}

static bool same_link(const struct net_identity *a, const struct net_identity *b) {
        return strncmp(a->name, b->name, sizeof a->name) == 0 &&
               a->has_mac == b->has_mac &&
               (!a->has_mac || (a->mac_is_permanent == b->mac_is_permanent && memcmp(a->mac, b->mac, 6) == 0)) &&
               strncmp(a->kind, b->kind, sizeof a->kind) == 0 &&
               strncmp(a->path, b->path, sizeof a->path) == 0 &&
               a->is_loopback == b->is_loopback;
}

bool net_allowance_contains(const struct net_allowance *a, const struct net_identity *id) {
        if (!a)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (same_link(&a->links[i], id))
                        return true;
        return false;
}

int net_allowance_format(const struct net_allowance *a, char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        fputs(HEADER, f);
        for (size_t i = 0; i < a->n; i++) {
                const struct net_identity *l = &a->links[i];
                char mac[18];
                if (l->has_mac) {
                        mac_format(l->mac, mac);
                        fprintf(f, "%s\t%c", mac, l->mac_is_permanent ? 'P' : 'C');
                } else
                        fputs("-\t-", f);
                fprintf(f, "\t%.*s\t%.*s\t%.*s\n", (int) sizeof l->kind, l->kind, (int) sizeof l->name, l->name,
                        (int) sizeof l->path, l->path);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

/* A field of at most SIZE - 1 bytes that sanitising leaves unchanged (no tab, newline, control
 * character or invalid UTF-8): what the writer's identity fields always are. */
static int parse_line(const char *s, size_t len, struct net_identity *ret) {
        const char *field[5];
        size_t flen[5], k = 0;
        const char *p = s, *end = s + len;

        for (; k < 4; k++) {
                const char *tab = memchr(p, '\t', (size_t) (end - p));
                if (!tab)
                        return -EBADMSG;
                field[k] = p;
                flen[k] = (size_t) (tab - p);
                p = tab + 1;
        }
        field[4] = p;                   /* the rest of the line: no tab in a path */
        flen[4] = (size_t) (end - p);
        if (memchr(field[4], '\t', flen[4]))
                return -EBADMSG;

        struct net_identity id = {};
        if (flen[0] == 1 && field[0][0] == '-') {
                if (flen[1] != 1 || field[1][0] != '-')
                        return -EBADMSG;
        } else {
                /* The writer's spelling only (mac_format): lowercase. */
                if (mac_parse(field[0], flen[0], HEX_LOWERCASE, id.mac) < 0 || flen[1] != 1 ||
                    (field[1][0] != 'P' && field[1][0] != 'C'))
                        return -EBADMSG;
                id.has_mac = true;
                id.mac_is_permanent = field[1][0] == 'P';
        }
        if (identity_take_clean(field[2], flen[2], id.kind, sizeof id.kind) < 0 ||
            identity_take_clean(field[3], flen[3], id.name, sizeof id.name) < 0 ||
            identity_take_clean(field[4], flen[4], id.path, sizeof id.path) < 0)
                return -EBADMSG;
        *ret = id;
        return 0;
}

int net_allowance_parse(const char *text, size_t size, struct net_allowance **ret) {
        struct net_allowance *a = calloc(1, sizeof *a);
        int r = 0;

        if (!a)
                return -ENOMEM;
        if (size < strlen(HEADER) || memcmp(text, HEADER, strlen(HEADER)) != 0 || text[size - 1] != '\n')
                r = -EBADMSG;
        for (const char *p = text + strlen(HEADER), *end = text + size; r >= 0 && p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                struct net_identity id;
                r = parse_line(p, (size_t) (nl - p), &id);
                if (r >= 0)
                        r = net_allowance_add(a, &id) == -E2BIG ? -EBADMSG : 0;
                p = nl + 1;
        }
        if (r < 0) {
                net_allowance_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

int net_allowance_read(const char *state_dir, struct net_allowance **ret) {
        _cleanup_free_ char *path = path_join(state_dir, KYOKA_NET_ALLOWANCE_FILE), *text = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_bounded(path, FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return net_allowance_parse(text, size, ret);
}

static int write_list(const char *state_dir, const struct net_allowance *a, bool create) {
        _cleanup_free_ char *path = path_join(state_dir, KYOKA_NET_ALLOWANCE_FILE), *text = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = net_allowance_format(a, &text, &size);
        if (r < 0)
                return r;
        return create ? write_file_exclusive(path, text, size, 0600) : write_file_atomic(path, text, size, 0600);
}

int net_allowance_begin(const char *state_dir) {
        return write_list(state_dir, &(struct net_allowance) {}, true);
}

int net_allowance_write(const char *state_dir, const struct net_allowance *a) {
        return write_list(state_dir, a, false);
}
