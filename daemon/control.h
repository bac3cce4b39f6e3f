/* SPDX-License-Identifier: MIT */
/* The control socket RUNTIME_DIR/control (docs/control.md): AF_UNIX SOCK_SEQPACKET, one JSON
 * object per message, for `policyctl status|list|request|watch|install`. Readers are group
 * `kyoka`, admins root or group `kyoka-admin`, checked from the peer's credentials. Nothing a
 * client sends changes a decision: the most it can do is make kyokad read the signed policy
 * again. */
#pragma once

#include <systemd/sd-event.h>

#include "manager.h"

#define CONTROL_SOCKET_NAME "control"
#define CONTROL_CLIENTS_MAX 64
#define CONTROL_GROUP_READ "kyoka"
#define CONTROL_GROUP_ADMIN "kyoka-admin"

struct control;

/* Creates RUNTIME_DIR (0755) if missing, replaces a stale socket, listens, and becomes the
 * listener of every record (record.h) for the watchers. */
int control_new(struct manager *m, sd_event *event, const char *runtime_dir, struct control **ret);
struct control *control_free(struct control *c);
