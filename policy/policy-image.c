/* SPDX-License-Identifier: MIT */
/* The compiled policy image (policy-image.h).
 *
 * Layout (native byte order, checked by a marker; every section 8-byte aligned):
 *   header        magic, version, size, checksum, the SHA-256 of the signed bytes, the host it
 *                 was restricted to, the policy's own fields, and the section table
 *   records       usb, net, wireless, media, fixed: fixed-size records, strings as offsets
 *   pool          uint32 string offsets: the `workstations` lists
 *   (padding to a page)
 *   strings       NUL-terminated strings, each stored once; the section ends with a NUL
 *   blob          interface patterns (5 bytes each) and BSSIDs (6 bytes each)
 *   usb_index     the USB hash table of policy-match.c as uint32s: heads (usb_buckets), then
 *                 next (one per USB entry); empty for a policy without USB entries
 * The checksum covers everything after its own field: what it guards against is a damaged
 * file (nothing checks the bytes of an image the way the signature checks the text), not a
 * forger, who would need root in STATE_DIR (see policy-image.h).
 *
 * Reading is in the style of daemon/usb-descriptors.c: every count and offset is checked against
 * the bounds before it is used, every enum and bool against its range, and the policy is handed
 * out only when all of it was read. */
#include "policy-image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-safe.h"
#include "macro.h"
#include "policy-match.h"

#define IMAGE_MAGIC "KYOKAPIM"
#define IMAGE_ENDIAN 0x01020304u
#define NONE UINT32_MAX
#define IMAGE_STRING_MAX 4096u        /* bytes of one string, NUL excluded: above every field's bound */
#define IMAGE_ENTRIES_MAX (16u << 20) /* entries of one kind */
#define IMAGE_PAGE 4096u

struct image_section {
        uint64_t offset;              /* from the start of the file */
        uint64_t count;               /* records; for pool: uint32s; strings, blob: bytes */
};

struct image_header {
        char magic[8];
        uint32_t version;
        uint32_t endian;
        uint64_t size;                /* of the whole file */
        uint64_t checksum;            /* of bytes [CHECKSUM_START, size) */
        /* checksummed from here */
        uint8_t source_sha256[32];
        uint32_t hostname, machine_id; /* what it was restricted to (string offsets or NONE) */
        uint32_t policy_format;       /* POLICY_FORMAT_VERSION */
        int32_t version_field;
        uint64_t serial;
        int64_t issued, valid_until;
        uint32_t issued_text, issuer, contract, contractor, responsible, workstation, valid_until_text;
        uint32_t workstations, n_workstations; /* pool */
        uint8_t default_usb_hid, default_usb_hub, default_usb_other, default_network, default_wireless,
                default_media, default_scan, pad0;
        uint32_t pad1;
        int64_t scan_max_seconds, scan_max_megabytes, scan_max_database_days;
        struct image_section usb, net, wireless, media, fixed, pool, strings, blob;
        struct image_section usb_index; /* uint32s: usb_buckets heads, then usb.count next */
        uint64_t usb_buckets;
};

#define CHECKSUM_START offsetof(struct image_header, source_sha256)

struct image_approval {
        uint32_t permit, label, approved_by, purpose, holder, approved_on_text, valid_from_text, valid_until_text;
        int64_t approved_on, valid_from, valid_until;
        uint32_t workstations, n_workstations; /* pool */
        uint32_t line, pad;
};

struct image_usb {
        struct image_approval a;
        uint32_t serial, path;
        uint32_t interfaces, n_interfaces; /* blob offset, patterns */
        uint16_t vendor, product;
        uint8_t has_interfaces, read_only, hidraw_user, unlisted;
        uint8_t scan, pad[7];
};

struct image_net {
        struct image_approval a;
        uint32_t path, kind, name, wireless_modes;
        uint8_t has_mac, mac[6], pad;
};

struct image_wireless {
        struct image_approval a;
        uint8_t ssid[WIRELESS_SSID_MAX];
        uint32_t ssid_len, bssids, n_bssids; /* blob offset, BSSIDs */
        uint8_t ssid_is_hex, security, pad[6];
};

struct image_media {
        struct image_approval a;
        uint32_t vendor, model, serial, oemid, date, path;
        uint8_t bus, read_only, scan, pad[5];
};

struct image_fixed {
        uint32_t vendor, model, serial, path, label, line;
        uint8_t bus, pad[7];
};

#define PATTERN_SIZE 5
#define BSSID_SIZE 6

/* A record per field of the in-memory model: a field added there must be added here (and
 * POLICY_IMAGE_VERSION raised), or an image would silently drop it. These catch most additions. */
_Static_assert(sizeof(struct policy_approval) == 104, "policy_approval changed: update policy-image.c");
_Static_assert(sizeof(struct policy_usb_entry) == 136, "policy_usb_entry changed: update policy-image.c");
_Static_assert(sizeof(struct policy_net_entry) == 144, "policy_net_entry changed: update policy-image.c");
_Static_assert(sizeof(struct policy_wireless_entry) == 176, "policy_wireless_entry changed: update policy-image.c");
_Static_assert(sizeof(struct policy_media_entry) == 168, "policy_media_entry changed: update policy-image.c");
_Static_assert(sizeof(struct policy_fixed_disk) == 56, "policy_fixed_disk changed: update policy-image.c");
_Static_assert(sizeof(struct policy) == 280, "struct policy changed: update policy-image.c");  /* 280: `strings`, `strings_borrowed`: memory, not content */
/* Patterns are used in place: the blob's 5 bytes are the struct's. */
_Static_assert(sizeof(struct policy_interface_pattern) == PATTERN_SIZE && _Alignof(struct policy_interface_pattern) == 1 &&
               offsetof(struct policy_interface_pattern, c.cls) == 0 &&
               offsetof(struct policy_interface_pattern, c.subclass) == 1 &&
               offsetof(struct policy_interface_pattern, c.protocol) == 2 &&
               offsetof(struct policy_interface_pattern, any_subclass) == 3 &&
               offsetof(struct policy_interface_pattern, any_protocol) == 4 && sizeof(bool) == 1,
               "policy_interface_pattern is read in place from the image");
_Static_assert(sizeof(struct image_header) % 8 == 0 && sizeof(struct image_approval) % 8 == 0 &&
               sizeof(struct image_usb) % 8 == 0 && sizeof(struct image_net) % 8 == 0 &&
               sizeof(struct image_wireless) % 8 == 0 && sizeof(struct image_media) % 8 == 0 &&
               sizeof(struct image_fixed) % 8 == 0, "records keep 8-byte alignment");

/* What the loaded policy owns besides its arrays: the mapping (NULL for a caller's buffer). */
struct policy_image_backing {
        void *map;
        size_t map_size;
};

/* ---- checksum -------------------------------------------------------------------------------
 * Four lanes over 64-bit words, each step a bijection of the lane (multiply by an odd constant,
 * xor, rotate), so that changing any one word always changes the result; fast (no table, no
 * dependency between lanes) because it runs over the whole image at every start. */

#define P1 UINT64_C(0x9E3779B185EBCA87)
#define P2 UINT64_C(0xC2B2AE3D27D4EB4F)

static inline uint64_t rotl64(uint64_t x, unsigned r) {
        return (x << r) | (x >> (64 - r));
}

static uint64_t image_checksum(const uint8_t *data, size_t size) {
        uint64_t l[4] = { P1, P2, ~P1, ~P2 }, w;
        size_t i = 0;

        for (; i + 32 <= size; i += 32)
                for (unsigned k = 0; k < 4; k++) {
                        memcpy(&w, data + i + 8 * k, 8);
                        l[k] = rotl64(l[k] ^ (w * P1), 31) * P2;
                }
        for (unsigned k = 0; i + 8 <= size; i += 8, k++) {
                memcpy(&w, data + i, 8);
                l[k] = rotl64(l[k] ^ (w * P1), 31) * P2;
        }
        /* SIZE is a multiple of 8 (checked); the length still goes in. */
        uint64_t h = rotl64(l[0], 1) + rotl64(l[1], 7) + rotl64(l[2], 12) + rotl64(l[3], 18) + size;
        h ^= h >> 33;
        h *= P2;
        h ^= h >> 29;
        return h;
}

/* ---- writing ------------------------------------------------------------------------------- */

struct buf {
        uint8_t *data;
        size_t size, allocated;
};

static int buf_reserve(struct buf *b, size_t more) {
        if (more > POLICY_IMAGE_MAX || b->size + more > POLICY_IMAGE_MAX)
                return -E2BIG;
        if (b->size + more <= b->allocated)
                return 0;
        size_t n = MAX(b->allocated * 2, (size_t) 4096);
        while (n < b->size + more)
                n *= 2;
        uint8_t *d = realloc(b->data, n);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->allocated = n;
        return 0;
}

static int buf_append(struct buf *b, const void *data, size_t size) {
        int r = buf_reserve(b, size);
        if (r < 0)
                return r;
        if (size > 0)
                memcpy(b->data + b->size, data, size);
        b->size += size;
        return 0;
}

static int buf_pad(struct buf *b, size_t align) {
        static const uint8_t zeros[IMAGE_PAGE];
        size_t n = (align - b->size % align) % align;
        return buf_append(b, zeros, n);
}

/* Equal strings (and pattern/BSSID lists) are stored once: a 100,000-entry policy repeats its
 * approver, dates and interface lists on every entry. Open addressing over offsets. */
struct intern {
        struct buf *out;
        uint32_t *slots;              /* offset + 1; 0: empty */
        uint32_t *lens;
        size_t mask, used;
};

static uint32_t hash_bytes(const void *data, size_t n) {
        const uint8_t *p = data;
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static int intern_grow(struct intern *t) {
        size_t n = t->mask ? (t->mask + 1) * 2 : 1024;
        uint32_t *slots = calloc(n, sizeof *slots), *lens = calloc(n, sizeof *lens);

        if (!slots || !lens) {
                free(slots);
                free(lens);
                return -ENOMEM;
        }
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
                if (!t->slots[i])
                        continue;
                size_t j = hash_bytes(t->out->data + t->slots[i] - 1, t->lens[i]) & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = t->slots[i];
                lens[j] = t->lens[i];
        }
        free(t->slots);
        free(t->lens);
        t->slots = slots;
        t->lens = lens;
        t->mask = n - 1;
        return 0;
}

/* The offset of DATA (N bytes; with TERMINATE a NUL is stored after them) in T's buffer. */
static int intern_add(struct intern *t, const void *data, size_t n, bool terminate, uint32_t *ret) {
        int r;

        if ((t->used + 1) * 2 > t->mask + 1) {
                r = intern_grow(t);
                if (r < 0)
                        return r;
        }
        size_t j = hash_bytes(data, n) & t->mask;
        for (; t->slots[j]; j = (j + 1) & t->mask)
                if (t->lens[j] == n && memcmp(t->out->data + t->slots[j] - 1, data, n) == 0) {
                        *ret = t->slots[j] - 1;
                        return 0;
                }
        if (t->out->size + n + 1 >= NONE)
                return -E2BIG;
        uint32_t off = (uint32_t) t->out->size;
        r = buf_append(t->out, data, n);
        if (r >= 0 && terminate)
                r = buf_append(t->out, "", 1);
        if (r < 0)
                return r;
        t->slots[j] = off + 1;
        t->lens[j] = (uint32_t) n;
        t->used++;
        *ret = off;
        return 0;
}

static void intern_done(struct intern *t) {
        free(t->slots);
        free(t->lens);
}

struct writer {
        struct buf records, pool, strings, blob;
        struct intern strs, blobs;
        int error;
};

/* Records the first error; every helper below is a no-op after one. */
static uint32_t w_str(struct writer *w, const char *s) {
        uint32_t off = NONE;

        if (!s || w->error < 0)
                return NONE;
        size_t n = strlen(s);
        if (n > IMAGE_STRING_MAX) {
                w->error = -E2BIG;
                return NONE;
        }
        int r = intern_add(&w->strs, s, n, true, &off);
        if (r < 0)
                w->error = r;
        return off;
}

static uint32_t w_blob(struct writer *w, const void *data, size_t n) {
        uint32_t off = 0;

        if (n == 0 || w->error < 0)
                return 0;
        int r = intern_add(&w->blobs, data, n, false, &off);
        if (r < 0)
                w->error = r;
        return off;
}

static uint32_t w_strv(struct writer *w, char *const *v, size_t n, uint32_t *ret_n) {
        size_t start = w->pool.size / sizeof(uint32_t);

        *ret_n = 0;
        if (n == 0 || w->error < 0)
                return 0;
        if (n > POLICY_WORKSTATIONS_MAX || start + n >= NONE) {
                w->error = -E2BIG;
                return 0;
        }
        for (size_t i = 0; i < n && w->error >= 0; i++) {
                uint32_t off = w_str(w, v[i]);
                int r = buf_append(&w->pool, &off, sizeof off);
                if (r < 0)
                        w->error = r;
        }
        *ret_n = (uint32_t) n;
        return (uint32_t) start;
}

static void w_record(struct writer *w, const void *rec, size_t size) {
        if (w->error < 0)
                return;
        int r = buf_append(&w->records, rec, size);
        if (r < 0)
                w->error = r;
}

static struct image_approval w_approval(struct writer *w, const struct policy_approval *a) {
        struct image_approval r = {
                .permit = w_str(w, a->permit),
                .label = w_str(w, a->label),
                .approved_by = w_str(w, a->approved_by),
                .purpose = w_str(w, a->purpose),
                .holder = w_str(w, a->holder),
                .approved_on_text = w_str(w, a->approved_on_text),
                .valid_from_text = w_str(w, a->valid_from_text),
                .valid_until_text = w_str(w, a->valid_until_text),
                .approved_on = a->approved_on,
                .valid_from = a->valid_from,
                .valid_until = a->valid_until,
                .line = a->line,
        };
        r.workstations = w_strv(w, a->workstations, a->n_workstations, &r.n_workstations);
        return r;
}

static void w_section(struct writer *w, struct image_section *s, size_t start, size_t count) {
        s->offset = start;
        s->count = count;
}

int policy_image_serialize(const struct policy *p, const uint8_t source_sha256[static 32], const char *hostname,
                           const char *machine_id, void **ret, size_t *ret_size) {
        struct writer w = {};
        struct buf out = {};
        struct image_header h = {};
        size_t base;
        int r;

        if (!p || !ret || !ret_size)
                return -EINVAL;
        if (p->n_usb > IMAGE_ENTRIES_MAX || p->n_net > IMAGE_ENTRIES_MAX || p->n_wireless > IMAGE_ENTRIES_MAX ||
            p->n_media > IMAGE_ENTRIES_MAX || p->n_fixed > IMAGE_ENTRIES_MAX)
                return -E2BIG;
        w.strs.out = &w.strings;
        w.blobs.out = &w.blob;

        memcpy(h.magic, IMAGE_MAGIC, sizeof h.magic);
        h.version = POLICY_IMAGE_VERSION;
        h.endian = IMAGE_ENDIAN;
        memcpy(h.source_sha256, source_sha256, 32);
        h.hostname = w_str(&w, hostname);
        h.machine_id = w_str(&w, machine_id);
        h.policy_format = POLICY_FORMAT_VERSION;
        h.version_field = p->version;
        h.serial = p->serial;
        h.issued = p->issued;
        h.valid_until = p->valid_until;
        h.issued_text = w_str(&w, p->issued_text);
        h.issuer = w_str(&w, p->issuer);
        h.contract = w_str(&w, p->contract);
        h.contractor = w_str(&w, p->contractor);
        h.responsible = w_str(&w, p->responsible);
        h.workstation = w_str(&w, p->workstation);
        h.valid_until_text = w_str(&w, p->valid_until_text);
        h.workstations = w_strv(&w, p->workstations, p->n_workstations, &h.n_workstations);
        h.default_usb_hid = (uint8_t) p->default_usb_hid;
        h.default_usb_hub = (uint8_t) p->default_usb_hub;
        h.default_usb_other = (uint8_t) p->default_usb_other;
        h.default_network = (uint8_t) p->default_network;
        h.default_wireless = (uint8_t) p->default_wireless;
        h.default_media = (uint8_t) p->default_media;
        h.default_scan = (uint8_t) p->default_scan;
        h.scan_max_seconds = p->scan_limits.max_seconds;
        h.scan_max_megabytes = p->scan_limits.max_megabytes;
        h.scan_max_database_days = p->scan_limits.max_database_days;

        /* Record offsets are relative to the records buffer until the header is known. */
        base = sizeof h;
        w_section(&w, &h.usb, base + w.records.size, p->n_usb);
        for (size_t i = 0; i < p->n_usb; i++) {
                const struct policy_usb_entry *e = &p->usb[i];
                struct image_usb u = {
                        .a = w_approval(&w, &e->approval),
                        .serial = w_str(&w, e->serial),
                        .path = w_str(&w, e->path),
                        .interfaces = w_blob(&w, e->interfaces, e->n_interfaces * PATTERN_SIZE),
                        .n_interfaces = (uint32_t) e->n_interfaces,
                        .vendor = e->vendor,
                        .product = e->product,
                        .has_interfaces = e->has_interfaces,
                        .read_only = e->read_only,
                        .hidraw_user = e->hidraw_user,
                        .unlisted = (uint8_t) e->unlisted,
                        .scan = (uint8_t) e->scan,
                };
                if (e->n_interfaces > USB_INTERFACES_MAX)
                        w.error = -E2BIG;
                w_record(&w, &u, sizeof u);
        }
        w_section(&w, &h.net, base + w.records.size, p->n_net);
        for (size_t i = 0; i < p->n_net; i++) {
                const struct policy_net_entry *e = &p->net[i];
                struct image_net n = {
                        .a = w_approval(&w, &e->approval),
                        .path = w_str(&w, e->path),
                        .kind = w_str(&w, e->kind),
                        .name = w_str(&w, e->name),
                        .wireless_modes = e->wireless_modes,
                        .has_mac = e->has_mac,
                };
                memcpy(n.mac, e->mac, 6);
                w_record(&w, &n, sizeof n);
        }
        w_section(&w, &h.wireless, base + w.records.size, p->n_wireless);
        for (size_t i = 0; i < p->n_wireless; i++) {
                const struct policy_wireless_entry *e = &p->wireless[i];
                struct image_wireless x = {
                        .a = w_approval(&w, &e->approval),
                        .ssid_len = (uint32_t) e->ssid_len,
                        .bssids = w_blob(&w, e->bssids, e->n_bssids * BSSID_SIZE),
                        .n_bssids = (uint32_t) e->n_bssids,
                        .ssid_is_hex = e->ssid_is_hex,
                        .security = (uint8_t) e->security,
                };
                if (e->ssid_len > WIRELESS_SSID_MAX || e->n_bssids > WIRELESS_BSSIDS_MAX)
                        w.error = -E2BIG;
                else
                        memcpy(x.ssid, e->ssid, e->ssid_len);
                w_record(&w, &x, sizeof x);
        }
        w_section(&w, &h.media, base + w.records.size, p->n_media);
        for (size_t i = 0; i < p->n_media; i++) {
                const struct policy_media_entry *e = &p->media[i];
                struct image_media m = {
                        .a = w_approval(&w, &e->approval),
                        .vendor = w_str(&w, e->vendor),
                        .model = w_str(&w, e->model),
                        .serial = w_str(&w, e->serial),
                        .oemid = w_str(&w, e->oemid),
                        .date = w_str(&w, e->date),
                        .path = w_str(&w, e->path),
                        .bus = (uint8_t) e->bus,
                        .read_only = e->read_only,
                        .scan = (uint8_t) e->scan,
                };
                w_record(&w, &m, sizeof m);
        }
        w_section(&w, &h.fixed, base + w.records.size, p->n_fixed);
        for (size_t i = 0; i < p->n_fixed; i++) {
                const struct policy_fixed_disk *d = &p->fixed[i];
                struct image_fixed f = {
                        .vendor = w_str(&w, d->vendor),
                        .model = w_str(&w, d->model),
                        .serial = w_str(&w, d->serial),
                        .path = w_str(&w, d->path),
                        .label = w_str(&w, d->label),
                        .line = d->line,
                        .bus = (uint8_t) d->bus,
                };
                w_record(&w, &f, sizeof f);
        }
        /* The strings section must end with a NUL even when empty: any offset in it is a string. */
        if (w.strings.size == 0 && w.error >= 0)
                w.error = buf_append(&w.strings, "", 1);
        r = w.error;
        if (r < 0)
                goto finish;

        /* header, records, pool, padding to a page (the strings and the blob are mapped on their
         * own after the load, see policy_image_load_at), strings, blob, padding to 8. */
        r = buf_append(&out, &h, sizeof h);
        if (r >= 0)
                r = buf_append(&out, w.records.data, w.records.size);
        if (r < 0)
                goto finish;
        h.pool.offset = out.size;
        h.pool.count = w.pool.size / sizeof(uint32_t);
        r = buf_append(&out, w.pool.data, w.pool.size);
        if (r >= 0)
                r = buf_pad(&out, IMAGE_PAGE);
        if (r < 0)
                goto finish;
        h.strings.offset = out.size;
        h.strings.count = w.strings.size;
        r = buf_append(&out, w.strings.data, w.strings.size);
        if (r >= 0)
                r = buf_pad(&out, 8);
        if (r < 0)
                goto finish;
        h.blob.offset = out.size;
        h.blob.count = w.blob.size;
        r = buf_append(&out, w.blob.data, w.blob.size);
        if (r >= 0)
                r = buf_pad(&out, 8);
        if (r < 0)
                goto finish;
        /* The USB hash table, for kyokad to use in place (checked against the one it builds). */
        h.usb_index.offset = out.size;
        const uint32_t *heads, *next;
        size_t n_buckets;
        if (p->n_usb > 0 && policy_index_usb_table(p, &heads, &n_buckets, &next) >= 0) {
                h.usb_buckets = n_buckets;
                h.usb_index.count = n_buckets + p->n_usb;
                r = buf_append(&out, heads, n_buckets * sizeof *heads);
                if (r >= 0)
                        r = buf_append(&out, next, p->n_usb * sizeof *next);
                if (r >= 0)
                        r = buf_pad(&out, 8);
                if (r < 0)
                        goto finish;
        }

        h.size = out.size;
        memcpy(out.data, &h, sizeof h);
        h.checksum = image_checksum(out.data + CHECKSUM_START, out.size - CHECKSUM_START);
        memcpy(out.data, &h, sizeof h);

        *ret = TAKE_PTR(out.data);
        *ret_size = out.size;
        r = 0;
finish:
        free(out.data);
        free(w.records.data);
        free(w.pool.data);
        free(w.strings.data);
        free(w.blob.data);
        intern_done(&w.strs);
        intern_done(&w.blobs);
        return r;
}

int policy_image_seal(void *data, size_t size, uint8_t ret_source_sha256[static 32]) {
        struct image_header h;

        if (!data || size < sizeof h || size % 8 != 0)
                return -EBADMSG;
        memcpy(&h, data, sizeof h);
        h.checksum = image_checksum((const uint8_t *) data + CHECKSUM_START, size - CHECKSUM_START);
        memcpy(data, &h, sizeof h);
        memcpy(ret_source_sha256, h.source_sha256, 32);
        return 0;
}

int policy_image_write_at(int dirfd, const char *name, const struct policy *p, const uint8_t source_sha256[static 32],
                          const char *hostname, const char *machine_id) {
        _cleanup_free_ void *data = NULL;
        size_t size;
        int r;

        r = policy_image_serialize(p, source_sha256, hostname, machine_id, &data, &size);
        if (r < 0)
                return r;
        return write_file_atomic_at(dirfd, name, data, size, 0600);
}

/* ---- reading ------------------------------------------------------------------------------- */

struct reader {
        const uint8_t *data;
        size_t size;
        struct image_header h;
        const char *strings;
        const uint8_t *pool;          /* uint32s, maybe unaligned in a caller's buffer: read with memcpy */
        const uint8_t *blob;
        bool bad;
};

/* A section of COUNT items of ITEM bytes, inside the file after the header. */
static bool section_ok(const struct reader *rd, const struct image_section *s, size_t item, uint64_t max_count) {
        if (s->offset < sizeof(struct image_header) || s->offset > rd->size || s->offset % 8 != 0)
                return false;
        if (s->count > max_count)
                return false;
        return s->count <= (rd->size - s->offset) / item;
}

/* The string at OFF, NULL for NONE; marks the reader bad for an offset outside the section. */
static const char *r_str(struct reader *rd, uint32_t off) {
        if (off == NONE)
                return NULL;
        if (off >= rd->h.strings.count) {
                rd->bad = true;
                return NULL;
        }
        return rd->strings + off;
}

static const char *r_str_required(struct reader *rd, uint32_t off) {
        const char *s = r_str(rd, off);
        if (!s)
                rd->bad = true;
        return s;
}

/* A list of N strings from the pool at START, as a new array (the strings stay in the image). */
static char **r_strv(struct reader *rd, uint32_t start, uint32_t n, int *error) {
        if (n == 0)
                return NULL;
        if (n > POLICY_WORKSTATIONS_MAX || start > rd->h.pool.count || n > rd->h.pool.count - start) {
                rd->bad = true;
                return NULL;
        }
        char **v = calloc(n, sizeof *v);
        if (!v) {
                *error = -ENOMEM;
                return NULL;
        }
        for (uint32_t i = 0; i < n; i++) {
                uint32_t off;
                memcpy(&off, rd->pool + (size_t) (start + i) * sizeof off, sizeof off);
                v[i] = (char *) r_str_required(rd, off);
        }
        return v;
}

/* A run of N items of ITEM bytes in the blob at OFF. */
static const void *r_blob(struct reader *rd, uint32_t off, uint32_t n, size_t item, uint32_t max) {
        if (n == 0)
                return NULL;
        if (n > max || off > rd->h.blob.count || (size_t) n * item > rd->h.blob.count - off) {
                rd->bad = true;
                return NULL;
        }
        return rd->blob + off;
}

static bool r_bool(struct reader *rd, uint8_t v) {
        if (v > 1)
                rd->bad = true;
        return v == 1;
}

static unsigned r_enum(struct reader *rd, uint8_t v, unsigned max) {
        if (v >= max)
                rd->bad = true;
        return v;
}

static int r_approval(struct reader *rd, const struct image_approval *in, struct policy_approval *a) {
        int error = 0;

        *a = (struct policy_approval) {
                .permit = (char *) r_str_required(rd, in->permit),
                .label = (char *) r_str(rd, in->label),
                .approved_by = (char *) r_str_required(rd, in->approved_by),
                .approved_on = in->approved_on,
                .valid_from = in->valid_from,
                .valid_until = in->valid_until,
                .purpose = (char *) r_str(rd, in->purpose),
                .holder = (char *) r_str(rd, in->holder),
                .approved_on_text = (char *) r_str(rd, in->approved_on_text),
                .valid_from_text = (char *) r_str(rd, in->valid_from_text),
                .valid_until_text = (char *) r_str(rd, in->valid_until_text),
                .line = in->line,
        };
        a->workstations = r_strv(rd, in->workstations, in->n_workstations, &error);
        if (a->workstations)
                a->n_workstations = in->n_workstations;
        return error;
}

/* Every string of the section is NUL-terminated within it (its last byte is a NUL) and at most
 * IMAGE_STRING_MAX bytes long, as the parser bounds every field. */
static bool strings_ok(const struct reader *rd) {
        const char *s = rd->strings, *end = rd->strings + rd->h.strings.count;

        if (rd->h.strings.count == 0 || end[-1] != 0)
                return false;
        while (s < end) {
                const char *nul = memchr(s, 0, MIN((size_t) (end - s), (size_t) IMAGE_STRING_MAX + 1));
                if (!nul)
                        return false;
                s = nul + 1;
        }
        return true;
}

static void free_strv_array(char **v) {
        free(v);        /* the strings are the image's */
}

struct policy *policy_image_free(struct policy *p) {
        if (!p)
                return NULL;
        policy_index_free(p->index);
        for (size_t i = 0; p->usb && i < p->n_usb; i++)
                free_strv_array(p->usb[i].approval.workstations);
        for (size_t i = 0; p->net && i < p->n_net; i++)
                free_strv_array(p->net[i].approval.workstations);
        for (size_t i = 0; p->wireless && i < p->n_wireless; i++)
                free_strv_array(p->wireless[i].approval.workstations);
        for (size_t i = 0; p->media && i < p->n_media; i++)
                free_strv_array(p->media[i].approval.workstations);
        free(p->usb);
        free(p->net);
        free(p->wireless);
        free(p->media);
        free(p->fixed);
        free_strv_array(p->workstations);
        free(p->source);
        if (p->image) {
                if (p->image->map)
                        (void) munmap(p->image->map, p->image->map_size);
                free(p->image);
        }
        return mfree(p);
}

DEFINE_CLEANUP(struct policy, policy_image_free);

/* Reads a record of type T at index I of section S (unaligned-safe). */
#define RECORD(rd, s, i, T, out) memcpy(&(out), (rd)->data + (s).offset + (size_t) (i) * sizeof(T), sizeof(T))

static int image_header_check(struct reader *rd, const uint8_t source_sha256[static 32], const char *hostname,
                              const char *machine_id, bool checksum) {
        struct image_header *h = &rd->h;

        if (rd->size < sizeof *h || rd->size > POLICY_IMAGE_MAX || rd->size % 8 != 0)
                return -EBADMSG;
        memcpy(h, rd->data, sizeof *h);
        /* An image of another version (one an older kyoka wrote): not damaged, only not ours. */
        if (memcmp(h->magic, IMAGE_MAGIC, sizeof h->magic) == 0 && h->version != POLICY_IMAGE_VERSION)
                return -ESTALE;
        if (memcmp(h->magic, IMAGE_MAGIC, sizeof h->magic) != 0 ||
            h->endian != IMAGE_ENDIAN || h->size != rd->size || h->policy_format != POLICY_FORMAT_VERSION)
                return -EBADMSG;
        if (!section_ok(rd, &h->strings, 1, POLICY_IMAGE_MAX) || !section_ok(rd, &h->blob, 1, POLICY_IMAGE_MAX) ||
            !section_ok(rd, &h->pool, sizeof(uint32_t), POLICY_IMAGE_MAX / sizeof(uint32_t)) ||
            !section_ok(rd, &h->usb, sizeof(struct image_usb), IMAGE_ENTRIES_MAX) ||
            !section_ok(rd, &h->net, sizeof(struct image_net), IMAGE_ENTRIES_MAX) ||
            !section_ok(rd, &h->wireless, sizeof(struct image_wireless), IMAGE_ENTRIES_MAX) ||
            !section_ok(rd, &h->media, sizeof(struct image_media), IMAGE_ENTRIES_MAX) ||
            !section_ok(rd, &h->fixed, sizeof(struct image_fixed), IMAGE_ENTRIES_MAX) ||
            !section_ok(rd, &h->usb_index, sizeof(uint32_t), 2 * (uint64_t) IMAGE_ENTRIES_MAX + 1))
                return -EBADMSG;
        rd->strings = (const char *) rd->data + h->strings.offset;
        rd->pool = rd->data + h->pool.offset;
        rd->blob = rd->data + h->blob.offset;
        if (h->strings.count == 0 || rd->strings[h->strings.count - 1] != 0)
                return -EBADMSG;

        /* Another policy's image, or another host's: intact, but not ours. */
        if (memcmp(h->source_sha256, source_sha256, 32) != 0)
                return -ESTALE;
        const char *img_host = r_str(rd, h->hostname), *img_machine = r_str(rd, h->machine_id);
        if (rd->bad)
                return -EBADMSG;
        if (!streq_ptr(img_host, hostname) || !streq_ptr(img_machine, machine_id))
                return -ESTALE;

        if (checksum && image_checksum(rd->data + CHECKSUM_START, rd->size - CHECKSUM_START) != h->checksum)
                return -EBADMSG;
        return 0;
}

int policy_image_load_buffer(const void *data, size_t size, const uint8_t source_sha256[static 32],
                             const char *hostname, const char *machine_id, const char *source, struct policy **ret) {
        _cleanup_(policy_image_freep) struct policy *p = NULL;
        struct reader rd = { .data = data, .size = size };
        int r;

        if (!data || !ret)
                return -EINVAL;
        r = image_header_check(&rd, source_sha256, hostname, machine_id, true);
        if (r < 0)
                return r;
        if (!strings_ok(&rd))
                return -EBADMSG;
        const struct image_header *h = &rd.h;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->image = calloc(1, sizeof *p->image);
        p->source = strdup(source ?: "policy.image");
        if (!p->image || !p->source)
                return -ENOMEM;

        p->version = h->version_field;
        p->serial = h->serial;
        p->issued = h->issued;
        p->issued_text = (char *) r_str(&rd, h->issued_text);
        p->issuer = (char *) r_str_required(&rd, h->issuer);
        p->contract = (char *) r_str_required(&rd, h->contract);
        p->contractor = (char *) r_str(&rd, h->contractor);
        p->responsible = (char *) r_str(&rd, h->responsible);
        p->workstation = (char *) r_str(&rd, h->workstation);
        p->valid_until = h->valid_until;
        p->valid_until_text = (char *) r_str(&rd, h->valid_until_text);
        r = 0;
        p->workstations = r_strv(&rd, h->workstations, h->n_workstations, &r);
        if (r < 0)
                return r;
        if (p->workstations)
                p->n_workstations = h->n_workstations;
        p->default_usb_hid = r_enum(&rd, h->default_usb_hid, 2);
        p->default_usb_hub = r_enum(&rd, h->default_usb_hub, 2);
        p->default_usb_other = r_enum(&rd, h->default_usb_other, 2);
        p->default_network = r_enum(&rd, h->default_network, 2);
        p->default_wireless = r_enum(&rd, h->default_wireless, 2);
        p->default_media = r_enum(&rd, h->default_media, 2);
        p->default_scan = r_enum(&rd, h->default_scan, _POLICY_SCAN_MAX);
        p->scan_limits = (struct policy_scan_limits) {
                .max_seconds = h->scan_max_seconds,
                .max_megabytes = h->scan_max_megabytes,
                .max_database_days = h->scan_max_database_days,
        };
        if (p->scan_limits.max_seconds < 1 || p->scan_limits.max_seconds > POLICY_SCAN_SECONDS_MAX ||
            p->scan_limits.max_megabytes < 1 || p->scan_limits.max_megabytes > POLICY_SCAN_MEGABYTES_MAX ||
            p->scan_limits.max_database_days < 0 || p->scan_limits.max_database_days > POLICY_SCAN_DATABASE_DAYS_MAX)
                rd.bad = true;
        if (rd.bad)
                return -EBADMSG;

        /* The arrays are allocated for their counts at once (the counts were checked against the
         * file's size above, so a count cannot ask for more than the file holds). */
        if (h->usb.count > 0 && !(p->usb = calloc(h->usb.count, sizeof *p->usb)))
                return -ENOMEM;
        for (size_t i = 0; i < h->usb.count && !rd.bad; i++, p->n_usb++) {
                struct policy_usb_entry *e = &p->usb[i];
                struct image_usb u;
                RECORD(&rd, h->usb, i, struct image_usb, u);
                r = r_approval(&rd, &u.a, &e->approval);
                if (r < 0)
                        return r;
                e->vendor = u.vendor;
                e->product = u.product;
                e->serial = (char *) r_str(&rd, u.serial);
                e->path = (char *) r_str(&rd, u.path);
                e->has_interfaces = r_bool(&rd, u.has_interfaces);
                e->interfaces = (struct policy_interface_pattern *) r_blob(&rd, u.interfaces, u.n_interfaces,
                                                                           PATTERN_SIZE, USB_INTERFACES_MAX);
                e->n_interfaces = e->interfaces ? u.n_interfaces : 0;
                for (size_t k = 0; k < e->n_interfaces; k++) {
                        const uint8_t *b = (const uint8_t *) e->interfaces + k * PATTERN_SIZE;
                        if (b[3] > 1 || b[4] > 1 || (b[3] && b[1]) || (b[4] && b[2]))
                                rd.bad = true;
                }
                e->read_only = r_bool(&rd, u.read_only);
                e->hidraw_user = r_bool(&rd, u.hidraw_user);
                e->unlisted = r_enum(&rd, u.unlisted, UNLISTED_DISABLE + 1);
                e->scan = r_enum(&rd, u.scan, _POLICY_SCAN_MAX);
        }
        if (h->net.count > 0 && !rd.bad && !(p->net = calloc(h->net.count, sizeof *p->net)))
                return -ENOMEM;
        for (size_t i = 0; i < h->net.count && !rd.bad; i++, p->n_net++) {
                struct policy_net_entry *e = &p->net[i];
                struct image_net n;
                RECORD(&rd, h->net, i, struct image_net, n);
                r = r_approval(&rd, &n.a, &e->approval);
                if (r < 0)
                        return r;
                e->has_mac = r_bool(&rd, n.has_mac);
                memcpy(e->mac, n.mac, 6);
                e->path = (char *) r_str(&rd, n.path);
                e->kind = (char *) r_str(&rd, n.kind);
                e->name = (char *) r_str(&rd, n.name);
                if (n.wireless_modes >= (1u << _WIRELESS_MODE_MAX))
                        rd.bad = true;
                e->wireless_modes = n.wireless_modes;
        }
        if (h->wireless.count > 0 && !rd.bad && !(p->wireless = calloc(h->wireless.count, sizeof *p->wireless)))
                return -ENOMEM;
        for (size_t i = 0; i < h->wireless.count && !rd.bad; i++, p->n_wireless++) {
                struct policy_wireless_entry *e = &p->wireless[i];
                struct image_wireless x;
                RECORD(&rd, h->wireless, i, struct image_wireless, x);
                r = r_approval(&rd, &x.a, &e->approval);
                if (r < 0)
                        return r;
                if (x.ssid_len < 1 || x.ssid_len > WIRELESS_SSID_MAX)
                        rd.bad = true;
                else
                        memcpy(e->ssid, x.ssid, x.ssid_len);
                e->ssid_len = x.ssid_len;
                e->ssid_is_hex = r_bool(&rd, x.ssid_is_hex);
                e->bssids = (uint8_t (*)[6]) r_blob(&rd, x.bssids, x.n_bssids, BSSID_SIZE, WIRELESS_BSSIDS_MAX);
                e->n_bssids = e->bssids ? x.n_bssids : 0;
                e->security = r_enum(&rd, x.security, _WIRELESS_SECURITY_MAX);
        }
        if (h->media.count > 0 && !rd.bad && !(p->media = calloc(h->media.count, sizeof *p->media)))
                return -ENOMEM;
        for (size_t i = 0; i < h->media.count && !rd.bad; i++, p->n_media++) {
                struct policy_media_entry *e = &p->media[i];
                struct image_media m;
                RECORD(&rd, h->media, i, struct image_media, m);
                r = r_approval(&rd, &m.a, &e->approval);
                if (r < 0)
                        return r;
                e->bus = r_enum(&rd, m.bus, _MEDIA_BUS_MAX);
                e->vendor = (char *) r_str(&rd, m.vendor);
                e->model = (char *) r_str(&rd, m.model);
                e->serial = (char *) r_str(&rd, m.serial);
                e->oemid = (char *) r_str(&rd, m.oemid);
                e->date = (char *) r_str(&rd, m.date);
                e->path = (char *) r_str(&rd, m.path);
                e->read_only = r_bool(&rd, m.read_only);
                e->scan = r_enum(&rd, m.scan, _POLICY_SCAN_MAX);
        }
        if (h->fixed.count > 0 && !rd.bad && !(p->fixed = calloc(h->fixed.count, sizeof *p->fixed)))
                return -ENOMEM;
        for (size_t i = 0; i < h->fixed.count && !rd.bad; i++, p->n_fixed++) {
                struct policy_fixed_disk *d = &p->fixed[i];
                struct image_fixed f;
                RECORD(&rd, h->fixed, i, struct image_fixed, f);
                d->bus = r_enum(&rd, f.bus, _MEDIA_BUS_MAX);
                d->vendor = (char *) r_str(&rd, f.vendor);
                d->model = (char *) r_str(&rd, f.model);
                d->serial = (char *) r_str(&rd, f.serial);
                d->path = (char *) r_str(&rd, f.path);
                d->label = (char *) r_str(&rd, f.label);
                d->line = f.line;
        }
        if (rd.bad)
                return -EBADMSG;

        /* The image was made after policy_restrict_to_host() for this host: the load applies the
         * restriction again (the checks stay the same whatever the source), and it must find
         * nothing to drop, since dropping frees entries the way the parser allocates them. */
        if (hostname || machine_id) {
#define APPLIES(arr, n)                                                                                 \
                for (size_t i = 0; i < (n); i++)                                                        \
                        if (!policy_names_host((arr)[i].approval.workstations, (arr)[i].approval.n_workstations, \
                                               hostname, machine_id))                                   \
                                return -EBADMSG;
                APPLIES(p->usb, p->n_usb);
                APPLIES(p->net, p->n_net);
                APPLIES(p->wireless, p->n_wireless);
                APPLIES(p->media, p->n_media);
#undef APPLIES
        }

        /* The hash indices are built, not read: a wrong index cannot come from a file. The image's
         * copy of the USB table is used instead of the one built (its pages are the file's, not
         * kyokad's memory) only when it is the same, uint32 for uint32; otherwise the image is
         * damaged. A caller's buffer that does not align it keeps the table built. */
        r = policy_index_build(p);
        if (r < 0)
                return r;
        if (h->usb_index.count > 0) {
                const uint8_t *ix = rd.data + h->usb_index.offset;
                if (h->usb_buckets > h->usb_index.count || h->usb_index.count - h->usb_buckets != p->n_usb)
                        return -EBADMSG;
                if ((uintptr_t) ix % _Alignof(uint32_t) == 0) {
                        r = policy_index_usb_borrow(p, (const uint32_t *) ix, (size_t) h->usb_buckets,
                                                    (const uint32_t *) ix + h->usb_buckets);
                        if (r < 0)
                                return r;
                }
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int policy_image_load_at(int dirfd, const char *name, const uint8_t source_sha256[static 32], const char *hostname,
                         const char *machine_id, const char *source, struct policy **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        void *map;
        int r;

        fd = file_open_regular_at(dirfd, name);
        if (fd < 0)
                return fd == -ELOOP || fd == -EISDIR || fd == -EBADFD ? -EBADMSG : fd;
        if (fd_check_trusted(fd, geteuid(), 0, NULL, 0) < 0)
                return -EPERM;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size < (off_t) sizeof(struct image_header) || (uint64_t) st.st_size > POLICY_IMAGE_MAX)
                return -EBADMSG;

        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return negative_errno();

        struct policy *p = NULL;
        r = policy_image_load_buffer(map, (size_t) st.st_size, source_sha256, hostname, machine_id, source, &p);
        if (r < 0) {
                (void) munmap(map, (size_t) st.st_size);
                return r;
        }

        /* The records were copied into the arrays; only the strings and the blob are used from
         * here on. Unmapping the rest leaves the pages of the records in the page cache, not in
         * kyokad's memory. */
        struct image_header h;
        memcpy(&h, map, sizeof h);
        size_t keep_from = h.strings.offset - h.strings.offset % IMAGE_PAGE;
        long page = sysconf(_SC_PAGESIZE);
        if (page > 0 && keep_from % (size_t) page == 0 && keep_from > 0 && munmap(map, keep_from) == 0) {
                p->image->map = (uint8_t *) map + keep_from;
                p->image->map_size = (size_t) st.st_size - keep_from;
        } else {
                p->image->map = map;
                p->image->map_size = (size_t) st.st_size;
        }
        /* The checks and the index build read every string once; from here on a lookup reads a
         * few. The pages stay in the page cache (clean, the file's), they only leave this
         * process's page tables and come back on access (nothing here writes them: PROT_READ). */
        (void) madvise(p->image->map, p->image->map_size, MADV_DONTNEED);
        *ret = p;
        return 0;
}
