#!/usr/bin/env bash
# Run the subgroup-matrix (tensor-core) tests on a CPU: Mesa 26's lavapipe implements VK_KHR_cooperative_matrix
# (f16 → f32 at 8×8×8, subgroups of 8), which Dawn exposes as chromium-experimental-subgroup-matrix. Debian 12's
# lavapipe (Mesa 25.0, bookworm-backports) does not, and Mesa 26 needs a newer C library than Debian 12's, so this
# script builds a minimal Debian 13 (trixie) root with Mesa from trixie-backports once (debootstrap, 1.5–5 minutes,
# cached), then runs the test files given (default: test/kernels/conv3d_mma.test.ts) inside it with this machine's
# Node and this checkout's node_modules, bind-mounted at the same path.
#
#   sudo bash scripts/test-subgroup-matrix.sh [test files...]      (or: npm run test:mma)
#
# Needs root (debootstrap, chroot, bind mounts) and Debian's package mirror. Exit status: the tests' own; 75 when
# the root could not be built or entered (no network, no root): then nothing was tested, and it says so.
# MESA26_ROOT overrides where the root lives (default /var/cache/vesselfm-webgpu/trixie-mesa26); MMA_TEST_LIMIT the
# seconds the tests may take (1200). Every network step has a time limit too. From scratch it took 85 s here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
root="${MESA26_ROOT:-/var/cache/vesselfm-webgpu/trixie-mesa26}"
mirror="http://deb.debian.org/debian"
unavailable() { printf 'test-subgroup-matrix: not run: %s\n' "$*" >&2; exit 75; }

[ "$(id -u)" -eq 0 ] || unavailable "needs root (debootstrap, chroot and bind mounts)"
node_bin="$(command -v node)" || unavailable "node is not on PATH"
[ -f node_modules/vitest/vitest.mjs ] || unavailable "node_modules is missing (run npm ci first)"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/kernels/conv3d_mma.test.ts)

if [ ! -f "$root/.vesselfm-ready" ]; then
  echo "test-subgroup-matrix: building a Debian 13 root with Mesa 26 lavapipe in $root (once)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q debootstrap >/dev/null || unavailable "could not install debootstrap"
  fi
  rm -rf "$root"
  mkdir -p "$root"
  # Time limits on every network step: a stalled mirror must not hold a CI run for an hour.
  timeout 900 debootstrap --variant=minbase --include=libvulkan1,ca-certificates trixie "$root" "$mirror" >"$root.log" 2>&1 \
    || unavailable "debootstrap of trixie failed (see $root.log)"
  echo "deb $mirror trixie-backports main" >"$root/etc/apt/sources.list.d/backports.list"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  timeout 300 chroot "$root" apt-get update -q >>"$root.log" 2>&1 || unavailable "apt-get update in the trixie root failed (see $root.log)"
  timeout 600 chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t trixie-backports mesa-vulkan-drivers >>"$root.log" 2>&1 \
    || unavailable "installing mesa-vulkan-drivers from trixie-backports failed (see $root.log)"
  touch "$root/.vesselfm-ready"
fi
echo "test-subgroup-matrix: $(chroot "$root" dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"

install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2" || unavailable "could not bind-mount $1 into the root"
  mounts+=("$root$2")
}
bind /dev /dev
bind /proc /proc
bind /sys /sys
bind "$repo" "$repo"
# the shared specs and fixtures beside the checkout, for test files that read them
if [ -d "$repo/../shared" ]; then shared="$(cd "$repo/../shared" && pwd)"; bind "$shared" "$shared"; fi

# A command inside the root, under a time limit of $1 seconds (0: none): a hang fails instead of holding CI.
run_in_root() {
  local limit=$1
  shift
  timeout "$limit" chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp CI="${CI:-}" \
    VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json "$@"
}
# The root must give Dawn an adapter with subgroup matrices; if not, nothing here can be tested (say so, exit 75).
probe='import("webgpu").then(async ({ create, globals }) => { Object.assign(globalThis, globals); const g = create(["enable-dawn-features=allow_unsafe_apis"]); const a = await g.requestAdapter(); if (!a) throw new Error("no adapter"); if (!a.features.has("chromium-experimental-subgroup-matrix")) throw new Error(`adapter ${a.info.description} has no subgroup matrices`); console.log(`test-subgroup-matrix: adapter ${a.info.description}, subgroup matrices: ${a.info.subgroupMatrixConfigs.map((c) => `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(", ")}`); process.exit(0); }).catch((err) => { console.error(String(err.message ?? err)); process.exit(1); })'
if probed="$(run_in_root 120 sh -c 'cd "$1" && node --input-type=module -e "$2"' sh "$repo" "$probe" 2>&1)"; then
  printf '%s\n' "$probed" | grep -v 'artificially reduced'
else
  unavailable "the Mesa 26 root gives Dawn no adapter with subgroup matrices: $(printf '%s\n' "$probed" | grep -v 'artificially reduced' | tail -1)"
fi

set +e
run_in_root "${MMA_TEST_LIMIT:-1200}" sh -c 'cd "$1" && shift && node node_modules/vitest/vitest.mjs run "$@"' sh "$repo" "${files[@]}"
rc=$?
set -e
exit $rc
