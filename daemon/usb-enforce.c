/* SPDX-License-Identifier: MIT */
#include "usb-enforce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"

static int write_attribute(int dirfd, const char *name, const char *value) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        size_t n = strlen(value);
        ssize_t k = write(fd, value, n);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EIO;
}

int usb_controller_lockdown(int dirfd) {
        int r = write_attribute(dirfd, "authorized_default", "0");
        /* Interfaces of an authorised device then stay off until kyokad names each one; this
         * is what makes approving only some interfaces of a composite device possible without
         * a window in which the others bind a driver. Tried even if the first write failed. */
        int k = write_attribute(dirfd, "interface_authorized_default", "0");
        return r < 0 ? r : k;
}

int usb_controller_lockdown_devices(int dirfd) {
        return write_attribute(dirfd, "authorized_default", "0");
}

int usb_core_lockdown(int dirfd, char *ret_was, size_t size) {
        if (ret_was && size > 0) {
                ret_was[0] = 0;
                _cleanup_close_ int fd = openat(dirfd, "authorized_default", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                ssize_t n = fd < 0 ? -1 : read_fd_prefix(fd, ret_was, size - 1);
                if (n >= 0) {
                        ret_was[n] = 0;
                        ret_was[strcspn(ret_was, "\n")] = 0;
                }
        }
        return write_attribute(dirfd, "authorized_default", "0");
}

bool usb_interfaces_all(const struct usb_descriptors *d, uint32_t mask) {
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (!(mask & (1u << i)))
                        return false;
        return true;
}

int usb_device_authorize(int dirfd, bool authorized) {
        return write_attribute(dirfd, "authorized", authorized ? "1" : "0");
}

int usb_device_is_authorized(int dirfd) {
        char buf[8];
        _cleanup_close_ int fd = openat(dirfd, "authorized", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(fd, buf, sizeof buf - 1);
        if (n < 0)
                return (int) n;
        return n > 0 && buf[0] == '1';
}

/* An interface authorised after it was added has no driver yet: the kernel binds one only when
 * asked through the bus's drivers_probe (measured on 6.1 in QEMU, tests/vm/README.md). */
static int usb_interface_probe(const char *name) {
        _cleanup_close_ int fd = open(USB_DRIVERS_PROBE, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        ssize_t k = write(fd, name, strlen(name));
        /* EEXIST/ENODEV: already bound, or no driver wants it; neither is a failure to enforce. */
        if (k < 0 && errno != EEXIST && errno != ENODEV)
                return negative_errno();
        return 0;
}

int usb_interfaces_authorize(int devices_dirfd, const char *sysname, const struct usb_descriptors *d, uint32_t mask,
                             int *probe_error) {
        int authorised = 0, first_error = 0, first_probe_error = 0;
        /* Drivers are asked only once every interface is authorised: a driver that binds one
         * interface may claim another (cdc_ether, rndis_host and cdc_ncm claim the data interface
         * from the control interface's probe), and the kernel refuses to let it claim one that is
         * not authorised yet (usb_driver_claim_interface: -ENODEV). Probing each interface right
         * after authorising it left a USB NIC without its link (tests/vm/test-kyokad-net.py). */
        char probe[USB_INTERFACES_MAX][64];
        size_t n_probe = 0;

        /* An interface number may have several alternate settings: it is authorised only if
         * every setting of it is approved, since the host may switch between them. */
        for (size_t i = 0; i < d->n_interfaces; i++) {
                const struct usb_interface_desc *in = &d->interfaces[i];
                bool seen = false, allow = true;
                for (size_t j = 0; j < d->n_interfaces; j++) {
                        const struct usb_interface_desc *o = &d->interfaces[j];
                        if (o->config_value != in->config_value || o->number != in->number)
                                continue;
                        if (j < i)
                                seen = true;
                        if (!(mask & (1u << j)))
                                allow = false;
                }
                if (seen)
                        continue;

                char name[64];
                snprintf(name, sizeof name, "%s:%u.%u", sysname, in->config_value, in->number);
                _cleanup_close_ int fd = openat(devices_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        /* Not the active configuration: nothing exists to authorise. */
                        if (errno == ENOENT)
                                continue;
                        if (!first_error)
                                first_error = negative_errno();
                        continue;
                }
                int r = write_attribute(fd, "authorized", allow ? "1" : "0");
                if (r < 0 && !first_error)
                        first_error = r;
                if (r >= 0 && allow) {
                        authorised++;
                        memcpy(probe[n_probe++], name, sizeof name);
                }
        }
        /* A missing driver only means the device does not work: not a hole, so it does not undo
         * the decision; the caller learns of it. */
        for (size_t i = 0; i < n_probe; i++) {
                int r = usb_interface_probe(probe[i]);
                if (r < 0 && !first_probe_error)
                        first_probe_error = r;
        }
        if (first_error)
                return first_error;
        if (first_probe_error && probe_error)
                *probe_error = first_probe_error;
        return authorised;
}
