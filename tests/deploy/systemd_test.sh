#!/usr/bin/env bash
# Checks deploy/systemd/credproxy.service: `systemd-analyze verify` accepts
# it, and `systemd-analyze security` rates its exposure at most MAX_EXPOSURE
# (so a hardening option dropped by mistake fails here).
#
#   tests/deploy/systemd_test.sh CREDPROXY_BINARY [MAX_EXPOSURE]
#
# verify needs ExecStart's binary to exist, so it checks a copy of the unit
# pointing at CREDPROXY_BINARY. Exit 77 (skipped) without systemd-analyze.
set -euo pipefail

binary=$(realpath "${1:?usage: systemd_test.sh CREDPROXY_BINARY [MAX_EXPOSURE]}")
max_exposure=${2:-2.0}
unit=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/systemd/credproxy.service
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
[ -x "$binary" ] || { echo "FAIL: no binary $binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/local/bin/credproxy#$binary#g" "$unit" >"$work/credproxy.service"
if ! out=$(systemd-analyze verify "$work/credproxy.service" 2>&1) || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify: $out" >&2
  exit 1
fi
echo "ok: systemd-analyze verify accepts credproxy.service"

# --offline (systemd 252+) rates the file itself, not a loaded unit.
if ! report=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1); then
  echo "SKIP: this systemd-analyze cannot rate a unit file offline: $report"
  exit 77
fi
score=$(sed -n 's/.*Overall exposure level for credproxy.service: \([0-9.]*\).*/\1/p' <<<"$report")
[ -n "$score" ] || { echo "FAIL: no exposure level in: $report" >&2; exit 1; }
echo "systemd-analyze security: exposure $score (at most $max_exposure allowed)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$score" "$max_exposure" || {
  grep '✗' <<<"$report" >&2
  echo "FAIL: exposure $score is above $max_exposure" >&2
  exit 1
}
