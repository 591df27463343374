#!/bin/sh
# loader.sh - modules built OUT of the tree, from the public header alone,
# are found through $VKDR_PLUGIN_PATH; one built for another ABI and a file
# that is not a module are listed as skipped with their reasons.
set -u

: "${VKDR:=../../core/vkdr}"
: "${VKDR_INCLUDE:=../../core/include}"
: "${CC:=cc}"
work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-loader-XXXXXX")
trap 'rm -rf "$work"' EXIT
VKDR_HOME="$work/home"
export VKDR_HOME
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

mkdir -p "$work/plugins"
cat > "$work/hello.c" <<'EOC'
#include <stdio.h>
#include <vkdr/module.h>

static int hello_run(const struct vkdr_host *host, int argc, char **argv)
{
	printf("hello from outside, home %s\n", host->home());
	return 0;
}

static const struct vkdr_command commands[] = {
	{
		.group = "hello",
		.verb = "world",
		.summary = "say hello",
		.usage = "vkdr hello world",
		.run = hello_run,
	},
};

static const struct vkdr_command_ops ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = commands,
	.n_commands = 1,
};

static const struct vkdr_module module = {
	.abi = ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = NAME,
	.version = "0.0.1",
	.description = "built out of tree",
	.ops = &ops,
};

VKDR_MODULE_DEFINE(module);
EOC

$CC -shared -fPIC -fvisibility=hidden -I"$VKDR_INCLUDE" \
	-DABI=VKDR_MODULE_ABI -DNAME='"hello"' \
	-o "$work/plugins/hello.so" "$work/hello.c" ||
	fail "cannot build hello.so"
$CC -shared -fPIC -fvisibility=hidden -I"$VKDR_INCLUDE" \
	-DABI=42 -DNAME='"oldabi"' \
	-o "$work/plugins/oldabi.so" "$work/hello.c" ||
	fail "cannot build oldabi.so"
echo "not a shared object" > "$work/plugins/junk.so"
echo "ignored: not named .so" > "$work/plugins/readme.txt"

export VKDR_PLUGIN_PATH="$work/plugins"
out=$("$VKDR" hello world 2>&1)
[ $? -eq 0 ] && echo "$out" | grep -q "hello from outside, home $VKDR_HOME" ||
	fail "out-of-tree command did not run: $out"

out=$("$VKDR" mirror plugins 2>&1)
echo "$out" | grep -Eq "^command +hello +0\.0\.1 +$work/plugins/hello.so" ||
	fail "hello.so not listed as loaded: $out"
echo "$out" | grep -A1 "$work/plugins/oldabi.so" |
	grep -q "built for module ABI 42, this vkdr speaks ABI 1" ||
	fail "oldabi.so not refused with both versions: $out"
echo "$out" | grep -q "$work/plugins/junk.so" ||
	fail "junk.so not listed as skipped: $out"
echo "$out" | grep -q "readme.txt" && fail "readme.txt was looked at: $out"

[ $failures -eq 0 ] || exit 1
echo "loader.sh: all checks passed"
