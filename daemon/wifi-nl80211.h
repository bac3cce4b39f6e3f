/* SPDX-License-Identifier: MIT */
/* nl80211 as kyokad reads it: the events of the "mlme" and "config" multicast groups, the
 * replies to GET_INTERFACE and GET_SCAN, nlctrl's notifications that the nl80211 family came or
 * went (cfg80211 is a module), and the information elements of a beacon or probe response.
 *
 * Pure parsing of bytes the kernel sent, bounded: every length is checked against the buffer,
 * nothing a message claims is trusted, an attribute of a known type with the wrong size makes
 * the message malformed. The SSID stays bytes here; whoever shows it uses wireless_ssid_text(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wireless.h"

/* What one access point is, from a GET_SCAN reply. */
struct wifi_bss {
        bool has_bssid;
        bool associated;              /* NL80211_BSS_STATUS: this interface is associated with it */
        struct wireless_network net;  /* bssid, and SSID and security from its elements */
};

/* One nl80211 message: the attributes kyokad uses, whatever the command. */
struct wifi_msg {
        uint8_t cmd;                  /* NL80211_CMD_* */
        int ifindex;                  /* 0: none (a wdev without a netdev, a wiphy event) */
        enum wireless_mode mode;      /* NL80211_ATTR_IFTYPE, WIRELESS_NONE when absent */
        bool has_mac;
        uint8_t mac[6];               /* CONNECT/ROAM: the access point; interfaces: their address */
        bool has_status;
        uint16_t status;              /* CONNECT: 802.11 status code, 0 = success */
        bool timed_out;               /* CONNECT: no answer at all */
        bool has_req_ie;              /* CONNECT/ROAM: the elements the station sent */
        struct wireless_network req;  /* ... the SSID it asked for, the AKM it chose */
        bool has_bss;                 /* NEW_SCAN_RESULTS (a GET_SCAN reply): one BSS */
        struct wifi_bss bss;
};

/* Parses a message of LEN bytes (LEN may exceed it: the header's own length is checked against
 * it) whose netlink type must be FAMILY (nl80211's id). -EBADMSG if truncated or malformed,
 * -EINVAL if it is another family's. */
int wifi_msg_parse(const void *buf, size_t len, uint16_t family, struct wifi_msg *ret);

/* The SSID (first SSID element; none, empty or all zero bytes, as a hidden network's beacon
 * says: ssid_len 0) and the security a network offers (its weakest: RSN AKMs, a WPA1 vendor
 * element, else the capability's privacy bit for WEP, else open) from IES (LEN bytes).
 * has_bssid is left false. -EBADMSG if an element runs past the end (what was read before it
 * is not used). */
int wifi_ies_parse(const uint8_t *ies, size_t len, bool privacy, struct wireless_network *ret);

enum wireless_mode wifi_mode_from_iftype(uint32_t iftype);

/* nlctrl (GENL_ID_CTRL) notifications: which family came (CTRL_CMD_NEWFAMILY) or went. */
struct wifi_ctrl_msg {
        uint8_t cmd;
        uint16_t family_id;           /* 0 when absent */
        char name[16];                /* GENL_NAMSIZ; "" when absent */
};
int wifi_ctrl_parse(const void *buf, size_t len, struct wifi_ctrl_msg *ret);
