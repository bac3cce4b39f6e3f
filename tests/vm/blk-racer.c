/* SPDX-License-Identifier: MIT */
/* blk-racer: tries to write to every USB disk node the moment it exists (the "no window" test
 * of read-only media, tests/vm/test-kyokad-usb.py; and of media on other buses,
 * test-kyokad-media.py). Built on the host, run in the guest.
 *
 *   blk-racer [--user UID:GID[:GROUP]] [--spin-ms N] [--nodes PREFIX,...] MARKER
 *   blk-racer [--user UID:GID[:GROUP]] --try PATH ro|rw
 *
 * --nodes: the node names attacked (default "sd,sg": sdX, sdXN and sgN); e.g. "mmcblk,nvme,sr".
 * --try: one attempt, as that user: open PATH read-only (and read 512 bytes) or read-write (and
 * write 512 bytes at 512 KiB), printing "try=PATH mode=ro|rw open=ok|ERRNO io=ok|ERRNO|-".
 *
 * Drops to UID/GID (+ supplementary GROUP, e.g. 6 = disk) if asked, then watches /dev with
 * inotify. For each new sdX, sdXN or sgN node it attacks in a tight loop for --spin-ms
 * (default 1500) after the node was seen:
 *   - open O_RDWR; if that works, pwrite 512 bytes of MARKER and fsync (block nodes): on a
 *     whole disk at 512 KiB (the gap before the first partition), on a partition at 0 (the
 *     boot block, unused by ext4), so that the partition table and file system survive a
 *     write that gets through; and send SCSI WRITE(10) of one 512-byte block at LBA 1024
 *     (512 KiB of the disk) through SG_IO;
 *   - if the open is refused, open O_RDONLY and send the same SG_IO WRITE(10).
 * A write() that returns > 0 or an SG_IO that completes with good status is a WRITE THAT GOT
 * THROUGH. Once one kind of write has got through for a node it is not repeated; once write()
 * returned an error it stops trying write(). One line per node on stdout when its spin ends:
 *   node=sdb uid=1000 attempts=N opens_rw=N first_open_ms=T open_eacces=N open_other=N open_err=E
 *   opens_ro=N writes_ok=N first_write_ms=T write_err=E sgio_ok=N first_sgio_ms=T sgio_refused=N
 *   sgio_err=E sgio_failed=N
 * (times in ms after the node was seen; -1: never; E: the last errno name)
 * Runs until SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <scsi/sg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 16

struct node {
        char name[32];
        double seen;
        int attempts;
        int opens_rw, opens_ro, open_eacces, open_other;   /* open O_RDWR: ok; refused (EACCES); else */
        int writes_ok, sgio_ok, sgio_refused, sgio_failed; /* sgio_failed: sent, bad status */
        double first_open, first_write, first_sgio;
        int write_err, sgio_err, open_err;
        bool write_done;
};

static struct node nodes[MAX_NODES];
static int n_nodes;
static volatile sig_atomic_t stop;
static char block[512];
static unsigned char sector[512];

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static const char *prefixes;          /* --nodes, or NULL: sd and sg */

static bool interesting(const char *n) {
        if (prefixes) {
                for (const char *p = prefixes; *p;) {
                        size_t len = strcspn(p, ",");
                        if (len > 0 && strncmp(n, p, len) == 0)
                                return true;
                        p += len + (p[len] == ',');
                }
                return false;
        }
        if (strncmp(n, "sd", 2) == 0 && n[2] >= 'a' && n[2] <= 'z')
                return true;
        return strncmp(n, "sg", 2) == 0 && n[2] >= '0' && n[2] <= '9';
}

/* A partition (sysfs says so), else a whole disk. */
static bool is_partition(const char *name) {
        char p[96];
        snprintf(p, sizeof p, "/sys/class/block/%s/partition", name);
        return access(p, F_OK) == 0;
}

static int sgio_write(int fd, int *status) {
        /* WRITE(10), LBA 1024, one block. */
        unsigned char cdb[10] = { 0x2a, 0, 0, 0, 0x04, 0x00, 0, 0, 1, 0 }, sense[32];
        struct sg_io_hdr h = {
                .interface_id = 'S',
                .dxfer_direction = SG_DXFER_TO_DEV,
                .cmd_len = sizeof cdb,
                .mx_sb_len = sizeof sense,
                .dxfer_len = sizeof sector,
                .dxferp = sector,
                .cmdp = cdb,
                .sbp = sense,
                .timeout = 2000,
        };
        if (ioctl(fd, SG_IO, &h) < 0)
                return -errno;
        *status = h.status | h.host_status << 8 | h.driver_status << 16;
        return *status == 0 ? 1 : 0;
}

static void attack(struct node *n) {
        char path[64];
        snprintf(path, sizeof path, "/dev/%s", n->name);
        n->attempts++;
        struct stat st;
        bool blockdev = lstat(path, &st) == 0 && S_ISBLK(st.st_mode);
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
                if (!n->opens_rw++)
                        n->first_open = now_ms() - n->seen;
                if (blockdev && !n->write_done) {
                        bool partition = is_partition(n->name);
                        ssize_t k = pwrite(fd, block, sizeof block, partition ? 0 : 512 * 1024);
                        if (k > 0) {
                                n->writes_ok++;
                                n->first_write = now_ms() - n->seen;
                                (void) fsync(fd);
                        } else
                                n->write_err = errno;
                        n->write_done = true;   /* written, or refused: read-only is in place */
                }
        } else {
                if (errno == EACCES)
                        n->open_eacces++;
                else {
                        n->open_other++;
                        n->open_err = errno;
                }
                fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0)
                        n->opens_ro++;
        }
        if (fd >= 0 && !n->sgio_ok) {
                int st = 0, r = sgio_write(fd, &st);
                if (r > 0) {
                        n->sgio_ok++;
                        n->first_sgio = now_ms() - n->seen;
                } else if (r < 0) {
                        n->sgio_refused++;
                        n->sgio_err = -r;
                } else
                        n->sgio_failed++;
        }
        if (fd >= 0)
                close(fd);
}

static const char *ename(int e) {
        return e ? strerrorname_np(e) : "-";
}

static void report(struct node *n) {
        printf("node=%s uid=%d attempts=%d opens_rw=%d first_open_ms=%.1f open_eacces=%d open_other=%d open_err=%s "
               "opens_ro=%d writes_ok=%d first_write_ms=%.1f write_err=%s sgio_ok=%d first_sgio_ms=%.1f "
               "sgio_refused=%d sgio_err=%s sgio_failed=%d\n",
               n->name, (int) getuid(), n->attempts, n->opens_rw, n->opens_rw ? n->first_open : -1.0, n->open_eacces,
               n->open_other, ename(n->open_err), n->opens_ro, n->writes_ok, n->writes_ok ? n->first_write : -1.0,
               ename(n->write_err), n->sgio_ok, n->sgio_ok ? n->first_sgio : -1.0, n->sgio_refused, ename(n->sgio_err),
               n->sgio_failed);
        fflush(stdout);
}

static void on_signal(int sig) {
        stop = 1;
}

static int drop_to(const char *user) {
        unsigned uid, gid, grp = 0;
        int n = sscanf(user, "%u:%u:%u", &uid, &gid, &grp);
        gid_t groups[1] = { grp };
        if (n < 2 || setgroups(n == 3 ? 1 : 0, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
                perror("drop privileges");
                return -1;
        }
        return 0;
}

/* --try PATH ro|rw: one open and one read or write, as the user. */
static int try_once(const char *path, const char *mode) {
        bool rw = strcmp(mode, "rw") == 0;
        static char buf[512];
        int fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
                printf("try=%s mode=%s open=%s io=-\n", path, mode, ename(errno));
                return 0;
        }
        ssize_t k = rw ? pwrite(fd, block, sizeof block, 512 * 1024) : pread(fd, buf, sizeof buf, 0);
        if (k > 0 && rw)
                k = fsync(fd) < 0 ? -1 : k;
        printf("try=%s mode=%s open=ok io=%s\n", path, mode, k > 0 ? "ok" : ename(k == 0 ? EIO : errno));
        close(fd);
        return 0;
}

int main(int argc, char *argv[]) {
        double spin = 1500;
        const char *user = NULL, *try_path = NULL, *try_mode = NULL;
        int i = 1;
        for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
                if (strcmp(argv[i], "--user") == 0)
                        user = argv[i + 1];
                else if (strcmp(argv[i], "--spin-ms") == 0)
                        spin = atof(argv[i + 1]);
                else if (strcmp(argv[i], "--nodes") == 0)
                        prefixes = argv[i + 1];
                else if (strcmp(argv[i], "--try") == 0)
                        try_path = argv[i + 1];
        }
        if (try_path) {
                if (i != argc - 1 || (strcmp(argv[i], "ro") != 0 && strcmp(argv[i], "rw") != 0)) {
                        fprintf(stderr, "usage: blk-racer [--user UID:GID[:GROUP]] --try PATH ro|rw\n");
                        return 2;
                }
                try_mode = argv[i];
                memset(block, 'K', sizeof block);
                if (user && drop_to(user) < 0)
                        return 1;
                return try_once(try_path, try_mode);
        }
        if (i != argc - 1) {
                fprintf(stderr, "usage: blk-racer [--user UID:GID[:GROUP]] [--spin-ms N] [--nodes P,...] MARKER\n");
                return 2;
        }
        for (size_t k = 0; k < sizeof block; k++)
                block[k] = argv[i][k % strlen(argv[i])];
        memcpy(sector, block, sizeof sector);

        int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd < 0 || inotify_add_watch(ifd, "/dev", IN_CREATE | IN_ATTRIB) < 0) {
                perror("inotify");
                return 1;
        }
        if (user && drop_to(user) < 0)
                return 1;
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        printf("ready uid=%d gid=%d\n", (int) getuid(), (int) getgid());
        fflush(stdout);

        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (!stop) {
                struct pollfd p = { .fd = ifd, .events = POLLIN };
                if (poll(&p, 1, n_nodes ? 0 : 200) > 0) {
                        ssize_t len = read(ifd, buf, sizeof buf);
                        for (char *q = buf; len > 0 && q < buf + len;) {
                                struct inotify_event *ev = (struct inotify_event *) q;
                                q += sizeof *ev + ev->len;
                                if (!ev->len || !interesting(ev->name))
                                        continue;
                                bool known = false;
                                for (int k = 0; k < n_nodes; k++)
                                        known |= strcmp(nodes[k].name, ev->name) == 0;
                                if (known || n_nodes == MAX_NODES)
                                        continue;
                                /* IN_ATTRIB also comes when a node is removed (unplug): only a
                                 * node that exists starts a spin, timed from now. */
                                char path[64];
                                struct stat st;
                                snprintf(path, sizeof path, "/dev/%s", ev->name);
                                if (lstat(path, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)))
                                        continue;
                                struct node *nn = &nodes[n_nodes++];
                                memset(nn, 0, sizeof *nn);
                                snprintf(nn->name, sizeof nn->name, "%s", ev->name);
                                nn->seen = now_ms();
                                attack(nn);          /* at once, before anything else */
                        }
                }
                for (int k = 0; k < n_nodes; k++) {
                        attack(&nodes[k]);
                        if (now_ms() - nodes[k].seen > spin) {
                                report(&nodes[k]);
                                nodes[k] = nodes[--n_nodes];
                                k--;
                        }
                }
        }
        for (int k = 0; k < n_nodes; k++)
                report(&nodes[k]);
        return 0;
}
