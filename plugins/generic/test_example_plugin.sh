#!/bin/sh
# Build doc/examples/example-registry.c out of tree, against the module
# header as "make install" installs it, found through pkg-config
# (vkdr-module.pc), the way a third-party author builds one; drop it into
# $VKDR_HOME/plugins and check that the loader of the build tree's vkdr
# takes it and routes its host to it.
set -u

: "${CC:=cc}"
: "${top_srcdir:?}" "${top_builddir:?}"

vkdr="$top_builddir/vkdr"
[ -x "$vkdr" ] || vkdr="$top_builddir/core/vkdr"
if ! [ -x "$vkdr" ]; then
	echo "SKIP: no vkdr binary in $top_builddir"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-example-XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
export VKDR_HOME="$work/home"
unset VKDR_PLUGIN_PATH
mkdir -p "$VKDR_HOME/plugins"

fail() {
	echo "FAIL: $*"
	exit 1
}

# Install only the header and the pkg-config file, into a staging root.
root="$work/root"
make -s -C "$top_builddir/core" install-vkdrincludeHEADERS \
	DESTDIR="$root" >/dev/null ||
	fail "installing the module header"
make -s -C "$top_builddir" install-pkgconfigDATA DESTDIR="$root" \
	>/dev/null || fail "installing vkdr-module.pc"
pc=$(find "$root" -name vkdr-module.pc | head -n 1)
[ -n "$pc" ] || fail "vkdr-module.pc was not installed"
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$root" \
	pkg-config --cflags vkdr-module) || fail "pkg-config vkdr-module"
case "$cflags" in
*"$root"*) ;;
*) fail "pkg-config gave '$cflags', not the installed header" ;;
esac

# shellcheck disable=SC2086
$CC -shared -Wall -Wextra -Werror $cflags \
	-o "$VKDR_HOME/plugins/example.so" \
	"$top_srcdir/doc/examples/example-registry.c" ||
	fail "the example plugin does not build against the installed header"

if ! "$vkdr" mirror plugins --help >/dev/null 2>&1; then
	echo "SKIP: the mirror command module is not built"
	exit 77
fi

exports=$(nm -D --defined-only "$VKDR_HOME/plugins/example.so" |
	awk '$2 == "T" { print $3 }')
[ "$exports" = vkdr_module_entry ] ||
	fail "the example exports more than vkdr_module_entry: $exports"

out=$("$vkdr" mirror plugins 2>&1) || fail "vkdr mirror plugins: $out"
echo "$out"
echo "$out" | grep -q "example .*$VKDR_HOME/plugins/example.so" ||
	fail "the example plugin was not loaded from the drop-in directory"
echo "$out" | grep -q "claims: registry.example.test" ||
	fail "the example plugin's claim is not shown"

# A file that is not a module is skipped with a reason, and the rest
# still loads.
echo "not a shared object" >"$VKDR_HOME/plugins/broken.so"
out=$("$vkdr" mirror plugins 2>&1) || fail "vkdr mirror plugins: $out"
echo "$out" | grep -q "broken.so" || fail "the broken file is not reported"
echo "$out" | grep -q "claims: registry.example.test" ||
	fail "a broken drop-in stopped the example from loading"

echo "PASS: example plugin built out of tree and loaded"
