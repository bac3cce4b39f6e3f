/* SPDX-License-Identifier: MIT */
/* What kyoka-notify has said (notify-state.h). */
#include "notify-state.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

static const char *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static void item_forget(struct notify_item *it) {
        json_object_put(it->record);
        *it = (struct notify_item) {};
}

static struct notify_item *find(struct notify_state *s, enum notify_kind kind, const char *key) {
        for (size_t i = 0; i < NOTIFY_ITEMS_MAX; i++)
                if (s->items[i].used && s->items[i].kind == kind && streq(s->items[i].key, key))
                        return &s->items[i];
        return NULL;
}

/* A free item, else the one shown longest ago: its notification stays on screen, but a new
 * record of it will be told again. */
static struct notify_item *take(struct notify_state *s) {
        struct notify_item *oldest = &s->items[0];

        for (size_t i = 0; i < NOTIFY_ITEMS_MAX; i++) {
                if (!s->items[i].used)
                        return &s->items[i];
                if (s->items[i].shown_usec < oldest->shown_usec)
                        oldest = &s->items[i];
        }
        item_forget(oldest);
        return oldest;
}

enum notify_verdict notify_state_record(struct notify_state *s, struct json_object *record, uint64_t now,
                                        struct notify_item **ret_item) {
        const char *subject = get(record, "subject"), *event = get(record, "event"), *decision = get(record, "decision");
        char key[NOTIFY_KEY_MAX];
        enum notify_kind kind;
        struct json_object *v;

        if (!subject || !event)
                return NOTIFY_IGNORE;
        if (streq(subject, "usb")) {
                const char *bus_path = get(record, "bus_path");
                if (!bus_path || !bus_path[0] || strlen(bus_path) >= sizeof key)
                        return NOTIFY_IGNORE;
                kind = NOTIFY_USB;
                snprintf(key, sizeof key, "%s", bus_path);
        } else if (streq(subject, "network")) {
                if (!json_object_object_get_ex(record, "ifindex", &v) || !json_object_is_type(v, json_type_int))
                        return NOTIFY_IGNORE;
                kind = NOTIFY_LINK;
                snprintf(key, sizeof key, "%d", json_object_get_int(v));
        } else
                return NOTIFY_IGNORE;

        struct notify_item *it = find(s, kind, key);
        /* Gone or allowed now: the next block of it is news again. */
        if (streq(event, "removed") || !streq_ptr(decision, "block")) {
                if (it)
                        item_forget(it);
                return NOTIFY_IGNORE;
        }
        /* Enforcement failed: the admin's fault list says it; "blocked" may be untrue. */
        if (streq_ptr(get(record, "result"), "failed"))
                return NOTIFY_IGNORE;

        uint64_t count = 0;
        if (streq(event, "violation")) {
                count = 1;
                if (json_object_object_get_ex(record, "count", &v) && json_object_is_type(v, json_type_int) &&
                    json_object_get_int64(v) > 1)
                        count = (uint64_t) json_object_get_int64(v);
        }

        if (it) {
                if (count == 0)
                        return NOTIFY_IGNORE;         /* told once per plug */
                it->attempts = it->attempts > UINT64_MAX - count ? UINT64_MAX : it->attempts + count;
                json_object_put(it->record);
                it->record = json_object_get(record);
                *ret_item = it;
                return it->shown_usec == 0 || now - it->shown_usec >= NOTIFY_COALESCE_USEC ? NOTIFY_SHOW : NOTIFY_LATER;
        }

        it = take(s);
        *it = (struct notify_item) { .used = true, .kind = kind, .attempts = count, .record = json_object_get(record) };
        snprintf(it->key, sizeof it->key, "%s", key);
        *ret_item = it;
        return NOTIFY_SHOW;
}

void notify_state_shown(struct notify_item *item, uint32_t id, uint64_t now) {
        item->id = id;
        item->shown_attempts = item->attempts;
        item->shown_usec = now ?: 1;
}

struct notify_item *notify_state_find_id(struct notify_state *s, uint32_t id) {
        if (id == 0)
                return NULL;
        for (size_t i = 0; i < NOTIFY_ITEMS_MAX; i++)
                if (s->items[i].used && s->items[i].id == id)
                        return &s->items[i];
        return NULL;
}

struct notify_item *notify_state_next_due(struct notify_state *s, uint64_t now, uint64_t *ret_next) {
        uint64_t next = UINT64_MAX;
        struct notify_item *due = NULL;

        for (size_t i = 0; i < NOTIFY_ITEMS_MAX; i++) {
                struct notify_item *it = &s->items[i];
                if (!it->used || it->attempts == it->shown_attempts)
                        continue;
                uint64_t at = it->shown_usec + NOTIFY_COALESCE_USEC;
                if (at <= now && !due)
                        due = it;
                else if (at > now)
                        next = MIN(next, at);
        }
        if (ret_next)
                *ret_next = next;
        return due;
}

void notify_state_clear(struct notify_state *s) {
        for (size_t i = 0; i < NOTIFY_ITEMS_MAX; i++)
                if (s->items[i].used)
                        item_forget(&s->items[i]);
}

bool notify_expiry_soon(int64_t end, int64_t now, unsigned within_days, int64_t *ret_days) {
        if (end == INT64_MAX || end <= now)
                return false;
        int64_t days = (end - now - 1) / 86400;
        if (days >= (int64_t) within_days)
                return false;
        *ret_days = days;
        return true;
}
