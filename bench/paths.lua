-- paths.lua - wrk script for bench/run.sh.
--
-- Every connection walks the request paths listed one a line in the file
-- named by $BENCH_PATHS, each thread from its own starting point, so 32
-- connections spread over all the blobs instead of hammering one. Headers
-- given with -H (the Accept of a manifest) go with every request.
--
-- When the run ends, one line starting with "BENCH " carries the totals as
-- KEY=VALUE pairs for run.sh to parse; wrk's own report still follows it.

local paths = {}
local next_index = 1

function init(args)
	local file = os.getenv("BENCH_PATHS")

	for line in io.lines(file) do
		if line ~= "" then
			paths[#paths + 1] = line
		end
	end
	if #paths == 0 then
		error("no request paths in " .. tostring(file))
	end
	-- Threads start spread out over the list; setup() numbered them.
	next_index = ((thread_index or 0) * 7) % #paths + 1
end

function setup(thread)
	thread_count = (thread_count or 0) + 1
	thread:set("thread_index", thread_count - 1)
end

function request()
	local path = paths[next_index]

	next_index = next_index % #paths + 1
	return wrk.format("GET", path)
end

function done(summary, latency, requests)
	local e = summary.errors

	io.write(string.format(
		"BENCH requests=%d bytes=%d duration_us=%d connect_errors=%d " ..
		"read_errors=%d write_errors=%d status_errors=%d " ..
		"timeouts=%d p50_us=%d p99_us=%d\n",
		summary.requests, summary.bytes, summary.duration,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(99)))
end
