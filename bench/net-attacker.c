/* SPDX-License-Identifier: MIT */
/* The attacker of issue 4's window measurement: keeps setting a link up over rtnetlink and,
 * while it is up, sends as fast as it can: UDP over the IP stack (SO_BINDTODEVICE, a static
 * neighbour given by the caller) and raw Ethernet frames over AF_PACKET. It times each window
 * from just before its "up" request to the RTM_NEWLINK that shows the link down again (an
 * upper bound of how long the link was up).
 * A peer in another namespace counts what arrived; this program only reports what it tried
 * (a send the kernel accepted is not a packet that left: the egress hook may drop it).
 *
 * Usage: net-attacker IFNAME DST_IPV4 DST_MAC (--attempts N | --seconds S) [--mode udp|packet|both]
 * Output (one line): attempts=.. downed=.. udp_sent=.. packet_sent=.. median_us=.. p95_us=.. max_us=..
 * Built by the tests and bench scripts with plain cc; needs CAP_NET_ADMIN and CAP_NET_RAW. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DOWN_TIMEOUT_US 2000000
#define MAX_SAMPLES 1000000

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int set_up(int nl, int ifindex) {
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
        } req = {
                .h = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_SETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
                .i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_change = IFF_UP, .ifi_flags = IFF_UP },
        };
        char buf[4096];

        if (send(nl, &req, sizeof req, 0) < 0)
                return -errno;
        ssize_t n = recv(nl, buf, sizeof buf, 0);
        if (n < (ssize_t) (sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr)))
                return -EIO;
        struct nlmsghdr *h = (struct nlmsghdr *) buf;
        if (h->nlmsg_type != NLMSG_ERROR)
                return -EIO;
        return ((struct nlmsgerr *) NLMSG_DATA(h))->error;
}

/* Drains the monitor; returns 1 if a message showed IFINDEX down, 0 if none, -errno. */
static int saw_down(int mon, int ifindex) {
        char buf[65536];
        int down = 0;

        for (;;) {
                ssize_t n = recv(mon, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN)
                                return down;
                        if (errno == ENOBUFS)
                                continue;
                        return -errno;
                }
                int len = (int) n;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                                continue;
                        struct ifinfomsg *i = NLMSG_DATA(h);
                        if (i->ifi_index == ifindex && !(i->ifi_flags & IFF_UP))
                                down = 1;
                }
        }
}

static int cmp64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

int main(int argc, char *argv[]) {
        long attempts = 0, seconds = 0;
        const char *mode = "both";
        unsigned mac[6];

        if (argc < 6) {
                fprintf(stderr, "usage: net-attacker IFNAME DST_IPV4 DST_MAC (--attempts N | --seconds S) [--mode M]\n");
                return 2;
        }
        for (int i = 4; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--attempts") == 0)
                        attempts = strtol(argv[i + 1], NULL, 10);
                else if (strcmp(argv[i], "--seconds") == 0)
                        seconds = strtol(argv[i + 1], NULL, 10);
                else if (strcmp(argv[i], "--mode") == 0)
                        mode = argv[i + 1];
        }
        int ifindex = (int) if_nametoindex(argv[1]);
        struct in_addr dst;
        if (!ifindex || inet_pton(AF_INET, argv[2], &dst) != 1 ||
            sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
            (attempts <= 0 && seconds <= 0)) {
                fprintf(stderr, "net-attacker: bad arguments\n");
                return 2;
        }
        bool do_udp = strcmp(mode, "packet") != 0, do_packet = strcmp(mode, "udp") != 0;

        int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        int mon = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        struct sockaddr_nl snl = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
        if (nl < 0 || mon < 0 || bind(mon, (struct sockaddr *) &snl, sizeof snl) < 0) {
                perror("net-attacker: netlink");
                return 1;
        }
        int rcvbuf = 4 << 20;
        (void) setsockopt(mon, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

        int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr = dst };
        if (udp < 0 || setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, argv[1], (socklen_t) strlen(argv[1])) < 0) {
                perror("net-attacker: udp");
                return 1;
        }
        int pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
        for (int i = 0; i < 6; i++)
                sll.sll_addr[i] = (unsigned char) mac[i];
        if (pkt < 0) {
                perror("net-attacker: AF_PACKET");
                return 1;
        }
        uint8_t frame[64] = { 0 };
        memcpy(frame, sll.sll_addr, 6);
        frame[12] = 0x88, frame[13] = 0xb5;   /* IEEE local experimental ethertype */
        memcpy(frame + 14, "kyoka-window-probe", 18);

        int64_t *samples = calloc(MAX_SAMPLES, sizeof *samples);
        long n_samples = 0, tried = 0, downed = 0, udp_sent = 0, packet_sent = 0, up_failed = 0;
        int64_t end = seconds > 0 ? now_us() + seconds * 1000000 : INT64_MAX;
        if (!samples)
                return 1;

        while ((attempts <= 0 || tried < attempts) && now_us() < end) {
                (void) saw_down(mon, ifindex);          /* forget older events */
                int64_t t_up = now_us(), t_down = 0;
                int r = set_up(nl, ifindex);
                tried++;
                if (r < 0) {
                        up_failed++;
                        usleep(1000);
                        continue;
                }
                for (;;) {
                        if (do_udp && sendto(udp, frame, sizeof frame, 0, (struct sockaddr *) &sin, sizeof sin) > 0)
                                udp_sent++;
                        if (do_packet && sendto(pkt, frame, sizeof frame, 0, (struct sockaddr *) &sll, sizeof sll) > 0)
                                packet_sent++;
                        if (saw_down(mon, ifindex) > 0) {
                                t_down = now_us();
                                break;
                        }
                        if (now_us() - t_up > DOWN_TIMEOUT_US)
                                break;
                }
                if (t_down) {
                        downed++;
                        if (n_samples < MAX_SAMPLES)
                                samples[n_samples++] = t_down - t_up;
                }
        }
        qsort(samples, (size_t) n_samples, sizeof *samples, cmp64);
        printf("attempts=%ld downed=%ld up_failed=%ld udp_sent=%ld packet_sent=%ld median_us=%lld p95_us=%lld max_us=%lld\n",
               tried, downed, up_failed, udp_sent, packet_sent,
               (long long) (n_samples ? samples[n_samples / 2] : -1),
               (long long) (n_samples ? samples[(n_samples * 95) / 100 < n_samples ? (n_samples * 95) / 100 : n_samples - 1] : -1),
               (long long) (n_samples ? samples[n_samples - 1] : -1));
        free(samples);
        return 0;
}
