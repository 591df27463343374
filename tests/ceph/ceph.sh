# ceph.sh - a single-node Ceph cluster with radosgw on loopback, for the
# s3 backend's tests. Sourced after tests/e2e/lib.sh, whose spawn, stop_pid
# and wait_until it uses: everything runs in the foreground of its own
# process group, as root, with every file under $E2E_TMP/ceph, and is
# stopped with the rest of the test's processes.
#
# One monitor, one OSD on memstore (nothing touches a disk), one radosgw,
# no manager, no authentication between the daemons. Start-up takes a few
# seconds; ceph_start sets S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY.
# CEPH_RGW_FRONTEND_OPTS, when set, is appended to radosgw's beast
# frontend options (bench/s3.sh passes "tcp_nodelay=1" that way).

# need_ceph - skip the test unless the Ceph daemons are installed.
need_ceph()
{
	need_tools ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool
	need_root
}

ceph_conf_write()
{
	local d=$1 rgw_opts=${CEPH_RGW_FRONTEND_OPTS:+ $CEPH_RGW_FRONTEND_OPTS}

	cat >"$d/ceph.conf" <<-EOF
	[global]
	fsid = $CEPH_FSID
	mon_host = [v2:127.0.0.1:$CEPH_MON_V2,v1:127.0.0.1:$CEPH_MON_V1]
	mon_initial_members = a
	auth_cluster_required = none
	auth_service_required = none
	auth_client_required = none
	ms_mon_client_mode = crc
	osd_pool_default_size = 1
	osd_pool_default_min_size = 1
	mon_allow_pool_size_one = true
	osd_crush_chooseleaf_type = 0
	osd_pool_default_pg_num = 8
	osd_pool_default_pgp_num = 8
	osd_pool_default_pg_autoscale_mode = off
	mon_warn_on_pool_no_redundancy = false
	paxos_propose_interval = 0.05
	osd_objectstore = memstore
	memstore_device_bytes = 1073741824
	run_dir = $d/run
	admin_socket = $d/run/\$name.asok
	pid_file = $d/run/\$name.pid
	log_file = $d/log/\$name.log
	crash_dir = $d/crash
	exporter_sock_dir = $d/run
	mon_data = $d/mon/\$name
	osd_data = $d/osd/\$name
	mon_cluster_log_to_file = false
	mon_cluster_log_file = $d/log/cluster.log
	keyring = $d/keyring
	rgw_frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT$rgw_opts
	rgw_data = $d/rgw
	rgw_gc_obj_min_wait = 10
	rgw_gc_processor_period = 10
	rgw_dns_name = 127.0.0.1
	EOF
}

# ceph CMD... - the ceph CLI against the test cluster.
ceph_cli()
{
	timeout 60 "$@" -c "$CEPH_DIR/ceph.conf"
}

rgw_answers()
{
	local code

	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		"$S3_ENDPOINT/") || return 1
	[ "$code" != 000 ]
}

# ceph_start - start the cluster and create a user with known keys.
ceph_start()
{
	local d=$E2E_TMP/ceph osd_uuid osd_id

	need_ceph
	CEPH_DIR=$d
	mkdir -p "$d/run" "$d/log" "$d/crash" "$d/mon/mon.a" "$d/rgw"
	CEPH_FSID=$(cat /proc/sys/kernel/random/uuid)
	CEPH_MON_V1=$(free_port)
	CEPH_MON_V2=$(free_port)
	CEPH_RGW_PORT=$(free_port)
	S3_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT
	ceph_conf_write "$d"

	ceph_cli monmaptool --create --fsid "$CEPH_FSID" --addv a \
		"[v2:127.0.0.1:$CEPH_MON_V2,v1:127.0.0.1:$CEPH_MON_V1]" \
		"$d/monmap" >"$d/log/setup.log" 2>&1 ||
		fail "monmaptool failed"
	ceph_cli ceph-mon --mkfs -i a --monmap "$d/monmap" \
		>>"$d/log/setup.log" 2>&1 || fail "ceph-mon --mkfs failed"
	spawn CEPH_MON_PID "$d/log/mon.out" \
		ceph-mon -f -i a -c "$d/ceph.conf"

	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	osd_id=$(ceph_cli ceph osd new "$osd_uuid" 2>>"$d/log/setup.log") ||
		fail "ceph osd new failed"
	mkdir -p "$d/osd/osd.$osd_id"
	ceph_cli ceph-osd --mkfs -i "$osd_id" --osd-uuid "$osd_uuid" \
		>>"$d/log/setup.log" 2>&1 || fail "ceph-osd --mkfs failed"
	spawn CEPH_OSD_PID "$d/log/osd.out" \
		ceph-osd -f -i "$osd_id" -c "$d/ceph.conf"

	ceph_rgw_start
	S3_ACCESS_KEY=vkdrtestaccesskey
	S3_SECRET_KEY=vkdrtestsecretkey0123456789
	ceph_cli radosgw-admin user create --uid=vkdr-test \
		--display-name="vkdr test" --access-key="$S3_ACCESS_KEY" \
		--secret-key="$S3_SECRET_KEY" >>"$d/log/setup.log" 2>&1 ||
		fail "radosgw-admin user create failed"
}

# ceph_rgw_start - start radosgw (again) and wait until its port answers.
ceph_rgw_start()
{
	spawn CEPH_RGW_PID "$CEPH_DIR/log/rgw.out" \
		radosgw -f -n client.rgw -c "$CEPH_DIR/ceph.conf"
	wait_until 120 "radosgw on $S3_ENDPOINT" rgw_answers
}

# ceph_rgw_kill - stop radosgw at once, as a crash would.
ceph_rgw_kill()
{
	kill -KILL -- "-$CEPH_RGW_PID" 2>/dev/null || true
	wait "$CEPH_RGW_PID" 2>/dev/null || true
	forget_pid "$CEPH_RGW_PID"
}

# ------------------------------------------------------------------------
# The bucket and the mirrors that share it

S3_BUCKET=vkdr-e2e

# s3_has KEY - the object KEY is in $S3_BUCKET (a signed HEAD answers 200).
s3_has()
{
	local code

	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -I \
		--aws-sigv4 aws:amz:us-east-1:s3 \
		-u "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		"$S3_ENDPOINT/$S3_BUCKET/$1") || return 1
	[ "$code" = 200 ]
}

# wait_stored DIGEST... - every blob DIGEST has been committed to the
# bucket (a daemon commits just after it sent the last byte).
wait_stored()
{
	local d

	for d in "$@"; do
		wait_until 30 "$d in the bucket" \
			s3_has "blobs/sha256/${d#sha256:}"
	done
}

# start_s3_mirror N PORT [SERVE_ARGS...] - a docker.io mirror daemon on
# PORT in front of $UPSTREAM_URL, in a VKDR_HOME of its own ($E2E_TMP/
# homeN), keeping its cache in $S3_BUCKET. Credentials go through the
# environment, never the command line. Sets MIRRORN_PID; its log is
# $E2E_TMP/mirrorN.log.
start_s3_mirror()
{
	local n=$1 port=$2 home=$E2E_TMP/home$1

	shift 2
	need_vkdr
	mkdir -p "$home"
	VKDR_HOME=$home "$VKDR" mirror add --host=docker.io --port="$port" \
		--upstream="$UPSTREAM_URL" >"$E2E_TMP/mirror$n-add.log" 2>&1 ||
		fail "vkdr mirror add failed: $(cat "$E2E_TMP/mirror$n-add.log")"
	spawn "MIRROR${n}_PID" "$E2E_TMP/mirror$n.log" \
		env VKDR_HOME="$home" AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" \
		AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
		"$VKDR" --verbose mirror serve --listen=127.0.0.1 \
		--storage=s3 --storage-opt endpoint="$S3_ENDPOINT" \
		--storage-opt bucket="$S3_BUCKET" "$@"
	wait_until "$E2E_START_DEADLINE" "mirror $n on port $port" \
		s3_mirror_up "$n" "$port"
}

s3_mirror_up()
{
	local pid_var="MIRROR${1}_PID"

	kill -0 "${!pid_var}" 2>/dev/null ||
		fail "mirror $1 exited early: $(tail -n 5 "$E2E_TMP/mirror$1.log")"
	http_ok "http://127.0.0.1:$2/v2/"
}

# no_secret_logged - no log of the test shows the secret key.
no_secret_logged()
{
	! grep -rqF "$S3_SECRET_KEY" "$E2E_TMP"/mirror*.log ||
		fail "a mirror logged the secret key"
}
