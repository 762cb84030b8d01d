#!/usr/bin/env bash
# credproxy benchmark, intercepted HTTPS: credproxy vs squid (ssl_bump) vs
# mitmproxy doing the same job. A client sends `CONNECT localhost:PORT`, the
# proxy terminates TLS with a leaf from its own CA (which the client trusts),
# adds `X-Api-Key: <secret>` to every request inside the tunnel and
# re-encrypts to a TLS origin (nginx) whose certificate it verifies against
# the bench CA. The load is bench/tunnel_load (wrk cannot speak TLS inside
# CONNECT): keep-alive GETs inside C tunnels, and a new-tunnel-per-request
# run (CONNECT + handshake + 1 GET + close) with the leaf caches warm.
#
#   bench/intercept.sh                   # full run (builds tunnel_load, credproxy if needed)
#   bench/intercept.sh --only-baselines  # squid and mitmproxy only
#   BENCH_SUITE=intercept make bench     # the same through bench/run.sh
#
# Everything runs on loopback (127.0.0.1; the origin also on ::1), on free ports picked at start, in a temp dir;
# every process started here is killed on exit. One interleaved run: for each
# concurrency, for each round, each contender runs D seconds in turn. Reported
# per concurrency: medians over rounds of req/s, p50 and p99 latency, req/s and
# proxy CPU per request relative to squid (CPU = utime+stime of the proxy's
# processes over the run / requests) and peak RSS (VmHWM summed over the
# proxy's processes). The origin answers 403 unless X-Api-Key is the secret and
# echoes it; tunnel_load checks the status and the echo of every response, so
# each contender's injection is verified, not assumed. A contender that fails
# its set-up or pre-flight is left out with the reason and the script exits
# non-zero at the end; so does one that shows errors or dies.
#
# Knobs (environment; the shared ones mean the same as in bench/run.sh):
#   BENCH_DURATION=5            seconds per run
#   BENCH_ROUNDS=3              rounds per concurrency
#   BENCH_CONCURRENCY="1 64"    keep-alive tunnels, one table each
#   BENCH_TUNNEL_CONCURRENCY=4  connections of the new-tunnel-per-request run ("" skips it)
#   BENCH_LOAD_THREADS=2        tunnel_load I/O threads (capped at the concurrency)
#   BENCH_WARMUP=1              seconds of unmeasured load per contender and concurrency
#   BENCH_CREDPROXY_WORKERS=1   credproxy `workers:`
#   BENCH_ORIGIN_WORKERS=1      nginx worker processes of the origin
#   BENCH_INTERCEPT_CONTENDERS="credproxy squid mitmproxy"
#   BENCH_KEEP_TMP=0            1 keeps the temp dir (configs, CAs, logs, raw results)
#   CREDPROXY_BIN               use this binary instead of <repo>/$BENCH_BUILD_DIR/credproxy
#   TUNNEL_LOAD_BIN             use this binary instead of <repo>/$BENCH_BUILD_DIR/bench/tunnel_load
#   BENCH_BUILD_DIR=build       build dir (relative to the repo) used when building
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 64"}
TUNNEL_CONCURRENCY=${BENCH_TUNNEL_CONCURRENCY-4}
LOAD_THREADS=${BENCH_LOAD_THREADS:-2}
WARMUP=${BENCH_WARMUP:-1}
CREDPROXY_WORKERS=${BENCH_CREDPROXY_WORKERS:-1}
ORIGIN_WORKERS=${BENCH_ORIGIN_WORKERS:-1}
CONTENDERS=${BENCH_INTERCEPT_CONTENDERS:-"credproxy squid mitmproxy"}
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
    *) echo "intercept.sh: unknown argument: $arg (try --help)" >&2; exit 1 ;;
  esac
done
if [ "$only_baselines" = 1 ]; then
  CONTENDERS=$(tr ' ' '\n' <<<"$CONTENDERS" | grep -vx credproxy | tr '\n' ' ')
fi
CONTENDERS=$(echo $CONTENDERS)   # normalize whitespace

for v in DURATION ROUNDS LOAD_THREADS WARMUP CREDPROXY_WORKERS ORIGIN_WORKERS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "intercept.sh: $v must be a non-negative integer" >&2; exit 1; }
done
[ "$DURATION" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$LOAD_THREADS" -ge 1 ] && [ "$ORIGIN_WORKERS" -ge 1 ] ||
  { echo "intercept.sh: duration, rounds, load threads and origin workers must be >= 1" >&2; exit 1; }
for c in $CONCURRENCY $TUNNEL_CONCURRENCY; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "intercept.sh: bad concurrency: $c" >&2; exit 1; }
done
[ -n "$CONTENDERS" ] || { echo "intercept.sh: no contender left" >&2; exit 1; }
for name in $CONTENDERS; do
  case "$name" in credproxy|squid|mitmproxy) ;; *) echo "intercept.sh: unknown contender: $name" >&2; exit 1 ;; esac
done

log() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }
has() { [[ " $CONTENDERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- dependencies
SQUID_CERTGEN=/usr/lib/squid/security_file_certgen
export PATH="$PATH:/usr/sbin:/sbin"
need_install=0
for tool in curl ss ps openssl nginx timeout; do command -v "$tool" >/dev/null || need_install=1; done
has squid && { command -v squid >/dev/null && [ -x "$SQUID_CERTGEN" ] || need_install=1; }
has mitmproxy && { command -v mitmdump >/dev/null || need_install=1; }
if [ "$need_install" = 1 ]; then
  log "installing bench dependencies"
  "$REPO_DIR/deploy/install-deps.sh" --bench
fi
for tool in curl ss ps openssl nginx timeout; do
  command -v "$tool" >/dev/null || die "$tool not found after install-deps.sh --bench"
done
if has squid; then
  command -v squid >/dev/null && [ -x "$SQUID_CERTGEN" ] || die "squid-openssl not found after install-deps.sh --bench"
  squid -v | grep -q -- '--with-openssl' || die "this squid has no OpenSSL (ssl_bump): install squid-openssl"
fi
has mitmproxy && { command -v mitmdump >/dev/null || die "mitmdump not found after install-deps.sh --bench"; }

build_target() {  # ninja target -> builds it in $BUILD_DIR (Release when configuring anew)
  log "building $1 in $BUILD_DIR/"
  (cd "$REPO_DIR" &&
    { [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2; } &&
    ninja -C "$BUILD_DIR" "$1" >&2)
}

LOAD=${TUNNEL_LOAD_BIN:-$REPO_DIR/$BUILD_DIR/bench/tunnel_load}
if [ -z "${TUNNEL_LOAD_BIN:-}" ] && [ ! -x "$LOAD" ]; then
  build_target tunnel_load || die "tunnel_load build failed"
fi
[ -x "$LOAD" ] || die "tunnel_load is not executable: $LOAD"

CREDPROXY=
if has credproxy; then
  CREDPROXY=${CREDPROXY_BIN:-$REPO_DIR/$BUILD_DIR/credproxy}
  if [ -z "${CREDPROXY_BIN:-}" ] && [ ! -x "$CREDPROXY" ]; then
    build_target credproxy ||
      die "credproxy build failed (g++ 12 at -O3 may stop on a false -Wrestrict under -Werror; build it yourself and pass CREDPROXY_BIN=...)"
  fi
  [ -x "$CREDPROXY" ] || die "credproxy is not executable: $CREDPROXY"
fi

# ------------------------------------------------------------ temp dir, cleanup
source "$BENCH_DIR/lib.sh"
bench_temp_dir credproxy-intercept

# ------------------------------------------------------------------------ ports
ORIGIN_TLS_PORT=$(free_port)
declare -A PORT=([credproxy]=$(free_port) [squid]=$(free_port) [mitmproxy]=$(free_port))
CREDPROXY_ADMIN_PORT=$(free_port)
# A host name, as real APIs have (SNI, DNS SAN). Not 127.0.0.1: squid mints
# leaves for an IP target with SAN DNS:127.0.0.1, which every client rejects.
TARGET=localhost:$ORIGIN_TLS_PORT
ORIGIN_URL=https://$TARGET/
# The origin listens wherever localhost may resolve to, so no proxy pays
# for a refused IPv6 attempt.
ORIGIN_LISTEN_V6=
grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null &&
  ORIGIN_LISTEN_V6="listen [::1]:$ORIGIN_TLS_PORT ssl reuseport backlog=4096;"

USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE="user root root;"   # workers stay able to use the 0700 temp dir
render() {  # template -> file with @VARS@ substituted
  sed -e "s|@TMP@|$TMP|g" -e "s|@SECRET@|$SECRET|g" -e "s|@USER_LINE@|$USER_LINE|g" \
      -e "s|@ORIGIN_TLS_PORT@|$ORIGIN_TLS_PORT|g" -e "s|@ORIGIN_WORKERS@|$ORIGIN_WORKERS|g" \
      -e "s|@ORIGIN_LISTEN_V6@|$ORIGIN_LISTEN_V6|g" \
      -e "s|@SQUID_PORT@|${PORT[squid]}|g" -e "s|@CREDPROXY_PORT@|${PORT[credproxy]}|g" \
      -e "s|@CREDPROXY_ADMIN_PORT@|$CREDPROXY_ADMIN_PORT|g" \
      -e "s|@CREDPROXY_WORKERS@|$CREDPROXY_WORKERS|g" "$1" >"$2"
}

# -------------------------------------------------------------------- processes
show_log() {
  local f
  for f in "$TMP/$1.err" "$TMP/$1.out" "$TMP/$1/error.log" "$TMP/$1/cache.log"; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  return 0
}

wait_listening() {  # name port : up to 15 s for the port to accept connections; 1 when it does not
  local name=$1 port=$2 i
  for ((i = 0; i < 150; i++)); do
    kill -0 "${PID[$name]}" 2>/dev/null || { show_log "$name"; log "$name exited during startup"; return 1; }
    [ -n "$(ss -Htln "( sport = :$port )" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  show_log "$name"
  log "$name is not listening on 127.0.0.1:$port after 15 s"
  return 1
}

FAILED=()   # "name: reason" of contenders left out or misbehaving
drop() {    # name reason... : leave a contender out of the run
  local name=$1; shift
  FAILED+=("$name: $*")
  log "$name: FAILED: $* (left out of the run)"
  CONTENDERS=$(tr ' ' '\n' <<<"$CONTENDERS" | grep -vx "$name" | tr '\n' ' ')
  CONTENDERS=$(echo $CONTENDERS)
}

# -------------------------------------------------------------------------- PKI
# The bench CA signs the origin's leaf; every interceptor verifies the origin
# against it. Each interceptor has its own CA for the leaves it mints, and
# the client trusts exactly that one (CLIENT_CA[name]).
mkdir -p "$TMP/origin"
bench_pki "$TMP/pki"
declare -A CLIENT_CA=()
declare -A APIKEY=([credproxy]="{{cred:$CRED_KEY}}" [squid]=$DECOY [mitmproxy]=$DECOY)

# ----------------------------------------------------------------------- origin
render "$BENCH_DIR/origin-tls.nginx.conf.in" "$TMP/origin/nginx.conf"
nginx -t -q -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf" ||
  die "origin nginx config is invalid"
start origin nginx -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf"
wait_listening origin "$ORIGIN_TLS_PORT" || die "origin did not start"
got=$(curl -sS --max-time 5 --noproxy '*' --cacert "$TMP/pki/ca.pem" -o /dev/null -w '%{http_code}' "$ORIGIN_URL") ||
  die "origin unreachable over TLS with the bench CA"
[ "$got" = 403 ] || die "origin answers $got without X-Api-Key, expected 403 (its check is broken)"

# ------------------------------------------------------------------ contenders
setup_squid() {
  mkdir -p "$TMP/squid"
  bench_new_ca "$TMP/squid" ca "squid bench CA"
  CLIENT_CA[squid]=$TMP/squid/ca.pem
  "$SQUID_CERTGEN" -c -s "$TMP/squid/ssl_db" -M 16MB >"$TMP/squid-certgen.out" 2>&1 ||
    { cat "$TMP/squid-certgen.out" >&2; drop squid "security_file_certgen -c failed"; return; }
  render "$BENCH_DIR/squid-bump.conf.in" "$TMP/squid/squid.conf"
  if [ "$(id -u)" = 0 ]; then
    # squid drops root for its cache_effective_user (proxy on Debian): let
    # it through the 0700 temp dir to its own files and the bench CA only.
    chmod 711 "$TMP"
    chmod 755 "$TMP/pki"
    chmod 644 "$TMP/pki/ca.pem"
    chown -R proxy:proxy "$TMP/squid"
  fi
  squid -k parse -f "$TMP/squid/squid.conf" >"$TMP/squid-parse.out" 2>&1 ||
    { tail -n 20 "$TMP/squid-parse.out" >&2; drop squid "squid.conf does not parse"; return; }
  start squid squid -N -f "$TMP/squid/squid.conf"
  wait_listening squid "${PORT[squid]}" || drop squid "did not start"
}

setup_mitmproxy() {
  mkdir -p "$TMP/mitmproxy"
  start mitmproxy mitmdump -q --listen-host 127.0.0.1 --listen-port "${PORT[mitmproxy]}" \
    --set confdir="$TMP/mitmproxy" --set ssl_verify_upstream_trusted_ca="$TMP/pki/ca.pem" \
    -s "$BENCH_DIR/mitm_inject.py" --set bench_api_key="$SECRET"
  wait_listening mitmproxy "${PORT[mitmproxy]}" || { drop mitmproxy "did not start"; return; }
  CLIENT_CA[mitmproxy]=$TMP/mitmproxy/mitmproxy-ca-cert.pem   # written by mitmdump on its first start
  [ -s "${CLIENT_CA[mitmproxy]}" ] || drop mitmproxy "no CA certificate in its confdir"
}

credproxy_cli() {  # what args... : runs `credproxy ARGS --config CFG`, output in $TMP/credproxy-what.out
  local what=$1; shift
  timeout 30 "$CREDPROXY" "$@" --config "$TMP/credproxy/credproxy.yaml" >"$TMP/credproxy-$what.out" 2>&1
}

setup_credproxy() {
  local why="CONNECT interception (issue 9) is not in this build"
  mkdir -p "$TMP/credproxy"
  chmod 700 "$TMP/credproxy"   # vault and master key (the temp dir may be 711 for squid)
  render "$BENCH_DIR/credproxy-intercept.yaml.in" "$TMP/credproxy/credproxy.yaml"
  credproxy_cli init vault init ||
    { cat "$TMP/credproxy-init.out" >&2; drop credproxy "vault init with connect.intercept: bound failed ($why?)"; return; }
  printf '{"type":"api_key","secret":"%s","hosts":["https://%s"]}\n' "$SECRET" "$TARGET" >"$TMP/credproxy/cred.json"
  credproxy_cli cred-add cred add --solution default --key "$CRED_KEY" --json "$TMP/credproxy/cred.json" ||
    { cat "$TMP/credproxy-cred-add.out" >&2; drop credproxy "cred add failed"; return; }
  CLIENT_CA[credproxy]=$TMP/credproxy/ca.pem
  credproxy_cli ca-export ca export --out "${CLIENT_CA[credproxy]}" && [ -s "${CLIENT_CA[credproxy]}" ] ||
    { cat "$TMP/credproxy-ca-export.out" >&2; drop credproxy "\`credproxy ca export --out FILE\` failed: $why"; return; }
  start credproxy "$CREDPROXY" serve --config "$TMP/credproxy/credproxy.yaml"
  wait_listening credproxy "${PORT[credproxy]}" || drop credproxy "serve did not start"
}

for name in $CONTENDERS; do "setup_$name"; done

# ------------------------------------------------------------ pre-flight checks
# curl through each contender, trusting only its CA: the origin must receive
# the secret (it echoes it), whatever the client sent.
for name in $CONTENDERS; do
  got=$(curl -sS --max-time 10 --noproxy '' -x "http://127.0.0.1:${PORT[$name]}" --cacert "${CLIENT_CA[$name]}" \
          -H "X-Api-Key: ${APIKEY[$name]}" "$ORIGIN_URL" 2>&1) ||
    { show_log "$name"; drop "$name" "request through it failed: $got"; continue; }
  [ "$got" = "$SECRET" ] ||
    { show_log "$name"; drop "$name" "does not inject: origin answered '$got', expected the secret echoed"; continue; }
  out=$("$LOAD" --proxy "127.0.0.1:${PORT[$name]}" --target "$TARGET" --ca "${CLIENT_CA[$name]}" \
          --header "X-Api-Key: ${APIKEY[$name]}" --expect-body "$SECRET" -c 1 -d 1 --timeout-ms 5000 2>&1) ||
    { show_log "$name"; drop "$name" "tunnel_load pre-flight failed: $out"; continue; }
  log "$name intercepts and injects X-Api-Key (127.0.0.1:${PORT[$name]}, client trusts ${CLIENT_CA[$name]#$TMP/})"
done
[ -n "$CONTENDERS" ] || die "no contender passed its pre-flight: $(printf '%s; ' "${FAILED[@]}")"

# ------------------------------------------------------------------ measurement
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime of a contender's processes
  local p s f total=0
  for p in $(tree_pids "${PID[$1]}"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }                      # drop "pid (comm) ", comm may hold spaces
    read -r -a f <<<"$s"             # f[0] is field 3 (state): utime=f[11], stime=f[12]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
peak_rss_kb() {  # VmHWM summed over a contender's processes
  local p kb total=0
  for p in $(tree_pids "${PID[$1]}"); do
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
check_alive() {
  kill -0 "${PID[$1]}" 2>/dev/null || { show_log "$1"; die "$1 died during the benchmark"; }
  kill -0 "${PID[origin]}" 2>/dev/null || { show_log origin; die "the origin died during the benchmark"; }
}

RESULTS=$TMP/results.tsv
: >"$RESULTS"
BAD=()

run_load() {  # name mode conns seconds out_file -> tunnel_load's JSON line on stdout
  local name=$1 mode=$2 c=$3 d=$4 out=$5 t=$LOAD_THREADS args=()
  [ "$t" -gt "$c" ] && t=$c
  [ "$mode" = tunnel ] && args=(--new-tunnel-per-request)
  # exit 1 only says some request failed: the JSON line tells, BAD collects it
  timeout $((d + 60)) "$LOAD" --proxy "127.0.0.1:${PORT[$name]}" --target "$TARGET" --ca "${CLIENT_CA[$name]}" \
    --header "X-Api-Key: ${APIKEY[$name]}" --expect-body "$SECRET" -c "$c" -t "$t" -d "$d" --timeout-ms 10000 \
    "${args[@]}" >"$out" 2>&1 || true
  grep -m1 '^{"mode"' "$out" || { cat "$out" >&2; die "$name: no result from tunnel_load"; }
}

field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

measure() {  # mode conns round name : one measured run, appended to $RESULTS
  local mode=$1 c=$2 r=$3 name=$4 out res t0 t1 n dur p50 p99 errs rps cpu_us
  out=$TMP/load-$mode-$name-c$c-r$r.json
  t0=$(cpu_ticks "$name")
  res=$(run_load "$name" "$mode" "$c" "$DURATION" "$out")
  t1=$(cpu_ticks "$name")
  check_alive "$name"
  n=$(field requests "$res"); dur=$(field duration_us "$res")
  p50=$(field p50_us "$res"); p99=$(field p99_us "$res"); errs=$(field errors "$res")
  [ "$errs" = 0 ] || BAD+=("$name $mode c=$c round $r: $errs errors ($(sed -n 's/.*"first_error":"\(.*\)"}/\1/p' <<<"$res"))")
  [ "$n" -gt 0 ] || BAD+=("$name $mode c=$c round $r: no request completed")
  read -r rps cpu_us <<<"$(awk -v n="$n" -v d="$dur" -v dt="$((t1 - t0))" -v hz="$CLK_TCK" \
    'BEGIN { rps = d > 0 ? n * 1e6 / d : 0; cpu = n == 0 ? "nan" : sprintf("%.2f", dt * 1e6 / hz / n); printf "%.1f %s\n", rps, cpu }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$r" "$name" "$rps" "$p50" "$p99" "$cpu_us" "$errs" >>"$RESULTS"
  log "$mode c=$c round $r/$ROUNDS $(printf '%-9s' "$name") $(printf '%9.0f' "$rps")/s  p50 ${p50}us  p99 ${p99}us  cpu ${cpu_us}us  errors $errs"
}

col() {  # mode conns name column -> median of that column over rounds
  awk -F'\t' -v m="$1" -v c="$2" -v n="$3" -v k="$4" '$1 == m && $2 == c && $4 == n { print $k }' "$RESULTS" | median
}

table() {  # mode conns unit
  local mode=$1 c=$2 unit=$3 name rps p50 p99 cpu errs rss squid_rps squid_cpu
  squid_rps=$(col "$mode" "$c" squid 5); squid_cpu=$(col "$mode" "$c" squid 8)
  printf '%-10s %10s %9s %9s %9s %12s %9s %12s %7s\n' contender "$unit/s" "p50 ms" "p99 ms" "vs squid" \
    "CPU us/$unit" "vs squid" "peak RSS MB" errors
  for name in $CONTENDERS; do
    rps=$(col "$mode" "$c" "$name" 5); p50=$(col "$mode" "$c" "$name" 6); p99=$(col "$mode" "$c" "$name" 7)
    cpu=$(col "$mode" "$c" "$name" 8)
    errs=$(awk -F'\t' -v m="$mode" -v c="$c" -v n="$name" '$1 == m && $2 == c && $4 == n { s += $9 } END { print s + 0 }' "$RESULTS")
    rss=$(awk -v kb="$(peak_rss_kb "$name")" 'BEGIN { printf "%.1f", kb / 1024 }')
    awk -v name="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v cpu="$cpu" -v rss="$rss" -v errs="$errs" \
        -v srps="$squid_rps" -v scpu="$squid_cpu" \
      'function ratio(a, b) { return (a != "nan" && b != "nan" && b > 0) ? sprintf("%.2f", a / b) : "-" }
       BEGIN { printf "%-10s %10.0f %9.3f %9.3f %9s %12s %9s %12s %7d\n", name, rps, p50 / 1000, p99 / 1000,
                 ratio(rps, srps), (cpu == "nan" ? "-" : sprintf("%.1f", cpu)), ratio(cpu, scpu), rss, errs }'
  done
  echo
}

tool_versions() {
  local v=()
  has squid && v+=("squid $(squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p')")
  has mitmproxy && v+=("mitmproxy $(mitmdump --version 2>/dev/null | sed -n 's/^Mitmproxy: *//p')")
  v+=("$(nginx -v 2>&1 | sed 's/.*: //') origin" "$(openssl version | cut -d' ' -f1-2)")
  local IFS=,; echo "${v[*]}" | sed 's/,/, /g'
}

{
  echo "credproxy benchmark: intercepted HTTPS  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "machine   : nproc=$(nproc), $(uname -sr), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
  echo "memory    : $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools     : $(tool_versions)"
  if [ -n "$CREDPROXY" ] && has credproxy; then
    echo "credproxy : $CREDPROXY ($("$CREDPROXY" --version 2>/dev/null | head -n1), git $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')), workers=$CREDPROXY_WORKERS"
  fi
  echo "setup     : TLS origin nginx ${ORIGIN_WORKERS} worker(s); squid 1 worker; mitmdump 1 process; all on loopback; contenders: $CONTENDERS"
  echo "runs      : ${ROUNDS} round(s) x ${DURATION}s per contender, interleaved; keep-alive concurrency: $CONCURRENCY; new-tunnel concurrency: ${TUNNEL_CONCURRENCY:-none}; tunnel_load threads <= $LOAD_THREADS"
  echo
} | tee "$TMP/report.txt"

warm_up() {  # mode conns
  [ "$WARMUP" -gt 0 ] || return 0
  local name res
  for name in $CONTENDERS; do
    res=$(run_load "$name" "$1" "$2" "$WARMUP" "$TMP/warmup-$1-$name-c$2.json")
    check_alive "$name"
    [ "$(field requests "$res")" -gt 0 ] || die "$name: warm-up completed no request: $res"
  done
}

for c in $CONCURRENCY; do
  warm_up keepalive "$c"
  for ((r = 1; r <= ROUNDS; r++)); do
    for name in $CONTENDERS; do measure keepalive "$c" "$r" "$name"; done
  done
  t=$LOAD_THREADS; [ "$t" -gt "$c" ] && t=$c
  {
    echo "== intercepted HTTPS, keep-alive inside $c tunnel(s) (tunnel_load -c$c -t$t, median of $ROUNDS x ${DURATION}s) =="
    table keepalive "$c" req
  } | tee -a "$TMP/report.txt"
done

for c in $TUNNEL_CONCURRENCY; do
  warm_up tunnel "$c"   # leaf caches are warm from the keep-alive runs and this
  for ((r = 1; r <= ROUNDS; r++)); do
    for name in $CONTENDERS; do measure tunnel "$c" "$r" "$name"; done
  done
  t=$LOAD_THREADS; [ "$t" -gt "$c" ] && t=$c
  {
    echo "== new tunnel per request: CONNECT + TLS handshake (no resumption) + 1 GET + close (tunnel_load --new-tunnel-per-request -c$c -t$t, median of $ROUNDS x ${DURATION}s) =="
    table tunnel "$c" tun
  } | tee -a "$TMP/report.txt"
done

{
  echo "Notes: CPU is the proxy's own utime+stime (all its processes: squid's certificate helpers, nginx"
  echo "is not counted) over a run divided by the requests (tunnels) completed; 'vs squid' is the ratio to"
  echo "squid's median (below 1 = cheaper, or slower for req/s). Peak RSS is VmHWM summed over the proxy's"
  echo "processes since start. tunnel_load, the origin and the proxy share the $(nproc) core(s), so req/s"
  echo "reflects the whole box; CPU per request is the number to compare. Every contender verifies the"
  echo "origin against the bench CA and mints its leaves from its own CA, which the client trusts."
  echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee -a "$TMP/report.txt"

status=0
if [ ${#FAILED[@]} -gt 0 ]; then
  printf 'bench: FAILED contender: %s\n' "${FAILED[@]}" >&2
  status=1
fi
if [ ${#BAD[@]} -gt 0 ]; then
  printf 'bench: FAILED: %s\n' "${BAD[@]}" >&2
  status=1
fi
exit "$status"
