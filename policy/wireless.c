/* SPDX-License-Identifier: MIT */
/* Wireless modes, securities and SSIDs: the names (wireless.h). */
#include "wireless.h"

#include <errno.h>
#include <string.h>

#include "hexutil.h"
#include "identity.h"
#include "macro.h"

static const char *const mode_names[_WIRELESS_MODE_MAX] = {
        [WIRELESS_NONE] = "",
        [WIRELESS_STATION] = "station",
        [WIRELESS_P2P_CLIENT] = "p2p-client",
        [WIRELESS_AP] = "ap",
        [WIRELESS_P2P_GO] = "p2p-go",
        [WIRELESS_MESH] = "mesh",
        [WIRELESS_IBSS] = "ibss",
        [WIRELESS_MONITOR] = "monitor",
        [WIRELESS_OTHER] = "other",
};

const char *wireless_mode_to_string(enum wireless_mode m) {
        return m >= 0 && m < _WIRELESS_MODE_MAX ? mode_names[m] : "other";
}

int wireless_mode_from_permit_name(const char *s, enum wireless_mode *ret) {
        static const enum wireless_mode permitted[] = {
                WIRELESS_AP, WIRELESS_P2P_GO, WIRELESS_MESH, WIRELESS_IBSS, WIRELESS_MONITOR,
        };

        for (size_t i = 0; s && i < ELEMENTSOF(permitted); i++)
                if (streq(s, mode_names[permitted[i]])) {
                        *ret = permitted[i];
                        return 0;
                }
        return -EINVAL;
}

bool wireless_mode_is_client(enum wireless_mode m) {
        return m == WIRELESS_STATION || m == WIRELESS_P2P_CLIENT;
}

static const char *const security_names[_WIRELESS_SECURITY_MAX] = {
        [WIRELESS_SECURITY_OPEN] = "open",
        [WIRELESS_SECURITY_OWE] = "owe",
        [WIRELESS_SECURITY_WEP] = "wep",
        [WIRELESS_SECURITY_WPA] = "wpa",
        [WIRELESS_SECURITY_UNKNOWN] = "unknown",
        [WIRELESS_SECURITY_WPA2_PSK] = "wpa2-psk",
        [WIRELESS_SECURITY_WPA2_ENTERPRISE] = "wpa2-enterprise",
        [WIRELESS_SECURITY_WPA3_SAE] = "wpa3-sae",
};

const char *wireless_security_to_string(enum wireless_security s) {
        return s >= 0 && s < _WIRELESS_SECURITY_MAX ? security_names[s] : "unknown";
}

int wireless_security_from_policy_name(const char *s, enum wireless_security *ret) {
        static const enum wireless_security levels[] = {
                WIRELESS_SECURITY_OPEN, WIRELESS_SECURITY_WPA2_PSK, WIRELESS_SECURITY_WPA2_ENTERPRISE,
                WIRELESS_SECURITY_WPA3_SAE,
        };

        for (size_t i = 0; s && i < ELEMENTSOF(levels); i++)
                if (streq(s, security_names[levels[i]])) {
                        *ret = levels[i];
                        return 0;
                }
        return -EINVAL;
}

int wireless_security_level(enum wireless_security s) {
        switch (s) {
        case WIRELESS_SECURITY_WPA2_PSK:
                return 1;
        case WIRELESS_SECURITY_WPA2_ENTERPRISE:
                return 2;
        case WIRELESS_SECURITY_WPA3_SAE:
                return 3;
        default:
                /* Anything weaker than WPA2, or that kyoka cannot name, is as good as open. */
                return 0;
        }
}

void wireless_ssid_text(const uint8_t *ssid, size_t len, char buf[static WIRELESS_SSID_TEXT_MAX]) {
        identity_sanitize((const char *) ssid, MIN(len, (size_t) WIRELESS_SSID_MAX), buf, WIRELESS_SSID_TEXT_MAX);
}

void wireless_ssid_hex(const uint8_t *ssid, size_t len, char buf[static WIRELESS_SSID_HEX_MAX]) {
        hex_encode(ssid, MIN(len, (size_t) WIRELESS_SSID_MAX), buf);
}

bool wireless_ssid_is_printable(const uint8_t *ssid, size_t len) {
        char text[WIRELESS_SSID_TEXT_MAX];

        if (len == 0 || len > WIRELESS_SSID_MAX)
                return false;
        wireless_ssid_text(ssid, len, text);
        return strlen(text) == len && memcmp(text, ssid, len) == 0;
}
