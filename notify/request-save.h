/* SPDX-License-Identifier: MIT */
/* Where kyoka-notify's 「許可を申請」 puts the request file: a new file in a directory of the
 * user's own (default ~/kyoka-requests, made 0700), never through a symlink, never over an
 * existing file, so that what the user sends is what kyokad wrote. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define REQUEST_DIR_DEFAULT "kyoka-requests"   /* under $HOME */

/* The file's name for the device or link WHAT (a bus path or a link's name) at NOW (local
 * time): "kyoka-request-WHAT-YYYYmmdd-HHMMSS.json", WHAT cut to 64 bytes and every byte but
 * [A-Za-z0-9._-] made '_' (a link's name may hold anything). */
int request_file_name(const char *what, int64_t now, char *buf, size_t size);

/* Writes TEXT into a new file NAME in DIR (made 0700 if missing; it must be the caller's own and
 * writable by no one else: -EPERM otherwise), with "-2" ... "-9" before ".json" if NAME is
 * taken. 0600, fsync()ed. *RET_PATH is DIR/the name used. */
int request_save(const char *dir, const char *name, const char *text, char **ret_path);
