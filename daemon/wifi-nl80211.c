/* SPDX-License-Identifier: MIT */
/* nl80211 messages and 802.11 information elements -> what kyokad decides on (wifi-nl80211.h).
 * Reads are byte-wise (memcpy): a fuzzer's buffer, like any other, may be unaligned. */
#include "wifi-nl80211.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/nl80211.h>
#include <string.h>

#include "macro.h"

/* One attribute at a time. Returns 1 with the attribute, 0 at the end, -EBADMSG when the next
 * one does not fit. */
struct attrs {
        const uint8_t *p;
        size_t rem;
};

static int attr_next(struct attrs *a, uint16_t *ret_type, const uint8_t **ret_data, size_t *ret_len) {
        uint16_t len, type;

        if (a->rem == 0)
                return 0;
        if (a->rem < NLA_HDRLEN)
                return -EBADMSG;
        memcpy(&len, a->p, 2);
        memcpy(&type, a->p + 2, 2);
        if (len < NLA_HDRLEN || len > a->rem)
                return -EBADMSG;
        *ret_type = type & NLA_TYPE_MASK;
        *ret_data = a->p + NLA_HDRLEN;
        *ret_len = len - NLA_HDRLEN;
        size_t step = MIN((size_t) NLA_ALIGN(len), a->rem);  /* the last one may lack its padding */
        a->p += step;
        a->rem -= step;
        return 1;
}

static int get_u32(const uint8_t *data, size_t len, uint32_t *ret) {
        if (len != 4)
                return -EBADMSG;
        memcpy(ret, data, 4);
        return 0;
}

static int get_u16(const uint8_t *data, size_t len, uint16_t *ret) {
        if (len != 2)
                return -EBADMSG;
        memcpy(ret, data, 2);
        return 0;
}

/* The genetlink payload of BUF: checks the netlink header against LEN and TYPE. */
static int genl_payload(const void *buf, size_t len, uint16_t type, uint8_t *ret_cmd, struct attrs *ret) {
        struct nlmsghdr h;
        struct genlmsghdr g;

        if (!buf || len < NLMSG_HDRLEN + GENL_HDRLEN)
                return -EBADMSG;
        memcpy(&h, buf, sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN || h.nlmsg_len > len)
                return -EBADMSG;
        if (h.nlmsg_type != type)
                return -EINVAL;
        memcpy(&g, (const uint8_t *) buf + NLMSG_HDRLEN, sizeof g);
        *ret_cmd = g.cmd;
        *ret = (struct attrs) { (const uint8_t *) buf + NLMSG_HDRLEN + GENL_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN };
        return 0;
}

enum wireless_mode wifi_mode_from_iftype(uint32_t iftype) {
        switch (iftype) {
        case NL80211_IFTYPE_STATION:
                return WIRELESS_STATION;
        case NL80211_IFTYPE_P2P_CLIENT:
                return WIRELESS_P2P_CLIENT;
        case NL80211_IFTYPE_AP:
                return WIRELESS_AP;
        case NL80211_IFTYPE_P2P_GO:
                return WIRELESS_P2P_GO;
        case NL80211_IFTYPE_MESH_POINT:
                return WIRELESS_MESH;
        case NL80211_IFTYPE_ADHOC:
                return WIRELESS_IBSS;
        case NL80211_IFTYPE_MONITOR:
                return WIRELESS_MONITOR;
        default:
                /* AP_VLAN, WDS, OCB, NAN, P2P_DEVICE, UNSPECIFIED and whatever comes next. */
                return WIRELESS_OTHER;
        }
}

/* ---- information elements ----------------------------------------------------------------- */

#define EID_SSID 0
#define EID_RSN 48
#define EID_VENDOR 221

static enum wireless_security akm_security(const uint8_t s[static 4]) {
        static const uint8_t ieee[3] = { 0x00, 0x0f, 0xac };

        if (memcmp(s, ieee, 3) != 0)
                return WIRELESS_SECURITY_UNKNOWN;
        switch (s[3]) {
        case 1:  /* 802.1X */
        case 3:  /* FT over 802.1X */
        case 5:  /* 802.1X SHA-256 */
        case 11: /* Suite B */
        case 12: /* Suite B 192 */
        case 13: /* FT 802.1X SHA-384 */
        case 14: /* FILS SHA-256 */
        case 15: /* FILS SHA-384 */
        case 16: /* FT FILS SHA-256 */
        case 17: /* FT FILS SHA-384 */
                return WIRELESS_SECURITY_WPA2_ENTERPRISE;
        case 2:  /* PSK */
        case 4:  /* FT PSK */
        case 6:  /* PSK SHA-256 */
        case 19: /* FT PSK SHA-384 */
        case 20: /* PSK SHA-384 */
                return WIRELESS_SECURITY_WPA2_PSK;
        case 8:  /* SAE */
        case 9:  /* FT SAE */
        case 24: /* SAE with a group-dependent hash */
        case 25: /* ... FT */
                return WIRELESS_SECURITY_WPA3_SAE;
        case 18:
                return WIRELESS_SECURITY_OWE;
        default:
                return WIRELESS_SECURITY_UNKNOWN;
        }
}

/* The weaker of A and B: by level, then (below WPA2, all level 0) by the enum's order. */
static enum wireless_security weaker(enum wireless_security a, enum wireless_security b) {
        int la = wireless_security_level(a), lb = wireless_security_level(b);
        if (la != lb)
                return la < lb ? a : b;
        return a < b ? a : b;
}

/* An RSN element: version, group cipher, pairwise ciphers, AKMs. The weakest AKM offered; a
 * truncated element or one without a known AKM is UNKNOWN (as good as open). Without an AKM
 * list the standard's default is 802.1X. */
static enum wireless_security rsn_security(const uint8_t *d, size_t n) {
        enum wireless_security s = _WIRELESS_SECURITY_MAX;
        uint16_t count;

        if (n < 2 || d[0] != 1 || d[1] != 0)
                return WIRELESS_SECURITY_UNKNOWN;
        d += 2, n -= 2;
        if (n < 4)      /* group cipher absent: every default applies */
                return WIRELESS_SECURITY_WPA2_ENTERPRISE;
        d += 4, n -= 4;
        if (n < 2)
                return WIRELESS_SECURITY_WPA2_ENTERPRISE;
        count = (uint16_t) (d[0] | d[1] << 8);
        if ((size_t) count * 4 > n - 2)
                return WIRELESS_SECURITY_UNKNOWN;
        d += 2 + (size_t) count * 4, n -= 2 + (size_t) count * 4;
        if (n < 2)
                return WIRELESS_SECURITY_WPA2_ENTERPRISE;
        count = (uint16_t) (d[0] | d[1] << 8);
        if (count == 0 || (size_t) count * 4 > n - 2)
                return WIRELESS_SECURITY_UNKNOWN;
        for (size_t i = 0; i < count; i++) {
                enum wireless_security a = akm_security(d + 2 + 4 * i);
                s = s == _WIRELESS_SECURITY_MAX ? a : weaker(s, a);
        }
        return s;
}

int wifi_ies_parse(const uint8_t *ies, size_t len, bool privacy, struct wireless_network *ret) {
        struct wireless_network n = { .security = privacy ? WIRELESS_SECURITY_WEP : WIRELESS_SECURITY_OPEN };
        bool seen_ssid = false, has_rsn = false, has_wpa = false;
        enum wireless_security rsn = WIRELESS_SECURITY_UNKNOWN;

        for (size_t o = 0; o < len;) {
                if (len - o < 2 || ies[o + 1] > len - o - 2)
                        return -EBADMSG;
                uint8_t id = ies[o], n_data = ies[o + 1];
                const uint8_t *d = ies + o + 2;

                if (id == EID_SSID && !seen_ssid) {
                        seen_ssid = true;
                        bool zero = true;
                        for (size_t i = 0; i < n_data; i++)
                                zero = zero && d[i] == 0;
                        /* A hidden network says "" or zero bytes of the real length. */
                        if (!zero && n_data <= WIRELESS_SSID_MAX) {
                                memcpy(n.ssid, d, n_data);
                                n.ssid_len = n_data;
                        }
                } else if (id == EID_RSN && !has_rsn) {
                        has_rsn = true;
                        rsn = rsn_security(d, n_data);
                } else if (id == EID_VENDOR && n_data >= 4 && d[0] == 0x00 && d[1] == 0x50 && d[2] == 0xf2 && d[3] == 1)
                        has_wpa = true;
                o += 2 + (size_t) n_data;
        }
        /* Mixed WPA/WPA2 networks accept WPA1 clients: the weakest counts. */
        if (has_rsn)
                n.security = has_wpa ? weaker(rsn, WIRELESS_SECURITY_WPA) : rsn;
        else if (has_wpa)
                n.security = WIRELESS_SECURITY_WPA;
        *ret = n;
        return 0;
}

/* ---- messages ----------------------------------------------------------------------------- */

static int parse_bss(const uint8_t *data, size_t len, struct wifi_bss *ret) {
        struct attrs a = { data, len };
        const uint8_t *ies = NULL, *beacon = NULL, *d;
        size_t ies_len = 0, beacon_len = 0, n;
        struct wifi_bss b = {};
        uint16_t type, capability = 0;
        uint32_t status;
        int r;

        while ((r = attr_next(&a, &type, &d, &n)) > 0)
                switch (type) {
                case NL80211_BSS_BSSID:
                        if (n != 6)
                                return -EBADMSG;
                        memcpy(b.net.bssid, d, 6);
                        b.has_bssid = b.net.has_bssid = true;
                        break;
                case NL80211_BSS_CAPABILITY:
                        if (get_u16(d, n, &capability) < 0)
                                return -EBADMSG;
                        break;
                case NL80211_BSS_INFORMATION_ELEMENTS:
                        ies = d, ies_len = n;
                        break;
                case NL80211_BSS_BEACON_IES:
                        beacon = d, beacon_len = n;
                        break;
                case NL80211_BSS_STATUS:
                        if (get_u32(d, n, &status) < 0)
                                return -EBADMSG;
                        b.associated = status == NL80211_BSS_STATUS_ASSOCIATED;
                        break;
                default:
                        break;
                }
        if (r < 0)
                return r;

        /* The latest elements (probe response or beacon) decide; a hidden network's beacon has
         * no SSID, its probe response has. */
        bool privacy = capability & 0x0010;
        struct wireless_network e;
        r = wifi_ies_parse(ies ?: beacon, ies ? ies_len : beacon_len, privacy, &e);
        if (r < 0)
                return r;
        if (e.ssid_len == 0 && ies && beacon) {
                struct wireless_network other;
                if (wifi_ies_parse(beacon, beacon_len, privacy, &other) >= 0 && other.ssid_len > 0) {
                        memcpy(e.ssid, other.ssid, sizeof e.ssid);
                        e.ssid_len = other.ssid_len;
                }
        }
        memcpy(b.net.ssid, e.ssid, sizeof b.net.ssid);
        b.net.ssid_len = e.ssid_len;
        b.net.security = e.security;
        *ret = b;
        return 0;
}

int wifi_msg_parse(const void *buf, size_t len, uint16_t family, struct wifi_msg *ret) {
        struct wifi_msg m = {};
        struct attrs a;
        const uint8_t *d;
        uint16_t type;
        uint32_t u;
        size_t n;
        int r;

        r = genl_payload(buf, len, family, &m.cmd, &a);
        if (r < 0)
                return r;
        while ((r = attr_next(&a, &type, &d, &n)) > 0)
                switch (type) {
                case NL80211_ATTR_IFINDEX:
                        if (get_u32(d, n, &u) < 0 || u == 0 || u > INT32_MAX)
                                return -EBADMSG;
                        m.ifindex = (int) u;
                        break;
                case NL80211_ATTR_IFTYPE:
                        if (get_u32(d, n, &u) < 0)
                                return -EBADMSG;
                        m.mode = wifi_mode_from_iftype(u);
                        break;
                case NL80211_ATTR_MAC:
                        if (n != 6)
                                return -EBADMSG;
                        memcpy(m.mac, d, 6);
                        m.has_mac = true;
                        break;
                case NL80211_ATTR_STATUS_CODE:
                        if (get_u16(d, n, &m.status) < 0)
                                return -EBADMSG;
                        m.has_status = true;
                        break;
                case NL80211_ATTR_TIMED_OUT:
                        m.timed_out = true;
                        break;
                case NL80211_ATTR_REQ_IE:
                        /* The SSID and AKM the station asked for; a malformed list is left out. */
                        m.has_req_ie = wifi_ies_parse(d, n, false, &m.req) >= 0;
                        break;
                case NL80211_ATTR_BSS:
                        r = parse_bss(d, n, &m.bss);
                        if (r < 0)
                                return r;
                        m.has_bss = true;
                        break;
                default:
                        break;
                }
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

int wifi_ctrl_parse(const void *buf, size_t len, struct wifi_ctrl_msg *ret) {
        struct wifi_ctrl_msg m = {};
        struct attrs a;
        const uint8_t *d;
        uint16_t type;
        size_t n;
        int r;

        r = genl_payload(buf, len, GENL_ID_CTRL, &m.cmd, &a);
        if (r < 0)
                return r;
        while ((r = attr_next(&a, &type, &d, &n)) > 0)
                switch (type) {
                case CTRL_ATTR_FAMILY_ID:
                        if (get_u16(d, n, &m.family_id) < 0)
                                return -EBADMSG;
                        break;
                case CTRL_ATTR_FAMILY_NAME: {
                        size_t k = strnlen((const char *) d, n);
                        /* NUL-terminated and short: a family's name is at most GENL_NAMSIZ - 1. */
                        if (k == n || k >= sizeof m.name)
                                return -EBADMSG;
                        memcpy(m.name, d, k);
                        m.name[k] = 0;
                        break;
                }
                default:
                        break;
                }
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}
