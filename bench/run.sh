#!/usr/bin/env bash
# credproxy benchmark: credproxy vs nginx vs HAProxy doing the same job, i.e.
# forward an absolute-form HTTP request to a loopback origin and add
# `X-Api-Key: <secret>`, plus wrk hitting the origin directly as the ceiling.
#
#   bench/run.sh                   # every suite (builds credproxy if needed)
#   bench/run.sh --only-baselines  # direct, nginx and haproxy only
#   BENCH_SUITE=forward bench/run.sh    # one suite only. Suites:
#     forward    this script's own run: plain HTTP origin
#     tls        the same to a TLS origin: TLS origination with pooled, verified
#                connections and session resumption (credproxy upgrades the
#                http:// URL because the credential does not allow plaintext;
#                nginx and haproxy verify the origin: `ssl verify required`)
#     scaling    credproxy at 1 worker vs 2 workers (contender credproxy_b), c=64
#     idle       memory: idle RSS, and RSS per idle keep-alive client connection with
#                10,000 of them held (bench/idle_clients.py), then a request on each
#     intercept  bench/intercept.sh: CONNECT interception vs squid and mitmproxy
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
#   BENCH_SUITE="forward tls scaling idle intercept"  suites, run one after the other, each in its
#                             own process (see bench/intercept.sh and bench/idle.sh for their own
#                             knobs; the shared ones below apply to all)
#   BENCH_ORIGIN=plain        plain | tls: the origin the forward suite uses (BENCH_SUITE=tls sets it)
#   BENCH_IDLE_CONNECTIONS=10000  idle suite: connections held per contender
#   BENCH_IDLE_CONTENDERS="credproxy nginx haproxy"  idle suite: who is measured
#   BENCH_DURATION=5          seconds per run
#   BENCH_ROUNDS=3            rounds per concurrency
#   BENCH_CONCURRENCY="1 64"  wrk connections, one table each
#   BENCH_WRK_THREADS=2       wrk threads (capped at the concurrency: -t1 for c=1)
#   BENCH_WARMUP=1            seconds of unmeasured load per contender before measuring
#   BENCH_CREDPROXY_WORKERS=1 credproxy `workers:` (wrk, origin and proxy share the cores)
#   BENCH_ORIGIN_WORKERS=1    nginx worker processes of the origin
#   BENCH_CONTENDERS="direct credproxy nginx haproxy"   (also: credproxy_b)
#   BENCH_CREDPROXY_B_BIN     contender credproxy_b runs this binary (default: the same as credproxy),
#   BENCH_CREDPROXY_B_WORKERS   with this many workers (default: BENCH_CREDPROXY_WORKERS): an A/B
#                             of two builds or two settings within one interleaved run
#   BENCH_KEEP_TMP=0          1 keeps the temp dir (configs, logs, raw wrk output)
#   BENCH_SYSCALLS=0          1: after each concurrency's rounds, one more run per proxy under
#                             `perf stat -e 'syscalls:sys_enter_*'` (tracepoints: root or
#                             perf_event_paranoid <= 1): syscalls per request by name, and the
#                             user/kernel split of the proxy's CPU per request
#   BENCH_PROFILE=0           1: after each concurrency's rounds, one more run per proxy under
#                             `perf record` (same permissions as BENCH_SYSCALLS): each proxy's
#                             CPU samples by object (kernel, its binary, libc, libcrypto) and
#                             its busiest symbols
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
SYSCALLS=${BENCH_SYSCALLS:-0}
PROFILE=${BENCH_PROFILE:-0}
BUILD_DIR=${BENCH_BUILD_DIR:-build}
ORIGIN_KIND=${BENCH_ORIGIN:-plain}
MEASURE=${BENCH_MEASURE:-load}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
CREDPROXY_B_WORKERS=${BENCH_CREDPROXY_B_WORKERS:-$CREDPROXY_WORKERS}

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
  CONTENDERS=$(tr ' ' '\n' <<<"$CONTENDERS" | grep -vx 'credproxy\|credproxy_b' | tr '\n' ' ')
fi
CONTENDERS=$(echo $CONTENDERS)   # normalize whitespace

# Suites: each runs in its own process with its own temp dir and cleanup, so
# one's processes are gone before the next measures; exit non-zero if any failed.
SUITES=${BENCH_SUITE:-"forward tls scaling idle intercept"}
for suite in $SUITES; do
  case "$suite" in forward|tls|scaling|idle|intercept) ;;
    *) echo "run.sh: unknown suite: $suite (forward, tls, scaling, idle, intercept)" >&2; exit 1 ;; esac
done
if [ "$(echo $SUITES)" != forward ]; then
  suite_rc=0
  for suite in $SUITES; do
    case "$suite" in
      forward) BENCH_SUITE=forward bash "$0" "$@" || suite_rc=$? ;;
      tls) BENCH_SUITE=forward BENCH_ORIGIN=tls bash "$0" "$@" || suite_rc=$? ;;
      scaling)
        # The same binary at 1 and 2 workers, haproxy as the fixed point.
        BENCH_SUITE=forward BENCH_CONCURRENCY=${BENCH_SCALING_CONCURRENCY:-64} \
          BENCH_CONTENDERS="credproxy credproxy_b haproxy" BENCH_CREDPROXY_WORKERS=1 \
          BENCH_CREDPROXY_B_WORKERS=2 BENCH_CREDPROXY_B_BIN="" bash "$0" "$@" || suite_rc=$? ;;
      idle) BENCH_SUITE=forward BENCH_MEASURE=idle BENCH_CONTENDERS=${BENCH_IDLE_CONTENDERS:-"credproxy nginx haproxy"} \
              bash "$0" "$@" || suite_rc=$? ;;
      intercept) bash "$BENCH_DIR/intercept.sh" "$@" || suite_rc=$? ;;
    esac
    echo >&2
  done
  exit "$suite_rc"
fi
case "$ORIGIN_KIND" in plain|tls) ;; *) echo "run.sh: BENCH_ORIGIN must be plain or tls" >&2; exit 1 ;; esac
case "$MEASURE" in load|idle) ;; *) echo "run.sh: BENCH_MEASURE must be load or idle" >&2; exit 1 ;; esac
[[ $IDLE_CONNECTIONS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BENCH_IDLE_CONNECTIONS must be a positive integer" >&2; exit 1; }

for v in DURATION ROUNDS WRK_THREADS WARMUP CREDPROXY_WORKERS CREDPROXY_B_WORKERS ORIGIN_WORKERS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be a non-negative integer" >&2; exit 1; }
done
[ "$DURATION" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$WRK_THREADS" -ge 1 ] && [ "$ORIGIN_WORKERS" -ge 1 ] ||
  { echo "run.sh: duration, rounds, wrk threads and origin workers must be >= 1" >&2; exit 1; }
for c in $CONCURRENCY; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad concurrency: $c" >&2; exit 1; }
done
for name in $CONTENDERS; do
  case "$name" in direct|credproxy|credproxy_b|nginx|haproxy) ;; *) echo "run.sh: unknown contender: $name" >&2; exit 1 ;; esac
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }
has() { [[ " $CONTENDERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- dependencies
need_install=0
for tool in wrk curl ss ps openssl; do command -v "$tool" >/dev/null || need_install=1; done
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || need_install=1
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null || need_install=1
if [ "$need_install" = 1 ]; then
  log "installing bench dependencies"
  "$REPO_DIR/deploy/install-deps.sh" --bench
fi
export PATH="$PATH:/usr/sbin:/sbin"
for tool in wrk curl ss ps openssl nginx haproxy timeout; do
  command -v "$tool" >/dev/null || die "$tool not found after install-deps.sh --bench"
done

CREDPROXY=
if has credproxy || has credproxy_b; then
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
CREDPROXY_B=${BENCH_CREDPROXY_B_BIN:-$CREDPROXY}
if has credproxy_b; then [ -x "$CREDPROXY_B" ] || die "BENCH_CREDPROXY_B_BIN=$CREDPROXY_B is not executable"; fi

# ------------------------------------------------------------ temp dir, cleanup
source "$BENCH_DIR/lib.sh"
bench_temp_dir credproxy-bench

# ------------------------------------------------------------------------ ports
ORIGIN_PORT=$(free_port)
NGINX_PORT=$(free_port)
HAPROXY_PORT=$(free_port)
CREDPROXY_PORT=$(free_port)
CREDPROXY_ADMIN_PORT=$(free_port)
CREDPROXY_B_PORT=$(free_port)
CREDPROXY_B_ADMIN_PORT=$(free_port)
# The origin's name: "localhost" for TLS, so certificate checks use a DNS name.
ORIGIN_HOST=127.0.0.1
[ "$ORIGIN_KIND" = tls ] && ORIGIN_HOST=localhost
# Connection caps and descriptors: the idle suite holds IDLE_CONNECTIONS
# clients at once; load runs keep the caps they always had.
MAX_CONNS=4096
if [ "$MEASURE" = idle ]; then
  MAX_CONNS=$((IDLE_CONNECTIONS + 1000))  # nginx counts its upstream side too
  [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge $((MAX_CONNS + 500)) ] ||
    die "the idle suite needs $((MAX_CONNS + 500)) descriptors per process; the hard limit is $(ulimit -Hn) (lower BENCH_IDLE_CONNECTIONS)"
  ulimit -n "$(ulimit -Hn)"
fi
# HAProxy reserves two descriptors per connection (client and server side)
# and refuses to start beyond the limit: it holds fewer idle clients when
# the hard limit is below twice the count (the table says how many).
HAPROXY_MAXCONN=4000
if [ "$MEASURE" = idle ]; then
  HAPROXY_MAXCONN=$MAX_CONNS
  [ "$(ulimit -n)" = unlimited ] || [ $((2 * MAX_CONNS + 100)) -le "$(ulimit -n)" ] ||
    HAPROXY_MAXCONN=$((($(ulimit -n) - 100) / 2))
fi
NOFILE=$(ulimit -n)

USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE="user root root;"   # workers stay able to use the 0700 temp dir
render() {  # template -> file with @VARS@ substituted
  sed -e "s|@TMP@|$TMP|g" -e "s|@SECRET@|$SECRET|g" -e "s|@USER_LINE@|$USER_LINE|g" \
      -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" -e "s|@ORIGIN_WORKERS@|$ORIGIN_WORKERS|g" \
      -e "s|@NGINX_PORT@|$NGINX_PORT|g" -e "s|@HAPROXY_PORT@|$HAPROXY_PORT|g" \
      -e "s|@CREDPROXY_PORT@|$CREDPROXY_PORT|g" -e "s|@CREDPROXY_ADMIN_PORT@|$CREDPROXY_ADMIN_PORT|g" \
      -e "s|@CREDPROXY_WORKERS@|$CREDPROXY_WORKERS|g" -e "s|@ORIGIN_TLS_PORT@|$ORIGIN_PORT|g" \
      -e "s|@ORIGIN_LISTEN_V6@||g" -e "s|@CA_FILE@|$TMP/pki/ca.pem|g" \
      -e "s|@MAX_CONNS@|$MAX_CONNS|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@HAPROXY_MAXCONN@|$HAPROXY_MAXCONN|g" "$1" >"$2"
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

mkdir -p "$TMP/origin" "$TMP/nginx" "$TMP/haproxy"
# Templates per origin kind: the TLS ones verify the origin against the bench CA.
TLS_SUFFIX=
if [ "$ORIGIN_KIND" = tls ]; then
  TLS_SUFFIX=-tls
  bench_pki "$TMP/pki"
fi

render "$BENCH_DIR/origin$TLS_SUFFIX.nginx.conf.in" "$TMP/origin/nginx.conf"
nginx -t -q -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf" ||
  die "origin nginx config is invalid"
start origin nginx -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf"
wait_listening origin "$ORIGIN_PORT"

if has nginx; then
  render "$BENCH_DIR/proxy$TLS_SUFFIX.nginx.conf.in" "$TMP/nginx/nginx.conf"
  nginx -t -q -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" ||
    die "nginx proxy config is invalid"
  start nginx nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
  wait_listening nginx "$NGINX_PORT"
fi

if has haproxy; then
  render "$BENCH_DIR/haproxy$TLS_SUFFIX.cfg.in" "$TMP/haproxy/haproxy.cfg"
  haproxy -c -q -f "$TMP/haproxy/haproxy.cfg" || die "haproxy config is invalid"
  start haproxy haproxy -db -f "$TMP/haproxy/haproxy.cfg"
  wait_listening haproxy "$HAPROXY_PORT"
fi

start_credproxy() {  # name binary workers port admin_port
  local name=$1 bin=$2 dir=$TMP/$1 cfg=$TMP/$1/credproxy.yaml plaintext=true
  mkdir -p "$dir"
  sed -e "s|@CREDPROXY_DIR@|$dir|g" -e "s|@CREDPROXY_WORKERS@|$3|g" -e "s|@CREDPROXY_PORT@|$4|g" \
      -e "s|@CREDPROXY_ADMIN_PORT@|$5|g" "$BENCH_DIR/credproxy.yaml.in" >"$cfg"
  # TLS: the credential does not allow plaintext, so the http:// URL the
  # client sends goes upstream over verified TLS (SPEC §3).
  printf 'limits:\n  max_connections: %s\n' "$MAX_CONNS" >>"$cfg"
  if [ "$ORIGIN_KIND" = tls ]; then
    printf 'upstream:\n  ca_file: %s\n' "$TMP/pki/ca.pem" >>"$cfg"
    plaintext=false
  fi
  timeout 30 "$bin" vault init --config "$cfg" >"$TMP/$name-init.out" 2>&1 ||
    { cat "$TMP/$name-init.out" >&2; die "$name vault init failed"; }
  printf '{"type":"api_key","secret":"%s","hosts":["%s:%s"],"allowPlaintext":%s}\n' \
      "$SECRET" "$ORIGIN_HOST" "$ORIGIN_PORT" "$plaintext" |
    timeout 30 "$bin" cred add --config "$cfg" --solution default --key "$CRED_KEY" --json - \
      >"$TMP/$name-cred-add.out" 2>&1 ||
    { cat "$TMP/$name-cred-add.out" >&2; die "$name cred add failed"; }
  start "$name" "$bin" serve --config "$cfg"
  wait_listening "$name" "$4"
}
has credproxy && start_credproxy credproxy "$CREDPROXY" "$CREDPROXY_WORKERS" "$CREDPROXY_PORT" "$CREDPROXY_ADMIN_PORT"
has credproxy_b && start_credproxy credproxy_b "$CREDPROXY_B" "$CREDPROXY_B_WORKERS" "$CREDPROXY_B_PORT" "$CREDPROXY_B_ADMIN_PORT"

# ------------------------------------------------------------ pre-flight checks
# What each contender connects to, the request target wrk sends and the
# X-Api-Key the client sends (the proxies must replace it with the secret).
# Clients always send http:// absolute-form to the proxies; only the direct
# run speaks TLS itself when the origin does.
declare -A PORT=([direct]=$ORIGIN_PORT [credproxy]=$CREDPROXY_PORT [credproxy_b]=$CREDPROXY_B_PORT
                 [nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT)
ABSOLUTE=http://$ORIGIN_HOST:$ORIGIN_PORT/
declare -A TARGET=([direct]=/ [credproxy]=$ABSOLUTE [credproxy_b]=$ABSOLUTE [nginx]=$ABSOLUTE [haproxy]=$ABSOLUTE)
declare -A APIKEY=([direct]=$SECRET [credproxy]="{{cred:$CRED_KEY}}" [credproxy_b]="{{cred:$CRED_KEY}}"
                   [nginx]=$DECOY [haproxy]=$DECOY)
DIRECT_SCHEME=http
[ "$ORIGIN_KIND" = tls ] && DIRECT_SCHEME=https

ORIGIN_URL=$DIRECT_SCHEME://$ORIGIN_HOST:$ORIGIN_PORT
CURL_TLS=()
[ "$ORIGIN_KIND" = tls ] && CURL_TLS=(--cacert "$TMP/pki/ca.pem")
got=$(curl -sS --max-time 5 "${CURL_TLS[@]}" -o /dev/null -w '%{http_code}' "$ORIGIN_URL/") || die "origin unreachable"
[ "$got" = 403 ] || die "origin answers $got without X-Api-Key, expected 403 (its check is broken)"

# What the origin answers on "/" to the secret: "ok" (plain), the key itself (TLS).
EXPECT_ROOT=ok
[ "$ORIGIN_KIND" = tls ] && EXPECT_ROOT=$SECRET
for name in $CONTENDERS; do
  proxy_args=("${CURL_TLS[@]}")
  url=$ORIGIN_URL
  [ "$name" = direct ] || { proxy_args=(-x "http://127.0.0.1:${PORT[$name]}"); url=http://$ORIGIN_HOST:$ORIGIN_PORT; }
  # curl sends absolute-form through -x, like wrk does with request.lua
  if [ "$ORIGIN_KIND" = plain ]; then
    got=$(curl -sS --max-time 5 "${proxy_args[@]}" -H "X-Api-Key: ${APIKEY[$name]}" "$url/echo" 2>&1) ||
      { show_log "$name"; die "$name: request failed: $got"; }
    [ "$got" = "$SECRET" ] ||
      { show_log "$name"; die "$name does not inject: origin received X-Api-Key '$got', expected the secret"; }
  fi
  got=$(curl -sS --max-time 5 "${proxy_args[@]}" -H "X-Api-Key: ${APIKEY[$name]}" "$url/" 2>&1) ||
    { show_log "$name"; die "$name: request failed: $got"; }
  [ "$got" = "$EXPECT_ROOT" ] || { show_log "$name"; die "$name: origin answered '$got', expected '$EXPECT_ROOT'"; }
  log "$name injects X-Api-Key (127.0.0.1:${PORT[$name]})"
done

# ------------------------------------------------------------- idle memory
rss_kb() {  # VmRSS summed over a contender's processes, now
  local p kb total=0
  for p in $(tree_pids "${PID[$1]}"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# Per contender: RSS idle (after the pre-flight's few requests), then with
# IDLE_CONNECTIONS served keep-alive connections held, then a request on
# every one of them (all must still be open and answered).
measure_idle() {
  local name count before held line alive status=0
  echo "credproxy idle-connection memory  $(date -u '+%Y-%m-%d %H:%M:%SZ'), nproc=$(nproc), $(uname -sr)"
  echo "$IDLE_CONNECTIONS keep-alive client connections per contender, each served one request, then held"
  printf '%-10s %12s %14s %16s %8s %8s\n' contender "idle MiB" "held MiB" "KiB/connection" held alive
  for name in $CONTENDERS; do
    [ "$name" = direct ] && continue
    count=$IDLE_CONNECTIONS
    [ "$name" = haproxy ] && [ "$HAPROXY_MAXCONN" -lt $((count + 10)) ] && count=$((HAPROXY_MAXCONN - 10))
    before=$(rss_kb "$name")
    coproc IDLE_CLIENTS { python3 "$BENCH_DIR/idle_clients.py" "${PORT[$name]}" "$count" \
                            "${TARGET[$name]}" "$ORIGIN_HOST:$ORIGIN_PORT" "${APIKEY[$name]}"; }
    line=
    read -r -t 300 line <&"${IDLE_CLIENTS[0]}" || true
    held=$(rss_kb "$name")
    echo check >&"${IDLE_CLIENTS[1]}"
    alive=
    read -r -t 300 alive <&"${IDLE_CLIENTS[0]}" || true
    wait "$IDLE_CLIENTS_PID" 2>/dev/null || true
    check_alive "$name"
    [ "$line" = "held $count" ] || { echo "bench: $name: $line (expected: held $count)" >&2; status=1; }
    [ "$alive" = "alive $count" ] || { echo "bench: $name: $alive after holding (expected: alive $count)" >&2; status=1; }
    awk -v n="$name" -v b="$before" -v h="$held" -v c="$count" -v a="${alive#alive }" \
      'BEGIN { printf "%-10s %12.1f %14.1f %16.1f %8d %8s\n", n, b / 1024, h / 1024, (h - b) / c, c, a }'
  done
  echo
  echo "idle MiB: VmRSS after start-up and the pre-flight requests; held MiB: with every connection"
  echo "open; KiB/connection: the difference over the connections (buffers, frames, kernel-side"
  echo "socket memory is not in RSS). alive: connections that answered a second request afterwards."
  return "$status"
}

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

if [ "$MEASURE" = idle ]; then
  idle_rc=0
  measure_idle | tee "$TMP/report.txt" || idle_rc=1
  [ "$idle_rc" = 0 ] || { echo "bench: FAILED: idle suite (see the alive column)" >&2; exit 1; }
  exit 0
fi

wrk_url() {  # where wrk connects: the proxy, or the origin itself for direct
  if [ "$1" = direct ]; then echo "$DIRECT_SCHEME://127.0.0.1:$ORIGIN_PORT"; else echo "http://127.0.0.1:${PORT[$1]}"; fi
}
run_wrk() {  # name conns seconds out_file -> BENCH_RESULT line on stdout
  local name=$1 c=$2 d=$3 out=$4 t=$WRK_THREADS
  [ "$t" -gt "$c" ] && t=$c
  BENCH_TARGET=${TARGET[$name]} BENCH_HOST=$ORIGIN_HOST:$ORIGIN_PORT BENCH_APIKEY=${APIKEY[$name]} \
    timeout $((d + 30)) wrk --latency -t"$t" -c"$c" -d"${d}s" -s "$BENCH_DIR/request.lua" \
      "$(wrk_url "$name")" >"$out" 2>&1 ||
    { cat "$out" >&2; die "$name: wrk failed"; }
  grep -m1 '^BENCH_RESULT ' "$out" || { cat "$out" >&2; die "$name: no result from wrk"; }
}

# Ratios of each credproxy build to each peer, computed within each round
# (same minute, same noise) and then the median over rounds.
ratios() {  # concurrency
  local c=$1 ours peer
  for ours in credproxy credproxy_b; do
    has "$ours" || continue
    for peer in credproxy nginx haproxy; do
      [ "$peer" != "$ours" ] && has "$peer" || continue
      awk -F'\t' -v c="$c" -v a="$ours" -v b="$peer" '
        $1 == c && $3 == a { rps_a[$2] = $4; cpu_a[$2] = $7 }
        $1 == c && $3 == b { rps_b[$2] = $4; cpu_b[$2] = $7 }
        function median(v, n,   i, j, t) {
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
          return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        END {
          n = 0
          for (r in rps_a) if ((r in rps_b) && rps_b[r] > 0 && cpu_b[r] > 0) { n++; rr[n] = rps_a[r] / rps_b[r]; cr[n] = cpu_a[r] / cpu_b[r] }
          if (n > 0) printf "%s / %s: CPU per request %.2fx, req/s %.2fx (median of %d per-round ratios)\n", a, b, median(cr, n), median(rr, n), n
        }' "$RESULTS"
    done
  done
  echo
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $2"; }

user_kernel_ticks() {  # "utime stime" summed over a contender's processes
  local p s f user=0 kernel=0
  [ "$1" = direct ] && { echo "0 0"; return; }  # wrk straight to the origin: no proxy process
  for p in $(tree_pids "${PID[$1]}"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -r -a f <<<"$s"
    user=$((user + f[11])); kernel=$((kernel + f[12]))
  done
  echo "$user $kernel"
}

# One more run per proxy with every syscall tracepoint counted (perf stat
# on its processes): where a request's CPU goes, next to the peers'. The
# user/kernel split comes from the measured rounds: tracepoints inflate
# the kernel time of the counted run itself.
syscall_profile() {  # concurrency
  local c=$1 name pids out res n perf_pid user_us kernel_us
  echo "== syscalls per request, c=$c (one ${DURATION}s run each under perf stat; user/kernel: medians of the rounds) =="
  for name in $CONTENDERS; do
    [ "$name" = direct ] && continue
    pids=$(tree_pids "${PID[$name]}" | paste -sd, -)
    out=$TMP/perf-$name-c$c.csv
    perf stat -x, -e 'syscalls:sys_enter_*' -p "$pids" -o "$out" &
    perf_pid=$!
    sleep 0.5  # perf opens several hundred events per thread first
    res=$(run_wrk "$name" "$c" "$DURATION" "$TMP/wrk-syscalls-$name-c$c.txt")
    kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true
    n=$(field requests "$res")
    user_us=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $9 }' "$RESULTS" | median)
    kernel_us=$(awk -F'\t' -v c="$c" -v n="$name" '$1 == c && $3 == n { print $10 }' "$RESULTS" | median)
    awk -F, -v name="$name" -v n="$n" -v user="$user_us" -v kernel="$kernel_us" '
      $3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); count[$3] = $1; total += $1 }
      END {
        if (n == 0) { print name ": no requests"; exit }
        line = sprintf("%-10s %5.2f syscalls/req (user %s us + kernel %s us per request):", name, total / n, user, kernel)
        while (1) {
          best = ""; for (k in count) if (best == "" || count[k] > count[best]) best = k
          if (best == "" || count[best] / n < 0.01) break
          line = line sprintf(" %s %.2f", best, count[best] / n); delete count[best]
        }
        print line
      }' "$out"
  done
  echo
}

# One more run per proxy sampled by perf record: which objects and
# symbols a request's CPU goes to, next to the peers'. Sampling at 2 kHz
# costs the proxies little, and only shares are printed.
cpu_profile() {  # concurrency
  local c=$1 name pids data perf_pid
  echo "== where the CPU goes, c=$c (one ${DURATION}s run each under perf record; shares of the proxy's samples) =="
  for name in $CONTENDERS; do
    [ "$name" = direct ] && continue
    pids=$(tree_pids "${PID[$name]}" | paste -sd, -)
    data=$TMP/perf-$name-c$c.data
    perf record -q -F 2000 -g -p "$pids" -o "$data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
    run_wrk "$name" "$c" "$DURATION" "$TMP/wrk-profile-$name-c$c.txt" >/dev/null
    kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true
    printf '%-10s by object:' "$name"
    perf report -i "$data" --stdio --no-children -g none --sort dso -q 2>/dev/null |
      awk '$1 ~ /%$/ && n < 5 { printf " %s %s", $2, $1; n++ } END { print "" }'
    perf report -i "$data" --stdio --no-children -g none --sort sym -q 2>/dev/null |
      awk '$1 ~ /%$/ && n < 10 { pct = $1; kind = $2; $1 = ""; $2 = ""; sym = substr($0, 3);
                                 printf "  %7s %s %.90s\n", pct, kind, sym; n++ }'
  done
  echo
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

{
  echo "credproxy benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "machine   : nproc=$(nproc), $(uname -sr), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
  echo "memory    : $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools     : $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v 2>/dev/null | head -n1 | cut -d' ' -f1-3)"
  if [ -n "$CREDPROXY" ]; then
    echo "credproxy : $CREDPROXY ($("$CREDPROXY" --version 2>/dev/null | head -n1), git $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')), workers=$CREDPROXY_WORKERS"
  fi
  if has credproxy_b; then
    echo "credproxy_b: $CREDPROXY_B ($("$CREDPROXY_B" --version 2>/dev/null | head -n1)), workers=$CREDPROXY_B_WORKERS"
  fi
  echo "setup     : origin nginx ${ORIGIN_WORKERS} worker(s); nginx 1 worker; haproxy 1 thread; all on 127.0.0.1"
  if [ "$ORIGIN_KIND" = tls ]; then
    echo "origin    : TLS (ECDSA P-256 leaf from a bench CA); every proxy verifies it, pools its connections and resumes sessions"
  fi
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
      read -r u0 k0 <<<"$(user_kernel_ticks "$name")"
      res=$(run_wrk "$name" "$c" "$DURATION" "$out")
      read -r u1 k1 <<<"$(user_kernel_ticks "$name")"
      t0=$((u0 + k0)); t1=$((u1 + k1))
      check_alive "$name"
      n=$(field requests "$res"); dur=$(field duration_us "$res")
      p50=$(field p50_us "$res"); p99=$(field p99_us "$res")
      errs=0
      for e in connect read write status timeout; do errs=$((errs + $(field "err_$e" "$res"))); done
      [ "$(field err_status "$res")" = 0 ] || BAD+=("$name c=$c round $r: $(field err_status "$res") non-2xx answers (injection failed?)")
      [ "$n" -gt 0 ] || BAD+=("$name c=$c round $r: no request completed")
      read -r rps cpu_us <<<"$(awk -v n="$n" -v d="$dur" -v dt="$((t1 - t0))" -v hz="$CLK_TCK" -v name="$name" \
        'BEGIN { rps = d > 0 ? n * 1e6 / d : 0; cpu = (name == "direct" || n == 0) ? "-" : sprintf("%.2f", dt * 1e6 / hz / n); printf "%.1f %s\n", rps, cpu }')"
      # Columns 9 and 10: the user and kernel parts of CPU us/req (syscall_profile prints them).
      read -r user_us kernel_us <<<"$(awk -v n="$n" -v u="$((u1 - u0))" -v k="$((k1 - k0))" -v hz="$CLK_TCK" \
        'BEGIN { if (n > 0) printf "%.2f %.2f\n", u * 1e6 / hz / n, k * 1e6 / hz / n; else print "- -" }')"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "$name" "$rps" "$p50" "$p99" "$cpu_us" "$errs" \
        "$user_us" "$kernel_us" >>"$RESULTS"
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
    ratios "$c"
  } | tee -a "$TMP/report.txt"
  if [ "$SYSCALLS" = 1 ]; then
    command -v perf >/dev/null || die "BENCH_SYSCALLS=1 needs perf (linux-perf)"
    syscall_profile "$c" | tee -a "$TMP/report.txt"
  fi
  if [ "$PROFILE" = 1 ]; then
    command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (linux-perf)"
    cpu_profile "$c" | tee -a "$TMP/report.txt"
  fi
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
