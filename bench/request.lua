-- wrk script used by bench/run.sh for every contender.
--
--   BENCH_TARGET  request target: "/" (direct, origin-form) or
--                 "http://127.0.0.1:PORT/" (absolute-form, what HTTP_PROXY clients send)
--   BENCH_HOST    Host header value (the origin's host:port)
--   BENCH_APIKEY  X-Api-Key value sent by the client: the real secret for the
--                 direct run, "{{cred:bench.key}}" for credproxy, a decoy for
--                 nginx/haproxy (they must overwrite it, else the origin says 403)
--
-- The request is static (wrk.path/wrk.headers, no request() function), so wrk
-- formats it once and the client costs the same for every contender.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_TARGET") or "/"
wrk.headers["Host"] = os.getenv("BENCH_HOST")
wrk.headers["X-Api-Key"] = os.getenv("BENCH_APIKEY")

-- One machine-readable line for run.sh (latencies in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
