/* SPDX-License-Identifier: MIT */
#include "usb-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "usb-descriptors.h"

static int read_attribute(int dirfd, const char *name, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        return read_fd_bounded(fd, max, ret, ret_size);
}

/* sysfs ends string attributes with one newline; the device's own bytes are what is left.
 * Anything beyond USB_SYSFS_STRING_MAX (longer than any real USB string) is cut off.
 * Returns 0 if the attribute exists, -ENOENT if the device has no such string. */
static int read_string_attribute(int dirfd, const char *name, char *dst, size_t dst_size) {
        char raw[USB_SYSFS_STRING_MAX];
        ssize_t n;

        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        n = read_fd_prefix(fd, raw, sizeof raw);
        if (n < 0)
                return (int) n;
        if (n > 0 && raw[n - 1] == '\n')
                n--;
        identity_sanitize(raw, (size_t) n, dst, dst_size);
        return 0;
}

int usb_identity_read(int dirfd, const char *sysname, struct usb_identity *ret, struct usb_descriptors *ret_descriptors) {
        _cleanup_free_ char *raw = NULL;
        struct usb_descriptors d;
        struct usb_identity id = {};
        size_t n;
        int r;

        r = read_attribute(dirfd, "descriptors", USB_DESCRIPTORS_MAX, &raw, &n);
        if (r < 0)
                return r;
        r = usb_descriptors_parse((const uint8_t *) raw, n, &d);
        if (r < 0)
                return r;
        usb_descriptors_to_identity(&d, &id);

        r = read_string_attribute(dirfd, "serial", id.serial, sizeof id.serial);
        if (r < 0 && r != -ENOENT)
                return r;
        id.has_serial = r >= 0;
        r = read_string_attribute(dirfd, "manufacturer", id.manufacturer, sizeof id.manufacturer);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_string_attribute(dirfd, "product", id.product_name, sizeof id.product_name);
        if (r < 0 && r != -ENOENT)
                return r;

        identity_sanitize(sysname, strnlen(sysname, USB_PATH_MAX), id.bus_path, sizeof id.bus_path);
        *ret = id;
        if (ret_descriptors)
                *ret_descriptors = d;
        return 0;
}
