#!/usr/bin/env bash
# Build (once per machine) or reuse the LeRobot 0.4.4 validator venv, install this
# project into it, and run tests/convert/lerobot_check.py: lerobot loads our LeRobot v3
# export (frames, videos, stats, tasks) and our importer reads what lerobot's own
# writer produced. The venv (~6 GB: lerobot needs torch) lives outside the clone:
#   "${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}/venv-lerobot"
# Recipe measured in /work/shared/VERIFY.md: lerobot 0.4.4 declares torch<2.11, which
# the registries here only offer as CUDA builds, so it gets torch 2.14.1 + torchcodec 0.14
# with --no-deps and its runtime imports listed by hand.
# Usage: .ci/lerobot_venv.sh [--build-only]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}"
VENV="$CACHE/venv-lerobot"
PY="$VENV/bin/python"
mkdir -p "$CACHE"

# torchcodec loads FFmpeg's shared libraries at import time.
if ! ldconfig -p 2>/dev/null | grep -q 'libavcodec.so'; then
  (apt-get update -qq && apt-get install -y -qq ffmpeg) || { echo "ffmpeg shared libraries are missing and apt-get failed" >&2; exit 1; }
fi

if ! "$PY" -c "import lerobot.datasets.lerobot_dataset, torchcodec.decoders" >/dev/null 2>&1; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
  "$VENV/bin/pip" install -q --no-deps lerobot==0.4.4 accelerate torchcodec==0.14.0
  "$VENV/bin/pip" install -q "datasets>=4,<5" "huggingface-hub<0.36" pyarrow pandas "av>=15,<16" jsonlines \
    packaging einops draccus==0.10.0 "opencv-python-headless<4.13" deepdiff termcolor "imageio[ffmpeg]" \
    gymnasium pillow psutil safetensors pyyaml
fi
# This checkout into the venv (cheap when already there: editable, deps satisfied).
if ! "$PY" -c "import teleforge, sys; sys.exit(0 if teleforge.__file__.startswith('$ROOT/') else 1)" >/dev/null 2>&1; then
  "$VENV/bin/pip" install -q -e "$ROOT[test]"
fi
[ "${1:-}" = "--build-only" ] && exit 0

export MUJOCO_GL="${MUJOCO_GL:-egl}" SVT_LOG="${SVT_LOG:-1}"
"$PY" tests/convert/lerobot_check.py
