/* SPDX-License-Identifier: MIT */
/* A fixed week of ledger records (2026-W47 in Asia/Tokyo, with one record on each side of it)
 * for the export tests and their golden files in tests/data/export/. Device strings include
 * what an attacker would put in a USB descriptor: a spreadsheet formula, control characters,
 * invalid UTF-8, a bidi override, quotes and commas. Records are filled in without
 * ledger_record_init(), as a careless caller would: count 0 is appended as 1. */
#pragma once

#include <string.h>

#include "ledger.h"

#define FIXTURE_HOST "ws-test01"
#define FIXTURE_MACHINE "0123456789abcdef0123456789abcdef"
#define FIXTURE_BOOT "fedcba9876543210fedcba9876543210"
#define FIXTURE_SIGNER "approver.pub 3f2a9c0d51e8b7a4"

/* The signed policy the fixture's week ran under (its signature is not the export's business):
 * the report's header and the approvers of its permits. */
#define FIXTURE_POLICY                                                                          \
        "kyoka_policy = 1;\nserial = 42;\nissued = \"2026-11-16\";\n"                            \
        "issuer = \"木更津市 総務部 情報政策課\";\ncontract = \"令和8年度 契約第123号\";\n"          \
        "contractor = \"株式会社かずさ情報\";\nresponsible = \"情報管理責任者 鈴木 一郎\";\n"        \
        "usb = ( { permit = \"KIS-2026-0142\"; vendor = \"0781\"; product = \"5581\";\n"           \
        "  serial = \"4C530001231120115142\"; purpose = \"納品データの受け渡し\"; holder = \"田中\";\n" \
        "  approved_by = \"情報政策課 山田\"; approved_on = \"2026-11-13\"; },\n"                   \
        " { permit = \"KIS-2026-0150\"; vendor = \"0411\"; product = \"01f8\"; serial = \"-1234\";\n" \
        "  access = \"read-only\"; purpose = \"=HYPERLINK(\\\"x\\\")\";\n"                          \
        "  approved_by = \"情報政策課 山田\"; approved_on = \"2026-11-13\"; } );\n"

/* 2026-11-16T00:00:00+09:00, Monday of 2026-W47. */
#define FIXTURE_MONDAY 1794754800LL

static inline struct ledger_record fixture_record(int64_t t, enum ledger_subject s, enum ledger_event e) {
        struct ledger_record r = {
                .time = t, .time_nsec = 123456789, .utc_offset = 9 * 3600,
                .subject = s, .event = e, .uid = -1,
        };
        strcpy(r.hostname, FIXTURE_HOST);
        strcpy(r.machine_id, FIXTURE_MACHINE);
        strcpy(r.boot_id, FIXTURE_BOOT);
        return r;
}

static inline void fixture_user(struct ledger_record *r, int64_t uid, const char *name) {
        r->uid = uid;
        strcpy(r->user, name);
}

static inline void fixture_usb(struct ledger_record *r, const char *vendor, const char *product, const char *manufacturer,
                               const char *name, const char *serial, const char *interfaces) {
        strcpy(r->vendor, vendor);
        strcpy(r->product, product);
        strcpy(r->manufacturer, manufacturer);
        strcpy(r->product_name, name);
        strcpy(r->serial, serial);
        strcpy(r->interfaces, interfaces);
        strcpy(r->bus_path, "1-2");
}

/* Appends the fixture's records to L (and commits). Returns the number appended. */
static inline int fixture_fill(struct ledger *l) {
        const int64_t M = FIXTURE_MONDAY, D = 86400, H = 3600;
        struct ledger_record rs[20];
        size_t n = 0;

        rs[n] = fixture_record(M - 3 * D + 17 * H, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_LOADED);
        rs[n].policy_serial = 41;
        strcpy(rs[n].signer, FIXTURE_SIGNER);
        strcpy(rs[n++].message, "policy serial 41 took effect");

        rs[n++] = fixture_record(M + 8 * H + 55 * 60, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);

        rs[n] = fixture_record(M + 8 * H + 55 * 60 + 1, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_LOADED);
        rs[n].policy_serial = 42;
        strcpy(rs[n].signer, FIXTURE_SIGNER);
        strcpy(rs[n++].message, "policy serial 42 took effect: 2 permits added");

        rs[n] = fixture_record(M + 9 * H + 15 * 60 + 2, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&rs[n], "0781", "5581", "SanDisk", "Ultra", "4C530001231120115142", "08:06:50");
        rs[n].decision = LEDGER_DECISION_ALLOW;
        strcpy(rs[n].permit, "KIS-2026-0142");
        strcpy(rs[n].reason, "permit KIS-2026-0142");
        fixture_user(&rs[n++], 1000, "tanaka");

        rs[n] = rs[n - 1];
        rs[n].time = M + 11 * H + 40 * 60 + 10;
        rs[n++].event = LEDGER_EVENT_REMOVED;

        /* The attacker's stick: every field a spreadsheet or a terminal could trip over. */
        rs[n] = fixture_record(M + D + 10 * H + 2 * 60 + 33, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&rs[n], "1234", "5678", "=cmd|' /C calc'!A0", "Evil\x1b[2J\r\nStick \xe2\x80\xae" "fdp.exe",
                    "+SUM(1)\xff\xfe", "08:06:50,03:01:01");
        rs[n].decision = LEDGER_DECISION_BLOCK;
        strcpy(rs[n].reason, "default: block (no permit)");
        fixture_user(&rs[n++], 1000, "tanaka");

        rs[n] = fixture_record(M + D + 10 * H + 2 * 60 + 40, LEDGER_SUBJECT_NETWORK, LEDGER_EVENT_APPEARED);
        strcpy(rs[n].ifname, "enx001122334455");
        strcpy(rs[n].mac, "00:11:22:33:44:55");
        strcpy(rs[n].driver, "r8152");
        strcpy(rs[n].link_path, "pci-0000:00:14.0-usb-0:2:1.0");
        rs[n].decision = LEDGER_DECISION_BLOCK;
        strcpy(rs[n].reason, "default: block");
        fixture_user(&rs[n++], 1000, "tanaka");

        /* The link set up again and again after it was blocked: one record for the burst. */
        rs[n] = rs[n - 1];
        rs[n].time += 1;
        rs[n].count = 2999;
        rs[n++].event = LEDGER_EVENT_VIOLATION;

        rs[n] = fixture_record(M + 2 * D + 13 * H + 30 * 60, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&rs[n], "0411", "01f8", "バッファロー", "RUF3-K32GA", "-1234,\"quoted\"", "08:06:50");
        rs[n].decision = LEDGER_DECISION_READ_ONLY;
        strcpy(rs[n].permit, "KIS-2026-0150");
        strcpy(rs[n].reason, "permit KIS-2026-0150 (read-only)");
        fixture_user(&rs[n++], 1001, "佐藤");

        rs[n] = fixture_record(M + 2 * D + 13 * H + 30 * 60 + 1, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED);
        strcpy(rs[n].bus_path, "2-1");
        rs[n].outcome = LEDGER_OUTCOME_FAILED;
        rs[n].error_number = 5;
        strcpy(rs[n++].message, "cannot write authorized for 2-1: the device stays unauthorised");

        rs[n] = fixture_record(M + 3 * D + 2 * H, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_CLOCK_JUMP);
        strcpy(rs[n++].message, "the clock was stepped forward by 3600 s");

        rs[n] = fixture_record(M + 4 * D + 9 * H, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_PERMIT_EXPIRED);
        strcpy(rs[n].permit, "KIS-2026-0142");
        strcpy(rs[n++].message, "permit KIS-2026-0142 expired");

        rs[n] = fixture_record(M + 4 * D + 9 * H + 5 * 60, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_REFUSED);
        rs[n].policy_serial = 43;
        rs[n].outcome = LEDGER_OUTCOME_FAILED;
        rs[n].error_number = 74;
        strcpy(rs[n++].message, "policy.conf: the signature matches no trusted key; serial 42 stays in force");

        rs[n] = fixture_record(M + 5 * D + 18 * H, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_DELAYED);
        rs[n].outcome = LEDGER_OUTCOME_FAILED;
        rs[n].error_number = 28;
        strcpy(rs[n++].message, "12 records waited in memory from 2026-11-21T08:10:00Z to 2026-11-21T09:00:00Z");

        rs[n++] = fixture_record(M + 6 * D + 23 * H + 59 * 60 + 59, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STOPPED);

        /* Monday of the next week: not in 2026-W47. */
        rs[n++] = fixture_record(M + 7 * D, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);

        for (size_t i = 0; i < n; i++)
                if (ledger_append(l, &rs[i]) < 0)
                        return -1;
        if (ledger_commit(l, NULL) != (int) n)
                return -1;
        return (int) n;
}
