-- wrk script for the benchmark: one request, sent over every connection, and
-- the run's summary written as JSON to the file bench/load.py names.
-- Arguments after wrk's `--`: method, body file ("-" for no body), most requests.
-- The summary's path comes in the environment (BENCH_WRK_SUMMARY): wrk passes
-- the arguments to each thread's init() only, while done() runs in the main
-- script, which never sees them.
-- Scripting reference: wrk's SCRIPTING document (setup, init, request, done).

local request_text
local max_requests
local sent = 0

function init(args)
   wrk.method = args[1]
   if args[2] ~= "-" then
      local file = assert(io.open(args[2], "rb"))
      wrk.body = file:read("*a")
      file:close()
      wrk.headers["Content-Type"] = "application/json"
   end
   max_requests = tonumber(args[3])
   request_text = wrk.format()
end

-- Pre-built once in init(); counting here bounds the run in requests as well as time.
function request()
   sent = sent + 1
   if sent > max_requests then
      wrk.thread:stop()
   end
   return request_text
end

function done(summary, latency, requests)
   local errors = summary.errors
   local file = assert(io.open(assert(os.getenv("BENCH_WRK_SUMMARY"), "BENCH_WRK_SUMMARY is not set"), "w"))
   file:write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
   file:close()
end
