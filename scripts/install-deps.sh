#!/usr/bin/env bash
# Installs what spindle needs from Debian's packages, only what is missing.
# Idempotent; uses sudo when not root. SPINDLE_DEPS_MINIMAL=1 installs only the
# core (Eigen, xtensor) and the build tools.
set -euo pipefail

core=(build-essential cmake libeigen3-dev libxtensor-dev)
dev=(doctest-dev libbenchmark-dev libmujoco-dev libosmesa6-dev ffmpeg libopenmpi-dev openmpi-bin libcli11-dev nlohmann-json3-dev gnuplot-nox hyperfine doxygen
     clang libclang-rt-dev)  # Clang: the sanitizer preset (compiles faster than GCC with ASan + UBSan)
packages=("${core[@]}")
[ "${SPINDLE_DEPS_MINIMAL:-0}" = 1 ] || packages+=("${dev[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
