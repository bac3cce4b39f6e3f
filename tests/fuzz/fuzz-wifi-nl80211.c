/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what kyokad reads from nl80211 (daemon/wifi-nl80211.c). The kernel writes
 * the messages, but the 802.11 elements in them (SSID, RSN, vendor elements) are whatever a
 * nearby access point broadcast: anybody's bytes. The first input byte chooses:
 *   0: an nl80211 message as it arrives: a netlink header, a genl header and attributes, LEN
 *      the bytes received (the header's own length is checked against it);
 *   1: the elements of a beacon or probe response (wifi_ies_parse), privacy bit from byte 2;
 *   2: an nlctrl notification (wifi_ctrl_parse).
 * Buffers are exact-size, so any read past them is reported. */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wifi-nl80211.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_net(const struct wireless_network *n) {
        if (n->ssid_len > WIRELESS_SSID_MAX || (unsigned) n->security >= _WIRELESS_SECURITY_MAX)
                abort();
        /* Whoever shows it escapes it: the text must fit its buffer and be terminated. */
        char text[WIRELESS_SSID_TEXT_MAX], hex[WIRELESS_SSID_HEX_MAX];
        wireless_ssid_text(n->ssid, n->ssid_len, text);
        wireless_ssid_hex(n->ssid, n->ssid_len, hex);
        if (strnlen(text, sizeof text) == sizeof text || strlen(hex) != 2 * n->ssid_len)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2)
                return 0;
        uint8_t mode = data[0] % 3, arg = data[1];
        data += 2, size -= 2;

        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        if (mode == 0) {
                struct wifi_msg m;
                /* The family id kyokad resolved: take it from the message when there is one, so
                 * that most inputs get past the type check. */
                uint16_t family = size >= sizeof(struct nlmsghdr) ? ((const struct nlmsghdr *) buf)->nlmsg_type : 0x1c;
                if (arg & 1)
                        family ^= 1;            /* and sometimes another family's */
                if (wifi_msg_parse(buf, size, family, &m) >= 0) {
                        if (m.ifindex < 0 || (unsigned) m.mode >= _WIRELESS_MODE_MAX)
                                abort();
                        if (m.has_req_ie)
                                check_net(&m.req);
                        if (m.has_bss)
                                check_net(&m.bss.net);
                }
        } else if (mode == 1) {
                struct wireless_network n;
                if (wifi_ies_parse(buf, size, arg & 1, &n) >= 0) {
                        if (n.has_bssid)
                                abort();
                        check_net(&n);
                }
        } else {
                struct wifi_ctrl_msg c;
                if (wifi_ctrl_parse(buf, size, &c) >= 0 && strnlen(c.name, sizeof c.name) == sizeof c.name)
                        abort();
        }
        free(buf);
        return 0;
}
