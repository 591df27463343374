# procs.sh - process and loopback helpers shared by the end-to-end tests
# (tests/e2e/lib.sh) and the benchmark (bench/run.sh). Sourced by bash;
# PYTHON must name a python3.

# True once PID has exited (a zombie waiting to be reaped counts).
pid_exited()
{
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# Stop the process group led by PID: SIGTERM, then SIGKILL when PID is
# still running after 10 seconds. Always reaps PID.
stop_pid()
{
	local pid=$1 i

	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null ||
		true
	for ((i = 0; i < 100; i++)); do
		pid_exited "$pid" && break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# A free TCP port on 127.0.0.1, as the kernel hands it out.
free_port()
{
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True when URL answers 200.
http_ok()
{
	local code

	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1") ||
		return 1
	[ "$code" = 200 ]
}
