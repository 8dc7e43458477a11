#!/usr/bin/env bash
# Create the mmhfpl development environment (idempotent).
#
# Installs the verified stack of shared/GUIDE.md §2 into $VENV (default: .venv):
# torch 2.14.1 + torchvision 0.29.1, mmcv 2.1.0 built from its sdist with compiled
# CPU ops (C++20 patch, --no-build-isolation, MAX_JOBS), then mmhfpl[dev] in editable
# mode.  The built mmcv wheel is cached in $MMHFPL_CACHE (default:
# ${XDG_CACHE_HOME:-~/.cache}/mmhfpl) so later setups on the same machine reuse it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Every path is made absolute here, once: later steps `cd` (the mmcv build runs inside
# the unpacked sdist), and a relative VENV or cache would then point nowhere.
abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
VENV="$(abspath "${VENV:-$ROOT/.venv}")"
PYTHON="${PYTHON:-python3.11}"
CACHE="$(abspath "${MMHFPL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhfpl}")"
WHEELS="$CACHE/wheels"
MMCV_VERSION="2.1.0"
STAMP="$VENV/.mmhfpl-setup-stamp"
STEP="start"

trap 'echo "[setup] FAILED at step: $STEP" >&2' ERR
step() { STEP="$1"; echo "[setup] $1"; }

# A stamp holding a hash of everything that defines the environment lets a
# second `make setup` return at once when nothing changed.
hash_inputs() { { cat "$ROOT/pyproject.toml" "$ROOT/tools/setup_env.sh"; echo "cuda=${MMHFPL_MMCV_CUDA:-0}"; } | sha256sum | cut -d' ' -f1; }
# `tools/setup_env.sh --inputs-hash` prints that hash (.ci/run keys its cold-setup guard on it).
if [[ "${1:-}" == "--inputs-hash" ]]; then hash_inputs; exit 0; fi
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(hash_inputs)" ]]; then
  echo "[setup] environment in $VENV is up to date"
  exit 0
fi

step "check interpreter ($PYTHON)"
command -v "$PYTHON" >/dev/null || { echo "[setup] $PYTHON not found; set PYTHON=/path/to/python3.11" >&2; false; }

step "create virtual environment $VENV"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)

step "install build tools (pip, setuptools>=77.0.3,<82, wheel, ninja)"
"${PIP[@]}" install -q --upgrade pip "setuptools>=77.0.3,<82" wheel ninja

step "install torch 2.14.1 and torchvision 0.29.1"
"${PIP[@]}" install -q torch==2.14.1 torchvision==0.29.1

# MMHFPL_MMCV_CUDA=1 builds mmcv's CUDA ops (FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST and CUDA_HOME
# from the environment) and caches that wheel apart from the CPU one.
if [[ "${MMHFPL_MMCV_CUDA:-0}" == 1 ]]; then
  WHEELS="$CACHE/wheels-cuda"; FORCE_CUDA_FLAG=1; OPS="CUDA and CPU ops"
else
  FORCE_CUDA_FLAG=0; OPS="CPU ops"
fi
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  step "build mmcv $MMCV_VERSION wheel with $OPS (about 11 min on 2 cores; cached in $WHEELS)"
  BUILD="$(mktemp -d)"
  "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
  # torch 2.14 headers need C++20; mmcv 2.1.0's setup.py hard-codes -std=c++17.
  sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
  grep -q -- '-std=c++20' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
  LOG="$CACHE/mmcv-build.log"
  if ! (cd "$BUILD/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA="$FORCE_CUDA_FLAG" \
        MAX_JOBS="${MAX_JOBS:-2}" "${PIP[@]}" wheel --no-build-isolation --no-deps . \
        -w "$BUILD/dist") >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    echo "[setup] mmcv build failed; full log: $LOG" >&2
    false
  fi
  # Publish atomically so an interrupted build never leaves a broken cached wheel.
  for whl in "$BUILD"/dist/mmcv-*.whl; do
    cp "$whl" "$WHEELS/.$(basename "$whl").tmp" && mv "$WHEELS/.$(basename "$whl").tmp" "$WHEELS/$(basename "$whl")"
  done
  rm -rf "$BUILD"
else
  step "reuse cached mmcv wheel from $WHEELS"
fi

step "install mmcv $MMCV_VERSION from the cached wheel"
"${PIP[@]}" install -q --find-links "$WHEELS" "mmcv==$MMCV_VERSION"

step "install mmhfpl[dev] in editable mode with the rest of the stack"
"${PIP[@]}" install -q --find-links "$WHEELS" -e "$ROOT[dev]"

step "check imports"
"$VENV/bin/python" -c "import mmcv.ops, mmseg.models, mmpretrain.models, pydensecrf.densecrf, mmhfpl; print('[setup] imports OK: mmcv', mmcv.__version__)"

hash_inputs > "$STAMP"
echo "[setup] done"
