#!/usr/bin/env bash
# Installs everything ppc needs (as root on a fresh Debian 12), then configures and builds it.
# Safe to run again: it installs only what is missing and rebuilds incrementally.
#   scripts/setup.sh [BUILD_DIR]     (default: build)
#
# LibTorch comes from a pinned PyTorch wheel from PyPI (a CUDA build) in a virtual environment
# outside the clone, keyed by the pinned versions, so later runs and clean clones reuse it:
#   $PPC_VENV (default ~/.cache/ppc/venv-torch-<version>)
# TorchScript is deprecated upstream (hard errors are proposed around 2.15): keep the pin.
# To build against another LibTorch >= 2.4, configure CMake yourself with CMAKE_PREFIX_PATH and
# -DPPC_PYTHON=<a python whose torch matches it>.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

# transformers 4.46.3: from 4.53 on its causal mask is built with vmap, which torch.jit.trace
# (HF's torchscript=True export) cannot follow. matplotlib: examples/train-gpt2's loss curve.
PY_PINS=(torch==2.11.0 torchvision==0.26.0 transformers==4.46.3 matplotlib==3.11.2)
PIN_KEY=torch-2.11.0
VENV=${PPC_VENV:-$HOME/.cache/ppc/venv-$PIN_KEY}

PACKAGES=(build-essential cmake ninja-build ccache git ca-certificates python3 python3-venv
          python3-dev # Python.h, for the extension ppc._C (python/)
          libgloo-dev llvm-dev libgtest-dev nlohmann-json3-dev libssl-dev
          zlib1g-dev libzstd-dev libxml2-dev libffi-dev libncurses-dev # these five: LLVM's CMake config
          bible-kjv) # the `bible` program and the KJV text examples/train-gpt2 trains on

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is complete once its stamp names the pins; a half-finished or older install is
# brought to the pins in place (pip keeps what already matches).
STAMP="$VENV/.ppc-pins"
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PY_PINS[*]}" ]; then
  echo "setup: installing ${PY_PINS[*]} into $VENV (once; a few GB)"
  [ -x "$VENV/bin/pip" ] || { rm -rf "$VENV"; /usr/bin/python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PINS[@]}"
  echo "${PY_PINS[*]}" > "$STAMP"
fi
PY="$VENV/bin/python3"
TORCH_CMAKE=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')

# The wheel is a CUDA build, so CMake needs a CUDA toolkit to configure against (no GPU needed):
# /usr/local/cuda where the machine has one, else nvcc and headers from PyPI beside the venv's.
CUDA_ARGS=()
if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  CUDA_ROOT=$("$PY" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
  if [ ! -x "$CUDA_ROOT/bin/nvcc" ] || [ ! -e "$CUDA_ROOT/include/nv/target" ]; then
    echo "setup: no CUDA toolkit here; installing nvcc from PyPI into $VENV"
    # nvcc, its compiler front end and headers (CCCL) from the CUDA release the wheel was built with
    "$VENV/bin/pip" install -q --disable-pip-version-check "nvidia-cuda-nvcc==13.0.88" \
      "nvidia-nvvm==13.0.88" "nvidia-cuda-crt==13.0.88" "nvidia-cuda-cccl==13.0.85"
  fi
  [ -e "$CUDA_ROOT/lib64" ] || ln -s lib "$CUDA_ROOT/lib64" # where nvcc.profile looks
  # CMake looks for unversioned libraries; the wheels ship only the .so.N names.
  for lib in "$CUDA_ROOT"/lib/lib*.so.[0-9]*; do
    base=${lib%%.so.*}.so
    [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"
  done
  CUDA_ARGS=(-DCUDA_TOOLKIT_ROOT_DIR="$CUDA_ROOT" -DCUDAToolkit_ROOT="$CUDA_ROOT"
             -DCMAKE_CUDA_COMPILER="$CUDA_ROOT/bin/nvcc")
fi

# ccache caches compilations across clean clones; the sloppiness lets it cache PCH users.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
if [ ! -f "$BUILD_DIR/build.ninja" ] || ! grep -q "PPC_PYTHON:FILEPATH=$PY\$" "$BUILD_DIR/CMakeCache.txt"; then
  rm -rf "$BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DPPC_PYTHON="$PY" "${CUDA_ARGS[@]}" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

# The venv's own python imports `ppc` from this clone's build (build/python3 does so anyway).
# The venv is shared by clones: the clone that ran setup last is the one it imports.
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$(cd "$BUILD_DIR" && pwd)/python" > "$SITE/ppc.pth"
