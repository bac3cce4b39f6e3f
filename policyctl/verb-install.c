/* SPDX-License-Identifier: MIT */
/* policyctl install FILE: puts a signed policy in force on this workstation.
 *
 * FILE and FILE.sig pass the same gate as in kyokad (policy_load: trusted keys of CONFIG_DIR,
 * this host's name and machine-id, expiry, anti-rollback against STATE_DIR) before anything is
 * written; the bytes installed are checked to be the bytes verified. Both files are staged in
 * CONFIG_DIR and then renamed into place one after the other: in between, CONFIG_DIR's pair does
 * not verify, and kyokad (which keeps its own copy of the last accepted policy) goes on with
 * that copy instead. Then kyokad is asked to reload, and what changed is printed.
 *
 * policy.conf lists every approved serial number, which is all a clone of an approved stick
 * needs besides its vendor:product: it is installed 0640 root:kyoka (kyokad reads it as root;
 * group kyoka may read kyokad's state anyway), or 0600 when there is no group kyoka. The
 * signature is no secret (0644).
 *
 * Before anything is written, the policy decides again every device and link kyokad lists
 * (preview.c): --dry-run prints that and stops; a real install that would block the link of the
 * caller's SSH session or of a default route is refused unless --force, so that an admin does
 * not cut the branch they sit on (kyokad would set that link down at once). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "policy-load.h"
#include "policy-sign.h"
#include "host-id.h"
#include "json-util.h"
#include "policyctl.h"
#include "preview.h"

#define SIG_FILE_MAX 4096u

static void help(void) {
        printf(_("Usage: policyctl install [--dry-run] [--force] FILE\n"
               "\n"
               "Verify FILE and FILE.sig as kyokad would on this host (trusted keys in\n"
               "%s/%s, this host's name and machine-id, expiry, and a serial newer than\n"
               "the last accepted in %s), install them as %s/%s and\n"
               "%s, and make kyokad reload: prints what changed for present\n"
               "USB devices, media and network links. If kyokad is not running, it uses the\n"
               "policy when it starts.\n"
               "Writing the configuration needs its permissions (root); the reload needs root or\n"
               "group %s.\n"
               "Before anything is written, the policy decides again the devices and links\n"
               "kyokad lists. An install that would block the link carrying this SSH session\n"
               "($SSH_CONNECTION) or a default route is refused unless --force.\n"
               "Exit status: 0 installed (or, with --dry-run, it would be), 1 refused or failed,\n"
               "2 usage error.\n"
               "\n"
               "Options:\n"
               "  -n --dry-run  verify and show what would change (old -> new decision); change\n"
               "                nothing\n"
               "  -f --force    install even if it blocks the link of this SSH session or of a\n"
               "                default route\n"
               "  -h --help     show this help\n"),
               arg_config_dir, KYOKA_KEYS_DIR, arg_state_dir, arg_config_dir, KYOKA_POLICY_FILE,
               KYOKA_POLICY_SIG_FILE, KYOKA_GROUP_ADMIN);
}

static void report_refusal(const char *path, const struct policy_load_result *res) {
        const char *m = res->message[0] ? res->message : policy_load_error_to_string(res->error);

        if (res->error == LOAD_INVALID)
                print_diag(&res->diag);
        log_error(_("%s%s: not installed"), res->error == LOAD_BAD_SIGNATURE ? _("BAD SIGNATURE: ") : _("refused: "), m);
}

/* Writes DATA into a new temporary file in DIR with MODE and group GID (-1: the caller's),
 * fsynced; its path in *RET_TMP. */
static int stage_file(const char *dir, const char *name, const void *data, size_t size, mode_t mode, gid_t gid,
                      char **ret_tmp) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *p = data;

        if (asprintf(&tmp, "%s/.%s.install.XXXXXX", dir, name) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        goto fail;
                p += k;
                size -= (size_t) k;
        }
        if ((gid != (gid_t) -1 && fchown(fd, (uid_t) -1, gid) < 0) || fchmod(fd, mode) < 0 || fsync(fd) < 0)
                goto fail;
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
fail:;
        int r = negative_errno();
        (void) unlink(tmp);
        return r;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* Re-reads FILE and FILE.sig and checks that they are what policy_load accepted. */
static int read_verified(const char *path, const struct keyring *keys, const struct policy_load_result *res,
                         char **ret_text, size_t *ret_size, char **ret_sig, size_t *ret_sig_size) {
        _cleanup_free_ char *text = NULL, *sig = NULL, *sig_path = NULL;
        const struct trusted_key *signer;
        size_t size, sig_size;
        uint8_t sha[32];
        unsigned n = 0;
        int r;

        if (asprintf(&sig_path, "%s.sig", path) < 0)
                return -ENOMEM;
        r = read_file_bounded(path, POLICY_FILE_MAX, &text, &size);
        if (r >= 0)
                r = read_file_bounded(sig_path, SIG_FILE_MAX, &sig, &sig_size);
        if (r < 0)
                return r;
        if (EVP_Digest(text, size, sha, &n, EVP_sha256(), NULL) != 1 || n != 32) {
                ERR_clear_error();
                return -EIO;
        }
        if (memcmp(sha, res->sha256, 32) != 0 ||
            keyring_verify(keys, text, size, (const uint8_t *) sig, sig_size, &signer) < 0)
                return -ESTALE;
        *ret_text = TAKE_PTR(text);
        *ret_size = size;
        *ret_sig = TAKE_PTR(sig);
        *ret_sig_size = sig_size;
        return 0;
}

/* Group kyoka's id, or -1 (with a warning) when there is no such group. */
static gid_t kyoka_gid(void) {
        struct group g, *res = NULL;
        int r = ERANGE;

        /* A group with many members needs a larger buffer. */
        for (size_t size = 4096; r == ERANGE && size <= (1u << 20); size *= 4) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return log_oom(), (gid_t) -1;
                r = getgrnam_r(KYOKA_GROUP_READ, &g, buf, size, &res);
                if (r == 0 && res)
                        return res->gr_gid;
        }
        log_error(_("warning: no group %s (%s): %s is installed 0600, readable by root alone"), KYOKA_GROUP_READ,
                  r ? strerror(r) : _("not found"), KYOKA_POLICY_FILE);
        return (gid_t) -1;
}

static int install_files(const char *text, size_t size, const char *sig, size_t sig_size) {
        _cleanup_free_ char *conf = path_join(arg_config_dir, KYOKA_POLICY_FILE),
                            *conf_sig = path_join(arg_config_dir, KYOKA_POLICY_SIG_FILE), *tmp = NULL,
                            *tmp_sig = NULL;
        int r;

        if (!conf || !conf_sig)
                return -ENOMEM;
        /* Everything slow (writing up to 64 MiB, fsync) before the first rename, so that the
         * moment where the pair does not match is as short as two renames. */
        gid_t gid = kyoka_gid();
        r = stage_file(arg_config_dir, KYOKA_POLICY_FILE, text, size, gid == (gid_t) -1 ? 0600 : 0640, gid, &tmp);
        if (r < 0)
                return r;
        r = stage_file(arg_config_dir, KYOKA_POLICY_SIG_FILE, sig, sig_size, 0644, (gid_t) -1, &tmp_sig);
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, conf) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                (void) unlink(tmp_sig);
                return r;
        }
        if (rename(tmp_sig, conf_sig) < 0) {
                r = negative_errno();
                (void) unlink(tmp_sig);
                return r;
        }
        return fsync_dir(arg_config_dir);
}

static int print_changes(struct json_object *reply) {
        struct json_object *changes = NULL;
        size_t n = 0, changed = 0;

        if (json_object_object_get_ex(reply, "changes", &changes) && json_object_is_type(changes, json_type_array))
                n = json_object_array_length(changes);
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(changes, i), *v;
                if (!json_object_object_get_ex(d, "changed", &v) || !json_object_get_boolean(v))
                        continue;
                changed++;
                fputs("  ", stdout);
                print_device_name(d, stdout);
                printf(": %s -> %s (", json_get_string(d, "before") ?: "new", json_get_string(d, "after") ?: "?");
                fputs_safe(json_get_string(d, "reason") ?: "", stdout);
                fputs(")\n", stdout);
        }
        /* Links (null or absent: kyokad does not watch them). A link let up by the new policy is
         * still down: kyokad set it down, and only its owner sets it up again. */
        struct json_object *links = NULL;
        size_t n_links = 0;
        if (json_object_object_get_ex(reply, "link_changes", &links) && json_object_is_type(links, json_type_array))
                n_links = json_object_array_length(links);
        for (size_t i = 0; i < n_links; i++) {
                struct json_object *l = json_object_array_get_idx(links, i), *v;
                if (!json_object_object_get_ex(l, "changed", &v) || !json_object_get_boolean(v))
                        continue;
                changed++;
                fputs("  link ", stdout);
                print_link_name(l, stdout);
                printf(": %s -> %s (", json_get_string(l, "before") ?: "new", json_get_string(l, "after") ?: "?");
                fputs_safe(json_get_string(l, "reason") ?: "", stdout);
                fputs(")\n", stdout);
        }
        /* Media on other buses (absent from an older kyokad); the fixed disks are never listed. */
        struct json_object *media = NULL;
        if (json_object_object_get_ex(reply, "media_changes", &media) && json_object_is_type(media, json_type_array))
                for (size_t i = 0; i < json_object_array_length(media); i++) {
                        struct json_object *m = json_object_array_get_idx(media, i), *v;
                        if (!json_object_object_get_ex(m, "changed", &v) || !json_object_get_boolean(v))
                                continue;
                        changed++;
                        fputs("  medium ", stdout);
                        fputs_safe(json_get_string(m, "device") ?: "?", stdout);
                        printf(" (%s) ", json_get_string(m, "bus") ?: "?");
                        fputs_safe(json_get_string(m, "model") ?: "", stdout);
                        fputs(" serial \"", stdout);
                        fputs_safe(json_get_string(m, "serial") ?: "", stdout);
                        printf("\": %s -> %s (", json_get_string(m, "before") ?: "new", json_get_string(m, "after") ?: "?");
                        fputs_safe(json_get_string(m, "reason") ?: "", stdout);
                        fputs(")\n", stdout);
                }
        if (changed == 0)
                printf("  no present device, medium or link changed (%zu device%s, %zu link%s)\n", n, n == 1 ? "" : "s",
                       n_links, n_links == 1 ? "" : "s");
        return 0;
}

/* kyokad's `list`: -ENOENT (quietly) when kyokad is not running. */
static int fetch_list(struct json_object **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct json_object *reply = NULL, *ok;
        int r;

        r = control_connect(true, &fd);
        if (r < 0)
                return r == -ECONNREFUSED ? -ENOENT : r;
        if (control_send(fd, KYOKA_CMD_LIST, NULL) < 0)
                return -EIO;
        r = control_receive(fd, &reply);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok)) {
                fputs("policyctl: kyokad: ", stderr);
                fputs_safe(json_get_string(reply, "error") ?: "refused", stderr);
                fputc('\n', stderr);
                json_object_put(reply);
                return -EBADE;
        }
        *ret = reply;
        return 0;
}

static const char *carrier_text(unsigned carries) {
        if ((carries & PREVIEW_CARRIES_SSH) && (carries & PREVIEW_CARRIES_DEFAULT_ROUTE))
                return "this SSH session and a default route";
        if (carries & PREVIEW_CARRIES_SSH)
                return "this SSH session";
        return "a default route";
}

/* Prints the preview; returns how many items would cut the caller's connection. */
static size_t print_preview(const struct preview *p, const char *verb) {
        size_t cuts = 0;

        for (size_t i = 0; i < p->n_items; i++) {
                const struct preview_item *it = &p->items[i];
                if (it->before == it->after && !preview_item_cuts(it))
                        continue;
                fputs(it->kind == PREVIEW_LINK ? "  link " : it->kind == PREVIEW_MEDIUM ? "  medium " : "  ", stdout);
                if (it->kind == PREVIEW_LINK)
                        print_link_name(it->listed, stdout);
                else if (it->kind == PREVIEW_MEDIUM) {
                        /* As a reload's media_changes are printed (print_changes). */
                        fputs_safe(json_get_string(it->listed, "device") ?: "?", stdout);
                        printf(" (%s) ", json_get_string(it->listed, "bus") ?: "?");
                        fputs_safe(json_get_string(it->listed, "model") ?: "", stdout);
                        fputs(" serial \"", stdout);
                        fputs_safe(json_get_string(it->listed, "serial") ?: "", stdout);
                        putchar('"');
                } else
                        print_device_name(it->listed, stdout);
                printf(": %s -> %s (", policy_verdict_to_string(it->before), policy_verdict_to_string(it->after));
                fputs_safe(it->reason, stdout);
                putchar(')');
                if (preview_item_cuts(it)) {
                        printf("  <- carries %s", carrier_text(it->carries));
                        cuts++;
                }
                putchar('\n');
        }
        if (p->n_changed == 0)
                printf("  no present device or link %s change (%zu listed)\n", verb, p->n_items);
        return cuts;
}

/* What the policy would change: the preview of LIST with POLICY, and the guard. Returns 0 to go
 * on, EXIT_REFUSED when the guard refuses, -errno on failure (logged). */
static int preview_and_guard(const struct policy *policy, bool dry_run, bool force) {
        _cleanup_(json_object_putp) struct json_object *list = NULL;
        char names[PREVIEW_CARRIERS_MAX][NET_NAME_MAX], err[512];
        unsigned bits[PREVIEW_CARRIERS_MAX];
        struct preview p = {};
        int r, n;

        r = fetch_list(&list);
        if (r == -ENOENT) {
                if (dry_run)
                        printf("kyokad is not running: no present device or link to compare; it will enforce this "
                               "policy when it starts\n");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, _("cannot ask kyokad what is present: not installed"));
        r = preview_compute(list, policy, (int64_t) time(NULL), &p, err, sizeof err);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s", err);
        n = preview_find_carriers(getenv("SSH_CONNECTION"), names, bits);
        if (n < 0) {
                preview_done(&p);
                /* Without knowing what carries the caller, the guard cannot promise anything. */
                return log_error_errno(n, _("cannot tell which links carry this session (addresses or routes): %m%s"),
                                       force ? "" : "; not installed (--force installs anyway)"), force ? 0 : n;
        }
        preview_mark_carriers(&p, names, bits, (size_t) n);

        printf(dry_run ? "would change:\n" : "changes:\n");
        size_t cuts = print_preview(&p, dry_run ? "would" : "will");
        preview_done(&p);
        if (cuts == 0)
                return 0;
        if (dry_run) {
                printf("warning: this policy blocks %zu link%s carrying this session or a default route: "
                       "installing it needs --force\n", cuts, cuts == 1 ? "" : "s");
                return 0;
        }
        if (force) {
                log_error(ngettext("warning: --force: blocking %zu link that carries this session or a default route",
                                   "warning: --force: blocking %zu links that carry this session or a default route",
                                   cuts), cuts);
                return 0;
        }
        log_error(ngettext("refused: this policy blocks %zu link carrying this SSH session or a default route (marked "
                           "above): kyokad would set it down at once. Not installed; approve the link in the policy, or "
                           "install with --force from the console",
                           "refused: this policy blocks %zu links carrying this SSH session or a default route (marked "
                           "above): kyokad would set them down at once. Not installed; approve the link in the policy, or "
                           "install with --force from the console", cuts), cuts);
        return EXIT_REFUSED;
}

int verb_install(int argc, char *argv[]) {
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(keyring_freep) struct keyring *keys = NULL;
        _cleanup_free_ char *keys_dir = NULL, *text = NULL, *sig = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct json_object *reply = NULL, *ok;
        struct policy_load_result res;
        struct host_id host;
        size_t size = 0, sig_size = 0;
        bool dry_run = false, force = false;
        int c, r;

        while ((c = getopt_long(argc, argv, ":hnf", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        dry_run = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("install", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("install", _("expected one FILE (its signature is FILE.sig)"));
        const char *path = argv[optind];

        keys_dir = path_join(arg_config_dir, KYOKA_KEYS_DIR);
        if (!keys_dir)
                return log_oom();
        if (load_keys_dir(keys_dir, &keys) < 0)
                return EXIT_REFUSED;

        /* No skipping the workstation check: this is the workstation. */
        /* The same gate as kyokad's (basic/host-id.c): a policy it would refuse is not installed. */
        host_id_read(&host);
        struct policy_load_options opts = {
                .policy_path = path,
                .keys = keys,
                .state_dir = arg_state_dir,
                .hostname = host.hostname[0] ? host.hostname : NULL,
                .machine_id = host.machine_id[0] ? host.machine_id : NULL,
                .now = (int64_t) time(NULL),
        };
        r = policy_load(&opts, &res);
        if (r < 0) {
                report_refusal(path, &res);
                policy_load_result_done(&res);
                return EXIT_REFUSED;
        }
        print_diag(&res.diag); /* warnings */
        uint64_t serial = res.policy->serial;
        bool unchanged = res.unchanged;

        if (dry_run)
                printf("%s verifies: serial %" PRIu64 "%s would be installed as %s/" KYOKA_POLICY_FILE "\n", path,
                       serial, unchanged ? " (the policy already in force)" : "", arg_config_dir);
        r = preview_and_guard(res.policy, dry_run, force);
        if (r != 0 || dry_run) {
                policy_load_result_done(&res);
                return r < 0 ? EXIT_REFUSED : r;
        }

        r = read_verified(path, keys, &res, &text, &size, &sig, &sig_size);
        /* The compiled image first, so that kyokad's reload below reads it instead of parsing
         * (an image of bytes that end up not installed is never used: it names other bytes). */
        if (r >= 0) {
                int q = policy_load_save_image(&opts, &res);
                if (q < 0)
                        log_error(_("warning: cannot write %s/%s: %s; kyokad parses the policy instead"), arg_state_dir,
                                  KYOKA_POLICY_IMAGE_FILE, strerror(-q));
        }
        policy_load_result_done(&res);
        if (r == -ESTALE)
                return log_error_errno(r, _("%s or its signature changed while it was being installed: not installed"),
                                       path), EXIT_REFUSED;
        if (r < 0)
                return log_error_errno(r, _("%s: cannot read it again: %m"), path), EXIT_REFUSED;

        r = install_files(text, size, sig, sig_size);
        if (r < 0)
                return log_error_errno(r, _("cannot install into %s: %m"), arg_config_dir), EXIT_REFUSED;
        printf("installed serial %" PRIu64 "%s as %s/" KYOKA_POLICY_FILE "\n", serial,
               unchanged ? " (the policy already in force)" : "", arg_config_dir);

        r = control_connect(true, &fd);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                printf("kyokad is not running: it will enforce this policy when it starts\n");
                return EXIT_OK;
        }
        if (r < 0)
                return EXIT_REFUSED;
        if (control_send(fd, KYOKA_CMD_RELOAD, NULL) < 0)
                return EXIT_REFUSED;
        r = control_receive(fd, &reply);
        if (r == -ECONNRESET)
                return log_error_errno(r, _("kyokad closed the connection without a reply")), EXIT_REFUSED;
        if (r < 0)
                return EXIT_REFUSED;

        int ret = EXIT_OK;
        if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok)) {
                fputs("policyctl: kyokad did not take the policy: ", stderr);
                fputs_safe(json_get_string(reply, "error") ?: "refused", stderr);
                fputc('\n', stderr);
                ret = EXIT_REFUSED;
        } else
                printf("kyokad reloaded: serial %" PRIu64 " in force\n", serial);
        if (json_object_object_get_ex(reply, "changes", NULL))
                print_changes(reply);
        json_object_put(reply);
        return ret;
}
