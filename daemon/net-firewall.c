/* SPDX-License-Identifier: MIT */
#include "net-firewall.h"

#include <errno.h>
#include <json-c/json.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Before conntrack (-200) and raw (-300): nothing else sees a packet kyokad drops. */
#define KYOKA_PRIORITY "-500"

struct net_firewall {
        struct nft_ctx *nft;          /* nft syntax (integers only) */
        struct nft_ctx *json;         /* JSON input: what names a device */
};

static struct nft_ctx *ctx_new(bool json) {
        struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!c)
                return NULL;
        /* libnftables 1.0.6 reads JSON input when its output is set to JSON. */
        if (json)
                nft_ctx_output_set_flags(c, NFT_CTX_OUTPUT_JSON);
        if (nft_ctx_buffer_output(c) < 0 || nft_ctx_buffer_error(c) < 0) {
                nft_ctx_free(c);
                return NULL;
        }
        return c;
}

static int run(struct nft_ctx *c, const char *script, char **ret_error) {
        if (nft_run_cmd_from_buffer(c, script) == 0)
                return 0;
        if (ret_error) {
                const char *e = nft_ctx_get_error_buffer(c);
                *ret_error = strndup(e ? e : "", 1024);
        }
        return -EIO;
}

int net_firewall_new(struct net_firewall **ret) {
        _cleanup_free_ struct net_firewall *fw = calloc(1, sizeof *fw);

        if (!fw)
                return -ENOMEM;
        fw->nft = ctx_new(false);
        fw->json = ctx_new(true);
        if (!fw->nft || !fw->json) {
                net_firewall_free(TAKE_PTR(fw));
                return -ENOMEM;
        }
        /* Chains of a previous kyokad name links it decided: start from an empty table. */
        if (run(fw->nft, "add table netdev kyoka\ndelete table netdev kyoka\nadd table netdev kyoka\n", NULL) < 0) {
                net_firewall_free(TAKE_PTR(fw));
                return -EIO;
        }
        *ret = TAKE_PTR(fw);
        return 0;
}

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

int net_firewall_ruleset(const int *allowed, size_t n, char **ret) {
        return net_firewall_ruleset_families(allowed, n, NET_FIREWALL_ALL, ret);
}

int net_firewall_ruleset_families(const int *allowed, size_t n, unsigned families, char **ret) {
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
        if (families & NET_FIREWALL_INET) {
                fputs("table inet kyoka {\n", f);
                put_set(f, sorted, k);
                put_chain(f, "prerouting", "iif");
                put_chain(f, "output", "oif");
                put_chain(f, "postrouting", "oif");
                fputs("}\n", f);
        }
        /* ARP bypasses the inet hooks. */
        if (families & NET_FIREWALL_ARP) {
                fputs("table arp kyoka {\n", f);
                put_set(f, sorted, k);
                put_chain(f, "input", "iif");
                put_chain(f, "output", "oif");
                fputs("}\n", f);
        }
        /* Frames bridged between ports never reach the inet hooks. */
        if (families & NET_FIREWALL_BRIDGE) {
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

int net_firewall_apply(struct net_firewall *fw, const int *allowed, size_t n, char **ret_error) {
        _cleanup_free_ char *script = NULL, *first_error = NULL;
        int r;

        r = net_firewall_ruleset(allowed, n, &script);
        if (r < 0)
                return r;
        r = run(fw->nft, script, &first_error);
        if (r >= 0)
                return 0;

        /* One family the kernel cannot give (the bridge family's "meta iif" needs
         * nft_meta_bridge, hence the bridge module) must not leave IP and ARP open: each table
         * in its own transaction, and the error names the ones that failed. */
        static const char *const names[] = { "inet", "arp", "bridge" };
        _cleanup_free_ char *errors = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&errors, &size);
        if (!f)
                return -ENOMEM;
        bool failed = false;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *one = NULL, *error = NULL;
                r = net_firewall_ruleset_families(allowed, n, 1u << i, &one);
                if (r >= 0)
                        r = run(fw->nft, one, &error);
                if (r < 0) {
                        fprintf(f, "%stable %s kyoka: %s", failed ? "; " : "", names[i], error ? error : strerror(-r));
                        failed = true;
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (!failed)
                return 0;   /* the whole failed, each alone passed: all are in force */
        if (ret_error)
                *ret_error = TAKE_PTR(errors);
        return -EIO;
}

static struct json_object *chain_object(int ifindex, const char *name) {
        char chain[32];
        struct json_object *c = json_object_new_object();

        if (!c)
                return NULL;
        snprintf(chain, sizeof chain, "l%d", ifindex);
        json_object_object_add(c, "family", json_object_new_string("netdev"));
        json_object_object_add(c, "table", json_object_new_string("kyoka"));
        json_object_object_add(c, "name", json_object_new_string(chain));
        if (name) {
                json_object_object_add(c, "type", json_object_new_string("filter"));
                json_object_object_add(c, "hook", json_object_new_string("egress"));
                json_object_object_add(c, "prio", json_object_new_int(-500));
                json_object_object_add(c, "dev", json_object_new_string(name));
                json_object_object_add(c, "policy", json_object_new_string("drop"));
        }
        return c;
}

/* {"nftables": [{VERB: {"chain": CHAIN}}, ...]} for each (verb, chain) pair given. */
static int run_json(struct net_firewall *fw, size_t n, const char *const *verbs, struct json_object **chains,
                    char **ret_error) {
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
                json_object_object_add(what, "chain", chains[i]);
                json_object_object_add(cmd, verbs[i], what);
                if (list)
                        json_object_array_add(list, cmd);
                else
                        json_object_put(cmd);
        }
        if (r >= 0) {
                json_object_object_add(doc, "nftables", list);
                list = NULL;
                r = run(fw->json, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), ret_error);
        }
        json_object_put(list);
        json_object_put(doc);
        return r;
}

int net_firewall_block_egress(struct net_firewall *fw, int ifindex, const char *name, bool replace, char **ret_error) {
        size_t len = strnlen(name, IFNAMSIZ);

        if (ifindex <= 0 || len == 0 || len >= IFNAMSIZ || strchr(name, '\\'))
                return -EINVAL;
        if (replace) {
                const char *verbs[] = { "delete", "add" };
                struct json_object *chains[] = { chain_object(ifindex, NULL), chain_object(ifindex, name) };
                if (run_json(fw, 2, verbs, chains, NULL) >= 0)
                        return 0;
                /* The kernel may have dropped the chain with its device: add it alone. */
        }
        const char *verbs[] = { "add" };
        struct json_object *chains[] = { chain_object(ifindex, name) };
        return run_json(fw, 1, verbs, chains, ret_error);
}

int net_firewall_unblock_egress(struct net_firewall *fw, int ifindex) {
        const char *verbs[] = { "delete" };
        struct json_object *chains[] = { chain_object(ifindex, NULL) };
        (void) run_json(fw, 1, verbs, chains, NULL);
        return 0;
}

struct net_firewall *net_firewall_free(struct net_firewall *fw) {
        if (!fw)
                return NULL;
        if (fw->nft)
                nft_ctx_free(fw->nft);
        if (fw->json)
                nft_ctx_free(fw->json);
        return mfree(fw);
}
