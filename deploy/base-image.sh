#!/usr/bin/env bash
# Build a Debian bookworm base image with python3 from Debian's own packages, for
# machines that cannot pull one from a registry (see docs/DEPLOY.md). Skipped when the
# image already exists. Where a registry is reachable, build on python:3.11-slim instead:
#   make image BASE_IMAGE=docker.io/library/python:3.11-slim
# Usage: deploy/base-image.sh [IMAGE]   (needs root, debootstrap and podman)
set -euo pipefail
image="${1:-localhost/debian-bookworm-base:1}"
podman="${PODMAN:-podman}"
if $podman image exists "$image"; then
  echo "base image $image exists; skipped"
  exit 0
fi
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror"
# apt's package lists and downloaded .debs are not needed at run time.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | $podman import --change 'CMD ["/bin/bash"]' - "$image"
echo "base image $image built in $(( $(date +%s) - start )) s"
