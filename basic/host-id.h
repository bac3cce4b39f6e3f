/* SPDX-License-Identifier: MIT */
/* Who this machine is: its host name, machine-id and boot id, read one way for everything that
 * asks (a policy's `workstation` check in kyokad and in `policyctl install`, the host fields of
 * every ledger record). */
#pragma once

#define HOST_NAME_SIZE 256            /* gethostname(2)'s bound, with the NUL */
#define HOST_ID_SIZE 33               /* 32 hex digits and the NUL */

struct host_id {
        char hostname[HOST_NAME_SIZE];  /* as the kernel has it; "" if unknown */
        char machine_id[HOST_ID_SIZE];  /* /etc/machine-id: 32 lowercase hex digits, or "" */
        char boot_id[HOST_ID_SIZE];     /* /proc/sys/kernel/random/boot_id without dashes, or "" */
};

/* Never fails: what cannot be read, or is not exactly 32 hex digits, is "" (so it can match
 * nothing). */
void host_id_read(struct host_id *ret);

/* The 32 hex digits of TEXT's first line (dashes ignored, as in a boot id) in lowercase into
 * RET, or "" when it holds anything else. */
void host_id_parse(const char *text, char ret[static HOST_ID_SIZE]);
