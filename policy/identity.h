/* SPDX-License-Identifier: MIT */
/* What kyoka knows about a device or a network link when it decides: the input to matching,
 * and the body of a request (the JSON an admin turns into a permit with `policyctl approve`).
 *
 * Every string here may come from an attacker-controlled device, so every field has a fixed
 * bound, and strings are stored sanitised: valid UTF-8 without control characters (anything
 * else is escaped visibly as \xHH). See identity_sanitize(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hexutil.h"
#include "wireless.h"

#define USB_STRING_MAX 256      /* bytes incl. NUL, after sanitising (a USB string is <= 126 UTF-16 units) */
#define USB_PATH_MAX 128
#define USB_SEAT_MAX 64         /* a seat's name (sd-login: "seat0", "seat-1"), its NUL included */
#define USB_INTERFACES_MAX 32   /* interfaces kyoka tracks per device; more is refused as malformed */
#define NET_NAME_MAX 16         /* IFNAMSIZ */
#define NET_KIND_MAX 32
#define NET_PATH_MAX 128
#define NET_DRIVER_MAX 64

/* Removable storage on other buses than USB (SD cards, discs, hot-plugged NVMe and SATA). */
#define MEDIA_NAME_MAX 32       /* a disk's kernel name, "mmcblk0", "nvme0n1", "sr0" */
#define MEDIA_STRING_MAX 128    /* vendor, model, serial (after sanitising; sysfs gives at most 64) */
#define MEDIA_PATH_MAX 128
#define MEDIA_SHORT_MAX 16      /* an SD card's OEM id "0x5859" and date "02/2006" */

#define USB_CLASS_HID 0x03
#define USB_CLASS_HUB 0x09

struct usb_interface_class {
        uint8_t cls;
        uint8_t subclass;
        uint8_t protocol;
};

struct usb_identity {
        uint16_t vendor;
        uint16_t product;
        bool has_serial;                      /* false: the device reports no serial string */
        char serial[USB_STRING_MAX];
        char manufacturer[USB_STRING_MAX];
        char product_name[USB_STRING_MAX];
        char bus_path[USB_PATH_MAX];          /* kernel name, e.g. "1-2.1" */
        char id_path[USB_PATH_MAX];           /* udev ID_PATH where known, else "" */
        /* The seat it is plugged into (udev ID_SEAT, its own or a parent's; "seat0" when none):
         * where it is, not what it is, so never part of a request or a policy match. "" when the
         * name is not a valid seat name: then no seat's user sees it (docs/control.md). */
        char seat[USB_SEAT_MAX];
        struct usb_interface_class device_class; /* from the device descriptor */
        size_t n_interfaces;
        struct usb_interface_class interfaces[USB_INTERFACES_MAX]; /* in descriptor order */
};

struct net_identity {
        int ifindex;
        char name[NET_NAME_MAX];
        bool has_mac;
        bool mac_is_permanent;                /* false: IFLA_PERM_ADDRESS was missing, this is the current one */
        uint8_t mac[6];
        char kind[NET_KIND_MAX];              /* IFLA_INFO_KIND ("veth", "bridge", ...) or "" for hardware */
        char path[NET_PATH_MAX];              /* parent device's udev ID_PATH or "" */
        char driver[NET_DRIVER_MAX];
        bool is_loopback;
        enum wireless_mode wireless;          /* WIRELESS_NONE unless nl80211 knows the link */
};

/* The bus a medium is on; its name is what a policy entry's `bus` and a request say. */
enum media_bus {
        MEDIA_BUS_MMC,                        /* SD/MMC card (mmc_block): "mmc" */
        MEDIA_BUS_OPTICAL,                    /* an optical drive (sr) and its disc: "optical" */
        MEDIA_BUS_NVME,                       /* "nvme" */
        MEDIA_BUS_ATA,                        /* SATA/eSATA through libata: "ata" */
        MEDIA_BUS_SCSI,                       /* any other SCSI disk (SAS, FireWire, virtio-scsi): "scsi" */
        MEDIA_BUS_VIRTIO,                     /* virtio-blk: "virtio" */
        _MEDIA_BUS_MAX,
};

const char *media_bus_to_string(enum media_bus b);
/* S's LEN bytes, exactly one of the names above; -EINVAL otherwise. */
int media_bus_from_string(const char *s, size_t len, enum media_bus *ret);

/* A disk that is not on USB, as kyokad reads it from sysfs (daemon/media-identity.c). Strings
 * are sanitised, with the padding blanks sysfs adds cut off; "" when the bus has no such
 * field. */
struct media_identity {
        enum media_bus bus;
        char name[MEDIA_NAME_MAX];            /* the disk's kernel name */
        char path[MEDIA_PATH_MAX];            /* the port, as udev's ID_PATH ("pci-0000:01:00.0-nvme-1"), or "" */
        char vendor[MEDIA_STRING_MAX];        /* SCSI/ATA/optical: INQUIRY vendor; mmc: manfid ("0x0000aa") */
        char model[MEDIA_STRING_MAX];         /* model; mmc: the card's name */
        char serial[MEDIA_STRING_MAX];        /* NVMe/virtio serial, SCSI/ATA unit serial (VPD 0x80), mmc serial */
        char oemid[MEDIA_SHORT_MAX];          /* mmc only: OEM/application id ("0x5859") */
        char date[MEDIA_SHORT_MAX];           /* mmc only: manufacturing date ("02/2006") */
};

/* Copies SRC (LEN bytes, not necessarily NUL-terminated or valid UTF-8) into DST of size
 * DST_SIZE: valid UTF-8 is kept; control characters (C0, DEL, C1), backslash, the line and
 * paragraph separators and the bidi overrides/isolates (U+202A-U+202E, U+2066-U+2069), and
 * invalid bytes (overlong forms, surrogates, > U+10FFFF) become "\xHH" per byte. The result is
 * truncated at a character boundary to fit (never inside an escape) and always NUL-terminated
 * when DST_SIZE > 0. Returns the length written (without the NUL). */
size_t identity_sanitize(const char *src, size_t len, char *dst, size_t dst_size);

/* Copies S (LEN bytes) into DST (SIZE bytes, NUL-terminated) if it is text identity_sanitize()
 * leaves unchanged: valid UTF-8 with nothing it would escape, and shorter than SIZE. For the
 * state files kyoka reads back what it wrote sanitised. Returns 0, or -EBADMSG with DST
 * untouched. */
int identity_take_clean(const char *s, size_t len, char *dst, size_t size);

/* Whether S (LEN bytes) starts with an escape as identity_sanitize() writes it, "\xHH": a
 * backslash, "x" and two hex digits (either case: what readers of sanitised text always took). */
bool identity_is_escape(const char *s, size_t len);

/* "08:06:50" <-> struct usb_interface_class. Parsing accepts exactly two hex digits per part. */
int usb_interface_class_parse(const char *s, struct usb_interface_class *ret);
void usb_interface_class_format(const struct usb_interface_class *c, char buf[static 9]);

/* True if every interface of the device has class HID (and there is at least one). */
bool usb_identity_is_hid_only(const struct usb_identity *id);
/* True if the device is a hub: every interface it presents is class 09, and it has either the
 * hub device class or at least one interface. Device class 09 with other interfaces is not a
 * hub (it would otherwise be admitted whole under defaults.usb_hub). */
bool usb_identity_is_hub(const struct usb_identity *id);
/* Whether A and B are the same unit in the same port: bus path, vendor, product and serial. */
bool usb_identity_same_unit(const struct usb_identity *a, const struct usb_identity *b);

/* "aa:bb:cc:dd:ee:ff" (S's LEN bytes) <-> bytes. A policy or a request may spell the digits in
 * either case (HEX_ANY_CASE); the network allowance kyokad writes itself is read in lowercase
 * only, as mac_format() writes it (HEX_LOWERCASE, see hexutil.h). */
int mac_parse(const char *s, size_t len, enum hex_case c, uint8_t ret[static 6]);
void mac_format(const uint8_t mac[static 6], char buf[static 18]);

/* The request document (docs/request.md): what kyokad emits for a blocked device or link with
 * `policyctl request`, and what `policyctl approve --request` reads. */
enum request_type {
        REQUEST_USB,
        REQUEST_NETWORK,
        REQUEST_WIRELESS,             /* a wireless network (not a link): what a `wireless` entry approves */
        REQUEST_MEDIA,
};

/* Where a wireless request's network was seen. */
enum wireless_request_source {
        WIRELESS_SEEN_ASSOCIATED,     /* the link is associated with it now */
        WIRELESS_SEEN_REFUSED,        /* the link joined it and kyokad cut it off */
        WIRELESS_SEEN_SCAN,           /* the kernel's scan results */
        _WIRELESS_SEEN_MAX,
};

struct wireless_request {
        char ifname[NET_NAME_MAX];            /* the link that saw it */
        enum wireless_request_source source;
        uint8_t ssid[WIRELESS_SSID_MAX];
        size_t ssid_len;                      /* >= 1 */
        size_t n_bssids;                      /* the access points seen with that SSID */
        uint8_t bssids[WIRELESS_BSSIDS_MAX][6];
        enum wireless_security security;      /* the weakest any of them offers */
};

struct request {
        enum request_type type;
        char hostname[256];
        char machine_id[33];
        int64_t time;                         /* when the request was made */
        struct usb_identity usb;              /* for REQUEST_USB */
        struct net_identity net;              /* for REQUEST_NETWORK */
        struct wireless_request wireless;     /* for REQUEST_WIRELESS */
        struct media_identity media;          /* for REQUEST_MEDIA */
};

/* Serialises a request as pretty JSON (newly allocated, NUL-terminated). */
int request_to_json(const struct request *req, char **ret);

/* The identity of a request's "device" object, which is also how kyokad's `list` names each
 * device and link (docs/control.md): -EINVAL and a message as request_from_json(). */
struct json_object;
int usb_identity_from_json(struct json_object *device, struct usb_identity *ret, char **ret_error);
int net_identity_from_json(struct json_object *device, struct net_identity *ret, char **ret_error);
int media_identity_from_json(struct json_object *device, struct media_identity *ret, char **ret_error);

/* Parses a request (at most 64 KiB); on error returns -EINVAL and, if ret_error is not NULL, a
 * message naming the offending field (newly allocated; *ret_error is NULL otherwise). Unknown
 * fields are ignored (forward compatibility), every known field is bounds- and format-checked;
 * strings must already be in sanitised form and fit their buffer, else they are refused (not
 * re-escaped or truncated: a changed serial would never match the device again). */
int request_from_json(const char *text, size_t len, struct request *ret, char **ret_error);

struct json_object;
/* The text of a request file from kyokad's `request` reply REPLY (docs/control.md): its
 * "request" object as pretty JSON and a newline, only if request_from_json takes it back (never
 * hand out a file that `approve --request` would refuse). policyctl request and kyoka-notify's
 * 「許可を申請」 both write this. -ENOMSG when the reply holds no request; -EBADMSG when it does
 * not parse, with request_from_json's message in *RET_ERROR (newly allocated, or NULL); -ENOMEM.
 * The caller says it in its reader's words. */
int request_file_text(struct json_object *reply, char **ret_text, char **ret_error);
