#!/bin/bash
# The s3 backend against a real Ceph RGW: test_s3live (put, commit, get,
# ranged reads, stat, remove, walk, abort, options, credentials, presigned
# URLs and their expiry, the local tier).
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=ceph.sh
. "$(dirname "$0")/ceph.sh"

prog=$top_builddir/tests/ceph/test_s3live
[ -x "$prog" ] || skip "test_s3live was not built (no Check)"
need_ceph
ceph_start
export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
# Check forks per test: CK_FORK stays on, so a crash fails one test only.
"$prog" || fail "test_s3live failed"
