/* SPDX-License-Identifier: MIT */
#include "json-util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int json_add_nullable(struct json_object *o, const char *key, struct json_object *v) {
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int json_add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        return json_add_nullable(o, key, v);
}

int json_add_string(struct json_object *o, const char *key, const char *s) {
        if (!s)
                return json_add_null(o, key);
        return json_add(o, key, json_object_new_string(s));
}

int json_add_string_bounded(struct json_object *o, const char *key, const char *s, size_t size) {
        size_t n = strnlen(s, size);

        if (n > INT_MAX)
                return -E2BIG;
        return json_add(o, key, json_object_new_string_len(s, (int) n));
}
