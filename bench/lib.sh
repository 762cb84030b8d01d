# Shared by bench/run.sh and bench/intercept.sh (sourced, not run): the temp
# dir, starting processes and killing every one of them on exit, and free
# loopback ports. The caller sets KEEP_TMP and defines log/die first.

# bench_temp_dir PREFIX: sets TMP, PID (name -> pid) and STARTED (every pid
# started, in order), and installs the cleanup trap.
bench_temp_dir() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  declare -gA PID=()
  STARTED=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

tree_pids() {  # pid and its direct children (nginx workers, squid helpers)
  [ -d "/proc/$1" ] || return 0
  echo "$1"
  ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

bench_cleanup() {
  local rc=$? pids=() p i alive
  trap - EXIT INT TERM
  for p in "${STARTED[@]}"; do pids+=($(tree_pids "$p")); done
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do   # up to 5 s for a graceful exit
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}

declare -A TAKEN=()
free_port() {  # a random port nothing listens on; bounded tries
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [ -n "${TAKEN[$p]:-}" ] && continue
    if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then TAKEN[$p]=1; echo "$p"; return 0; fi
  done
  die "no free port found"
}

start() {  # name cmd... : run in background, logs in $TMP/name.{out,err}
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID[$name]=$!
  STARTED+=($!)
}

# bench_pki DIR: a bench CA (DIR/ca.pem, ca.key) and the TLS origin's leaf
# from it (DIR/origin.pem, origin.key; SANs localhost, 127.0.0.1, ::1).
bench_new_ca() {  # dir name "common name"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$3" \
    -keyout "$1/$2.key" -out "$1/$2.pem" 2>"$TMP/openssl.err" || { cat "$TMP/openssl.err" >&2; die "openssl: cannot create $3"; }
}
bench_pki() {
  local dir=$1
  mkdir -p "$dir"
  bench_new_ca "$dir" ca "credproxy bench origin CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$dir/origin.key" -out "$dir/origin.csr" 2>"$TMP/openssl.err" &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/origin.ext" &&
    openssl x509 -req -in "$dir/origin.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 2 -extfile "$dir/origin.ext" -out "$dir/origin.pem" 2>"$TMP/openssl.err" ||
    { cat "$TMP/openssl.err" >&2; die "openssl: cannot create the origin's leaf"; }
}
