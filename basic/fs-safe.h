/* SPDX-License-Identifier: MIT */
/* Files in directories someone else may be able to change: opening and creating relative to a
 * directory fd without following symlinks, and deciding whether a file or a directory can be
 * trusted (no one but root and us can change it).
 *
 * Why: a privileged process that opens "dir/name" by path goes wherever a symlink planted by the
 * directory's owner points (issue 9: root's export overwrote a root-owned file that way, and a
 * group-writable keys.d let anyone in the group add a trusted key). Everything below takes one
 * path component at a time (-EINVAL for a NAME holding '/'), so no symlink is followed below the
 * directory fd the caller holds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

/* 0 if ST can be trusted by a process running as EUID: owned by root or EUID, and writable by
 * neither group nor others. With TRUST_STICKY_DIR a directory owned by root with the sticky bit
 * (as /tmp) may be writable by all: enough for creating new files there (others can add
 * entries but not replace or remove ours), not for trusting what it holds. -EPERM otherwise,
 * and REASON (if not NULL) says why in English, e.g. "owned by uid 1000 (neither root nor uid
 * 0)" or "writable by group or others (mode 0775)". */
enum {
        TRUST_STICKY_DIR = 1 << 0,
};
int stat_check_trusted(const struct stat *st, uid_t euid, unsigned flags, char *reason, size_t reason_size);
/* The same for an open file or directory. */
int fd_check_trusted(int fd, uid_t euid, unsigned flags, char *reason, size_t reason_size);

/* Opens NAME under DIRFD as a directory, never through a symlink (-ELOOP or -ENOTDIR if NAME
 * is one). Returns the fd. */
int dir_open_at(int dirfd, const char *name);
/* The same, making the directory (MODE) first if it does not exist. */
int dir_make_at(int dirfd, const char *name, mode_t mode);
/* Opens PATH as a directory, making it (MODE) if it is missing. Symlinks in PATH as it exists are
 * followed: PATH is what the caller was told to use. The directories made below the deepest
 * existing one are made with mkdirat and opened without following symlinks, one at a time.
 * Returns the fd. */
int dir_make_path(const char *path, mode_t mode);

/* A directory stream of DIRFD's directory, from its start, that leaves DIRFD as it is (its own
 * open file description: no shared offset); closedir() releases it. */
int dir_stream_at(int dirfd, DIR **ret);

/* Opens NAME under DIRFD for reading if it is a regular file: -ELOOP for a symlink (not
 * followed), -EISDIR for a directory, -EBADFD for anything else (a FIFO is opened without
 * blocking and never read). Returns the fd. */
int file_open_regular_at(int dirfd, const char *name);

/* Creates NAME under DIRFD for writing, exclusively: -EEXIST if anything is there, a symlink
 * (dangling or not) included. Returns the fd. */
int file_create_at(int dirfd, const char *name, mode_t mode);

/* Creates a new file under DIRFD with an unpredictable name ".NAME.tmp-XXXXXXXX" (exclusively,
 * as file_create_at), for writing and then renaming over NAME. Returns the fd; the name in
 * *RET_TMP_NAME. */
int file_create_tmp_at(int dirfd, const char *name, mode_t mode, char **ret_tmp_name);
/* Whether NAME is one of file_create_tmp_at's names for TARGET (a leftover of a crash). */
bool file_is_tmp_name(const char *name, const char *target);
