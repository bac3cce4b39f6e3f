/* SPDX-License-Identifier: MIT */
/* Building JSON with json-c: adding members without leaking or half-adding on failure.
 *
 * Two things of json-c's make the hand-written form easy to get wrong. A failed
 * json_object_object_add() leaves the value to the caller, who must put it. And JSON null is a
 * NULL object (json_object_new_null() returns NULL), so a NULL value is either a null or an
 * allocation that failed: here json_add() takes NULL for a failed allocation, and a null is
 * asked for by name (json_add_null, json_add_nullable, json_add_string with NULL). */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "macro.h"

DEFINE_CLEANUP(json_object, json_object_put);

/* Adds KEY: V to O and takes V in every case: V NULL (its allocation failed) is -ENOMEM, and V is
 * put when the add fails (-ENOMEM). */
int json_add(struct json_object *o, const char *key, struct json_object *v);

/* As json_add(), but V NULL is a JSON null. */
int json_add_nullable(struct json_object *o, const char *key, struct json_object *v);

/* Adds KEY: null. */
static inline int json_add_null(struct json_object *o, const char *key) {
        return json_add_nullable(o, key, NULL);
}

/* Adds KEY: S as a string, or null when S is NULL. */
int json_add_string(struct json_object *o, const char *key, const char *s);

/* Adds KEY: S up to its first NUL or SIZE bytes, whichever comes first (a fixed-size field that
 * may fill its buffer without a NUL). */
int json_add_string_bounded(struct json_object *o, const char *key, const char *s, size_t size);
