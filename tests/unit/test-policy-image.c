/* SPDX-License-Identifier: MIT */
/* The compiled policy image: an image reads back as the very policy it was made from (field by
 * field), an image of other bytes, for another host, damaged or cut short is refused, and the
 * load gate falls back to parsing then with every check unchanged (rollback, expiry). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "kyoka-names.h"
#include "policy-image.h"
#include "policy-load.h"
#include "policy-match.h"
#include "policy-rollback.h"
#include "timeutil.h"

/* Every kind of entry and every field the image carries, with values other than the defaults. */
static const char ALL_KINDS[] =
        "kyoka_policy = 1;\n"
        "serial = 42;\n"
        "issued = \"2026-11-20T10:15+09:00\";\n"
        "issuer = \"木更津市 総務部 情報政策課\";\n"
        "contract = \"令和8年度 契約第123号\";\n"
        "contractor = \"株式会社かずさシステム\";\n"
        "responsible = \"技術部長 鈴木\";\n"
        "workstation = [ \"ws-01\", \"ws-02\" ];\n"
        "valid_until = \"2027-03-31\";\n"
        "defaults = { usb_hid = \"block\"; usb_hub = \"allow\"; usb_other = \"block\"; network = \"allow\";\n"
        "             wireless = \"allow\"; media = \"allow\"; scan = \"required\"; };\n"
        "scan = { max_seconds = 60; max_megabytes = 1024; max_database_days = 3; };\n"
        "usb = (\n"
        "  { permit = \"許可-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53\";\n"
        "    interfaces = [ \"08:06:50\", \"03:*:*\" ]; unlisted_interfaces = \"disable\"; hidraw = \"user\";\n"
        "    access = \"read-only\"; path = \"pci-0000:00:14.0-usb-0:1:1.0\"; scan = \"none\";\n"
        "    label = \"stick\"; purpose = \"logs\"; holder = \"佐藤\"; workstations = [ \"ws-01\" ];\n"
        "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; valid_from = \"2026-11-21\"; valid_until = \"2027-03-31\"; },\n"
        "  { permit = \"許可-2\"; vendor = \"0781\"; product = \"5581\"; serial = \"\";\n"
        "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; }\n"
        ");\n"
        "network = (\n"
        "  { permit = \"N-1\"; mac = \"02:00:00:00:00:01\"; wireless_modes = [ \"ap\", \"monitor\" ];\n"
        "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; },\n"
        "  { permit = \"N-2\"; path = \"pci-0000:00:1f.6\"; approved_by = \"山田\"; approved_on = \"2026-11-20\"; },\n"
        "  { permit = \"N-3\"; kind = \"veth\"; name = \"ve-*\"; approved_by = \"山田\"; approved_on = \"2026-11-20\"; }\n"
        ");\n"
        "wireless = (\n"
        "  { permit = \"W-1\"; ssid = \"city-net\"; bssid = [ \"02:00:00:00:00:00\", \"02:00:00:00:0a:00\" ];\n"
        "    security = \"wpa3-sae\"; approved_by = \"山田\"; approved_on = \"2026-11-20\"; },\n"
        "  { permit = \"W-2\"; ssid_hex = \"00ff41\"; security = \"open\"; approved_by = \"山田\"; approved_on = \"2026-11-20\"; }\n"
        ");\n"
        "media = (\n"
        "  { permit = \"M-1\"; bus = \"mmc\"; vendor = \"0x000003\"; oemid = \"0x5344\"; model = \"SD32G\";\n"
        "    serial = \"0x12345678\"; date = \"01/2024\"; access = \"read-only\"; scan = \"required\";\n"
        "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; },\n"
        "  { permit = \"M-2\"; bus = \"optical\"; path = \"pci-0000:00:17.0-ata-2.0\";\n"
        "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; }\n"
        ");\n"
        "fixed_disks = (\n"
        "  { bus = \"nvme\"; model = \"Samsung SSD 980 1TB\"; serial = \"S64DNX0R123456\"; label = \"データ用\"; }\n"
        ");\n";

static const uint8_t SHA_A[32] = { 1, 2, 3 };
static const uint8_t SHA_B[32] = { 1, 2, 4 };

static struct policy *parse_text(const char *text, size_t len) {
        struct policy_diag d = {};
        struct policy *p = NULL;
        int r = policy_parse(text, len, "policy.conf", &p, &d);
        for (size_t i = 0; r < 0 && i < d.n_messages; i++)
                print_error("%s\n", d.messages[i]);
        assert_int_equal(r, 0);
        policy_diag_done(&d);
        return p;
}

static void assert_str_same(const char *a, const char *b) {
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_strv_same(char *const *a, size_t na, char *const *b, size_t nb) {
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++)
                assert_str_same(a[i], b[i]);
}

static void assert_approval_same(const struct policy_approval *a, const struct policy_approval *b) {
        assert_str_same(a->permit, b->permit);
        assert_str_same(a->label, b->label);
        assert_str_same(a->approved_by, b->approved_by);
        assert_int_equal(a->approved_on, b->approved_on);
        assert_int_equal(a->valid_from, b->valid_from);
        assert_int_equal(a->valid_until, b->valid_until);
        assert_str_same(a->purpose, b->purpose);
        assert_str_same(a->holder, b->holder);
        assert_str_same(a->approved_on_text, b->approved_on_text);
        assert_str_same(a->valid_from_text, b->valid_from_text);
        assert_str_same(a->valid_until_text, b->valid_until_text);
        assert_strv_same(a->workstations, a->n_workstations, b->workstations, b->n_workstations);
        assert_int_equal(a->line, b->line);
}

/* Field by field: every member of struct policy and its entries (policy-image.c's static
 * assertions make sure this list grows with the structs). */
static void assert_policy_same(const struct policy *a, const struct policy *b) {
        assert_int_equal(a->version, b->version);
        assert_int_equal(a->serial, b->serial);
        assert_int_equal(a->issued, b->issued);
        assert_str_same(a->issued_text, b->issued_text);
        assert_str_same(a->issuer, b->issuer);
        assert_str_same(a->contract, b->contract);
        assert_str_same(a->contractor, b->contractor);
        assert_str_same(a->responsible, b->responsible);
        assert_strv_same(a->workstations, a->n_workstations, b->workstations, b->n_workstations);
        assert_str_same(a->workstation, b->workstation);
        assert_int_equal(a->valid_until, b->valid_until);
        assert_str_same(a->valid_until_text, b->valid_until_text);
        assert_int_equal(a->default_usb_hid, b->default_usb_hid);
        assert_int_equal(a->default_usb_hub, b->default_usb_hub);
        assert_int_equal(a->default_usb_other, b->default_usb_other);
        assert_int_equal(a->default_network, b->default_network);
        assert_int_equal(a->default_wireless, b->default_wireless);
        assert_int_equal(a->default_media, b->default_media);
        assert_int_equal(a->default_scan, b->default_scan);
        assert_int_equal(a->scan_limits.max_seconds, b->scan_limits.max_seconds);
        assert_int_equal(a->scan_limits.max_megabytes, b->scan_limits.max_megabytes);
        assert_int_equal(a->scan_limits.max_database_days, b->scan_limits.max_database_days);

        assert_int_equal(a->n_usb, b->n_usb);
        for (size_t i = 0; i < a->n_usb; i++) {
                const struct policy_usb_entry *x = &a->usb[i], *y = &b->usb[i];
                assert_approval_same(&x->approval, &y->approval);
                assert_int_equal(x->vendor, y->vendor);
                assert_int_equal(x->product, y->product);
                assert_str_same(x->serial, y->serial);
                assert_str_same(x->path, y->path);
                assert_int_equal(x->has_interfaces, y->has_interfaces);
                assert_int_equal(x->n_interfaces, y->n_interfaces);
                for (size_t k = 0; k < x->n_interfaces; k++)
                        assert_memory_equal(&x->interfaces[k], &y->interfaces[k], sizeof x->interfaces[k]);
                assert_int_equal(x->read_only, y->read_only);
                assert_int_equal(x->hidraw_user, y->hidraw_user);
                assert_int_equal(x->unlisted, y->unlisted);
                assert_int_equal(x->scan, y->scan);
        }
        assert_int_equal(a->n_net, b->n_net);
        for (size_t i = 0; i < a->n_net; i++) {
                const struct policy_net_entry *x = &a->net[i], *y = &b->net[i];
                assert_approval_same(&x->approval, &y->approval);
                assert_int_equal(x->has_mac, y->has_mac);
                assert_memory_equal(x->mac, y->mac, 6);
                assert_str_same(x->path, y->path);
                assert_str_same(x->kind, y->kind);
                assert_str_same(x->name, y->name);
                assert_int_equal(x->wireless_modes, y->wireless_modes);
        }
        assert_int_equal(a->n_wireless, b->n_wireless);
        for (size_t i = 0; i < a->n_wireless; i++) {
                const struct policy_wireless_entry *x = &a->wireless[i], *y = &b->wireless[i];
                assert_approval_same(&x->approval, &y->approval);
                assert_int_equal(x->ssid_len, y->ssid_len);
                assert_memory_equal(x->ssid, y->ssid, x->ssid_len);
                assert_int_equal(x->ssid_is_hex, y->ssid_is_hex);
                assert_int_equal(x->n_bssids, y->n_bssids);
                if (x->n_bssids)
                        assert_memory_equal(x->bssids, y->bssids, 6 * x->n_bssids);
                assert_int_equal(x->security, y->security);
        }
        assert_int_equal(a->n_media, b->n_media);
        for (size_t i = 0; i < a->n_media; i++) {
                const struct policy_media_entry *x = &a->media[i], *y = &b->media[i];
                assert_approval_same(&x->approval, &y->approval);
                assert_int_equal(x->bus, y->bus);
                assert_str_same(x->vendor, y->vendor);
                assert_str_same(x->model, y->model);
                assert_str_same(x->serial, y->serial);
                assert_str_same(x->oemid, y->oemid);
                assert_str_same(x->date, y->date);
                assert_str_same(x->path, y->path);
                assert_int_equal(x->read_only, y->read_only);
                assert_int_equal(x->scan, y->scan);
        }
        assert_int_equal(a->n_fixed, b->n_fixed);
        for (size_t i = 0; i < a->n_fixed; i++) {
                const struct policy_fixed_disk *x = &a->fixed[i], *y = &b->fixed[i];
                assert_int_equal(x->bus, y->bus);
                assert_str_same(x->vendor, y->vendor);
                assert_str_same(x->model, y->model);
                assert_str_same(x->serial, y->serial);
                assert_str_same(x->path, y->path);
                assert_str_same(x->label, y->label);
                assert_int_equal(x->line, y->line);
        }

        /* The indices were rebuilt: a permit is found the same way. */
        for (size_t i = 0; i < a->n_usb; i++) {
                struct usb_identity id = { .vendor = a->usb[i].vendor, .product = a->usb[i].product,
                                           .has_serial = a->usb[i].serial && a->usb[i].serial[0], .n_interfaces = 1,
                                           .interfaces = { { 8, 6, 0x50 } } };
                struct policy_decision da, db;
                snprintf(id.serial, sizeof id.serial, "%s", a->usb[i].serial ?: "");
                snprintf(id.id_path, sizeof id.id_path, "%s", a->usb[i].path ?: "");
                policy_match_usb(a, &id, a->usb[i].approval.valid_from + 1, &da);
                policy_match_usb(b, &id, a->usb[i].approval.valid_from + 1, &db);
                assert_int_equal(da.verdict, db.verdict);
                assert_int_equal(da.reason, db.reason);
                assert_int_equal(da.window, db.window);
                assert_int_equal(da.usb_entry ? da.usb_entry - a->usb : -1, db.usb_entry ? db.usb_entry - b->usb : -1);
        }
}

static void roundtrip(const struct policy *p, const char *hostname, const char *machine_id) {
        _cleanup_free_ void *img = NULL;
        struct policy *q = NULL;
        size_t size;

        assert_int_equal(policy_image_serialize(p, SHA_A, hostname, machine_id, &img, &size), 0);
        assert_int_equal(size % 8, 0);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, hostname, machine_id, "img", &q), 0);
        assert_non_null(q);
        assert_string_equal(q->source, "img");
        assert_policy_same(p, q);
        policy_free(q);
}

static void test_image_of_every_example_policy_reads_back_the_same(void **state) {
        static const char *const files[] = {
                TEST_DATA_DIR "/policies/minimal.conf",
                TEST_DATA_DIR "/policies/kisarazu-full.conf",
                TEST_DATA_DIR "/policies/network-only.conf",
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct policy_diag d = {};
                struct policy *p = NULL;
                assert_int_equal(policy_parse_file(files[i], &p, &d), 0);
                roundtrip(p, NULL, NULL);
                policy_free(p);
                policy_diag_done(&d);
        }
}

static void test_image_of_every_kind_of_entry_reads_back_the_same(void **state) {
        struct policy *p = parse_text(ALL_KINDS, strlen(ALL_KINDS));
        assert_int_equal(p->n_usb, 2);
        assert_int_equal(p->n_net, 3);
        assert_int_equal(p->n_wireless, 2);
        assert_int_equal(p->n_media, 2);
        assert_int_equal(p->n_fixed, 1);
        roundtrip(p, NULL, NULL);

        /* As policy_load makes it: restricted to the host, and bound to it. */
        assert_int_equal(policy_restrict_to_host(p, "ws-01", NULL), 0);
        roundtrip(p, "ws-01", NULL);
        policy_free(p);
}

static void test_image_for_other_bytes_or_another_host_is_stale(void **state) {
        struct policy *p = parse_text(ALL_KINDS, strlen(ALL_KINDS)), *q = NULL;
        _cleanup_free_ void *img = NULL;
        size_t size;

        assert_int_equal(policy_image_serialize(p, SHA_A, "ws-01", NULL, &img, &size), 0);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_B, "ws-01", NULL, "img", &q), -ESTALE);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, "ws-02", NULL, "img", &q), -ESTALE);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, NULL, NULL, "img", &q), -ESTALE);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, "ws-01", "0123", "img", &q), -ESTALE);
        /* written by another version (version follows the 8-byte magic): not ours, not damaged */
        uint32_t version;
        memcpy(&version, (uint8_t *) img + 8, 4);
        assert_int_equal(version, POLICY_IMAGE_VERSION);
        version = 1;
        memcpy((uint8_t *) img + 8, &version, 4);
        uint8_t sha[32];
        assert_int_equal(policy_image_seal(img, size, sha), 0);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, "ws-01", NULL, "img", &q), -ESTALE);
        assert_null(q);
        policy_free(p);
}

/* Any one byte changed anywhere, and any shorter file, is refused (never read as a policy). */
static void test_image_with_any_byte_changed_or_cut_short_is_refused(void **state) {
        struct policy *p = parse_text(ALL_KINDS, strlen(ALL_KINDS)), *q = NULL;
        _cleanup_free_ uint8_t *img = NULL;
        size_t size;

        assert_int_equal(policy_image_serialize(p, SHA_A, NULL, NULL, (void **) &img, &size), 0);
        for (size_t i = 0; i < size; i++)
                for (unsigned bit = 0; bit < 8; bit += 3) {
                        img[i] ^= (uint8_t) (1u << bit);
                        int r = policy_image_load_buffer(img, size, SHA_A, NULL, NULL, "img", &q);
                        if (r != -EBADMSG && r != -ESTALE)
                                fail_msg("byte %zu bit %u changed: %d", i, bit, r);
                        img[i] ^= (uint8_t) (1u << bit);
                }
        for (size_t n = 0; n < size; n++)
                assert_int_equal(policy_image_load_buffer(img, n, SHA_A, NULL, NULL, "img", &q), -EBADMSG);
        assert_null(q);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, NULL, NULL, "img", &q), 0);
        policy_free(q);
        policy_free(p);
}

/* The image holds the USB hash table (heads, then next) for kyokad to read in place; a table that
 * is not the one the entries give (resealed, so that only the structural checks can catch it) is
 * refused, whichever uint32 of it differs; an unaligned buffer keeps the table it builds. */
static void test_image_with_another_usb_table_is_refused(void **state) {
        struct policy *p = parse_text(ALL_KINDS, strlen(ALL_KINDS)), *q = NULL;
        _cleanup_free_ uint8_t *img = NULL, *shifted = NULL;
        const uint32_t *heads, *next;
        size_t size, n_buckets;
        uint8_t sha[32];

        assert_int_equal(policy_image_serialize(p, SHA_A, NULL, NULL, (void **) &img, &size), 0);
        assert_int_equal(policy_index_usb_table(p, &heads, &n_buckets, &next), 0);
        size_t table = n_buckets * sizeof *heads, at = SIZE_MAX;
        for (size_t i = 0; i + table + p->n_usb * sizeof *next <= size; i += 8)
                if (memcmp(img + i, heads, table) == 0 && memcmp(img + i + table, next, p->n_usb * sizeof *next) == 0) {
                        assert_int_equal(at, SIZE_MAX);   /* found once */
                        at = i;
                }
        assert_true(at != SIZE_MAX);

        for (size_t k = 0; k < n_buckets + p->n_usb; k++) {
                uint32_t v, changed;
                memcpy(&v, img + at + 4 * k, 4);
                changed = v == UINT32_MAX ? 0 : v == 0 ? UINT32_MAX : v - 1;  /* another entry or NONE */
                memcpy(img + at + 4 * k, &changed, 4);
                assert_int_equal(policy_image_seal(img, size, sha), 0);
                if (policy_image_load_buffer(img, size, SHA_A, NULL, NULL, "img", &q) != -EBADMSG)
                        fail_msg("uint32 %zu of the USB table changed %u -> %u: not refused", k, v, changed);
                memcpy(img + at + 4 * k, &v, 4);
        }
        assert_int_equal(policy_image_seal(img, size, sha), 0);
        assert_int_equal(policy_image_load_buffer(img, size, SHA_A, NULL, NULL, "img", &q), 0);
        assert_policy_same(p, q);
        policy_free(q);

        shifted = malloc(size + 1);
        assert_non_null(shifted);
        memcpy(shifted + 1, img, size);
        assert_int_equal(policy_image_load_buffer(shifted + 1, size, SHA_A, NULL, NULL, "img", &q), 0);
        assert_policy_same(p, q);
        policy_free(q);
        policy_free(p);
}

/* ---- the load gate ---------------------------------------------------------------------------- */

struct fixture {
        char *dir, *key_prefix, *policy, *state;
        struct keyring *keys;
        struct policy_load_options opts;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->dir = test_mkdtemp();
        f->key_prefix = path_join(f->dir, "admin");
        f->policy = path_join(f->dir, "policy.conf");
        f->state = path_join(f->dir, "state");
        assert_int_equal(mkdir(f->state, 0700), 0);
        assert_int_equal(key_generate(f->key_prefix), 0);
        _cleanup_free_ char *pub = NULL;
        assert_true(asprintf(&pub, "%s.pub", f->key_prefix) > 0);
        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(pub, &k), 0);
        assert_int_equal(keyring_new_single(k, &f->keys), 0);
        assert_int_equal(time_parse_iso8601("2026-12-01T12:00", &f->opts.now, NULL), 0);
        f->opts.policy_path = f->policy;
        f->opts.keys = f->keys;
        f->opts.state_dir = f->state;
        f->opts.hostname = "ws-01";
        f->opts.use_image = true;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        keyring_free(f->keys);
        test_rmdir_r(f->dir);
        free(f->dir);
        free(f->key_prefix);
        free(f->policy);
        free(f->state);
        free(f);
        return 0;
}

/* ALL_KINDS with SERIAL, signed. */
static void write_signed(struct fixture *f, unsigned serial) {
        _cleanup_free_ char *text = strdup(ALL_KINDS), *key = NULL, *sig_path = NULL;
        _cleanup_(signing_key_freep) struct signing_key *sk = NULL;
        uint8_t sig[SIGNATURE_SIZE];

        assert_non_null(text);
        char *s = strstr(text, "serial = 42;");
        assert_non_null(s);
        assert_true(serial < 100);
        s[9] = (char) ('0' + serial / 10);
        s[10] = (char) ('0' + serial % 10);
        free(test_write(f->dir, "policy.conf", text, strlen(text)));
        assert_true(asprintf(&key, "%s.key", f->key_prefix) > 0);
        assert_true(asprintf(&sig_path, "%s.sig", f->policy) > 0);
        assert_int_equal(signing_key_load(key, &sk), 0);
        assert_int_equal(signature_create(sk, text, strlen(text), sig), 0);
        assert_int_equal(write_file_atomic(sig_path, sig, sizeof sig, 0644), 0);
}

static char *image_path(struct fixture *f) {
        return path_join(f->state, KYOKA_POLICY_IMAGE_FILE);
}

/* Loads, and returns whether the policy came from the image; the policy is the parsed one in
 * every case (compared with a plain parse of the file). */
static bool load_ok(struct fixture *f, int expected_image_error) {
        struct policy_load_result res;
        struct policy_load_options parse_opts = f->opts;
        struct policy_load_result parsed;

        assert_int_equal(policy_load(&f->opts, &res), 0);
        bool from_image = res.from_image;
        if (!from_image)
                assert_int_equal(res.image_error, expected_image_error);
        parse_opts.use_image = false;
        assert_int_equal(policy_load(&parse_opts, &parsed), 0);
        assert_false(parsed.from_image);
        assert_policy_same(parsed.policy, res.policy);
        assert_memory_equal(parsed.sha256, res.sha256, 32);
        assert_int_equal(parsed.unchanged, res.unchanged);
        assert_string_equal(parsed.message, res.message);
        policy_load_result_done(&parsed);
        if (!from_image)
                assert_int_equal(policy_load_save_image(&f->opts, &res), 0);
        policy_load_result_done(&res);
        return from_image;
}

static void test_load_parses_without_an_image_and_reads_the_one_it_saved(void **state) {
        struct fixture *f = *state;

        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        _cleanup_free_ char *img = image_path(f);
        struct stat st;
        assert_int_equal(stat(img, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_true(load_ok(f, 0));
}

static void test_load_parses_when_the_image_is_for_other_bytes(void **state) {
        struct fixture *f = *state;

        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        write_signed(f, 8);
        assert_false(load_ok(f, -ESTALE));      /* and saves the image of serial 8 */
        assert_true(load_ok(f, 0));
}

static void test_load_parses_when_the_image_is_damaged(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *img = image_path(f), *data = NULL;
        size_t size;

        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        assert_int_equal(read_file_bounded(img, POLICY_IMAGE_MAX, &data, &size), 0);
        data[size / 2] ^= 0x10;
        assert_int_equal(write_file_atomic(img, data, size, 0600), 0);
        assert_false(load_ok(f, -EBADMSG));
        assert_true(load_ok(f, 0));

        assert_int_equal(truncate(img, (off_t) size - 8), 0);
        assert_false(load_ok(f, -EBADMSG));
}

static void test_load_ignores_an_image_others_may_write(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *img = image_path(f);

        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        assert_int_equal(chmod(img, 0666), 0);
        assert_false(load_ok(f, -EPERM));
}

/* The image replaces the parse, not the checks: an old policy whose image is still there is
 * refused as a rollback, and an expired one as expired. */
static void test_load_with_image_still_refuses_rollback_and_expiry(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *img = image_path(f), *saved = NULL, *text7 = NULL, *sig7 = NULL, *sig_path = NULL;
        size_t n_saved, n7, n_sig7;

        assert_true(asprintf(&sig_path, "%s.sig", f->policy) > 0);
        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        assert_int_equal(read_file_bounded(img, POLICY_IMAGE_MAX, &saved, &n_saved), 0);
        assert_int_equal(read_file_bounded(f->policy, POLICY_FILE_MAX, &text7, &n7), 0);
        assert_int_equal(read_file_bounded(sig_path, 4096, &sig7, &n_sig7), 0);

        write_signed(f, 8);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(policy_load_commit(f->state, &res), 0);
        policy_load_result_done(&res);

        /* Serial 7 and its image back in place. */
        free(test_write(f->dir, "policy.conf", text7, n7));
        free(test_write(f->dir, "policy.conf.sig", sig7, n_sig7));
        assert_int_equal(write_file_atomic(img, saved, n_saved, 0600), 0);
        assert_int_equal(policy_load(&f->opts, &res), -ESTALE);
        assert_true(res.from_image);
        assert_int_equal(res.error, LOAD_ROLLBACK);
        assert_null(res.policy);
        policy_load_result_done(&res);

        write_signed(f, 9);
        assert_false(load_ok(f, -ESTALE));
        assert_int_equal(time_parse_iso8601("2027-04-01T00:00", &f->opts.now, NULL), 0);
        assert_int_equal(policy_load(&f->opts, &res), -EKEYEXPIRED);
        assert_true(res.from_image);
        assert_int_equal(res.error, LOAD_EXPIRED);
        policy_load_result_done(&res);
}

/* A host that is not among the policy's workstations is refused with the image too. */
static void test_load_with_image_still_refuses_another_host(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed(f, 7);
        assert_false(load_ok(f, -ENOENT));
        f->opts.hostname = "ws-99";
        assert_int_equal(policy_load(&f->opts, &res), -EXDEV);
        assert_false(res.from_image);           /* the image is ws-01's */
        assert_int_equal(res.error, LOAD_OTHER_HOST);
        policy_load_result_done(&res);
}

/* Over a MiB the hash and the image run on a second thread beside the signature check: the
 * image is taken only with a good signature, and dropped (not leaked) with a bad one. */
static void test_load_of_a_large_policy_takes_the_image_only_with_a_good_signature(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *key = NULL, *sig_path = NULL, *text = NULL;
        _cleanup_(signing_key_freep) struct signing_key *sk = NULL;
        uint8_t sig[SIGNATURE_SIZE];
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        assert_non_null(out);
        fputs("kyoka_policy = 1;\nserial = 3;\nissued = \"2026-11-20\";\nissuer = \"bench\";\ncontract = \"c\";\nusb = (\n", out);
        for (unsigned i = 0; i < 9000; i++)
                fprintf(out, "  { permit = \"P-%u\"; vendor = \"1000\"; product = \"%04x\"; serial = \"S%07u\"; "
                        "interfaces = [ \"08:06:50\" ]; approved_by = \"bench\"; approved_on = \"2026-11-20\"; }%s\n",
                        i, i % 1000, i, i < 8999 ? "," : "");
        fputs(");\n", out);
        assert_int_equal(fclose(out), 0);
        assert_true(size > (1u << 20));
        free(test_write(f->dir, "policy.conf", text, size));
        assert_true(asprintf(&key, "%s.key", f->key_prefix) > 0);
        assert_true(asprintf(&sig_path, "%s.sig", f->policy) > 0);
        assert_int_equal(signing_key_load(key, &sk), 0);
        assert_int_equal(signature_create(sk, text, size, sig), 0);
        assert_int_equal(write_file_atomic(sig_path, sig, sizeof sig, 0644), 0);

        assert_false(load_ok(f, -ENOENT));
        assert_true(load_ok(f, 0));

        sig[0] ^= 1;
        assert_int_equal(write_file_atomic(sig_path, sig, sizeof sig, 0644), 0);
        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_false(res.from_image);
        assert_null(res.policy);
        policy_load_result_done(&res);
}

/* kyokad's first start: parsed, image saved, then the policy read back from it in place of the
 * parsed one: the same policy, its strings in the image's mapping, the result otherwise unchanged. */
static void test_take_image_replaces_the_parsed_policy_with_the_same_one(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res, parsed;
        struct policy_load_options parse_opts = f->opts;

        write_signed(f, 7);
        parse_opts.use_image = false;
        assert_int_equal(policy_load(&parse_opts, &parsed), 0);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_false(res.from_image);
        assert_int_equal(res.image_error, -ENOENT);
        assert_null(res.policy->image);
        /* no image yet: nothing to take, the parsed policy stays */
        assert_int_equal(policy_load_take_image(&f->opts, &res), -ENOENT);
        assert_false(res.from_image);
        assert_null(res.policy->image);

        assert_int_equal(policy_load_save_image(&f->opts, &res), 0);
        assert_int_equal(policy_load_take_image(&f->opts, &res), 0);
        assert_true(res.from_image);
        assert_non_null(res.policy->image);
        assert_policy_same(parsed.policy, res.policy);
        assert_string_equal(res.policy->source, parsed.policy->source);
        assert_memory_equal(res.sha256, parsed.sha256, 32);
        assert_string_equal(res.message, parsed.message);
        /* taken already: nothing to do */
        assert_int_equal(policy_load_take_image(&f->opts, &res), 0);
        policy_load_result_done(&res);
        policy_load_result_done(&parsed);
}

/* An image of other bytes (a policy replaced meanwhile) is never taken for this result. */
static void test_take_image_refuses_an_image_of_other_bytes(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res, res8;

        write_signed(f, 7);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        write_signed(f, 8);
        assert_int_equal(policy_load(&f->opts, &res8), 0);
        assert_int_equal(policy_load_save_image(&f->opts, &res8), 0);
        assert_int_equal(policy_load_take_image(&f->opts, &res), -ESTALE);
        assert_false(res.from_image);
        assert_int_equal(res.policy->serial, 7);
        assert_null(res.policy->image);
        policy_load_result_done(&res8);
        policy_load_result_done(&res);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_image_of_every_example_policy_reads_back_the_same),
                cmocka_unit_test(test_image_of_every_kind_of_entry_reads_back_the_same),
                cmocka_unit_test(test_image_for_other_bytes_or_another_host_is_stale),
                cmocka_unit_test(test_image_with_any_byte_changed_or_cut_short_is_refused),
                cmocka_unit_test(test_image_with_another_usb_table_is_refused),
                cmocka_unit_test_setup_teardown(test_load_parses_without_an_image_and_reads_the_one_it_saved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_parses_when_the_image_is_for_other_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_parses_when_the_image_is_damaged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_ignores_an_image_others_may_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_with_image_still_refuses_rollback_and_expiry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_with_image_still_refuses_another_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_of_a_large_policy_takes_the_image_only_with_a_good_signature,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_take_image_replaces_the_parsed_policy_with_the_same_one, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_take_image_refuses_an_image_of_other_bytes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
