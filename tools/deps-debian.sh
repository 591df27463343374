#!/bin/sh
# Install what vkdr-mirror needs on Debian 12: the build dependencies, and
# with --tests also the real registry and clients the tests start.
set -eu

packages="autoconf automake libtool pkg-config make gcc
	libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
	libssl-dev check"
if [ "${1:-}" = "--tests" ]; then
	packages="$packages docker-registry skopeo containerd python3 curl
		wrk valgrind ceph-mon ceph-osd radosgw ceph openssl man-db
		groff-base zsh cppcheck clang-tidy clang"
fi

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $packages
