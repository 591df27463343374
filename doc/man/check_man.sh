#!/bin/sh
# check_man.sh - every manual page renders without a warning.
#
# Each page is formatted by man(1) at 80 columns, as a reader would see
# it; anything written to standard error (a macro groff does not know, a
# line it cannot break, a bad escape) fails the test. Where groff is
# installed the page is also run through it with every warning enabled.
# Skips (exit 77) when man is not installed.

set -u
srcdir=${srcdir:-.}
pages=${MAN_PAGES:-"vkdr.1 vkdr-mirror.1 vkdr-infra.1
	vkdr-mirror-registry.yaml.5 vkdr-module.7"}

command -v man >/dev/null 2>&1 || { echo "SKIP: man is not installed"; exit 77; }

status=0
for page in $pages; do
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$srcdir/$page" 2>&1 >/dev/null)
	if [ -n "$out" ]; then
		echo "FAIL: $page: man -l warns:"
		echo "$out"
		status=1
	fi
	if command -v groff >/dev/null 2>&1; then
		out=$(groff -man -ww -z "$srcdir/$page" 2>&1)
		if [ -n "$out" ]; then
			echo "FAIL: $page: groff -ww warns:"
			echo "$out"
			status=1
		fi
	fi
	# The NAME section must name the page, or whatis(1) cannot index it.
	name=${page%.[0-9]}
	sed -n '/^\.SH NAME/{n;p;}' "$srcdir/$page" | grep -q "^${name}[ ,]" || {
		echo "FAIL: $page: NAME does not start with $name"
		status=1
	}
done
[ $status = 0 ] && echo "PASS: $(echo "$pages" | wc -w) pages render cleanly"
exit $status
