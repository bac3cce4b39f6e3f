/* SPDX-License-Identifier: MIT */
/* Device and link identities: sanitising the strings a device controls, the small text forms
 * (interface class triples, MAC addresses), and the request document (docs/request.md).
 *
 * Everything here sits on the boundary between a device (or a file someone may have edited)
 * and the rest of kyoka, so every input is length-bounded and every string that is kept is in
 * sanitised form: valid UTF-8, nothing that can move a terminal's cursor or fake a line. */

#include "identity.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexutil.h"
#include "json-util.h"
#include "macro.h"
#include "timeutil.h"
#include "utf8.h"

#define REQUEST_JSON_MAX (64u << 10)
#define REQUEST_JSON_DEPTH 8          /* the document nests three levels; deeper is not ours */

DEFINE_CLEANUP(struct json_tokener, json_tokener_free);

/* Code points shown escaped although they are valid: those that act on a reader beyond their
 * glyph (utf8_is_unsafe_codepoint), and the backslash, which would make an escape ambiguous. */
static bool codepoint_needs_escape(uint32_t cp) {
        return utf8_is_unsafe_codepoint(cp) || cp == '\\';
}

size_t identity_sanitize(const char *src, size_t len, char *dst, size_t dst_size) {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *s = (const uint8_t *) src;
        size_t o = 0;

        if (dst_size == 0)
                return 0;
        if (!src)
                len = 0;

        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(src + i, len - i, &cp);
                bool escape = n == 0 || codepoint_needs_escape(cp);

                if (n == 0)
                        n = 1;          /* escape the one bad byte and resynchronise after it */

                /* A whole character or a whole run of escapes fits, or we stop: never half. */
                size_t need = escape ? 4 * n : n;
                if (o + need + 1 > dst_size)
                        break;

                for (size_t k = 0; k < n; k++) {
                        if (escape) {
                                dst[o++] = '\\';
                                dst[o++] = 'x';
                                dst[o++] = hex[s[i + k] >> 4];
                                dst[o++] = hex[s[i + k] & 15];
                        } else
                                dst[o++] = (char) s[i + k];
                }
                i += n;
        }
        dst[o] = 0;
        return o;
}

int identity_take_clean(const char *s, size_t len, char *dst, size_t size) {
        if (len >= size)
                return -EBADMSG;
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(s + i, len - i, &cp);
                if (n == 0 || codepoint_needs_escape(cp))
                        return -EBADMSG;
                i += n;
        }
        memcpy(dst, s, len);
        dst[len] = 0;
        return 0;
}

bool identity_is_escape(const char *s, size_t len) {
        return len >= 4 && s[0] == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0;
}

/* Whether S (LEN bytes) is exactly what identity_sanitize() produces from some input: then
 * sanitising it again is not needed, and must not be done (it would escape the escapes). */
static bool identity_is_sanitized(const char *s, size_t len) {
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(s + i, len - i, &cp);

                if (n == 0)
                        return false;
                if (cp == '\\') {
                        if (!identity_is_escape(s + i, len - i))
                                return false;
                        i += 4;
                        continue;
                }
                if (codepoint_needs_escape(cp))
                        return false;
                i += n;
        }
        return true;
}

int usb_interface_class_parse(const char *s, struct usb_interface_class *ret) {
        uint8_t b[3];

        if (!s || hex_parse_bytes(s, strlen(s), ':', HEX_ANY_CASE, b, 3) < 0)
                return -EINVAL;
        *ret = (struct usb_interface_class) { .cls = b[0], .subclass = b[1], .protocol = b[2] };
        return 0;
}

void usb_interface_class_format(const struct usb_interface_class *c, char buf[static 9]) {
        snprintf(buf, 9, "%02x:%02x:%02x", c->cls, c->subclass, c->protocol);
}

bool usb_identity_is_hid_only(const struct usb_identity *id) {
        if (id->n_interfaces == 0 || id->n_interfaces > USB_INTERFACES_MAX)
                return false;
        for (size_t i = 0; i < id->n_interfaces; i++)
                if (id->interfaces[i].cls != USB_CLASS_HID)
                        return false;
        return true;
}

/* A hub is a device whose every interface is a hub interface, with either the hub device class
 * or at least one interface to prove it. Device class 09 alone is not enough when other
 * interfaces are present: a "hub" that also presents mass storage would otherwise be admitted
 * whole under defaults.usb_hub. */
bool usb_identity_is_hub(const struct usb_identity *id) {
        if (id->n_interfaces > USB_INTERFACES_MAX)
                return false;
        if (id->device_class.cls != USB_CLASS_HUB && id->n_interfaces == 0)
                return false;
        for (size_t i = 0; i < id->n_interfaces; i++)
                if (id->interfaces[i].cls != USB_CLASS_HUB)
                        return false;
        return true;
}

bool usb_identity_same_unit(const struct usb_identity *a, const struct usb_identity *b) {
        return streq(a->bus_path, b->bus_path) && a->vendor == b->vendor && a->product == b->product &&
               a->has_serial == b->has_serial && streq(a->serial, b->serial);
}

static const char *const media_bus_names[_MEDIA_BUS_MAX] = {
        [MEDIA_BUS_MMC] = "mmc",
        [MEDIA_BUS_OPTICAL] = "optical",
        [MEDIA_BUS_NVME] = "nvme",
        [MEDIA_BUS_ATA] = "ata",
        [MEDIA_BUS_SCSI] = "scsi",
        [MEDIA_BUS_VIRTIO] = "virtio",
};

const char *media_bus_to_string(enum media_bus b) {
        return (unsigned) b < _MEDIA_BUS_MAX ? media_bus_names[b] : NULL;
}

int media_bus_from_string(const char *s, size_t len, enum media_bus *ret) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < _MEDIA_BUS_MAX; i++)
                if (strlen(media_bus_names[i]) == len && memcmp(media_bus_names[i], s, len) == 0) {
                        *ret = (enum media_bus) i;
                        return 0;
                }
        return -EINVAL;
}

int mac_parse(const char *s, size_t len, enum hex_case c, uint8_t ret[static 6]) {
        if (!s)
                return -EINVAL;
        return hex_parse_bytes(s, len, ':', c, ret, 6);
}

void mac_format(const uint8_t mac[static 6], char buf[static 18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- request_to_json ------------------------------------------------------------------- */

static struct json_object *usb_to_json(const struct usb_identity *id) {
        _cleanup_(json_object_putp) struct json_object *d = json_object_new_object();
        struct json_object *ifs;
        char buf[9];

        if (!d || id->n_interfaces > USB_INTERFACES_MAX)
                return NULL;

        snprintf(buf, sizeof buf, "%04x", id->vendor);
        if (json_add(d, "vendor", json_object_new_string(buf)) < 0)
                return NULL;
        snprintf(buf, sizeof buf, "%04x", id->product);
        if (json_add(d, "product", json_object_new_string(buf)) < 0)
                return NULL;
        if ((id->has_serial ? json_add_string_bounded(d, "serial", id->serial, sizeof id->serial)
                            : json_add_null(d, "serial")) < 0)
                return NULL;
        if (json_add_string_bounded(d, "manufacturer", id->manufacturer, sizeof id->manufacturer) < 0 ||
            json_add_string_bounded(d, "product_name", id->product_name, sizeof id->product_name) < 0 ||
            json_add_string_bounded(d, "bus_path", id->bus_path, sizeof id->bus_path) < 0 ||
            json_add_string_bounded(d, "id_path", id->id_path, sizeof id->id_path) < 0)
                return NULL;
        usb_interface_class_format(&id->device_class, buf);
        if (json_add(d, "device_class", json_object_new_string(buf)) < 0)
                return NULL;

        ifs = json_object_new_array();
        if (json_add(d, "interfaces", ifs) < 0)
                return NULL;
        for (size_t i = 0; i < id->n_interfaces; i++) {
                _cleanup_(json_object_putp) struct json_object *a = NULL;
                usb_interface_class_format(&id->interfaces[i], buf);
                a = json_object_new_string(buf);
                if (!a || json_object_array_add(ifs, a) < 0)
                        return NULL;
                a = NULL;               /* the array owns it now */
        }
        return TAKE_PTR(d);
}

static struct json_object *net_to_json(const struct net_identity *id) {
        _cleanup_(json_object_putp) struct json_object *d = json_object_new_object();
        char mac[18];

        if (!d)
                return NULL;
        if (json_add(d, "ifindex", json_object_new_int(id->ifindex)) < 0 ||
            json_add_string_bounded(d, "name", id->name, sizeof id->name) < 0)
                return NULL;
        if (id->has_mac)
                mac_format(id->mac, mac);
        if (json_add_string(d, "mac", id->has_mac ? mac : NULL) < 0)
                return NULL;
        if (json_add(d, "mac_permanent", json_object_new_boolean(id->has_mac && id->mac_is_permanent)) < 0 ||
            json_add_string_bounded(d, "kind", id->kind, sizeof id->kind) < 0 ||
            json_add_string_bounded(d, "path", id->path, sizeof id->path) < 0 ||
            json_add_string_bounded(d, "driver", id->driver, sizeof id->driver) < 0 ||
            json_add(d, "loopback", json_object_new_boolean(id->is_loopback)) < 0)
                return NULL;
        /* Only for wireless links: requests of other links read as before. */
        if (id->wireless != WIRELESS_NONE &&
            json_add_string(d, "wireless_mode", wireless_mode_to_string(id->wireless)) < 0)
                return NULL;
        return TAKE_PTR(d);
}

static const char *const seen_names[_WIRELESS_SEEN_MAX] = {
        [WIRELESS_SEEN_ASSOCIATED] = "associated",
        [WIRELESS_SEEN_REFUSED] = "refused",
        [WIRELESS_SEEN_SCAN] = "scan",
};

/* The SSID both ways: sanitised text to read, hex to approve exactly (an SSID may be any bytes). */
static struct json_object *wireless_to_json(const struct wireless_request *w) {
        _cleanup_(json_object_putp) struct json_object *d = json_object_new_object();
        char text[WIRELESS_SSID_TEXT_MAX], hex[WIRELESS_SSID_HEX_MAX], mac[18];
        struct json_object *a;

        if (!d || w->ssid_len == 0 || w->ssid_len > WIRELESS_SSID_MAX || w->n_bssids > WIRELESS_BSSIDS_MAX ||
            w->source < 0 || w->source >= _WIRELESS_SEEN_MAX)
                return NULL;
        wireless_ssid_text(w->ssid, w->ssid_len, text);
        wireless_ssid_hex(w->ssid, w->ssid_len, hex);
        if (json_add_string_bounded(d, "ifname", w->ifname, sizeof w->ifname) < 0 ||
            json_add_string(d, "seen", seen_names[w->source]) < 0 ||
            json_add_string(d, "ssid", text) < 0 || json_add_string(d, "ssid_hex", hex) < 0)
                return NULL;
        a = json_object_new_array();
        if (json_add(d, "bssids", a) < 0)
                return NULL;
        for (size_t i = 0; i < w->n_bssids; i++) {
                mac_format(w->bssids[i], mac);
                struct json_object *m = json_object_new_string(mac);
                if (!m || json_object_array_add(a, m) < 0) {
                        json_object_put(m);
                        return NULL;
                }
        }
        if (json_add_string(d, "security", wireless_security_to_string(w->security)) < 0)
                return NULL;
        return TAKE_PTR(d);
}

static struct json_object *media_to_json(const struct media_identity *id) {
        _cleanup_(json_object_putp) struct json_object *d = json_object_new_object();
        const char *bus = media_bus_to_string(id->bus);

        if (!d || !bus)
                return NULL;
        if (json_add_string(d, "bus", bus) < 0 ||
            json_add_string_bounded(d, "name", id->name, sizeof id->name) < 0 ||
            json_add_string_bounded(d, "path", id->path, sizeof id->path) < 0 ||
            json_add_string_bounded(d, "vendor", id->vendor, sizeof id->vendor) < 0 ||
            json_add_string_bounded(d, "model", id->model, sizeof id->model) < 0 ||
            json_add_string_bounded(d, "serial", id->serial, sizeof id->serial) < 0 ||
            json_add_string_bounded(d, "oemid", id->oemid, sizeof id->oemid) < 0 ||
            json_add_string_bounded(d, "date", id->date, sizeof id->date) < 0)
                return NULL;
        return TAKE_PTR(d);
}

static const char *request_type_name(enum request_type t) {
        switch (t) {
        case REQUEST_USB: return "usb";
        case REQUEST_NETWORK: return "network";
        case REQUEST_WIRELESS: return "wireless";
        case REQUEST_MEDIA: return "media";
        }
        return NULL;
}

int request_to_json(const struct request *req, char **ret) {
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        struct json_object *host, *device;
        char when[ISO8601_MAX];
        const char *s;
        char *copy;
        int r;

        if (!req || !ret || !request_type_name(req->type))
                return -EINVAL;
        r = time_format_iso8601(req->time, when, sizeof when);
        if (r < 0)
                return r;

        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        if (json_add(root, "kyoka_request", json_object_new_int(1)) < 0 ||
            json_add(root, "type", json_object_new_string(request_type_name(req->type))) < 0)
                return -ENOMEM;

        host = json_object_new_object();
        if (json_add(root, "host", host) < 0 ||
            json_add_string_bounded(host, "hostname", req->hostname, sizeof req->hostname) < 0)
                return -ENOMEM;
        if ((req->machine_id[0] ? json_add_string_bounded(host, "machine_id", req->machine_id, sizeof req->machine_id)
                                : json_add_null(host, "machine_id")) < 0)
                return -ENOMEM;

        if (json_add(root, "time", json_object_new_string(when)) < 0)
                return -ENOMEM;

        /* A wireless request names a network, not a device: its object says so. */
        if (req->type == REQUEST_WIRELESS) {
                device = wireless_to_json(&req->wireless);
                if (!device)
                        return req->wireless.ssid_len == 0 || req->wireless.ssid_len > WIRELESS_SSID_MAX ? -EINVAL : -ENOMEM;
                if (json_add(root, "network", device) < 0)
                        return -ENOMEM;
        } else {
                device = req->type == REQUEST_USB ? usb_to_json(&req->usb) :
                         req->type == REQUEST_NETWORK ? net_to_json(&req->net) : media_to_json(&req->media);
                if (json_add(root, "device", device) < 0)
                        return -ENOMEM;
        }

        /* No slash escaping: paths stay readable. Non-ASCII is written as UTF-8, not \u escapes,
         * so an admin can read a Japanese manufacturer name in the file. */
        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        if (asprintf(&copy, "%s\n", s) < 0)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* ---- request_from_json ----------------------------------------------------------------- */

_printf_(2, 3)
static int fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* A short, safe rendering of a rejected value for the message. */
static const char *shown(struct json_object *v, char buf[static 48]) {
        const char *s = json_object_get_type(v) == json_type_string ? json_object_get_string(v)
                                                                     : json_object_to_json_string(v);
        size_t len = json_object_get_type(v) == json_type_string ? (size_t) json_object_get_string_len(v)
                                                                  : strlen(s ?: "");

        identity_sanitize(s, MIN(len, (size_t) 24), buf, 48);
        return buf;
}

static const char *json_type_noun(json_type t) {
        switch (t) {
        case json_type_null:    return "null";
        case json_type_boolean: return "a boolean";
        case json_type_double:  return "a number";
        case json_type_int:     return "an integer";
        case json_type_object:  return "an object";
        case json_type_array:   return "an array";
        case json_type_string:  return "a string";
        }
        return "something else";
}

/* Looks KEY up in OBJ; PATH is the object's name in messages ("device", "host", or "" for the
 * top level). Missing is an error when REQUIRED. Returns 1 if found, 0 if absent. */
static int get_field(struct json_object *obj, const char *path, const char *key, json_type type, bool nullable,
                     bool required, struct json_object **ret, char **ret_error) {
        struct json_object *v;

        if (!json_object_object_get_ex(obj, key, &v)) {
                if (required)
                        return fail(ret_error, "%s%s%s: missing", path, *path ? "." : "", key);
                *ret = NULL;
                return 0;
        }
        if (!v) {
                if (nullable) {
                        *ret = NULL;
                        return 1;
                }
                return fail(ret_error, "%s%s%s: expected %s, got null", path, *path ? "." : "", key,
                            json_type_noun(type));
        }
        if (json_object_get_type(v) != type)
                return fail(ret_error, "%s%s%s: expected %s%s, got %s", path, *path ? "." : "", key,
                            json_type_noun(type), nullable ? " or null" : "", json_type_noun(json_object_get_type(v)));
        *ret = v;
        return 1;
}

/* A string field into a fixed buffer: it must already be in sanitised form (a request is
 * written by kyokad, which sanitised it; changing it here would make a serial never match
 * again) and fit, or the request is refused with the field's name. */
static int get_string(struct json_object *obj, const char *path, const char *key, bool required, bool nullable,
                      char *buf, size_t size, bool *ret_present, char **ret_error) {
        struct json_object *v;
        const char *s;
        size_t len;
        int r;

        r = get_field(obj, path, key, json_type_string, nullable, required, &v, ret_error);
        if (r < 0)
                return r;
        if (!v) {
                buf[0] = 0;
                if (ret_present)
                        *ret_present = false;
                return 0;
        }
        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        if (len >= size)
                return fail(ret_error, "%s.%s: too long (%zu bytes, at most %zu)", path, key, len, size - 1);
        if (!identity_is_sanitized(s, len))
                return fail(ret_error, "%s.%s: not in sanitised form (control character, invalid UTF-8 or a "
                            "backslash that is not a \\xHH escape)", path, key);
        memcpy(buf, s, len);
        buf[len] = 0;
        if (ret_present)
                *ret_present = true;
        return 0;
}

static int get_hex16(struct json_object *obj, const char *key, uint16_t *ret, char **ret_error) {
        struct json_object *v;
        char b[48];
        int r;

        r = get_field(obj, "device", key, json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        if (hex_parse_u16(json_object_get_string(v), (size_t) json_object_get_string_len(v), ret) < 0)
                return fail(ret_error, "device.%s: expected 4 hex digits, got \"%s\"", key, shown(v, b));
        return 0;
}

static int get_class(struct json_object *v, const char *field, struct usb_interface_class *ret, char **ret_error) {
        char b[48];

        if (json_object_get_type(v) != json_type_string)
                return fail(ret_error, "%s: expected a string, got %s", field, json_type_noun(json_object_get_type(v)));
        if (usb_interface_class_parse(json_object_get_string(v), ret) < 0 ||
            strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                return fail(ret_error, "%s: expected \"cc:ss:pp\" (hex), got \"%s\"", field, shown(v, b));
        return 0;
}

static int get_bool(struct json_object *obj, const char *key, bool *ret, char **ret_error) {
        struct json_object *v;
        int r;

        r = get_field(obj, "device", key, json_type_boolean, false, false, &v, ret_error);
        if (r < 0)
                return r;
        *ret = v ? json_object_get_boolean(v) : false;
        return 0;
}

int usb_identity_from_json(struct json_object *d, struct usb_identity *id, char **ret_error) {
        struct json_object *v, *ifs;
        int r;

        *id = (struct usb_identity) {};

        r = get_hex16(d, "vendor", &id->vendor, ret_error);
        if (r < 0)
                return r;
        r = get_hex16(d, "product", &id->product, ret_error);
        if (r < 0)
                return r;
        /* serial is required and may be null: a missing key must not quietly mean "no serial",
         * which would approve every unit of the model that reports none. */
        r = get_string(d, "device", "serial", true, true, id->serial, sizeof id->serial, &id->has_serial, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "manufacturer", false, false, id->manufacturer, sizeof id->manufacturer, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "product_name", false, false, id->product_name, sizeof id->product_name, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "bus_path", false, false, id->bus_path, sizeof id->bus_path, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "id_path", false, false, id->id_path, sizeof id->id_path, NULL, ret_error);
        if (r < 0)
                return r;

        r = get_field(d, "device", "device_class", json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        r = get_class(v, "device.device_class", &id->device_class, ret_error);
        if (r < 0)
                return r;

        r = get_field(d, "device", "interfaces", json_type_array, false, true, &ifs, ret_error);
        if (r < 0)
                return r;
        size_t n = json_object_array_length(ifs);
        if (n > USB_INTERFACES_MAX)
                return fail(ret_error, "device.interfaces: %zu interfaces, at most %d", n, USB_INTERFACES_MAX);
        for (size_t i = 0; i < n; i++) {
                char field[40];

                snprintf(field, sizeof field, "device.interfaces[%zu]", i);
                r = get_class(json_object_array_get_idx(ifs, i), field, &id->interfaces[i], ret_error);
                if (r < 0)
                        return r;
        }
        id->n_interfaces = n;
        return 0;
}

int net_identity_from_json(struct json_object *d, struct net_identity *id, char **ret_error) {
        struct json_object *v;
        char mac[18], b[48];
        int r;

        *id = (struct net_identity) {};

        r = get_field(d, "device", "ifindex", json_type_int, false, true, &v, ret_error);
        if (r < 0)
                return r;
        int64_t ifindex = json_object_get_int64(v);
        if (ifindex < 1 || ifindex > INT32_MAX)
                return fail(ret_error, "device.ifindex: expected a positive interface index, got %s", shown(v, b));
        id->ifindex = (int) ifindex;

        r = get_string(d, "device", "name", true, false, id->name, sizeof id->name, NULL, ret_error);
        if (r < 0)
                return r;
        /* the kernel's own rule (dev_valid_name): these would break logs and paths */
        if (id->name[0] == 0 || streq(id->name, ".") || streq(id->name, "..") || strpbrk(id->name, "/: \t\n"))
                return fail(ret_error, "device.name: not a valid interface name");

        r = get_string(d, "device", "mac", true, true, mac, sizeof mac, &id->has_mac, ret_error);
        if (r < 0) {
                /* a too long MAC is a format error, say so rather than "too long" */
                if (json_object_object_get_ex(d, "mac", &v) && v && json_object_get_type(v) == json_type_string) {
                        if (ret_error)
                                *ret_error = mfree(*ret_error);
                        return fail(ret_error, "device.mac: expected \"aa:bb:cc:dd:ee:ff\", got \"%s\"", shown(v, b));
                }
                return r;
        }
        if (id->has_mac && mac_parse(mac, strlen(mac), HEX_ANY_CASE, id->mac) < 0)
                return fail(ret_error, "device.mac: expected \"aa:bb:cc:dd:ee:ff\", got \"%s\"", mac);

        r = get_bool(d, "mac_permanent", &id->mac_is_permanent, ret_error);
        if (r < 0)
                return r;
        if (!id->has_mac)
                id->mac_is_permanent = false;
        r = get_string(d, "device", "kind", false, false, id->kind, sizeof id->kind, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "path", false, false, id->path, sizeof id->path, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "device", "driver", false, false, id->driver, sizeof id->driver, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_bool(d, "loopback", &id->is_loopback, ret_error);
        if (r < 0)
                return r;

        char mode[16];
        bool has_mode;
        r = get_string(d, "device", "wireless_mode", false, false, mode, sizeof mode, &has_mode, ret_error);
        if (r < 0)
                return r;
        id->wireless = WIRELESS_NONE;
        if (has_mode) {
                for (int m = WIRELESS_STATION; m < _WIRELESS_MODE_MAX; m++)
                        if (streq(mode, wireless_mode_to_string(m)))
                                id->wireless = m;
                if (id->wireless == WIRELESS_NONE)
                        return fail(ret_error, "device.wireless_mode: unknown mode \"%s\"", mode);
        }
        return 0;
}

static int wireless_from_json(struct json_object *d, struct wireless_request *w, char **ret_error) {
        struct json_object *v, *a;
        char text[WIRELESS_SSID_TEXT_MAX], expected[WIRELESS_SSID_TEXT_MAX], word[32], b[48];
        bool has_text;
        int r;

        r = get_string(d, "network", "ifname", false, false, w->ifname, sizeof w->ifname, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_string(d, "network", "seen", true, false, word, sizeof word, NULL, ret_error);
        if (r < 0)
                return r;
        for (w->source = 0; w->source < _WIRELESS_SEEN_MAX && !streq(word, seen_names[w->source]); w->source++)
                ;
        if (w->source == _WIRELESS_SEEN_MAX)
                return fail(ret_error, "network.seen: expected \"associated\", \"refused\" or \"scan\", got \"%s\"", word);

        /* The bytes come from ssid_hex; ssid is the text a person reads, and must say the same. */
        r = get_field(d, "network", "ssid_hex", json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        size_t hex_len = (size_t) json_object_get_string_len(v);
        if (hex_len == 0 || hex_len % 2 != 0 || hex_len > 2 * WIRELESS_SSID_MAX ||
            hex_parse_bytes(json_object_get_string(v), hex_len, 0, HEX_ANY_CASE, w->ssid, hex_len / 2) < 0)
                return fail(ret_error, "network.ssid_hex: expected 2 to %d hex digits, got \"%s\"", 2 * WIRELESS_SSID_MAX,
                            shown(v, b));
        w->ssid_len = hex_len / 2;
        r = get_string(d, "network", "ssid", false, false, text, sizeof text, &has_text, ret_error);
        if (r < 0)
                return r;
        wireless_ssid_text(w->ssid, w->ssid_len, expected);
        if (has_text && !streq(text, expected))
                return fail(ret_error, "network.ssid: does not match ssid_hex");

        r = get_field(d, "network", "bssids", json_type_array, false, false, &a, ret_error);
        if (r < 0)
                return r;
        size_t n = a ? json_object_array_length(a) : 0;
        if (n > WIRELESS_BSSIDS_MAX)
                return fail(ret_error, "network.bssids: %zu access points, at most %d", n, WIRELESS_BSSIDS_MAX);
        for (size_t i = 0; i < n; i++) {
                v = json_object_array_get_idx(a, i);
                if (!v || json_object_get_type(v) != json_type_string ||
                    mac_parse(json_object_get_string(v), (size_t) json_object_get_string_len(v), HEX_ANY_CASE,
                              w->bssids[i]) < 0)
                        return fail(ret_error, "network.bssids[%zu]: expected \"aa:bb:cc:dd:ee:ff\"", i);
        }
        w->n_bssids = n;

        r = get_string(d, "network", "security", true, false, word, sizeof word, NULL, ret_error);
        if (r < 0)
                return r;
        for (w->security = 0; w->security < _WIRELESS_SECURITY_MAX && !streq(word, wireless_security_to_string(w->security));
             w->security++)
                ;
        if (w->security == _WIRELESS_SECURITY_MAX)
                return fail(ret_error, "network.security: unknown security \"%s\"", word);
        return 0;
}

int media_identity_from_json(struct json_object *d, struct media_identity *id, char **ret_error) {
        struct json_object *v;
        char b[48];
        int r;

        r = get_field(d, "device", "bus", json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        if (media_bus_from_string(json_object_get_string(v), (size_t) json_object_get_string_len(v), &id->bus) < 0)
                return fail(ret_error, "device.bus: expected \"mmc\", \"optical\", \"nvme\", \"ata\", \"scsi\" or "
                            "\"virtio\", got \"%s\"", shown(v, b));
        r = get_string(d, "device", "name", true, false, id->name, sizeof id->name, NULL, ret_error);
        if (r < 0)
                return r;
        /* A kernel name: it names the access file and appears in paths. */
        if (id->name[0] == 0 || strspn(id->name, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(id->name))
                return fail(ret_error, "device.name: not a disk's kernel name");
        struct { const char *key; char *buf; size_t size; } fields[] = {
                { "path", id->path, sizeof id->path },
                { "vendor", id->vendor, sizeof id->vendor },
                { "model", id->model, sizeof id->model },
                { "serial", id->serial, sizeof id->serial },
                { "oemid", id->oemid, sizeof id->oemid },
                { "date", id->date, sizeof id->date },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = get_string(d, "device", fields[i].key, false, false, fields[i].buf, fields[i].size, NULL, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "…T…" followed by "Z" or "+HH:MM"/"-HH:MM": a request is read on another machine, often in
 * another time zone, so a time without an offset would be ambiguous. */
static bool has_time_and_offset(const char *s, size_t len) {
        if (!memchr(s, 'T', len))
                return false;
        if (len >= 1 && s[len - 1] == 'Z')
                return true;
        return len >= 6 && (s[len - 6] == '+' || s[len - 6] == '-') && s[len - 3] == ':';
}

int request_from_json(const char *text, size_t len, struct request *ret, char **ret_error) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_free_ struct request *req = NULL;
        struct json_object *v, *host, *device;
        char b[48];
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!text || !ret)
                return -EINVAL;
        if (len > REQUEST_JSON_MAX)
                return fail(ret_error, "request: too large (%zu bytes, at most %u)", len, REQUEST_JSON_MAX);
        /* json-c would stop at a NUL and ignore what follows: refuse rather than half-read. */
        if (memchr(text, 0, len))
                return fail(ret_error, "request: contains a NUL byte");

        tok = json_tokener_new_ex(REQUEST_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
                return fail(ret_error, "request: unexpected end of the document");
        if (jerr != json_tokener_success)
                return fail(ret_error, "request: not valid JSON at byte %zu: %s", json_tokener_get_parse_end(tok),
                            json_tokener_error_desc(jerr));
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", text[i]))
                        return fail(ret_error, "request: trailing data at byte %zu", i);
        if (!root || json_object_get_type(root) != json_type_object)
                return fail(ret_error, "request: expected a JSON object");

        /* The request is about 2 KiB: on the heap, so a caller's stack is not our budget. */
        req = calloc(1, sizeof *req);
        if (!req)
                return -ENOMEM;

        r = get_field(root, "", "kyoka_request", json_type_int, false, true, &v, ret_error);
        if (r < 0)
                return r;
        if (json_object_get_int64(v) != 1)
                return fail(ret_error, "kyoka_request: unsupported version %s (this kyoka reads 1)", shown(v, b));

        r = get_field(root, "", "type", json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        if (streq(json_object_get_string(v), "usb") && json_object_get_string_len(v) == 3)
                req->type = REQUEST_USB;
        else if (streq(json_object_get_string(v), "network") && json_object_get_string_len(v) == 7)
                req->type = REQUEST_NETWORK;
        else if (streq(json_object_get_string(v), "wireless") && json_object_get_string_len(v) == 8)
                req->type = REQUEST_WIRELESS;
        else if (streq(json_object_get_string(v), "media") && json_object_get_string_len(v) == 5)
                req->type = REQUEST_MEDIA;
        else
                return fail(ret_error, "type: expected \"usb\", \"network\", \"wireless\" or \"media\", got \"%s\"",
                            shown(v, b));

        r = get_field(root, "", "host", json_type_object, false, true, &host, ret_error);
        if (r < 0)
                return r;
        r = get_string(host, "host", "hostname", true, false, req->hostname, sizeof req->hostname, NULL, ret_error);
        if (r < 0)
                return r;
        r = get_field(host, "host", "machine_id", json_type_string, true, false, &v, ret_error);
        if (r < 0)
                return r;
        if (v) {
                const char *s = json_object_get_string(v);
                if (hex_parse_bytes(s, (size_t) json_object_get_string_len(v), 0, HEX_LOWERCASE, NULL, 16) < 0)
                        return fail(ret_error, "host.machine_id: expected 32 lowercase hex digits, got \"%s\"", shown(v, b));
                memcpy(req->machine_id, s, 33);
        }

        r = get_field(root, "", "time", json_type_string, false, true, &v, ret_error);
        if (r < 0)
                return r;
        const char *when = json_object_get_string(v);
        size_t when_len = (size_t) json_object_get_string_len(v);
        if (when_len >= ISO8601_MAX || strlen(when) != when_len || !has_time_and_offset(when, when_len) ||
            time_parse_iso8601(when, &req->time, NULL) < 0)
                return fail(ret_error, "time: expected an ISO 8601 time with offset (2026-11-22T13:05:09+09:00), "
                            "got \"%s\"", shown(v, b));

        r = get_field(root, "", req->type == REQUEST_WIRELESS ? "network" : "device", json_type_object, false, true,
                      &device, ret_error);
        if (r < 0)
                return r;
        if (req->type == REQUEST_WIRELESS)
                r = wireless_from_json(device, &req->wireless, ret_error);
        else if (req->type == REQUEST_USB)
                r = usb_identity_from_json(device, &req->usb, ret_error);
        else if (req->type == REQUEST_NETWORK)
                r = net_identity_from_json(device, &req->net, ret_error);
        else
                r = media_identity_from_json(device, &req->media, ret_error);
        if (r < 0)
                return r;

        *ret = *req;
        return 0;
}

int request_file_text(struct json_object *reply, char **ret_text, char **ret_error) {
        _cleanup_free_ struct request *check = NULL;
        _cleanup_free_ char *text = NULL;
        struct json_object *req = NULL;

        *ret_error = NULL;
        if (!json_object_object_get_ex(reply, "request", &req) || !json_object_is_type(req, json_type_object))
                return -ENOMSG;
        const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(&text, "%s\n", s) < 0)
                return -ENOMEM;
        check = calloc(1, sizeof *check);
        if (!check)
                return -ENOMEM;
        if (request_from_json(text, strlen(text), check, ret_error) < 0)
                return -EBADMSG;
        *ret_text = TAKE_PTR(text);
        return 0;
}
