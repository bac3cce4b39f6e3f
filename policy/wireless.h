/* SPDX-License-Identifier: MIT */
/* Wireless links: the mode a card's interface is in (nl80211's interface type, in kyoka's
 * words), the network a client joined (SSID, access point, security), and their text forms.
 *
 * An SSID is up to 32 bytes of anything: the person who runs the hotspot chooses them, control
 * characters, invalid UTF-8 and NUL included. It is kept as bytes for matching and shown only
 * as sanitised text (identity_sanitize: reversible, backslash escaped too) or as hex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRELESS_SSID_MAX 32
#define WIRELESS_SSID_TEXT_MAX (4 * WIRELESS_SSID_MAX + 1)   /* every byte escaped as \xHH, and the NUL */
#define WIRELESS_SSID_HEX_MAX (2 * WIRELESS_SSID_MAX + 1)
#define WIRELESS_BSSIDS_MAX 64        /* access points one policy entry or one request may list */

/* What an interface of a wireless card does. Stable names (wireless_mode_to_string) are
 * written into policies (`wireless_modes`), requests and the ledger. */
enum wireless_mode {
        WIRELESS_NONE = 0,            /* not a wireless link (or nl80211 does not know it) */
        WIRELESS_STATION,             /* a client: joins access points ("managed") */
        WIRELESS_P2P_CLIENT,          /* a client of a Wi-Fi Direct group (a phone's) */
        WIRELESS_AP,                  /* the workstation is an access point: a hotspot */
        WIRELESS_P2P_GO,              /* ... a Wi-Fi Direct group owner */
        WIRELESS_MESH,
        WIRELESS_IBSS,                /* ad hoc */
        WIRELESS_MONITOR,             /* sees (and may inject) every frame on the air */
        WIRELESS_OTHER,               /* WDS, AP VLAN, OCB, NAN, anything newer: never permitted */
        _WIRELESS_MODE_MAX,
};

/* "" for WIRELESS_NONE, else "station", "p2p-client", "ap", "p2p-go", "mesh", "ibss",
 * "monitor", "other". */
const char *wireless_mode_to_string(enum wireless_mode m);
/* The names a permit may give in `wireless_modes` ("ap", "p2p-go", "mesh", "ibss", "monitor"):
 * the modes that need one. -EINVAL for anything else. */
int wireless_mode_from_permit_name(const char *s, enum wireless_mode *ret);
/* Whether M joins other people's networks (station, P2P client): its associations are decided
 * against the `wireless` entries. Every other mode but NONE needs a permit naming it. */
bool wireless_mode_is_client(enum wireless_mode m);

/* The security a network offers, read from its beacon or probe response. Detected values are
 * finer than what a policy names; wireless_security_level() ranks them. */
enum wireless_security {
        WIRELESS_SECURITY_OPEN = 0,
        WIRELESS_SECURITY_OWE,            /* "Enhanced Open": encrypted, but anyone may join */
        WIRELESS_SECURITY_WEP,
        WIRELESS_SECURITY_WPA,            /* WPA1 (vendor element), TKIP era */
        WIRELESS_SECURITY_UNKNOWN,        /* an RSN element with no AKM kyoka knows */
        WIRELESS_SECURITY_WPA2_PSK,
        WIRELESS_SECURITY_WPA2_ENTERPRISE,
        WIRELESS_SECURITY_WPA3_SAE,
        _WIRELESS_SECURITY_MAX,
};

/* "open", "owe", "wep", "wpa", "unknown", "wpa2-psk", "wpa2-enterprise", "wpa3-sae". */
const char *wireless_security_to_string(enum wireless_security s);
/* The names a policy's `security` takes, the least it accepts: "open", "wpa2-psk",
 * "wpa2-enterprise", "wpa3-sae" (in that order). -EINVAL for anything else. */
int wireless_security_from_policy_name(const char *s, enum wireless_security *ret);
/* The rank used to compare a network with an entry's least security: 0 for everything below
 * WPA2 (open, OWE, WEP, WPA, unknown: only an entry that says "open" accepts them), then 1
 * wpa2-psk, 2 wpa2-enterprise, 3 wpa3-sae. */
int wireless_security_level(enum wireless_security s);

/* One network as a client joined it (or as a scan saw it). */
struct wireless_network {
        uint8_t ssid[WIRELESS_SSID_MAX];
        size_t ssid_len;              /* 0: not known (a hidden network kyoka never learnt) */
        bool has_bssid;
        uint8_t bssid[6];             /* the access point */
        enum wireless_security security;
};

/* The SSID as sanitised text (identity_sanitize: valid UTF-8 kept, anything else \xHH). */
void wireless_ssid_text(const uint8_t *ssid, size_t len, char buf[static WIRELESS_SSID_TEXT_MAX]);
/* The SSID as lowercase hex, two digits a byte. */
void wireless_ssid_hex(const uint8_t *ssid, size_t len, char buf[static WIRELESS_SSID_HEX_MAX]);
/* Whether the SSID can be written as `ssid` text in a policy: valid UTF-8, nothing that
 * identity_sanitize would escape, not empty. Otherwise it is written as `ssid_hex`. */
bool wireless_ssid_is_printable(const uint8_t *ssid, size_t len);
