#!/usr/bin/env bash
# Builds a Debian 12 image with mmdebstrap and imports it into podman, for
# machines without an image registry. Idempotent: an existing image is kept.
#
#   deploy/podman/base-image.sh                      localhost/debian:bookworm-slim
#   deploy/podman/base-image.sh NAME [PACKAGE...]    NAME with extra packages
#
# An imported image has no Env (no PATH): run its commands by absolute path.
set -euo pipefail

image=${1:-localhost/debian:bookworm-slim}
shift || true
include=ca-certificates
for p in "$@"; do include+=",$p"; done

if podman image exists "$image"; then
  echo "credproxy: $image exists, kept" >&2
  exit 0
fi
echo "credproxy: building $image with mmdebstrap (about a minute)" >&2
# Through a file, not a pipe: an interrupted mmdebstrap must not leave a
# truncated image behind that the existence check above would then keep.
tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT
mmdebstrap --quiet --variant=minbase --include="$include" bookworm "$tarball"
podman import "$tarball" "$image" >/dev/null
