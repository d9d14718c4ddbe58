#!/usr/bin/env bash
# Give a machine without a GPU a WebGPU adapter: the Vulkan loader and Mesa's software Vulkan driver (lavapipe),
# plus Debian's Chromium for the browser test. Needs root: run it as
#
#     sudo bash scripts/install-software-gpu.sh [--no-chromium]
#
# On Debian 12 (bookworm) Mesa comes from bookworm-backports: bookworm's own Mesa 22 lavapipe is rejected by Dawn
# ("Vulkan shaderUniform*ArrayDynamicIndexing required"); backports' Mesa 25 works. Newer Debian and Ubuntu
# releases get mesa-vulkan-drivers from their own archive. Safe to run more than once.
set -euo pipefail

chromium=1
for arg in "$@"; do
  case "$arg" in
    --no-chromium) chromium=0 ;;
    -h | --help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-software-gpu.sh: unknown option $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo bash "$0" "$@"
  fi
  echo "install-software-gpu.sh: needs root (apt-get): run it as root, or with sudo" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-software-gpu.sh: this script knows Debian and Ubuntu (apt-get); elsewhere install the Vulkan loader and Mesa >= 24 lavapipe (mesa-vulkan-drivers) with your package manager" >&2
  exit 1
fi

codename=""
distro=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  codename="${VERSION_CODENAME:-}"
  distro="${ID:-}"
fi
export DEBIAN_FRONTEND=noninteractive

what="Vulkan loader + Mesa lavapipe"
[ "$chromium" = 1 ] && what="$what + Chromium"
echo "== software GPU: $what (${distro:-unknown} ${codename:-unknown})"

if [ "$distro" = debian ] && [ "$codename" = bookworm ]; then
  src=/etc/apt/sources.list.d/backports.sources
  # Add bookworm-backports unless some apt source already lists it (a second copy only makes apt warn).
  if [ -f "$src" ] || ! grep -rqsE --include='*.list' --include='*.sources' --include=sources.list '^[^#]*bookworm-backports' /etc/apt/; then
    cat >"$src" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    echo "   apt source: $src (bookworm-backports)"
  else
    echo "   apt source: bookworm-backports already configured"
  fi
  apt-get update -q
  apt-get install -y -q libvulkan1 && apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
else
  apt-get update -q
  apt-get install -y -q libvulkan1 mesa-vulkan-drivers
fi

if [ "$chromium" = 1 ]; then
  if [ "$distro" = debian ]; then
    apt-get install -y -q chromium
  elif ! apt-get install -y -q chromium; then
    # Ubuntu ships Chromium as a snap; the browser test takes any Chromium >= 120 through VESSELFM_CHROMIUM.
    echo "warning: no chromium package here; point VESSELFM_CHROMIUM at a Chromium binary for the browser test" >&2
  fi
fi

mesa="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo '?')"
summary="mesa-vulkan-drivers $mesa, libvulkan1 $(dpkg-query -W -f='${Version}' libvulkan1 2>/dev/null || echo '?')"
[ "$chromium" = 1 ] && summary="$summary, chromium $(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo 'not installed')"
echo "== installed: $summary"
case "$mesa" in
  22.* | 21.* | 20.*) echo "warning: Mesa $mesa lavapipe is too old for Dawn (needs Mesa >= 24)" >&2 ;;
esac
echo "== check it with: node bin/vesselfm.mjs info"
