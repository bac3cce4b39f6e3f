/* SPDX-License-Identifier: MIT */
/* Built on the host by test-kyokad-wifi.py and bench, run in the guest.
 *
 *   wifi-frames count IFACE MAC SECONDS
 *       counts the 802.11 frames a radiotap interface (mac80211_hwsim's hwsim0 sees every frame
 *       any simulated radio transmits; or a monitor interface) carries from transmitter MAC, for
 *       SECONDS: "data=N null=N mgmt=N" (data: data frames with a body, what a user's traffic
 *       is; null: null-data frames, which mac80211 sends to keep a connection; mgmt: management)
 *   wifi-frames send IFACE SECONDS
 *       sends raw Ethernet broadcasts on IFACE (AF_PACKET, what no IP firewall hook sees) as fast
 *       as it can for SECONDS: "sent=N failed=N"
 *
 * Exit status 0, or 1 on a usage or socket error. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int open_packet(const char *iface) {
        int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        unsigned idx = if_nametoindex(iface);
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int) idx };

        if (fd < 0 || idx == 0 || bind(fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
                fprintf(stderr, "%s: %s\n", iface, strerror(errno));
                return -1;
        }
        return fd;
}

static int count(const char *iface, const char *mac_text, double seconds) {
        unsigned char mac[6], buf[4096];
        unsigned long data = 0, null = 0, mgmt = 0;
        int fd = open_packet(iface);

        if (fd < 0 || sscanf(mac_text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
                             &mac[5]) != 6)
                return 1;
        for (double end = now() + seconds; now() < end;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int ms = (int) ((end - now()) * 1000) + 1;
                if (poll(&p, 1, ms) <= 0)
                        continue;
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n < 4)
                        continue;
                size_t rt = (size_t) (buf[2] | buf[3] << 8);      /* radiotap header length */
                if (rt + 16 > (size_t) n)
                        continue;
                const unsigned char *f = buf + rt;
                unsigned fc = (unsigned) (f[0] | f[1] << 8), type = (fc >> 2) & 3, subtype = (fc >> 4) & 15;
                if (type == 1 || memcmp(f + 10, mac, 6) != 0)  /* control frames name no transmitter */
                        continue;
                if (type == 0)
                        mgmt++;
                else if (type == 2 && (subtype == 4 || subtype == 12))
                        null++;
                else if (type == 2)
                        data++;
        }
        printf("data=%lu null=%lu mgmt=%lu\n", data, null, mgmt);
        return 0;
}

static int send_frames(const char *iface, double seconds) {
        unsigned char frame[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x6b, 0x79, 0x6f, 0x6b, 0x61, 0x88, 0xb5 };
        unsigned long sent = 0, failed = 0;
        int fd = open_packet(iface);

        if (fd < 0)
                return 1;
        memcpy(frame + 14, "kyoka wifi-frames: user data", 28);
        for (double end = now() + seconds; now() < end;) {
                if (send(fd, frame, sizeof frame, MSG_DONTWAIT) == (ssize_t) sizeof frame)
                        sent++;
                else {
                        failed++;
                        usleep(200);
                }
        }
        printf("sent=%lu failed=%lu\n", sent, failed);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 5 && strcmp(argv[1], "count") == 0)
                return count(argv[2], argv[3], atof(argv[4]));
        if (argc == 4 && strcmp(argv[1], "send") == 0)
                return send_frames(argv[2], atof(argv[3]));
        fprintf(stderr, "usage: wifi-frames count IFACE MAC SECONDS | send IFACE SECONDS\n");
        return 1;
}
