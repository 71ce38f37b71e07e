#!/usr/bin/env bash
# Build (once per machine) or reuse every trainer's validator venv, outside the clone:
#   "${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}"/venv-*
# Each venv is checked by an import probe and rebuilt only when the probe fails, so a
# second run costs seconds. torch (~6 GB, CUDA build) is installed once, in venv-lerobot;
# the openpi, robomimic and ACT venvs see it through a .pth file (../shared/VERIFY.md).
#
#   venv-lerobot    LeRobot 0.4.4 (v3.0 reader, lerobot_train)       .ci/lerobot_venv.sh + pyserial, diffusers
#   venv-lerobot21  LeRobot 0cf8648 = what openpi pins (v2.1 reader)  source from shared/validators, datasets==3.6.0
#   venv-robomimic  robomimic 0.3.0 (SequenceDataset, scripts.train)  --no-deps + h5py psutil tensorboardX six matplotlib
#   venv-act        ACT's utils.load_data                             h5py (+ shared torch)
#   venv-tfds       tensorflow-cpu + tensorflow-datasets              as .ci/run builds it; OpenVLA/Octo run here
#                   with dlimp on PYTHONPATH (src/dlimp-*, see below)
#
# Writes "$CACHE/validators.env" (shell variables naming each python and source path) for
# the consumer checks (tests/consumers/README.md). Prints one line per venv: seconds taken
# (and its size with TELEFORGE_CI_SIZES=1).
# Usage: .ci/validators.sh [--only NAME]...   (NAME: lerobot lerobot21 robomimic act tfds dlimp)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}"
# Pinned consumer sources (shared/validators beside the clone in CI; override for other layouts).
VALIDATORS="${TELEFORGE_VALIDATORS:-$ROOT/../shared/validators}"
mkdir -p "$CACHE"

ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY+=("$2"); shift 2 ;;
    *) echo "unknown argument $1 (usage: .ci/validators.sh [--only NAME]...)" >&2; exit 2 ;;
  esac
done
want() { [ ${#ONLY[@]} -eq 0 ] && return 0; local n; for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

purelib() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
report() {  # name venv seconds (du over the 6 GB torch venv takes seconds: sizes on request)
  local size=""
  [ -n "${TELEFORGE_CI_SIZES:-}" ] && size=" ($(du -sh "$2" 2>/dev/null | cut -f1))"
  echo "[validators] $1: $2$size ready in $3 s"
}
# A venv that sees venv-lerobot's packages (torch, numpy, ...) after its own.
shared_venv() {
  local venv=$1
  python3 -m venv "$venv"
  echo "$(purelib "$CACHE/venv-lerobot")" > "$(purelib "$venv")/base.pth"
}

# --- (a) LeRobot 0.4.4 ----------------------------------------------------------------
if want lerobot || want lerobot21 || want robomimic || want act; then
  t0=$SECONDS
  bash .ci/lerobot_venv.sh --build-only
  # lerobot_train imports these beyond the loader's needs (VERIFY.md "LeRobot training").
  if ! "$CACHE/venv-lerobot/bin/python" -c "import serial, diffusers" >/dev/null 2>&1; then
    "$CACHE/venv-lerobot/bin/pip" install -q pyserial "diffusers<0.36"
  fi
  "$CACHE/venv-lerobot/bin/python" -c "import lerobot.scripts.lerobot_train, torchcodec.decoders"
  report lerobot "$CACHE/venv-lerobot" $((SECONDS - t0))
fi

# --- (b) openpi's LeRobot (codebase v2.1, commit 0cf8648) ---------------------------------
# Its source is not a registry package (shared/validators holds lerobot/common at that commit).
if want lerobot21; then
  t0=$SECONDS
  V="$CACHE/venv-lerobot21"
  SRC="$VALIDATORS/lerobot-0cf8648"
  [ -d "$SRC/lerobot/common" ] || { echo "missing $SRC (shared/validators)" >&2; exit 1; }
  probe21='import datasets, numpydantic, lerobot.common.datasets.lerobot_dataset as m; assert datasets.__version__ == "3.6.0", datasets.__version__; assert "/venv-lerobot21/" in m.__file__, m.__file__'
  if [ ! -x "$V/bin/python" ]; then
    shared_venv "$V"
  fi
  # The pinned tree has no lerobot/__init__.py, and a namespace package loses to venv-lerobot's
  # regular `lerobot` 0.4.4 wherever it sits on sys.path: copy it in as a regular package
  # (a few MB, refreshed every run so it follows shared/).
  rm -rf "$(purelib "$V")/lerobot"
  cp -r "$SRC/lerobot" "$(purelib "$V")/lerobot"
  touch "$(purelib "$V")/lerobot/__init__.py"
  # lerobot/common/datasets/utils.py:45 imports lerobot.configs.types, which shared/ lacks
  # (it holds lerobot/common only): take lerobot/configs at the same commit from a local
  # `fetch` mirror where there is one, until shared/validators carries it.
  if [ ! -d "$SRC/lerobot/configs" ]; then
    LRM=/work/.mirror/huggingface+lerobot/repo
    if [ -d "$LRM" ]; then
      git --git-dir="$LRM" archive 0cf864870cf29f4738d3ade893e6fd13fbd7cdb5 lerobot/configs \
        | tar -x -C "$(purelib "$V")"
    else
      # No mirror (a fresh CI machine): lerobot.common.datasets needs only lerobot/configs/types.py.
      # LeRobot 0.3.2 on PyPI ships it with one enum member more (FeatureType.REWARD); without that
      # line it is 0cf8648's file byte for byte (sha256 checked), else the openpi checks SKIP.
      tmp=$(mktemp -d)
      if "$V/bin/pip" download -q --no-deps "lerobot==0.3.2" -d "$tmp" >/dev/null 2>&1; then
        "$V/bin/python" - "$tmp" "$(purelib "$V")" <<'PY' || echo "[validators] lerobot/configs of 0cf8648 not rebuilt: add it to shared/validators/lerobot-0cf8648" >&2
import glob, hashlib, pathlib, sys, zipfile
whl = glob.glob(sys.argv[1] + "/lerobot-0.3.2-*.whl")[0]
text = zipfile.ZipFile(whl).read("lerobot/configs/types.py").decode().replace('    REWARD = "REWARD"\n', "", 1)
if hashlib.sha256(text.encode()).hexdigest() != "dc105f31de06a06c5cf150dc0c40b623f2a0be7b9f0a5374e385bc3d7db18823":
    sys.exit("lerobot 0.3.2's configs/types.py is not 0cf8648's after removing REWARD")
out = pathlib.Path(sys.argv[2]) / "lerobot" / "configs"
out.mkdir(parents=True, exist_ok=True)
(out / "types.py").write_text(text)
PY
      else
        echo "[validators] lerobot/configs of 0cf8648 missing: add it to shared/validators/lerobot-0cf8648" >&2
      fi
      rm -rf "$tmp"
    fi
  fi
  if ! "$V/bin/python" -c "$probe21" >/dev/null 2>&1; then
    # openpi's uv.lock: datasets 3.6.0 (its own fsspec/dill/multiprocess pins land in this venv
    # and shadow venv-lerobot's newer ones).
    # numpydantic: openpi.shared.normalize (NormStats), run from openpi's source by check_openpi.py.
    "$V/bin/pip" install -q "datasets==3.6.0" numpydantic
  fi
  if [ -d "$(purelib "$V")/lerobot/configs" ]; then
    "$V/bin/python" -c "$probe21"
    report lerobot21 "$V" $((SECONDS - t0))
  else
    # Without lerobot/configs the pinned LeRobot cannot import: the openpi checks print SKIP
    # (tests/consumers/run_lerobot_family.sh); the venv still serves the HF datasets 3.6 check.
    "$V/bin/python" -c 'import datasets; assert datasets.__version__ == "3.6.0", datasets.__version__'
    echo "[validators] SKIP lerobot21's LeRobot 0cf8648 (no lerobot/configs; the HF datasets 3.6 check still runs)"
  fi
fi

# --- (c) robomimic 0.3.0 ---------------------------------------------------------------
if want robomimic; then
  t0=$SECONDS
  V="$CACHE/venv-robomimic"
  probe='import h5py, robomimic.utils.train_utils, robomimic.algo.bc, robomimic.algo.iql, robomimic.scripts.train'
  if ! "$V/bin/python" -c "$probe" >/dev/null 2>&1; then
    rm -rf "$V"; shared_venv "$V"
    "$V/bin/pip" install -q --no-deps robomimic==0.3.0
    "$V/bin/pip" install -q h5py psutil tensorboardX six matplotlib
  fi
  "$V/bin/python" -c "$probe"
  report robomimic "$V" $((SECONDS - t0))
fi

# --- (d) ACT's loader (tonyzhaozh/act utils.py: torch, h5py, numpy) -------------------------
if want act; then
  t0=$SECONDS
  V="$CACHE/venv-act"
  probe='import h5py, torch, numpy'
  if ! "$V/bin/python" -c "$probe" >/dev/null 2>&1; then
    rm -rf "$V"; shared_venv "$V"
    "$V/bin/pip" install -q h5py
  fi
  "$V/bin/python" -c "$probe"
  [ -f "$VALIDATORS/act-742c753/utils.py" ] || { echo "missing $VALIDATORS/act-742c753 (shared/validators)" >&2; exit 1; }
  report act "$V" $((SECONDS - t0))
fi

# --- (e) TFDS venv: OpenVLA and Octo RLDS pipelines --------------------------------------
# Same venv and recipe as .ci/run (the project with its `verify` extra).
if want tfds; then
  t0=$SECONDS
  V="$CACHE/venv-tfds"
  if ! "$V/bin/python" -c "import tensorflow_datasets" >/dev/null 2>&1; then
    rm -rf "$V"; python3 -m venv "$V"
    "$V/bin/pip" install -q --upgrade pip
  fi
  "$V/bin/python" -c "import tensorflow, tensorflow_datasets, teleforge" >/dev/null 2>&1 \
    || "$V/bin/pip" install -q -e "$ROOT[test,verify]"
  "$V/bin/python" -c "import tensorflow, tensorflow_datasets"
  report tfds "$V" $((SECONDS - t0))
fi

# dlimp is on no registry reachable here. OpenVLA uses moojink/dlimp_openvla (040105d) and
# Octo pins kvablack/dlimp 5edaa46, which is 040105d's parent (they differ by one line:
# tf.data `options.deterministic`). Looked for, in order: shared/validators/dlimp-*,
# then $CACHE/src/dlimp-* (filled from a local `fetch` mirror where one exists).
DLIMP_OPENVLA="" DLIMP_OCTO=""
if want dlimp || want tfds; then
  for d in "$VALIDATORS"/dlimp_openvla-* "$CACHE"/src/dlimp_openvla-*; do [ -f "$d/dlimp/__init__.py" ] && { DLIMP_OPENVLA=$d; break; }; done
  for d in "$VALIDATORS"/dlimp-* "$CACHE"/src/dlimp-*; do [ -f "$d/dlimp/__init__.py" ] && { DLIMP_OCTO=$d; break; }; done
  MIRROR=/work/.mirror/moojink+dlimp_openvla/repo
  if [ -z "$DLIMP_OPENVLA$DLIMP_OCTO" ] && [ -d "$MIRROR" ]; then
    for c in 040105d256bd28866cc6620621a3d5f7b6b91b46:dlimp_openvla-040105d 5edaa4691567873d495633f2708982b42edf1972:dlimp-5edaa46; do
      mkdir -p "$CACHE/src/${c#*:}"
      git --git-dir="$MIRROR" archive "${c%%:*}" dlimp | tar -x -C "$CACHE/src/${c#*:}"
    done
    DLIMP_OPENVLA="$CACHE/src/dlimp_openvla-040105d" DLIMP_OCTO="$CACHE/src/dlimp-5edaa46"
  fi
  [ -n "$DLIMP_OPENVLA" ] && [ -n "$DLIMP_OCTO" ] \
    || echo "[validators] dlimp source not found: OpenVLA/Octo checks cannot run (add it under shared/validators)" >&2
fi

cat > "$CACHE/validators.env" <<EOF
# written by .ci/validators.sh
PY_LEROBOT=$CACHE/venv-lerobot/bin/python
PY_LEROBOT21=$CACHE/venv-lerobot21/bin/python
PY_ROBOMIMIC=$CACHE/venv-robomimic/bin/python
PY_ACT=$CACHE/venv-act/bin/python
PY_TFDS=$CACHE/venv-tfds/bin/python
SRC_ACT=$VALIDATORS/act-742c753
SRC_OPENVLA=$VALIDATORS/openvla-c8f03f4
SRC_OCTO=$VALIDATORS/octo-241fb35
SRC_LEROBOT21=$VALIDATORS/lerobot-0cf8648
SRC_DLIMP_OPENVLA=$DLIMP_OPENVLA
SRC_DLIMP_OCTO=$DLIMP_OCTO
EOF
echo "[validators] wrote $CACHE/validators.env"
