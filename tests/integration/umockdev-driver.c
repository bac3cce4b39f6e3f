/* SPDX-License-Identifier: MIT */
/* Holds a umockdev testbed for test-kyokad-umockdev.sh and does to it what the shell asks,
 * one command a line on stdin, one answer a line on stdout ("ok" or "error ..."):
 *
 *   load FILE                  add the devices of a .umockdev description (each gets "add")
 *   uevent SYSPATH ACTION      synthesise a uevent ("add", "bind", "remove", ...)
 *   attr SYSPATH NAME VALUE    set a sysfs attribute (VALUE: the rest of the line)
 *   remove SYSPATH             remove a device and its children (no uevent)
 *   quit                       remove the testbed and exit (EOF does the same)
 *
 * The first line it prints is "root DIR": the testbed's UMOCKDEV_DIR. kyokad runs there with
 * LD_PRELOAD=libumockdev-preload.so.0, so its libudev, its sysfs opens and its uevent socket
 * are those of the testbed; uevents sent here reach it in libudev's format. The shell reads
 * the testbed's files directly to check what kyokad wrote. SYSPATH is as kyokad sees it
 * ("/sys/devices/..."). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <umockdev.h>

static void reply(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void reply(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

/* Splits off the next space-separated word of *P; NULL when there is none. */
static char *next_word(char **p) {
        while (**p == ' ')
                (*p)++;
        if (!**p)
                return NULL;
        char *w = *p;
        char *end = strchr(w, ' ');
        if (end) {
                *end = 0;
                *p = end + 1;
        } else
                *p = w + strlen(w);
        return w;
}

/* umockdev_testbed_remove_device() leaves the /sys/bus/SUBSYSTEM/devices/ links of the device
 * and its children behind, dangling: a device added again at the same path then fails. */
static void remove_dangling_bus_links(UMockdevTestbed *tb) {
        g_autofree char *sys = umockdev_testbed_get_sys_dir(tb);
        g_autofree char *pattern = g_build_filename(sys, "bus", "*", "devices", "*", NULL);
        glob_t g;

        if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
                return;
        for (size_t i = 0; i < g.gl_pathc; i++) {
                struct stat st;
                if (stat(g.gl_pathv[i], &st) < 0 && errno == ENOENT)
                        (void) unlink(g.gl_pathv[i]);
        }
        globfree(&g);
}

static void run(UMockdevTestbed *tb, char *line) {
        char *p = line;
        const char *cmd = next_word(&p);
        g_autoptr(GError) error = NULL;

        if (!cmd) {
                reply("error empty command");
                return;
        }
        if (strcmp(cmd, "load") == 0) {
                const char *file = next_word(&p);
                if (!file)
                        reply("error usage: load FILE");
                else if (!umockdev_testbed_add_from_file(tb, file, &error))
                        reply("error %s: %s", file, error->message);
                else
                        reply("ok");
        } else if (strcmp(cmd, "uevent") == 0) {
                const char *syspath = next_word(&p), *action = next_word(&p);
                if (!syspath || !action)
                        reply("error usage: uevent SYSPATH ACTION");
                else {
                        umockdev_testbed_uevent(tb, syspath, action);
                        reply("ok");
                }
        } else if (strcmp(cmd, "attr") == 0) {
                const char *syspath = next_word(&p), *name = next_word(&p);
                if (!syspath || !name)
                        reply("error usage: attr SYSPATH NAME VALUE");
                else {
                        umockdev_testbed_set_attribute(tb, syspath, name, p);
                        reply("ok");
                }
        } else if (strcmp(cmd, "remove") == 0) {
                const char *syspath = next_word(&p);
                if (!syspath)
                        reply("error usage: remove SYSPATH");
                else {
                        umockdev_testbed_remove_device(tb, syspath);
                        remove_dangling_bus_links(tb);
                        reply("ok");
                }
        } else
                reply("error unknown command '%s'", cmd);
}

int main(void) {
        g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
        g_autofree char *root = umockdev_testbed_get_root_dir(tb);
        char line[4096];

        reply("root %s", root);
        while (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\n")] = 0;
                if (strcmp(line, "quit") == 0)
                        break;
                run(tb, line);
        }
        /* Unreferencing the testbed removes its directory. */
        return 0;
}
