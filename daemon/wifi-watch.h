/* SPDX-License-Identifier: MIT */
/* Where a wireless event enters kyokad: a generic netlink socket (libnl-genl) in nl80211's
 * "mlme" and "config" multicast groups (associations, interfaces created or changed), on the
 * sd-event loop at the priority of link events; and the questions kyokad asks nl80211 on a
 * second socket: the mode of an interface, the access point it is associated with (the BSS the
 * kernel marks associated, with the elements it advertises), the kernel's scan results, and
 * DISCONNECT.
 *
 * cfg80211 is a module: it may be loaded after kyokad (a USB Wi-Fi dongle plugged in). The
 * socket is also in nlctrl's "notify" group, so nl80211 appearing (or coming back after a
 * reload) is an event too; there is no polling. Subscribe first, ask second: whoever uses this
 * reads the state after the watch exists, so nothing falls between the two. */
#pragma once

#include <systemd/sd-event.h>

#include "identity.h"
#include "wifi-nl80211.h"

struct wifi_watch;

typedef void (*wifi_event_handler_t)(const struct wifi_msg *m, void *userdata);
/* Events were lost (socket overrun) or nl80211 appeared: read every wireless link again. */
typedef void (*wifi_resync_t)(void *userdata);

int wifi_watch_new(sd_event *e, wifi_event_handler_t handler, wifi_resync_t resync, void *userdata,
                   struct wifi_watch **ret);
struct wifi_watch *wifi_watch_free(struct wifi_watch *w);

/* Whether nl80211 exists now (cfg80211 loaded). */
bool wifi_watch_available(struct wifi_watch *w);

/* The mode of link IFINDEX: -ENODEV if nl80211 does not know it (not a wireless link, or no
 * nl80211 at all). */
int wifi_watch_get_mode(struct wifi_watch *w, int ifindex, enum wireless_mode *ret);

/* The network link IFINDEX is associated with, from the kernel's BSS list: the one it marks
 * associated, else (an event that named one) the BSS with BSSID. -ENOLINK if none. */
int wifi_watch_get_association(struct wifi_watch *w, int ifindex, const uint8_t *bssid,
                               struct wireless_network *ret);

/* Every access point of the kernel's last scan on IFINDEX that calls itself SSID (LEN bytes):
 * into RET's bssids (at most WIRELESS_BSSIDS_MAX), security the weakest of them. -ENOENT if
 * none. RET's ifname and source are the caller's. */
int wifi_watch_scan_results(struct wifi_watch *w, int ifindex, const uint8_t *ssid, size_t len,
                            struct wireless_request *ret);

/* NL80211_CMD_DISCONNECT on IFINDEX. -EPERM when another socket owns the connection
 * (wpa_supplicant sets NL80211_ATTR_SOCKET_OWNER: measured on Debian's 6.1, DISCONNECT and
 * DEAUTHENTICATE are both refused then), -ENOTCONN when there is none. */
int wifi_watch_disconnect(struct wifi_watch *w, int ifindex);
