/* SPDX-License-Identifier: MIT */
#include "nft-worker.h"

#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json-util.h"
#include "macro.h"
#include "nft-protocol.h"

/* libnftables is loaded by the worker alone, at its first init (dlopen): kyokad's own process
 * does not map it or the five libraries it pulls in (libnftnl, libmnl, libxtables, libjansson,
 * libgmp), so kyokad's start and memory do not pay for them, and with --network off nothing
 * loads it. The header gives the types; a library missing or lacking a symbol fails the init
 * like a kernel without nf_tables (kyokad keeps links down). */
#define NFT_LIBRARY "libnftables.so.1"
static typeof(nft_ctx_new) *sym_nft_ctx_new;
static typeof(nft_ctx_free) *sym_nft_ctx_free;
static typeof(nft_ctx_output_set_flags) *sym_nft_ctx_output_set_flags;
static typeof(nft_ctx_buffer_output) *sym_nft_ctx_buffer_output;
static typeof(nft_ctx_buffer_error) *sym_nft_ctx_buffer_error;
static typeof(nft_ctx_get_error_buffer) *sym_nft_ctx_get_error_buffer;
static typeof(nft_run_cmd_from_buffer) *sym_nft_run_cmd_from_buffer;

static int library_open(struct nft_reply *rep);

/* Before conntrack (-200) and raw (-300): nothing else sees a packet kyokad drops. */
#define KYOKA_PRIORITY "-500"

struct worker {
        struct nft_ctx *nft;          /* nft syntax (integers only) */
        struct nft_ctx *json;         /* JSON input: what names a device */
};

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

static void put_set(FILE *f, const int *sorted, size_t n) {
        fputs("\tset allowed {\n\t\ttype iface_index\n", f);
        if (n > 0) {
                fputs("\t\telements = { ", f);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, "%s%d", i ? ", " : "", sorted[i]);
                fputs(" }\n", f);
        }
        fputs("\t}\n", f);
}

static void put_chain(FILE *f, const char *hook, const char *match) {
        fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority " KYOKA_PRIORITY "; policy accept;\n"
                   "\t\t%s != @allowed drop\n\t}\n", hook, hook, match);
}

int nft_ruleset(const int *allowed, size_t n, char **ret) {
        return nft_ruleset_families(allowed, n, NFT_TABLE_ALL, ret);
}

int nft_ruleset_families(const int *allowed, size_t n, unsigned families, char **ret) {
        _cleanup_free_ int *sorted = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0, k = 0;

        sorted = malloc(MAX(n, (size_t) 1) * sizeof *sorted);
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (allowed[i] <= 0)
                        return -EINVAL;
                sorted[i] = allowed[i];
        }
        qsort(sorted, n, sizeof *sorted, cmp_int);
        for (size_t i = 0; i < n; i++)
                if (k == 0 || sorted[k - 1] != sorted[i])
                        sorted[k++] = sorted[i];

        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        /* "add" then "delete" makes the delete succeed whether or not the table exists; the
         * whole script is one transaction, so the old tables stay until the new ones are in. */
        static const char *const names[] = { "inet", "arp", "bridge" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (families & (1u << i))
                        fprintf(f, "add table %s kyoka\ndelete table %s kyoka\n", names[i], names[i]);

        /* IP: received (also forwarded), sent locally (also the kernel's own: IPv6 DAD, MLD,
         * router solicitations at link-up), and everything leaving. */
        if (families & NFT_TABLE_INET) {
                fputs("table inet kyoka {\n", f);
                put_set(f, sorted, k);
                put_chain(f, "prerouting", "iif");
                put_chain(f, "output", "oif");
                put_chain(f, "postrouting", "oif");
                fputs("}\n", f);
        }
        /* ARP bypasses the inet hooks. */
        if (families & NFT_TABLE_ARP) {
                fputs("table arp kyoka {\n", f);
                put_set(f, sorted, k);
                put_chain(f, "input", "iif");
                put_chain(f, "output", "oif");
                fputs("}\n", f);
        }
        /* Frames bridged between ports never reach the inet hooks. */
        if (families & NFT_TABLE_BRIDGE) {
                fputs("table bridge kyoka {\n", f);
                put_set(f, sorted, k);
                put_chain(f, "prerouting", "iif");
                put_chain(f, "output", "oif");
                put_chain(f, "postrouting", "oif");
                fputs("}\n", f);
        }

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

/* ---- the worker process ------------------------------------------------------------------ */

static void set_error(struct nft_reply *rep, int r, const char *message) {
        rep->r = r;
        snprintf(rep->error, sizeof rep->error, "%s", message);
}

static int library_open(struct nft_reply *rep) {
        static void *handle;
        const struct {
                const char *name;
                void **sym;
        } syms[] = {
                { "nft_ctx_new", (void **) &sym_nft_ctx_new },
                { "nft_ctx_free", (void **) &sym_nft_ctx_free },
                { "nft_ctx_output_set_flags", (void **) &sym_nft_ctx_output_set_flags },
                { "nft_ctx_buffer_output", (void **) &sym_nft_ctx_buffer_output },
                { "nft_ctx_buffer_error", (void **) &sym_nft_ctx_buffer_error },
                { "nft_ctx_get_error_buffer", (void **) &sym_nft_ctx_get_error_buffer },
                { "nft_run_cmd_from_buffer", (void **) &sym_nft_run_cmd_from_buffer },
        };
        char m[256];

        if (handle)
                return 0;
        void *h = dlopen(NFT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(m, sizeof m, "cannot load %s: %s", NFT_LIBRARY, dlerror());
                set_error(rep, -EOPNOTSUPP, m);
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
                *syms[i].sym = dlsym(h, syms[i].name);
                if (!*syms[i].sym) {
                        snprintf(m, sizeof m, "%s has no %s", NFT_LIBRARY, syms[i].name);
                        set_error(rep, -ENOSYS, m);
                        dlclose(h);
                        return -ENOSYS;
                }
        }
        handle = h;
        return 0;
}

static struct nft_ctx *ctx_new(bool json) {
        /* Opens the netlink socket: where libnftables would exit() if it cannot. */
        struct nft_ctx *c = sym_nft_ctx_new(NFT_CTX_DEFAULT);
        if (!c)
                return NULL;
        /* libnftables 1.0.6 reads JSON input when its output is set to JSON. */
        if (json)
                sym_nft_ctx_output_set_flags(c, NFT_CTX_OUTPUT_JSON);
        if (sym_nft_ctx_buffer_output(c) < 0 || sym_nft_ctx_buffer_error(c) < 0) {
                sym_nft_ctx_free(c);
                return NULL;
        }
        return c;
}

static int run(struct nft_ctx *c, const char *script, struct nft_reply *rep) {
        if (sym_nft_run_cmd_from_buffer(c, script) == 0)
                return 0;
        if (rep) {
                const char *e = sym_nft_ctx_get_error_buffer(c);
                set_error(rep, -EIO, e && *e ? e : "nft failed");
                /* One line for a record: libnftables ends its messages with a newline. */
                rep->error[strcspn(rep->error, "\n")] = 0;
        }
        return -EIO;
}

/* The kernel's nf_tables is reachable: the check libnftables does not make before it exits.
 * A kernel without nfnetlink (module missing or blacklisted, modules_disabled=1) refuses the
 * socket with EPROTONOSUPPORT. */
static int probe(struct nft_reply *rep) {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0) {
                int r = negative_errno();
                char m[128];
                snprintf(m, sizeof m, "the kernel has no nf_tables (netlink socket: %s)", strerror(-r));
                set_error(rep, r, m);
                return r;
        }
        close(fd);
        return 0;
}

static void do_init(struct worker *w, const struct nft_request *req, struct nft_reply *rep) {
        if (!w->nft) {
                if (probe(rep) < 0 || library_open(rep) < 0)
                        return;
                w->nft = ctx_new(false);
                w->json = ctx_new(true);
                if (!w->nft || !w->json) {
                        if (w->nft)
                                w->nft = (sym_nft_ctx_free(w->nft), NULL);
                        if (w->json)
                                w->json = (sym_nft_ctx_free(w->json), NULL);
                        set_error(rep, -ENOMEM, "libnftables could not be set up");
                        return;
                }
        }
        /* Chains of a previous kyokad name links it decided: it starts from an empty table. A
         * worker started again keeps the chains of this kyokad. */
        (void) run(w->nft, req->flags & NFT_FLAG_RESET ?
                   "add table netdev kyoka\ndelete table netdev kyoka\nadd table netdev kyoka\n" :
                   "add table netdev kyoka\n", rep);
}

static void do_apply(struct worker *w, const struct nft_request *req, struct nft_reply *rep) {
        _cleanup_free_ char *script = NULL;
        int r;

        r = nft_ruleset(req->allowed, req->n_allowed, &script);
        if (r < 0) {
                set_error(rep, r, strerror(-r));
                return;
        }
        if (run(w->nft, script, NULL) >= 0)
                return;

        /* One family the kernel cannot give (the bridge family's "meta iif" needs
         * nft_meta_bridge, hence the bridge module) must not leave IP and ARP open: each table
         * in its own transaction, and the error names the ones that failed. */
        static const char *const names[] = { "inet", "arp", "bridge" };
        size_t len = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *one = NULL;
                struct nft_reply e = {};
                r = nft_ruleset_families(req->allowed, req->n_allowed, 1u << i, &one);
                if (r >= 0)
                        r = run(w->nft, one, &e);
                else
                        set_error(&e, r, strerror(-r));
                if (r < 0 && len < sizeof rep->error) {
                        rep->r = -EIO;
                        len += (size_t) snprintf(rep->error + len, sizeof rep->error - len, "%stable %s kyoka: %s",
                                                 len ? "; " : "", names[i], e.error);
                }
        }
        /* The whole failed, each alone passed: all are in force. */
}

/* NULL on OOM: run_json() then runs nothing and fails. */
static struct json_object *chain_object(int ifindex, const char *name) {
        _cleanup_(json_object_putp) struct json_object *c = json_object_new_object();
        char chain[32];

        if (!c)
                return NULL;
        snprintf(chain, sizeof chain, "l%d", ifindex);
        if (json_add_string(c, "family", "netdev") < 0 || json_add_string(c, "table", "kyoka") < 0 ||
            json_add_string(c, "name", chain) < 0)
                return NULL;
        if (name && (json_add_string(c, "type", "filter") < 0 || json_add_string(c, "hook", "egress") < 0 ||
                     json_add(c, "prio", json_object_new_int(-500)) < 0 || json_add_string(c, "dev", name) < 0 ||
                     json_add_string(c, "policy", "drop") < 0))
                return NULL;
        return TAKE_PTR(c);
}

/* {"nftables": [{VERB: {"chain": CHAIN}}, ...]} for each (verb, chain) pair given. */
static int run_json(struct worker *w, size_t n, const char *const *verbs, struct json_object **chains,
                    struct nft_reply *rep) {
        struct json_object *doc = json_object_new_object(), *list = json_object_new_array();
        int r = 0;

        if (!doc || !list)
                r = -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *cmd = json_object_new_object(), *what = json_object_new_object();
                if (!cmd || !what || !chains[i]) {
                        json_object_put(cmd);
                        json_object_put(what);
                        json_object_put(chains[i]);
                        r = -ENOMEM;
                        continue;
                }
                /* json_add() takes the value in every case: the chain with WHAT, WHAT with CMD. */
                if (json_add(what, "chain", chains[i]) < 0) {
                        json_object_put(what);
                        json_object_put(cmd);
                        r = -ENOMEM;
                        continue;
                }
                if (json_add(cmd, verbs[i], what) < 0 || !list || json_object_array_add(list, cmd) < 0) {
                        json_object_put(cmd);
                        r = -ENOMEM;
                }
        }
        if (r >= 0)
                r = json_add(doc, "nftables", TAKE_PTR(list));
        if (r >= 0)
                r = run(w->json, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), rep);
        else if (rep)
                set_error(rep, r, strerror(-r));
        json_object_put(list);
        json_object_put(doc);
        return r;
}

static void do_block_egress(struct worker *w, const struct nft_request *req, struct nft_reply *rep) {
        if (req->flags & NFT_FLAG_REPLACE) {
                const char *verbs[] = { "delete", "add" };
                struct json_object *chains[] = { chain_object(req->ifindex, NULL), chain_object(req->ifindex, req->name) };
                if (run_json(w, 2, verbs, chains, NULL) >= 0)
                        return;
                /* The kernel may have dropped the chain with its device: add it alone. */
        }
        const char *verbs[] = { "add" };
        struct json_object *chains[] = { chain_object(req->ifindex, req->name) };
        (void) run_json(w, 1, verbs, chains, rep);
}

static void do_unblock_egress(struct worker *w, const struct nft_request *req) {
        /* A missing chain (gone with its device) is not an error. */
        const char *verbs[] = { "delete" };
        struct json_object *chains[] = { chain_object(req->ifindex, NULL) };
        (void) run_json(w, 1, verbs, chains, NULL);
}

int nft_worker_main(int fd) {
        _cleanup_free_ uint8_t *buf = malloc(NFT_REQUEST_MAX);
        struct worker w = {};

        /* kyokad's end of the socket closes with it; this makes sure a worker stuck in the kernel
         * goes too. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1 || !buf)
                return 1;

        for (;;) {
                struct nft_request req;
                struct nft_reply rep = {};
                ssize_t n = recv(fd, buf, NFT_REQUEST_MAX, MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;                  /* kyokad closed its end (or is gone) */
                if ((size_t) n > NFT_REQUEST_MAX || nft_request_decode(buf, (size_t) n, &req) < 0)
                        set_error(&rep, -EBADMSG, "malformed request");
                else if (!w.nft && req.op != NFT_OP_INIT)
                        set_error(&rep, -ENOTCONN, "not initialised");
                else
                        switch (req.op) {
                        case NFT_OP_INIT:
                                do_init(&w, &req, &rep);
                                break;
                        case NFT_OP_APPLY:
                                do_apply(&w, &req, &rep);
                                break;
                        case NFT_OP_BLOCK_EGRESS:
                                do_block_egress(&w, &req, &rep);
                                break;
                        case NFT_OP_UNBLOCK_EGRESS:
                                do_unblock_egress(&w, &req);
                                break;
                        }
                if (send(fd, &rep, sizeof rep, MSG_NOSIGNAL) < 0)
                        break;
        }
        if (w.nft)
                sym_nft_ctx_free(w.nft);
        if (w.json)
                sym_nft_ctx_free(w.json);
        return 0;
}
