#!/usr/bin/env bash
# Installs every build, test and bench dependency of credproxy from Debian 12's
# packages and, for the Node test client, the npm registry. Idempotent: when
# nothing is missing it costs one dpkg query and one hash of the npm lock file,
# so a second `make run` stays instant.
#
#   deploy/install-deps.sh           build + test dependencies
#   deploy/install-deps.sh --build-only  only what building the binary needs (no tests)
#   deploy/install-deps.sh --bench   also the benchmark's contenders and tools
#   deploy/install-deps.sh --fuzz    also clang for the libFuzzer targets (make fuzz)
#   deploy/install-deps.sh --containers
#                                    also podman, runc and mmdebstrap for the image
#                                    and pod tests (make deploy-test), and kubectl
#                                    for rendering the manifests when none is installed
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  g++ cmake ninja-build make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl ca-certificates
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libpq-dev   # the PostgreSQL store backend (libpq5 at run time)
)
# --build-only: just what compiling the credproxy binary needs (the image's
# build stage, deploy/Dockerfile); no test tools, no npm.
build_only=
[ "${1:-}" = "--build-only" ] && build_only=1
if [ -z "$build_only" ]; then
  packages+=(
    libgtest-dev libgmock-dev googletest
    curl
    python3 python3-requests   # tests/clients/python_*_client.py run on Debian's /usr/bin/python3
    prometheus                 # promtool, for `promtool check metrics` in the tests (~96 MB; recommends skipped)
    postgresql-15              # the server the store tests start themselves (initdb in a temp dir)
  )
fi
if [ "${1:-}" = "--bench" ]; then
  # liburing-dev: only for the CREDPROXY_IO_URING build option (measuring)
  packages+=(wrk nginx-light haproxy squid-openssl mitmproxy liburing-dev)
fi
if [ "${1:-}" = "--fuzz" ]; then
  # -fsanitize=fuzzer links libFuzzer from compiler-rt (libclang-rt-14-dev),
  # so libfuzzer-14-dev (a separate libFuzzer.a) is not needed.
  packages+=(clang-14 libclang-rt-14-dev)
fi
if [ "${1:-}" = "--containers" ]; then
  # runc, not crun: these machines have cgroup v1 (deploy/containers.md).
  # systemd for systemd-analyze (the unit check); uidmap for rootless users;
  # python3-yaml for the manifest tests.
  packages+=(podman runc catatonit mmdebstrap uidmap systemd python3-yaml)
fi

# One dpkg query for the whole list; names it does not know print nothing.
declare -A installed=()
while read -r name status; do
  [ "$status" = "install ok installed" ] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
  [ -n "${installed[$p]:-}" ] || missing+=("$p")
done
# Node may come from elsewhere than Debian (the machines ship Node 20 with its
# own npm): only a missing command brings in Debian's packages.
if [ -z "$build_only" ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
# Any kubectl with kustomize renders deploy/kubernetes (a cloud SDK often
# ships one); Debian's kubernetes-client only when there is none.
if [ "${1:-}" = "--containers" ]; then
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
fi

# The tests run their own PostgreSQL clusters; on a first install Debian
# would also create a system cluster "main" and start it on port 5432. A
# createcluster.d drop-in (read by postgresql-common's postinst) skips it
# for this install only, and goes when the script ends. A machine that
# already has PostgreSQL is left as it is.
skip_main_cluster() {
  case " $* " in *" postgresql-15 "*) ;; *) return 0 ;; esac
  [ -d /etc/postgresql/15 ] && return 0
  dropin=/etc/postgresql-common/createcluster.d/credproxy-no-main-cluster.conf
  "${sudo_cmd[@]}" mkdir -p "${dropin%/*}"
  echo "create_main_cluster = false" | "${sudo_cmd[@]}" tee "$dropin" >/dev/null
  trap '"${sudo_cmd[@]}" rm -f "$dropin"' EXIT
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "credproxy: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  skip_main_cluster "${missing[@]}"
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -n "$build_only" ] && exit 0

# undici for tests/clients/node_undici_client.mjs, exactly as pinned in the
# committed lock, reinstalled only when node_modules is missing or was
# installed from another version of the lock.
clients_dir=$REPO_DIR/tests/clients
stamp=$clients_dir/node_modules/.credproxy-lock.sha256
want=$(sha256sum <"$clients_dir/package-lock.json")
have=
[ -r "$stamp" ] && read -r have <"$stamp"
if [ "$have" != "${want%% *}" ]; then
  echo "credproxy: npm ci in tests/clients (undici for the Node test client)" >&2
  (cd "$clients_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "${want%% *}" >"$stamp"
fi
