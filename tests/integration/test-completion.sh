#!/usr/bin/env bash
# bash completion for policyctl (shell-completion/bash/policyctl) under bash-completion, as an
# interactive shell runs it: the verbs are exactly those of `policyctl help`, each verb's options
# exactly those of its --help, files and directories where a verb takes them, values of --lang
# and --format, and nothing (no error either) for `request` when kyokad cannot be asked. The
# names kyokad reports for `request` are checked against a real kyokad in test-control-net.sh.
# Usage: test-completion.sh BUILD
set -u
build=$(realpath "${1:?usage: test-completion.sh BUILD}")
top=$(cd "$(dirname "$0")/../.." && pwd)
P=$build/policyctl
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "not ok - $bc missing (make deps: bash-completion)"; echo "completion: 0 passed, 1 failed"; exit 1; }
[ -x "$P" ] || { echo "not ok - $P missing (make)"; echo "completion: 0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
mkdir -p exports/2026-W47 keys.d && touch policy.conf other.conf approver.key approver.pub stick.json notes.txt

# complete LINE: the words bash would offer at the end of LINE, sorted, one a line; stderr of the
# completion function in $tmp/err. LINE's first word is policyctl (the built one).
complete_line() {
	bash --norc --noprofile -c '
		. "$1" && . "$2" || exit 9
		line=$4${3#policyctl}
		COMP_LINE=$line COMP_POINT=${#line}
		read -ra COMP_WORDS <<<"$line"
		[[ $line == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_policyctl policyctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$bc" "$top/shell-completion/bash/policyctl" "$1" "$P" \
		2>"$tmp/err" | sed 's|/$||' | LC_ALL=C sort -u
}
# expect NAME LINE WORD...: exactly these words are offered.
expect() {
	local name=$1 line=$2; shift 2
	local got want
	got=$(complete_line "$line" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | LC_ALL=C sort -u | tr '\n' ' ')
	if [ "$got" = "$want" ] && [ ! -s "$tmp/err" ]; then ok "$name"
	else not_ok "$name" "'$line<TAB>' offers [${got% }], expected [${want% }]$( [ -s "$tmp/err" ] && echo "; stderr: $(head -c 300 "$tmp/err")")"; fi
}

# The verbs: those `policyctl help` lists, no more, no fewer.
mapfile -t verbs < <("$P" help | sed -n '/^Verbs:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ "${#verbs[@]}" -ge 18 ] && ok "policyctl help lists ${#verbs[@]} verbs" || not_ok "policyctl help lists the verbs" "${verbs[*]}"
expect "policyctl <TAB>: every verb of policyctl help" "policyctl " "${verbs[@]}"
expect "policyctl ap<TAB>: approve" "policyctl ap" approve
expect "policyctl help <TAB>: the verbs" "policyctl help " "${verbs[@]}"
expect "policyctl --<TAB>: the global options" "policyctl --" --config-dir --state-dir --runtime-dir --help --version
expect "policyctl --config-dir <TAB>: directories" "policyctl --config-dir " exports keys.d
expect "policyctl --state-dir /x list --<TAB>: list's options after global ones" "policyctl --state-dir /x list --" \
	--blocked --json --help

# Each verb's options: exactly those of its --help (the help is the reference; ledger's sub-verbs
# and the value words are checked below).
for verb in "${verbs[@]}"; do
	case $verb in help | ledger) continue ;; esac
	# The option lines of the help ("  --out PREFIX   ...", "  -h --help ..."), not its prose.
	mapfile -t opts < <("$P" "$verb" --help | sed -n -E 's/^ +(-[a-z] )?(--[a-z][a-z-]*).*/\2/p' | grep -v -x -- '--help' | sort -u)
	expect "policyctl $verb --<TAB>: the options of '$verb --help' (${#opts[@]})" "policyctl $verb --" --help "${opts[@]}"
done
expect "policyctl ledger <TAB>: verify show prune" "policyctl ledger " verify show prune
expect "policyctl ledger show --<TAB>" "policyctl ledger show --" --since --until --json --help
expect "policyctl ledger prune --<TAB>" "policyctl ledger prune --" --keep-days --help

# Files and values.
expect "policyctl approve <TAB>: policy files (*.conf) and directories" "policyctl approve " \
	policy.conf other.conf exports keys.d
expect "policyctl check p<TAB>" "policyctl check p" policy.conf
expect "policyctl approve policy.conf --request <TAB>: requests (*.json)" "policyctl approve policy.conf --request " \
	stick.json exports keys.d
expect "policyctl sign --key <TAB>: keys" "policyctl sign --key " approver.key approver.pub exports keys.d
expect "policyctl verify --keys <TAB>: directories" "policyctl verify --keys " exports keys.d
expect "policyctl export --out <TAB>: directories" "policyctl export --out " exports keys.d
expect "policyctl export --lang <TAB>" "policyctl export --lang " ja en
expect "policyctl verify-export e<TAB>: a folder" "policyctl verify-export e" exports
expect "policyctl export --format <TAB>" "policyctl export --format " csv json html pdf csv,json,html,pdf
expect "policyctl collect --keys <TAB>: directories" "policyctl collect --keys " exports keys.d
expect "policyctl collect --keys keys.d --out o e<TAB>: a folder" "policyctl collect --keys keys.d --out o e" exports
expect "policyctl approve policy.conf --permit <TAB>: free text, nothing offered" "policyctl approve policy.conf --permit "

# request without a kyokad to ask: nothing offered, nothing printed.
expect "policyctl --runtime-dir $tmp/none request <TAB>: no kyokad, nothing offered and no error" \
	"policyctl --runtime-dir $tmp/none request "
expect "policyctl request --<TAB>" "policyctl request --" --usb --network --media --wireless --ssid --ssid-hex --out --help

# zsh: the file parses (its behaviour is not driven here: that needs zsh's zpty).
if command -v zsh >/dev/null; then
	zsh -n "$top/shell-completion/zsh/_policyctl" && ok "zsh completion parses (zsh -n)" || not_ok "zsh completion parses"
else
	not_ok "zsh completion parses" "zsh missing (make deps)"
fi

echo "completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
