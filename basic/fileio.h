/* SPDX-License-Identifier: MIT */
/* Reading files with a size bound, and replacing files atomically (write, fsync, rename, fsync
 * of the directory), so that a crash leaves either the old or the new contents, never a mix. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole of PATH, at most MAX bytes (-EFBIG beyond). The buffer is NUL-terminated
 * (the NUL is not counted in *ret_size) so text parsers can use it directly. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_size);

/* Same for an already open file descriptor (read from its current position). */
int read_fd_bounded(int fd, size_t max, char **ret, size_t *ret_size);

/* Reads up to SIZE bytes from FD (until EOF or SIZE), retrying short reads. Returns the count
 * or a negative errno. For attributes whose tail may be ignored. */
ssize_t read_fd_prefix(int fd, void *buf, size_t size);

/* Reads NAME under DIRFD as read_fd_bounded does, if it is a regular file and not a symlink
 * (file_open_regular_at: -ELOOP, -EISDIR, -EBADFD otherwise). */
int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_size);

/* Writes DATA to NAME under DIRFD atomically with the given mode: a new temporary file in the
 * same directory (file_create_tmp_at: exclusive, unpredictable name), fsync, renameat over NAME
 * (which replaces a symlink there rather than following it), fsync of the directory. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t size, mode_t mode);
/* The same for PATH: its directory is opened once (symlinks in it followed, as PATH says), and
 * everything after happens relative to it. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Writes all of DATA to FD, retrying short writes. */
int write_all(int fd, const void *data, size_t size);

/* Creates a new file exclusively (fails with -EEXIST if present), writes and fsyncs it. */
int write_file_exclusive(const char *path, const void *data, size_t size, mode_t mode);

/* "dir/name" in a new string, or NULL on OOM. */
char *path_join(const char *dir, const char *name);
