/* SPDX-License-Identifier: MIT */
/* policyctl init: a commented skeleton policy on stdout, the starting point for a city's
 * approver. Comments are in Japanese and English because the file is read by both the city's
 * staff and the contractor's administrators. Without --issuer/--contract those fields are left
 * empty, which `check` refuses: a policy must say who permits and under which contract. The
 * contractor and its responsible person are optional (the weekly report names them). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "policy-edit.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl init [--issuer S] [--contract S] [--contractor S] [--responsible S]\n"
               "                      > policy.conf\n"
               "\n"
               "Print a commented skeleton policy (serial 1, issued today, safe defaults, no\n"
               "permits yet). Fill in what the options did not give, then add permits with\n"
               "'policyctl approve'.\n"
               "\n"
               "Options:\n"
               "  --issuer S        who issues the permission (the city's department)\n"
               "  --contract S      the contract the permission belongs to\n"
               "  --contractor S    the contractor (受注者) the weekly report is from\n"
               "  --responsible S   the contractor's responsible person (情報管理責任者)\n"
               "  -h --help         show this help\n"));
}

int verb_init(int argc, char *argv[]) {
        static const struct option options[] = {
                { "issuer", required_argument, NULL, 'i' },
                { "contract", required_argument, NULL, 'c' },
                { "contractor", required_argument, NULL, 'o' },
                { "responsible", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *issuer = NULL, *contract = NULL, *contractor = NULL, *responsible = NULL;
        const char *arg_issuer = "", *arg_contract = "", *arg_contractor = "", *arg_responsible = "";
        char date[16];
        int c;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'i':
                        arg_issuer = optarg;
                        break;
                case 'c':
                        arg_contract = optarg;
                        break;
                case 'o':
                        arg_contractor = optarg;
                        break;
                case 'r':
                        arg_responsible = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("init", c, argv);
                }
        if (optind < argc)
                return usage_error("init", _("unexpected argument '%s'"), argv[optind]);
        const struct { const char *option, *value; } args[] = {
                { "--issuer", arg_issuer }, { "--contract", arg_contract }, { "--contractor", arg_contractor },
                { "--responsible", arg_responsible },
        };
        for (size_t i = 0; i < ELEMENTSOF(args); i++)
                if (!string_is_safe(args[i].value) || strlen(args[i].value) > POLICY_STRING_MAX)
                        return usage_error("init", _("%s must be UTF-8 text without control characters, at most %u bytes"),
                                           args[i].option, POLICY_STRING_MAX);

        issuer = policy_quote_string(arg_issuer);
        contract = policy_quote_string(arg_contract);
        contractor = policy_quote_string(arg_contractor);
        responsible = policy_quote_string(arg_responsible);
        if (!issuer || !contract || !contractor || !responsible || today(date) < 0) {
                return log_oom();
        }

        printf("# kyoka 機器接続許可ポリシー / kyoka device policy (docs/policy.md, kyoka-policy(5))\n"
               "#\n"
               "# このファイルは、発注者による「事前の書面による許可」を機械で読める形にしたものです。\n"
               "# 承認者の鍵で署名したものだけが端末で有効になります。\n"
               "# This file is the city's prior written permission in machine form. A workstation\n"
               "# enforces it only when it is signed with the approver's key:\n"
               "#     policyctl check policy.conf\n"
               "#     policyctl sign --key approver.key policy.conf\n"
               "\n"
               "kyoka_policy = 1;\n"
               "\n"
               "# 通し番号: 変更のたびに1つ上げます (approve / revoke は自動で上げます)。\n"
               "# 端末は、最後に受け入れた番号以下のポリシーを拒否します。\n"
               "# Serial number: raise it with every change (approve and revoke do). A workstation\n"
               "# refuses a policy whose serial is not greater than the last one it accepted.\n"
               "serial = 1;\n"
               "issued = \"%s\";             # 発行日 / date of issue\n"
               "\n"
               "# 発行者 (市の担当部署) / issuer: the city's department that grants the permission\n"
               "issuer = %s;%s\n"
               "# 契約名・契約番号 / the contract this permission belongs to\n"
               "contract = %s;%s\n"
               "# 受注者 / the contractor (週次報告書に記載 / named in the weekly report)\n"
               "contractor = %s;%s\n"
               "# 情報管理責任者 (職・氏名) / the contractor's responsible person (title and name)\n"
               "responsible = %s;%s\n"
               "\n"
               "# 特定の端末に限る場合 (ホスト名または machine-id)\n"
               "# To bind the policy to one workstation (hostname or machine-id):\n"
               "# workstation = \"kyoka-pc-01\";\n"
               "# ポリシー全体の有効期限 (その日の終わりまで) / the whole policy ends after this day:\n"
               "# valid_until = \"2027-03-31\";\n"
               "\n"
               "# 許可のない機器の扱い / what happens to what no entry approves\n"
               "defaults = {\n"
               "    usb_hid = \"allow\";     # キーボード・マウスのみの機器 / keyboards and mice only\n"
               "    usb_hub = \"allow\";     # USBハブ / hubs\n"
               "    usb_other = \"block\";   # その他 (USBメモリ、スマートフォン等) / storage, phones, ...\n"
               "    network = \"block\";     # ネットワークインターフェース / network interfaces\n"
               "    wireless = \"block\";    # 無線LAN (承認のないネットワーク、アクセスポイント等) / Wi-Fi networks, hotspots\n"
               "};\n"
               "\n"
               "# 許可されたUSB機器。'policyctl approve' で申請 (request) から追加します。\n"
               "# Approved USB devices; add them from a request with 'policyctl approve'. An entry:\n"
               "#   {\n"
               "#       permit = \"許可-2026-017\";        # 許可番号 / the written permission's reference\n"
               "#       vendor = \"0781\";\n"
               "#       product = \"5581\";\n"
               "#       serial = \"4C530001230101115423\";\n"
               "#       interfaces = [ \"08:06:50\" ];     # 承認したインターフェース / approved interfaces\n"
               "#       access = \"read-only\";            # \"read-only\" または \"read-write\"\n"
               "#       label = \"SanDisk Ultra\";\n"
               "#       purpose = \"納品データの受け渡し\";\n"
               "#       holder = \"山田 太郎\";             # 貸与先 / the worker it is issued to\n"
               "#       approved_by = \"情報政策課 佐藤\";\n"
               "#       approved_on = \"2026-11-20\";\n"
               "#       valid_until = \"2027-03-31\";      # その日の終わりまで / through that day\n"
               "#   }\n"
               "usb = (\n"
               ");\n"
               "\n"
               "# 許可されたネットワークインターフェース (mac, path, kind, name のいずれかで識別)\n"
               "# Approved network interfaces, identified by mac, path, kind and/or name.\n"
               "network = (\n"
               ");\n"
               "\n"
               "# 接続を許可された無線LAN。承認された無線LANカードは、ここにあるネットワークにのみ接続できます。\n"
               "# Wi-Fi networks an approved card may join ('policyctl approve --ssid'). An entry:\n"
               "#   {\n"
               "#       permit = \"許可-2026-031\";\n"
               "#       ssid = \"city-net\";                       # または ssid_hex / or ssid_hex\n"
               "#       bssid = [ \"02:00:00:00:01:00\" ];        # アクセスポイント (省略可) / access points\n"
               "#       security = \"wpa2-psk\";                  # 最低限の暗号化 / the least accepted\n"
               "#       approved_by = \"情報政策課 佐藤\";\n"
               "#       approved_on = \"2026-11-20\";\n"
               "#   }\n"
               "wireless = (\n"
               ");\n",
               date, issuer, arg_issuer[0] ? "" : "      # 記入してください / fill in", contract,
               arg_contract[0] ? "" : "    # 記入してください / fill in", contractor,
               arg_contractor[0] ? "" : "  # 記入してください / fill in", responsible,
               arg_responsible[0] ? "" : " # 記入してください / fill in");
        return EXIT_OK;
}
