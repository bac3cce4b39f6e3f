/* SPDX-License-Identifier: MIT */
/* Interface patterns ("08:06:50", "03:*:*"): their one parser, formatter and equality. */
#include "policy.h"

#include <errno.h>
#include <stdio.h>

#include "hexutil.h"

/* Two hex digits, or "*" when ret_any is not NULL, at S[*POS]; moves *POS past them. */
static int byte_or_any(const char *s, size_t len, size_t *pos, uint8_t *ret, bool *ret_any) {
        if (ret_any && *pos < len && s[*pos] == '*') {
                *ret_any = true;
                *pos += 1;
                return 0;
        }
        if (len - *pos < 2 || hex_parse_bytes(s + *pos, 2, 0, HEX_ANY_CASE, ret, 1) < 0)
                return -EINVAL;
        *pos += 2;
        return 0;
}

int policy_interface_pattern_parse(const char *s, size_t len, struct policy_interface_pattern *ret) {
        struct policy_interface_pattern p = {};
        size_t pos = 0;

        if (byte_or_any(s, len, &pos, &p.c.cls, NULL) < 0 || pos >= len || s[pos++] != ':' ||
            byte_or_any(s, len, &pos, &p.c.subclass, &p.any_subclass) < 0 || pos >= len || s[pos++] != ':' ||
            byte_or_any(s, len, &pos, &p.c.protocol, &p.any_protocol) < 0 || pos != len)
                return -EINVAL;
        *ret = p;
        return 0;
}

void policy_interface_pattern_format(const struct policy_interface_pattern *p,
                                     char buf[static POLICY_INTERFACE_PATTERN_MAX]) {
        char sub[3] = "*", proto[3] = "*";

        if (!p->any_subclass)
                snprintf(sub, sizeof sub, "%02x", p->c.subclass);
        if (!p->any_protocol)
                snprintf(proto, sizeof proto, "%02x", p->c.protocol);
        snprintf(buf, POLICY_INTERFACE_PATTERN_MAX, "%02x:%s:%s", p->c.cls, sub, proto);
}

bool policy_interface_pattern_equal(const struct policy_interface_pattern *a,
                                    const struct policy_interface_pattern *b) {
        return a->c.cls == b->c.cls && a->any_subclass == b->any_subclass && a->any_protocol == b->any_protocol &&
               (a->any_subclass || a->c.subclass == b->c.subclass) &&
               (a->any_protocol || a->c.protocol == b->c.protocol);
}
