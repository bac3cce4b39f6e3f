/* SPDX-License-Identifier: MIT */
/* What the verbs of policyctl share: the global options, the exit codes, the verb entry points,
 * and a few helpers for messages and input checks (shared.c). Each verb lives in its own
 * verb-<verb>.c; only policyctl prints (the libraries in policy/ and ledger/ return errors). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "i18n.h"
#include "macro.h"
#include "policy.h"

/* Exit codes (docs/policyctl.md). */
#define EXIT_OK 0
#define EXIT_REFUSED 1                /* refused or failed: a bad signature, an invalid policy, I/O */
#define EXIT_USAGE 2                  /* the command line itself is wrong */

/* Errors and exit codes. Every function below a verb returns 0 (or a positive value) on
 * success and a negative errno on failure, as in policy/ and ledger/; a function that checks
 * the command line says so with usage_error() and returns -EINVAL, and its verb returns
 * EXIT_USAGE. A verb returns EXIT_OK, EXIT_USAGE, EXIT_REFUSED (a verdict it has printed), or a
 * negative errno it has logged, which main() turns into EXIT_REFUSED here, in one place. */
static inline int policyctl_exit_status(int r) {
        return r < 0 ? EXIT_REFUSED : r;
}

#define REQUEST_FILE_MAX (64u << 10)  /* docs/request.md: a request is at most 64 KiB */

/* Global options, set by main() before the verb runs. */
extern const char *arg_config_dir;    /* KYOKA_CONFIG_DIR (kyoka-names.h) */
extern const char *arg_state_dir;     /* KYOKA_STATE_DIR */
extern const char *arg_runtime_dir;   /* KYOKA_RUNTIME_DIR */

struct verb {
        const char *name;
        int (*run)(int argc, char *argv[]);  /* argv[0] is the verb's name; an exit code or -errno */
        const char *summary;
};

int verb_keygen(int argc, char *argv[]);
int verb_init(int argc, char *argv[]);
int verb_check(int argc, char *argv[]);
int verb_sign(int argc, char *argv[]);
int verb_verify(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_approve(int argc, char *argv[]);
int verb_revoke(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_watch(int argc, char *argv[]);
int verb_request(int argc, char *argv[]);
int verb_install(int argc, char *argv[]);
int verb_ledger(int argc, char *argv[]);
int verb_export(int argc, char *argv[]);
int verb_export_key(int argc, char *argv[]);
int verb_verify_export(int argc, char *argv[]);
int verb_collect(int argc, char *argv[]);

/* The ledger (verb-ledger.c): STATE_DIR/ledger.db, opened with LEDGER_OPEN_* FLAGS; logs, and
 * refuses to create a ledger that is not there (-ENOENT). */
struct ledger;
int ledger_db_path(char **ret);
int open_ledger(unsigned flags, struct ledger **ret);
/* The export key (verb-export-key.c): STATE_DIR/export.key/.pub, created first when CREATE and
 * absent. Logs. */
struct trusted_key;
int export_key_ensure(bool create, char **ret_private, struct trusted_key **ret_public, bool *ret_created);

/* kyokad's control socket (client.c; docs/control.md). control_connect logs its failures, except
 * -ENOENT and -ECONNREFUSED when QUIET_IF_ABSENT (kyokad not running: `install` goes on). */
struct json_object;
int control_connect(bool quiet_if_absent, int *ret_fd);
/* Sends {"cmd": CMD} (plus "device": DEVICE unless NULL). */
int control_send(int fd, const char *cmd, const char *device);
/* Receives one message (bounded); -ECONNRESET when kyokad closed the connection. Logs. */
int control_receive(int fd, struct json_object **ret);
/* Connects, sends, receives. A reply with "ok": false is logged ("policyctl: kyokad: ERROR")
 * and returns -EBADE, the reply still handed back in *RET. */
int control_call(const char *cmd, const char *device, struct json_object **ret);
/* As control_call, with "type": TYPE ("usb" or "network", for request) unless TYPE is NULL. */
int control_call_type(const char *cmd, const char *device, const char *type, struct json_object **ret);
/* The same with the wireless request's "ssid_hex" (NULL: none). */
int control_call_wireless(const char *cmd, const char *device, const char *type, const char *ssid_hex,
                          struct json_object **ret);
/* "1-2 0781:5581 SanDisk Ultra (serial 4C53…)" for a device object of `list` or of a reload's
 * changes, escaped. */
void print_device_name(struct json_object *d, FILE *f);
/* "vblk (ifindex 5) 02:00:00:00:00:0b (not permanent), kind veth" for a link object of `list`
 * or of a reload's link_changes, escaped. */
void print_link_name(struct json_object *l, FILE *f);
/* A string member of O, or NULL. */
const char *json_get_string(struct json_object *o, const char *key);

/* "policyctl: MESSAGE\n" on stderr. The _errno variant sets errno from R so "%m" works, and
 * returns R. */
void log_error(const char *fmt, ...) _printf_(1, 2);
int log_error_errno(int r, const char *fmt, ...) _printf_(2, 3);

/* "policyctl: out of memory"; returns -ENOMEM. */
int log_oom(void);

/* Reports a usage error for VERB ("policyctl: VERB: MESSAGE" and where to find help) and returns
 * EXIT_USAGE, for a verb's `return usage_error(...)`; a helper below a verb returns -EINVAL
 * after it. */
int usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);

/* The shared getopt error path: handles '?' and ':' from getopt_long (optstring starting with
 * ':'), returning EXIT_USAGE. */
int option_error(const char *verb, int c, char *argv[]);

/* Prints a diag's messages, one a line, on stderr (they already carry "FILE:LINE: "). */
void print_diag(const struct policy_diag *d);

/* The trusted keys of DIR (keyring_load_dir, verb-verify.c): each key left out is a warning on
 * stderr naming the file and why, and the load goes on with the others; failures are logged. */
struct keyring;
int load_keys_dir(const char *dir, struct keyring **ret);

/* Reads a policy file's bytes (bounded by POLICY_FILE_MAX), logging on failure. */
int read_policy_text(const char *path, char **ret, size_t *ret_size);

/* Replaces the policy file PATH with TEXT atomically, keeping the file's mode; then says what
 * is left to do (the old signature no longer matches). Logs on failure. */
int replace_policy_file(const char *path, const char *text, size_t len, bool rewritten);

/* The serial of the policy TEXT (already known to be valid), for messages; 0 if unknown. */
uint64_t policy_text_serial(const char *text, size_t len);

/* Today's local date, "YYYY-MM-DD". */
int today(char buf[static 16]);

/* True if S is valid UTF-8 without control characters (C0, DEL, C1): what a value given on the
 * command line must be before it goes into a policy. */
bool string_is_safe(const char *s);

/* Writes S to F with control characters and invalid UTF-8 shown as \xHH, so that a policy's
 * strings cannot drive the terminal. */
void fputs_safe(const char *s, FILE *f);
