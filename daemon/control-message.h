/* SPDX-License-Identifier: MIT */
/* The control socket's messages (docs/control.md), apart from the socket: parsing a client's
 * command, deciding what a peer may do, and building the replies from plain data. No sockets
 * and no manager state here, so that all of it can be unit tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "manager.h"
#include "net-links.h"

#define CONTROL_MESSAGE_MAX (64u << 10)  /* a client's message, bytes */
#define CONTROL_REPLY_MAX (1u << 20)     /* a message from kyokad, bytes */
#define CONTROL_DEVICE_ARG_MAX 256       /* "device" of a request: a bus path, a serial, a link's name or ifindex */

struct json_object;

enum control_cmd {
        CONTROL_STATUS,
        CONTROL_LIST,
        CONTROL_REQUEST,
        CONTROL_RELOAD,
        CONTROL_WATCH,
};

enum control_access {
        ACCESS_NONE = 0,
        ACCESS_READ,                  /* group kyoka: status, list, request, watch */
        ACCESS_ADMIN,                 /* root or group kyoka-admin: also reload */
};

/* What a request may name: "type" absent means either. */
enum control_subject {
        SUBJECT_ANY,
        SUBJECT_USB,
        SUBJECT_NETWORK,
};

struct control_command {
        enum control_cmd cmd;
        char device[CONTROL_DEVICE_ARG_MAX];
        enum control_subject subject;   /* request only */
};

/* Parses one message (LEN bytes, not NUL-terminated). Returns 0; -EBADMSG if it is not one JSON
 * object with a string "cmd" (the client is then dropped); -EOPNOTSUPP for an unknown command;
 * -EINVAL for a missing or malformed argument. *RET_ERROR (always set on failure) is a static
 * message for the error reply. */
int control_command_parse(const char *buf, size_t len, struct control_command *ret, const char **ret_error);

const char *control_cmd_to_string(enum control_cmd cmd);
enum control_access control_cmd_access(enum control_cmd cmd);

/* What a peer may do, from its credentials: uid 0 or a member (primary or supplementary group)
 * of ADMIN_GID is an admin, a member of READ_GID may read, anybody else nothing. A GID of
 * (gid_t) -1 means that group does not exist on this host. */
enum control_access control_peer_access(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                                        gid_t read_gid, gid_t admin_gid);

/* {"ok":false,"error":MESSAGE}, or NULL on OOM. */
struct json_object *control_error_new(const char *message);
/* {"ok":true}, or NULL on OOM. */
struct json_object *control_ok_new(void);

/* Serialises a message; -EMSGSIZE beyond CONTROL_REPLY_MAX. The string belongs to O. */
int control_message_serialize(struct json_object *o, const char **ret, size_t *ret_len);

/* A present device as `list` shows it ("type": "usb"). NULL on OOM. */
struct json_object *control_device_to_json(const struct manager_device_info *d);

/* Whether ARG names D: its kernel name ("1-2.1") or, for a device that reports one, its serial. */
bool control_device_matches(const struct manager_device_info *d, const char *arg);

/* A network link as `list` shows it ("type": "network": identity, decision, violations). NULL
 * on OOM. */
struct json_object *control_link_to_json(const struct net_link_status *s);

/* Whether ARG names the link ID: its current name, or its ifindex in decimal ("7"). */
bool control_link_matches(const struct net_identity *id, const char *arg);

/* The policy in force (or the lockdown) as `status` shows it. NULL on OOM. */
struct json_object *control_policy_to_json(const struct manager_policy_info *info);

/* What a reload changed: BEFORE and AFTER are `list` arrays; returns an array with one entry per
 * device of AFTER: its identity fields, "before" (null for a device not in BEFORE), "after",
 * "changed", "reason" and "permit". NULL on OOM. */
struct json_object *control_devices_diff(struct json_object *before, struct json_object *after);

/* The same for links (arrays of control_link_to_json objects), matched on "ifindex" (a renamed
 * link is the same link): "ifindex", "name", "mac", "mac_permanent", "kind", "path", "driver",
 * "reason", "permit", "before", "after", "changed". NULL on OOM. */
struct json_object *control_links_diff(struct json_object *before, struct json_object *after);
