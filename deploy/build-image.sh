#!/usr/bin/env bash
# Build the openrerank image from ./Containerfile with podman (`make image` runs this).
#
# Environment: IMAGE (default localhost/openrerank:latest), BASE_IMAGE, EXTRAS,
# TORCH_SPEC, TORCH_INDEX_URL (see the Containerfile), PODMAN (default podman).
#
# The host's pip settings apply inside the build without entering the image: a CA bundle
# (PIP_CERT or pip's global.cert, e.g. a proxy's authority) and local wheel folders
# (PIP_FIND_LINKS or pip's global.find-links) are mounted read-only for the build only,
# and their in-container paths given to pip as build arguments of the build stage. When
# such a folder holds the CPU torch wheel TORCH_SPEC asks for, torch comes from it and
# the PyTorch index is not asked (unless TORCH_INDEX_URL says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
podman="${PODMAN:-podman}"
image="${IMAGE:-localhost/openrerank:latest}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
args=(--network host --format docker -f Containerfile -t "$image")
for name in BASE_IMAGE EXTRAS TORCH_SPEC; do
  if [ -n "${!name:-}" ]; then args+=(--build-arg "$name=${!name}"); fi
done

pip_setting() {  # $1: environment variable, $2: pip config key
  if [ -n "${!1:-}" ]; then echo "${!1}"; else python3 -m pip config get "global.$2" 2>/dev/null || true; fi
}
# podman mounts these into every stage's RUN steps and leaves an empty mount point behind
# where the path did not exist: the system bundle's path and /mnt exist in Debian images.
cert="$(pip_setting PIP_CERT cert)"
if [ -n "$cert" ] && [ -f "$cert" ]; then
  inside=/etc/ssl/certs/ca-certificates.crt
  args+=(-v "$cert:$inside:ro" --build-arg "PIP_CERT=$inside")
fi
links=()
local_torch=""
for dir in $(pip_setting PIP_FIND_LINKS find-links); do
  dir="${dir#file://}"
  [ -d "$dir" ] || continue
  inside=/mnt
  if [ ${#links[@]} -gt 0 ]; then inside="/run/pip-links${#links[@]}"; fi
  args+=(-v "$dir:$inside:ro")
  links+=("$inside")
  if compgen -G "$dir/torch-${torch_spec#torch==}+cpu-*.whl" >/dev/null; then local_torch=1; fi
done
if [ ${#links[@]} -gt 0 ]; then args+=(--build-arg "PIP_FIND_LINKS=${links[*]}"); fi
if [ -n "${TORCH_INDEX_URL+set}" ]; then
  args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
elif [ -n "$local_torch" ]; then
  case ",${EXTRAS:-server,torch}," in
    *,torch,*) echo "torch: the local CPU wheel of ${torch_spec} (pip's find-links)" ;;
  esac
  args+=(--build-arg "TORCH_INDEX_URL=")
fi

start=$(date +%s)
$podman build "${args[@]}" .
size=$($podman image inspect --format '{{.Size}}' "$image")
echo "image $image built in $(( $(date +%s) - start )) s; $(( size / 1000000 )) MB"
