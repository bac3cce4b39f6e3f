/* SPDX-License-Identifier: MIT */
/* Where a link event enters kyokad: an rtnetlink socket (libnl) subscribed to RTNLGRP_LINK on
 * the sd-event loop, and a dump of the links present (at start, and after the kernel dropped
 * events). Subscribe first, dump second: a link that appears in between is seen at least once. */
#pragma once

#include <systemd/sd-event.h>

#include "net-identity.h"

enum net_event {
        NET_EVENT_PRESENT,            /* found by a dump (start, after lost events) */
        NET_EVENT_NEW,                /* RTM_NEWLINK: appeared or changed (flags, name, address) */
        NET_EVENT_DEL,                /* RTM_DELLINK */
};

typedef void (*net_watch_handler_t)(const struct net_link_info *info, enum net_event ev, void *userdata);
/* The kernel dropped events (socket overrun): the owner must re-dump (net_watch_enumerate). */
typedef void (*net_watch_overrun_t)(void *userdata);

struct net_watch;

int net_watch_new(sd_event *e, net_watch_handler_t handler, net_watch_overrun_t overrun, void *userdata,
                  struct net_watch **ret);
/* Calls the handler with NET_EVENT_PRESENT for every link present now. */
int net_watch_enumerate(struct net_watch *w);
struct net_watch *net_watch_free(struct net_watch *w);
