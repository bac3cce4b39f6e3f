/* SPDX-License-Identifier: MIT */
/* The names kyokad and policyctl agree on: the default directories and the files in them, the
 * control socket with its commands and bounds (docs/control.md), and the groups that may use
 * it. Both programs take them from here, so that neither can drift from the other; policyctl
 * includes nothing from daemon/. systemd/ (tmpfiles, sysusers), udev-rules/, tests/ and docs/
 * spell the same names: change them together. */
#pragma once

/* The directories: --config-dir, --state-dir, --runtime-dir of kyokad and policyctl. */
#define KYOKA_CONFIG_DIR "/etc/kyoka"
#define KYOKA_STATE_DIR "/var/lib/kyoka"
#define KYOKA_RUNTIME_DIR "/run/kyoka"

/* CONFIG_DIR: the installed policy, its signature, and the keys trusted to sign it. */
#define KYOKA_POLICY_FILE "policy.conf"
#define KYOKA_POLICY_SIG_FILE KYOKA_POLICY_FILE ".sig"
#define KYOKA_KEYS_DIR "keys.d"

/* STATE_DIR. */
#define KYOKA_POLICY_STATE_FILE "policy.state"        /* anti-rollback (policy/policy-rollback.h) */
#define KYOKA_POLICY_IMAGE_FILE "policy.image"        /* the compiled policy (policy/policy-image.h) */
#define KYOKA_ACCEPTED_LINK "accepted"                 /* the last accepted policy (daemon/policy-store.h) */
#define KYOKA_NET_ALLOWANCE_FILE "network-at-install"  /* links up before any policy (daemon/net-allowance.h) */
#define KYOKA_LEDGER_FILE "ledger.db"                  /* kyokad appends, policyctl reads (ledger/ledger.h) */
/* The workstation's own disks (daemon/media-fixed.h), read by kyokad and the udev helper. */
#define KYOKA_DISKS_AT_INSTALL_FILE "disks-at-install" /* present at kyokad's first start, written once */
#define KYOKA_FIXED_DISKS_FILE "fixed-disks"           /* the last accepted policy's fixed_disks */
/* The export key (policy_sign's key_generate(STEM) pair): STEM.key (0600), STEM.pub. */
#define KYOKA_EXPORT_KEY_STEM "export"
#define KYOKA_EXPORT_KEY_FILE KYOKA_EXPORT_KEY_STEM ".key"
#define KYOKA_EXPORT_PUB_FILE KYOKA_EXPORT_KEY_STEM ".pub"

/* RUNTIME_DIR. */
#define KYOKA_CONTROL_SOCKET "control"
#define KYOKA_BLOCK_ACCESS_DIR "usb"  /* an access file per authorised USB device (daemon/block-access.h) */
#define KYOKA_MEDIA_ACCESS_DIR "media" /* an access file per approved medium on another bus (block-access.h) */
/* The carry-out worker's socket (daemon/carry-protocol.h): kyokad listens, and accepts only the
 * user KYOKA_CARRY_USER, which kyoka-carry.service runs `kyokad --carry-worker` as. */
#define KYOKA_CARRY_SOCKET "carry"
#define KYOKA_CARRY_USER "kyoka-carry"
/* The scan service's socket (systemd/kyoka-scan.socket, root's alone): each connection starts
 * `kyokad --scan-worker --request-on-stdin` in kyoka-scan@.service for one scan; kyokad sends
 * the request (daemon/scan-protocol.h) and reads the worker's lines. Without it kyokad starts
 * the worker itself. */
#define KYOKA_SCAN_SOCKET "scan"

/* The control socket: readers are group KYOKA_GROUP_READ, admins root or KYOKA_GROUP_ADMIN. */
#define KYOKA_GROUP_READ "kyoka"
#define KYOKA_GROUP_ADMIN "kyoka-admin"

/* One JSON object per message: {"cmd": CMD} plus "device" (and "type") for request. */
#define KYOKA_CMD_STATUS "status"
#define KYOKA_CMD_LIST "list"
#define KYOKA_CMD_REQUEST "request"
#define KYOKA_CMD_RELOAD "reload"     /* admins only */
#define KYOKA_CMD_WATCH "watch"

/* A medium of `list` that is the workstation's own has "fixed": why. This one reason depends on
 * the policy alone (its fixed_disks), so `install --dry-run` decides such a disk again. */
#define KYOKA_FIXED_BY_POLICY "listed by the policy (fixed_disks)"

#define KYOKA_CONTROL_MESSAGE_MAX (64u << 10)  /* a client's message, bytes */
#define KYOKA_CONTROL_REPLY_MAX (1u << 20)     /* a message from kyokad, bytes */
#define KYOKA_CONTROL_DEVICE_MAX 256           /* "device" of a request, its NUL included */

/* Debian's clamav-daemon listens here (LocalSocket); kyokad --clamd-socket overrides it. */
#define KYOKA_CLAMD_SOCKET "/run/clamav/clamd.ctl"
