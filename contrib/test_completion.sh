#!/bin/bash
# test_completion.sh - the bash completion proposes what it should.
#
# The completion file is sourced and its function called the way bash
# calls it, with COMP_WORDS split at "=" as bash's default
# COMP_WORDBREAKS does; COMPREPLY is compared with the expected words.
# The configured hosts come from the real "vkdr mirror list -o json" in a
# temporary VKDR_HOME when vkdr is built, else from a stand-in function
# printing the same JSON shape.

set -u
srcdir=${srcdir:-.}
VKDR=${VKDR_BIN:-../core/vkdr}
work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-completion-XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
export VKDR_HOME="$work/home"
status=0

# shellcheck source=vkdr.bash-completion
. "$srcdir/vkdr.bash-completion" || exit 99
complete -p vkdr | grep -q -- '-F _vkdr' ||
	{ echo "FAIL: _vkdr is not registered for vkdr"; exit 1; }

# expect WORDS EXPECTED: complete the last of WORDS (split on blanks; a
# trailing blank completes an empty word) and compare COMPREPLY.
expect()
{
	local line=$1 want=$2 got

	read -ra COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_vkdr
	got=${COMPREPLY[*]}
	if [[ $got != "$want" ]]; then
		echo "FAIL: '$line': got '$got', want '$want'"
		status=1
	fi
}

# The real vkdr when it is built, with two mirrors configured.
if "$VKDR" mirror add --host=docker.io >/dev/null 2>&1 &&
	"$VKDR" mirror add --host='*.azurecr.io' >/dev/null 2>&1; then
	cmd=$VKDR
else
	echo "note: vkdr is not built; hosts from a stand-in"
	vkdr()
	{
		printf '[\n  {\n    "host": "docker.io",\n    "port": 6000\n'
		printf '  },\n  {\n    "host": "*.azurecr.io",\n'
		printf '    "port": 6001\n  }\n]\n'
	}
	cmd=vkdr
fi
expect "$cmd mirror re" "remove"
expect "$cmd " "mirror infra"
expect "$cmd i" "infra"
expect "$cmd infra s" "start stop"
expect "$cmd --verbose mirror st" "status"
expect "$cmd mirror status -o " "table json"
expect "$cmd mirror list --output = y" "yaml"
expect "$cmd mirror export --format = d" "docker"
expect "$cmd mirror serve --st" "--storage= --storage-opt --stall-timeout="
expect "$cmd mirror serve --storage = t" "tmpfs"
expect "$cmd mirror remove --h" "--host= --help"
expect "$cmd infra stop " "--cluster= --help"

# Without a vkdr to ask, the built-in groups and commands.
expect "/nonexistent/vkdr mirror re" "remove"
expect "/nonexistent/vkdr " "mirror infra"

expect "$cmd mirror remove --host = " 'docker.io \*.azurecr.io'
expect "$cmd mirror remove --host = d" "docker.io"
expect "$cmd mirror remove --host " 'docker.io \*.azurecr.io'
expect "$cmd mirror remove --host = q" ""

[ $status = 0 ] && echo "PASS: bash completion"
exit $status
