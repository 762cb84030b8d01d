#!/usr/bin/env bash
# Runs the credproxy image the way a cluster would and checks what the
# Dockerfile promises:
#   - every runtime library resolves (ldd inside the image), no compiler left;
#   - it runs as the image's non-root UID (seen from the host's /proc);
#   - it works on a read-only root filesystem, state on a mounted volume;
#   - it serves /healthz on health_listen;
#   - as PID 1 it stops on SIGTERM (podman stop) with exit code 0 in < 5 s.
#
#   tests/deploy/image_test.sh [IMAGE]     default localhost/credproxy:dev
#
# Host network with ephemeral loopback ports (nothing leaves the machine).
# Exit 77 (skipped) when podman is not installed.
set -euo pipefail

image=${1:-localhost/credproxy:dev}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v podman >/dev/null; then
  echo "SKIP: podman is not installed (deploy/install-deps.sh --containers)"
  exit 77
fi
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/deploy/podman/containers.conf}
podman=(podman --runtime runc)

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

"${podman[@]}" image exists "$image" || fail "no image $image (make deploy-test builds it)"

work=$(mktemp -d)
name=credproxy-image-test-$$
cleanup() {
  "${podman[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the final stage holds the binary and its libraries, nothing to build with
missing=$("${podman[@]}" run --rm --network=none --entrypoint /usr/bin/ldd "$image" /usr/local/bin/credproxy | grep 'not found' || true)
[ -z "$missing" ] || fail "libraries missing in the image: $missing"
pass "every shared library of credproxy resolves in the image"
# libpq is loaded only when store.backend is postgres, so ldd does not list it.
"${podman[@]}" run --rm --network=none --entrypoint /sbin/ldconfig "$image" -p | grep -q 'libpq\.so\.5 ' ||
  fail "libpq.so.5 (loaded for store.backend: postgres) is not in the image"
pass "libpq.so.5 for the PostgreSQL store is in the image"
if "${podman[@]}" run --rm --network=none --entrypoint /usr/bin/test "$image" -e /usr/bin/g++ -o -e /usr/bin/cmake; then
  fail "the final stage contains build tools"
fi
pass "no compiler or cmake in the final stage"
size=$("${podman[@]}" image inspect -f '{{.Size}}' "$image")
echo "image size: $((size / 1000000)) MB ($size bytes)"

# --- run it: read-only root, state and config on mounts, as the image's user
proxy_port=$(free_port)
health_port=$(free_port)
mkdir -p "$work/etc" "$work/state"
chown 65532:65532 "$work/state" 2>/dev/null || "${podman[@]}" unshare chown 65532:65532 "$work/state"
chmod 0700 "$work/state"
cat >"$work/etc/credproxy.yaml" <<EOF
listen: 127.0.0.1:$proxy_port
admin_listen: ""
health_listen: 127.0.0.1:$health_port
vault:
  path: /var/lib/credproxy/credproxy.vault
  key_file: /var/lib/credproxy/credproxy.key
EOF
"${podman[@]}" run -d --name "$name" --network=host --read-only --read-only-tmpfs=false \
  --cap-drop=ALL --security-opt=no-new-privileges \
  -v "$work/etc:/etc/credproxy:ro" -v "$work/state:/var/lib/credproxy" "$image" >/dev/null

healthy=
for _ in $(seq 1 100); do
  if curl -fsS --max-time 2 "http://127.0.0.1:$health_port/healthz" >/dev/null 2>&1; then healthy=1; break; fi
  [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$name")" = true ] || break
  sleep 0.2
done
if [ -z "$healthy" ]; then
  "${podman[@]}" logs "$name" >&2 || true
  fail "no /healthz on health_listen 127.0.0.1:$health_port"
fi
pass "serves /healthz with a read-only root filesystem"
[ -s "$work/state/credproxy.vault" ] || fail "no vault created on the state volume"
pass "first run created the vault on the mounted volume"

pid=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
# Rootless podman maps the container's 65532 to a subordinate UID: never 0.
[ "$uid" != 0 ] || fail "credproxy runs as root on the host"
inner_uid=$("${podman[@]}" exec "$name" /usr/bin/id -u 2>/dev/null || echo "?")
[ "$inner_uid" = 65532 ] || fail "credproxy runs as UID $inner_uid in the container, not 65532"
ns_pid=$(awk '/^NSpid:/ {print $NF}' "/proc/$pid/status")
[ "$ns_pid" = 1 ] || fail "credproxy is PID $ns_pid in its namespace, not 1"
pass "runs as UID 65532 (host UID $uid), as PID 1 of its PID namespace"

start=$(date +%s.%N)
"${podman[@]}" stop -t 10 "$name" >/dev/null
elapsed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { "${podman[@]}" logs "$name" >&2; fail "exit code $code after SIGTERM"; }
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)" "$elapsed" ||
  fail "podman stop took ${elapsed}s: SIGTERM was not handled (SIGKILL after the timeout?)"
pass "SIGTERM as PID 1: exit code 0 after ${elapsed}s"
echo "PASS: image $image"
