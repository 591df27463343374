#!/bin/sh
# test_zsh_completion.sh - the zsh completion proposes what it should.
#
# An interactive zsh runs in a pseudo-terminal (zsh/zpty) with _vkdr in
# fpath and compinit loaded; the test types a command line and TAB, then
# a command printing a marker, and reads the terminal up to the marker.
# What was typed never contains the expected words, so finding them in
# what the terminal shows means the completion produced them. A read
# waits for its marker without a time limit of its own; the outer
# "timeout" turns a hang into a failure, never a pass.
#
# Skips (exit 77) without zsh or without the built vkdr.

set -u
srcdir=${srcdir:-.}
VKDR=${VKDR_BIN:-../core/vkdr}

command -v zsh >/dev/null 2>&1 ||
	{ echo "SKIP: zsh is not installed"; exit 77; }
[ -x "$VKDR" ] || { echo "SKIP: $VKDR is not built"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-zsh-XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
export VKDR_HOME="$work/home"
mkdir -p "$work/bin"
ln -s "$(cd "$(dirname "$VKDR")" && pwd)/$(basename "$VKDR")" "$work/bin/vkdr"
"$VKDR" mirror add --host=docker.io >/dev/null 2>&1 &&
	"$VKDR" mirror add --host='*.azurecr.io' >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror add does not work"; exit 77; }
srcdir_abs=$(cd "$srcdir" && pwd)

cat >"$work/drive.zsh" <<'SCRIPT'
zmodload zsh/zpty || exit 99
integer n=0 failed=0
zpty z zsh -f -i
zpty -w z "PS1='> '; PROMPT_EOL_MARK=''; unsetopt beep"
zpty -w z "fpath=($FPATH_DIR \$fpath); path=($BIN_DIR \$path)"
zpty -w z "autoload -U compinit && compinit -u -D"

# expect KEYS WORD...: type KEYS, read the screen, look for each WORD.
expect()
{
	local keys=$1 screen word
	shift
	(( n++ ))
	zpty -w -n z "$keys"
	zpty -w -n z $'\C-a\C-k'
	zpty -w z "print DONE\$(( $n * 1 ))"
	zpty -r z screen "*DONE$n*" || { print "FAIL: no marker $n"; exit 1; }
	for word in "$@"; do
		if [[ $screen != *$word* ]]; then
			print -r -- "FAIL: ${(q)keys}: no '$word' in:"
			print -r -- "${screen//$'\e'/^[}"
			failed=1
		fi
	done
}

expect $'vkdr mirror re\t' remove
expect $'vkdr mirror remove --host=\t\t' docker.io azurecr.io
expect $'vkdr mirror status -o \t\t' json table
expect $'vkdr infra \t\t' start stop up
expect $'vkdr mirror export --format=\t\t' containerd registries-conf
zpty -d z
(( failed )) && exit 1
print "PASS: zsh completion"
SCRIPT

FPATH_DIR=$srcdir_abs BIN_DIR=$work/bin timeout 60 zsh -f "$work/drive.zsh"
