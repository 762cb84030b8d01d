#!/usr/bin/env bash
# credproxy benchmark: credproxy vs nginx vs HAProxy doing the same job, i.e.
# forward an absolute-form HTTP request to a loopback origin and add
# `X-Api-Key: <secret>`, plus wrk hitting the origin directly as the ceiling.
#
#   bench/run.sh                   # full benchmark (builds credproxy if needed)
#   bench/run.sh --only-baselines  # direct, nginx and haproxy only
#   BENCH_SUITE=forward bench/run.sh    # this suite only; "intercept" runs
#                                       # bench/intercept.sh (CONNECT interception
#                                       # vs squid and mitmproxy) only
#
# Everything runs on 127.0.0.1, on free ports picked at start, in a temp dir;
# every process started here is killed on exit. One interleaved run: for each
# concurrency, for each round, each contender runs D seconds in turn, so drift
# (thermal, noisy neighbours) hits every contender alike. Reported per
# concurrency: medians over rounds of req/s, p50 and p99 latency, req/s relative
# to direct, proxy CPU time per request (utime+stime of the proxy's processes
# over the run / requests) and peak RSS (VmHWM summed over the proxy's
# processes). No pass/fail on timings; exits non-zero if a contender fails to
# start, to inject the credential, or dies during the run.
#
# Knobs (environment):
#   BENCH_SUITE="forward intercept"  suites, run one after the other (see bench/intercept.sh
#                             for its own knobs; the shared ones below apply to both)
#   BENCH_DURATION=5          seconds per run
#   BENCH_ROUNDS=3            rounds per concurrency
#   BENCH_CONCURRENCY="1 64"  wrk connections, one table each
#   BENCH_WRK_THREADS=2       wrk threads (capped at the concurrency: -t1 for c=1)
#   BENCH_WARMUP=1            seconds of unmeasured load per contender before measuring
#   BENCH_CREDPROXY_WORKERS=1 credproxy `workers:` (wrk, origin and proxy share the cores)
#   BENCH_ORIGIN_WORKERS=1    nginx worker processes of the origin
#   BENCH_CONTENDERS="direct credproxy nginx haproxy"
#   BENCH_KEEP_TMP=0          1 keeps the temp dir (configs, logs, raw wrk output)
#   CREDPROXY_BIN             use this binary instead of <repo>/build/credproxy
#   BENCH_BUILD_DIR=build     build dir (relative to the repo) used when building
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 64"}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WARMUP=${BENCH_WARMUP:-1}
CREDPROXY_WORKERS=${BENCH_CREDPROXY_WORKERS:-1}
ORIGIN_WORKERS=${BENCH_ORIGIN_WORKERS:-1}
CONTENDERS=${BENCH_CONTENDERS:-"direct credproxy nginx haproxy"}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
BUILD_DIR=${BENCH_BUILD_DIR:-build}

SECRET=bench-secret-value
CRED_KEY=bench.key
DECOY=decoy-not-the-secret

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

only_baselines=0
for arg in "$@"; do
  case "$arg" in
    --only-baselines) only_baselines=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $arg (try --help)" >&2; exit 1 ;;
  esac
done
if [ "$only_baselines" = 1 ]; then
  CONTENDERS=$(tr ' ' '\n' <<<"$CONTENDERS" | grep -vx credproxy | tr '\n' ' ')
fi
CONTENDERS=$(echo $CONTENDERS)   # normalize whitespace

# Suites: each runs in its own process with its own temp dir and cleanup, so
# one's processes are gone before the next measures; exit non-zero if any failed.
SUITES=${BENCH_SUITE:-"forward intercept"}
for suite in $SUITES; do
  case "$suite" in forward|intercept) ;; *) echo "run.sh: unknown suite: $suite (forward, intercept)" >&2; exit 1 ;; esac
done
if [[ " $SUITES " == *" intercept "* ]]; then
  suite_rc=0
  if [[ " $SUITES " == *" forward "* ]]; then
    BENCH_SUITE=forward bash "$0" "$@" || suite_rc=$?
    echo >&2
  fi
  bash "$BENCH_DIR/intercept.sh" "$@" || suite_rc=$?
  exit "$suite_rc"
fi
[[ " $SUITES " == *" forward "* ]] || { echo "run.sh: BENCH_SUITE names no suite" >&2; exit 1; }

for v in DURATION ROUNDS WRK_THREADS WARMUP CREDPROXY_WORKERS ORIGIN_WORKERS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be a non-negative integer" >&2; exit 1; }
done
[ "$DURATION" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$WRK_THREADS" -ge 1 ] && [ "$ORIGIN_WORKERS" -ge 1 ] ||
  { echo "run.sh: duration, rounds, wrk threads and origin workers must be >= 1" >&2; exit 1; }
for c in $CONCURRENCY; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad concurrency: $c" >&2; exit 1; }
done
for name in $CONTENDERS; do
  case "$name" in direct|credproxy|nginx|haproxy) ;; *) echo "run.sh: unknown contender: $name" >&2; exit 1 ;; esac
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }
has() { [[ " $CONTENDERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- dependencies
need_install=0
for tool in wrk curl ss ps; do command -v "$tool" >/dev/null || need_install=1; done
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || need_install=1
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null || need_install=1
if [ "$need_install" = 1 ]; then
  log "installing bench dependencies"
  "$REPO_DIR/deploy/install-deps.sh" --bench
fi
export PATH="$PATH:/usr/sbin:/sbin"
for tool in wrk curl ss ps nginx haproxy timeout; do
  command -v "$tool" >/dev/null || die "$tool not found after install-deps.sh --bench"
done

CREDPROXY=
if has credproxy; then
  if [ -n "${CREDPROXY_BIN:-}" ]; then
    CREDPROXY=$CREDPROXY_BIN
    [ -x "$CREDPROXY" ] || die "CREDPROXY_BIN=$CREDPROXY is not executable"
  else
    CREDPROXY=$REPO_DIR/$BUILD_DIR/credproxy
    if [ ! -x "$CREDPROXY" ]; then
      log "building credproxy (Release) in $BUILD_DIR/"
      (cd "$REPO_DIR" && cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 &&
        ninja -C "$BUILD_DIR" credproxy >&2) ||
        die "credproxy build failed (g++ 12 at -O3 may stop on a false -Wrestrict under -Werror; build it yourself and pass CREDPROXY_BIN=...)"
    fi
  fi
fi

# ------------------------------------------------------------ temp dir, cleanup
source "$BENCH_DIR/lib.sh"
bench_temp_dir credproxy-bench

# ------------------------------------------------------------------------ ports
ORIGIN_PORT=$(free_port)
NGINX_PORT=$(free_port)
HAPROXY_PORT=$(free_port)
CREDPROXY_PORT=$(free_port)
CREDPROXY_ADMIN_PORT=$(free_port)

USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE="user root root;"   # workers stay able to use the 0700 temp dir
render() {  # template -> file with @VARS@ substituted
  sed -e "s|@TMP@|$TMP|g" -e "s|@SECRET@|$SECRET|g" -e "s|@USER_LINE@|$USER_LINE|g" \
      -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" -e "s|@ORIGIN_WORKERS@|$ORIGIN_WORKERS|g" \
      -e "s|@NGINX_PORT@|$NGINX_PORT|g" -e "s|@HAPROXY_PORT@|$HAPROXY_PORT|g" \
      -e "s|@CREDPROXY_PORT@|$CREDPROXY_PORT|g" -e "s|@CREDPROXY_ADMIN_PORT@|$CREDPROXY_ADMIN_PORT|g" \
      -e "s|@CREDPROXY_WORKERS@|$CREDPROXY_WORKERS|g" "$1" >"$2"
}

# -------------------------------------------------------------------- processes
show_log() {
  local f
  for f in "$TMP/$1.err" "$TMP/$1.out" "$TMP/$1/error.log"; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  return 0
}

wait_listening() {  # name port : up to 10 s for the port to accept connections
  local name=$1 port=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "${PID[$name]}" 2>/dev/null || { show_log "$name"; die "$name exited during startup"; }
    [ -n "$(ss -Htln "( sport = :$port )" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  show_log "$name"
  die "$name is not listening on 127.0.0.1:$port after 10 s"
}

mkdir -p "$TMP/origin" "$TMP/nginx" "$TMP/haproxy" "$TMP/credproxy"

render "$BENCH_DIR/origin.nginx.conf.in" "$TMP/origin/nginx.conf"
nginx -t -q -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf" ||
  die "origin nginx config is invalid"
start origin nginx -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf"
wait_listening origin "$ORIGIN_PORT"

if has nginx; then
  render "$BENCH_DIR/proxy.nginx.conf.in" "$TMP/nginx/nginx.conf"
  nginx -t -q -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" ||
    die "nginx proxy config is invalid"
  start nginx nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
  wait_listening nginx "$NGINX_PORT"
fi

if has haproxy; then
  render "$BENCH_DIR/haproxy.cfg.in" "$TMP/haproxy/haproxy.cfg"
  haproxy -c -q -f "$TMP/haproxy/haproxy.cfg" || die "haproxy config is invalid"
  start haproxy haproxy -db -f "$TMP/haproxy/haproxy.cfg"
  wait_listening haproxy "$HAPROXY_PORT"
fi

if has credproxy; then
  CFG=$TMP/credproxy/credproxy.yaml
  render "$BENCH_DIR/credproxy.yaml.in" "$CFG"
  timeout 30 "$CREDPROXY" vault init --config "$CFG" >"$TMP/credproxy-init.out" 2>&1 ||
    { cat "$TMP/credproxy-init.out" >&2; die "credproxy vault init failed"; }
  printf '{"type":"api_key","secret":"%s","hosts":["127.0.0.1:%s"],"allowPlaintext":true}\n' \
      "$SECRET" "$ORIGIN_PORT" |
    timeout 30 "$CREDPROXY" cred add --config "$CFG" --solution default --key "$CRED_KEY" --json - \
      >"$TMP/credproxy-cred-add.out" 2>&1 ||
    { cat "$TMP/credproxy-cred-add.out" >&2; die "credproxy cred add failed"; }
  start credproxy "$CREDPROXY" serve --config "$CFG"
  wait_listening credproxy "$CREDPROXY_PORT"
fi

# ------------------------------------------------------------ pre-flight checks
# What each contender connects to, the request target wrk sends and the
# X-Api-Key the client sends (the proxies must replace it with the secret).
declare -A PORT=([direct]=$ORIGIN_PORT [credproxy]=$CREDPROXY_PORT [nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT)
declare -A TARGET=([direct]=/ [credproxy]=http://127.0.0.1:$ORIGIN_PORT/
                   [nginx]=http://127.0.0.1:$ORIGIN_PORT/ [haproxy]=http://127.0.0.1:$ORIGIN_PORT/)
declare -A APIKEY=([direct]=$SECRET [credproxy]="{{cred:$CRED_KEY}}" [nginx]=$DECOY [haproxy]=$DECOY)

ORIGIN_URL=http://127.0.0.1:$ORIGIN_PORT
got=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$ORIGIN_URL/") || die "origin unreachable"
[ "$got" = 403 ] || die "origin answers $got without X-Api-Key, expected 403 (its check is broken)"

for name in $CONTENDERS; do
  proxy_args=()
  [ "$name" = direct ] || proxy_args=(-x "http://127.0.0.1:${PORT[$name]}")
  # curl sends absolute-form through -x, like wrk does with request.lua
  got=$(curl -sS --max-time 5 "${proxy_args[@]}" -H "X-Api-Key: ${APIKEY[$name]}" "$ORIGIN_URL/echo" 2>&1) ||
    { show_log "$name"; die "$name: request failed: $got"; }
  [ "$got" = "$SECRET" ] ||
    { show_log "$name"; die "$name does not inject: origin received X-Api-Key '$got', expected the secret"; }
  got=$(curl -sS --max-time 5 "${proxy_args[@]}" -H "X-Api-Key: ${APIKEY[$name]}" "$ORIGIN_URL/" 2>&1) ||
    { show_log "$name"; die "$name: request failed: $got"; }
  [ "$got" = ok ] || { show_log "$name"; die "$name: origin answered '$got', expected 'ok'"; }
  log "$name injects X-Api-Key (127.0.0.1:${PORT[$name]})"
done

# ------------------------------------------------------------------ measurement
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime of a contender's processes
  local name=$1 p s f total=0
  [ "$name" = direct ] && { echo 0; return; }
  for p in $(tree_pids "${PID[$name]}"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }                      # drop "pid (comm) ", comm may hold spaces
    read -r -a f <<<"$s"             # f[0] is field 3 (state): utime=f[11], stime=f[12]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
peak_rss_kb() {  # VmHWM summed over a contender's processes
  local name=$1 p kb total=0
  for p in $(tree_pids "${PID[$name]}"); do
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
check_alive() {
  [ "$1" = direct ] && set -- origin
  kill -0 "${PID[$1]}" 2>/dev/null || { show_log "$1"; die "$1 died during the benchmark"; }
}

RESULTS=$TMP/results.tsv
: >"$RESULTS"
BAD=()

run_wrk() {  # name conns seconds out_file -> BENCH_RESULT line on stdout
  local name=$1 c=$2 d=$3 out=$4 t=$WRK_THREADS
  [ "$t" -gt "$c" ] && t=$c
  BENCH_TARGET=${TARGET[$name]} BENCH_HOST=127.0.0.1:$ORIGIN_PORT BENCH_APIKEY=${APIKEY[$name]} \
    timeout $((d + 30)) wrk --latency -t"$t" -c"$c" -d"${d}s" -s "$BENCH_DIR/request.lua" \
      "http://127.0.0.1:${PORT[$name]}" >"$out" 2>&1 ||
    { cat "$out" >&2; die "$name: wrk failed"; }
  grep -m1 '^BENCH_RESULT ' "$out" || { cat "$out" >&2; die "$name: no result from wrk"; }
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $2"; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

{
  echo "credproxy benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "machine   : nproc=$(nproc), $(uname -sr), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
  echo "memory    : $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools     : $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v 2>/dev/null | head -n1 | cut -d' ' -f1-3)"
  if [ -n "$CREDPROXY" ]; then
    echo "credproxy : $CREDPROXY ($("$CREDPROXY" --version 2>/dev/null | head -n1), git $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')), workers=$CREDPROXY_WORKERS"
  fi
  echo "setup     : origin nginx ${ORIGIN_WORKERS} worker(s); nginx 1 worker; haproxy 1 thread; all on 127.0.0.1"
  echo "runs      : ${ROUNDS} round(s) x ${DURATION}s per contender, interleaved; concurrency: $CONCURRENCY; wrk threads <= $WRK_THREADS"
  echo
} | tee "$TMP/report.txt"

for c in $CONCURRENCY; do
  if [ "$WARMUP" -gt 0 ]; then
    for name in $CONTENDERS; do
      res=$(run_wrk "$name" "$c" "$WARMUP" "$TMP/wrk-warmup-$name-c$c.txt")
      check_alive "$name"
      [ "$(field requests "$res")" -gt 0 ] || die "$name: warm-up completed no request"
      [ "$(field err_status "$res")" = 0 ] ||
        die "$name: non-2xx answers during warm-up (the origin refuses requests without the secret)"
    done
  fi
  for ((r = 1; r <= ROUNDS; r++)); do
    for name in $CONTENDERS; do
      out=$TMP/wrk-$name-c$c-r$r.txt
      t0=$(cpu_ticks "$name")
      res=$(run_wrk "$name" "$c" "$DURATION" "$out")
      t1=$(cpu_ticks "$name")
      check_alive "$name"
      n=$(field requests "$res"); dur=$(field duration_us "$res")
      p50=$(field p50_us "$res"); p99=$(field p99_us "$res")
      errs=0
      for e in connect read write status timeout; do errs=$((errs + $(field "err_$e" "$res"))); done
      [ "$(field err_status "$res")" = 0 ] || BAD+=("$name c=$c round $r: $(field err_status "$res") non-2xx answers (injection failed?)")
      [ "$n" -gt 0 ] || BAD+=("$name c=$c round $r: no request completed")
      read -r rps cpu_us <<<"$(awk -v n="$n" -v d="$dur" -v dt="$((t1 - t0))" -v hz="$CLK_TCK" -v name="$name" \
        'BEGIN { rps = d > 0 ? n * 1e6 / d : 0; cpu = (name == "direct" || n == 0) ? "-" : sprintf("%.2f", dt * 1e6 / hz / n); printf "%.1f %s\n", rps, cpu }')"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "$name" "$rps" "$p50" "$p99" "$cpu_us" "$errs" >>"$RESULTS"
      log "c=$c round $r/$ROUNDS $(printf '%-9s' "$name") $(printf '%9.0f' "$rps") req/s  p50 ${p50}us  p99 ${p99}us  cpu ${cpu_us}us/req  errors $errs"
    done
  done

  # table for this concurrency
  t=$WRK_THREADS; [ "$t" -gt "$c" ] && t=$c
  {
    echo "== concurrency $c (wrk -t$t -c$c, median of $ROUNDS x ${DURATION}s) =="
    printf '%-10s %10s %9s %9s %9s %11s %12s %7s\n' contender "req/s" "p50 ms" "p99 ms" "vs direct" "CPU us/req" "peak RSS MB" errors
    direct_rps=$(awk -F'\t' -v c="$c" '$1 == c && $3 == "direct" { print $4 }' "$RESULTS" | median)
    for name in $CONTENDERS; do
      rps=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $4 }' "$RESULTS" | median)
      p50=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $5 }' "$RESULTS" | median)
      p99=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $6 }' "$RESULTS" | median)
      errs=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { s += $8 } END { print s + 0 }' "$RESULTS")
      if [ "$name" = direct ]; then
        cpu=-; rss=-
      else
        cpu=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $7 }' "$RESULTS" | median)
        rss=$(awk -v kb="$(peak_rss_kb "$name")" 'BEGIN { printf "%.1f", kb / 1024 }')
      fi
      awk -v name="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v d="$direct_rps" -v cpu="$cpu" -v rss="$rss" -v errs="$errs" \
        'BEGIN { ratio = (d != "nan" && d > 0) ? sprintf("%.2f", rps / d) : "-";
                 if (cpu != "-") cpu = sprintf("%.2f", cpu);
                 printf "%-10s %10.0f %9.3f %9.3f %9s %11s %12s %7d\n", name, rps, p50 / 1000, p99 / 1000, ratio, cpu, rss, errs }'
    done
    echo
  } | tee -a "$TMP/report.txt"
done

{
  echo "Notes: CPU us/req is the proxy's own utime+stime (all its processes) over the run divided by"
  echo "the requests wrk completed; peak RSS is VmHWM summed over its processes since start (so it"
  echo "grows with the highest concurrency seen so far). wrk, the origin and the proxy share the"
  echo "$(nproc) core(s), so req/s reflects the whole box; CPU us/req is the number to compare."
  echo "nginx and haproxy forward to one fixed upstream; credproxy also parses the target, checks"
  echo "egress, looks up the vault and renders the placeholder on every request."
  echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (anything else busy on the box skews req/s; the per-run"
  echo "lines on stderr show the spread between rounds)."
} | tee -a "$TMP/report.txt"

if [ ${#BAD[@]} -gt 0 ]; then
  printf 'bench: FAILED: %s\n' "${BAD[@]}" >&2
  exit 1
fi
