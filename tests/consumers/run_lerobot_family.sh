#!/usr/bin/env bash
# The LeRobot-family consumer checks on a small export made here (issue 12), each with that
# trainer's own code from its validator venv (.ci/validators.sh builds them and writes validators.env):
#   openpi   `handoff openpi` (LeRobot v2.1) -> pinned LeRobot 0cf8648 + openpi's own transforms
#   lerobot  `handoff lerobot` -> its printed lerobot-train command, 10 ACT steps (LeRobot 0.4.4)
#   bridge   a fake SO-101 leader -> fake follower collection, `export lerobot --state joints` ->
#            LeRobotDataset loads it; features equal LeRobot's own SO101Follower's (issue 14)
#   hf       `export hf` -> datasets 3.6 (openpi's lock) and datasets 4.x
# A consumer whose pinned source is missing from shared/validators prints one SKIP line naming it
# and does not fail the run; a check that runs and fails does. Usage:
#   tests/consumers/run_lerobot_family.sh [PROJECT_PYTHON]      (default .venv/bin/python)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=${1:-$ROOT/.venv/bin/python}
CACHE="${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}"
VALIDATORS="${TELEFORGE_VALIDATORS:-$ROOT/../shared/validators}"
# shellcheck disable=SC1091
. "$CACHE/validators.env"
SRC_OPENPI="${SRC_OPENPI:-$VALIDATORS/openpi-15a9616}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}" MUJOCO_GL=egl HF_HUB_OFFLINE=1 HF_DATASETS_CACHE="$WORK/hf-cache"
tf() { "$PY" -m teleforge.cli.main "$@" > "$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }; }
# Consumer venvs must import their own packages, not this tree.
consumer() { (cd tests/consumers && env -u PYTHONPATH "$@"); }

fail=0
"$PY" - "$WORK/native" <<'PYEOF' || exit 1
import sys
from pathlib import Path
from tests.curation.synth import EpisodePlan, make_dataset, make_spec
# 3 episodes of unequal length (40/43/46 steps), two 64x64 JPEG cameras
make_dataset(Path(sys.argv[1]), [EpisodePlan(seed=i, steps=40 + 3 * i) for i in range(3)], make_spec(("front", "wrist"), size=64))
PYEOF

# --- openpi -------------------------------------------------------------------------------
if ! env -u PYTHONPATH "$PY_LEROBOT21" -c "import lerobot.common.datasets.lerobot_dataset" >/dev/null 2>&1; then
  echo "SKIP openpi: LeRobot 0cf8648 does not import in venv-lerobot21 (shared/validators/lerobot-0cf8648 needs lerobot/configs)"
else
  tf handoff openpi "$WORK/native" "$WORK/openpi" || fail=1
  args=()
  if [ -f "$SRC_OPENPI/src/openpi/transforms.py" ]; then
    args=(--openpi-src "$SRC_OPENPI")
  else
    echo "SKIP openpi transforms: openpi source missing ($SRC_OPENPI: src/openpi + packages/openpi-client/src at 15a9616); pinned-LeRobot load still checked"
  fi
  consumer "$PY_LEROBOT21" check_openpi.py "$WORK/openpi" "$WORK/native" "${args[@]}" || fail=1
fi

# --- LeRobot 0.4.4: the handoff's own command, 10 steps ----------------------------------
tf handoff lerobot "$WORK/native" "$WORK/lerobot" || fail=1
consumer "$PY_LEROBOT" check_lerobot_train.py "$WORK/lerobot/lerobot/teleforge/native" "$WORK/native" \
  --repo-id teleforge/native --handoff "$WORK/lerobot" --steps 10 || fail=1

# --- LeRobot bridge: a fake SO-101 leader drives a fake follower; LeRobot 0.4.4 loads the export --
"$PY" -m tests.robots.vendors.bridge_session "$WORK/bridge" > "$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; fail=1; }
tf export lerobot "$WORK/bridge" --out "$WORK/bridge_lerobot" --state joints --repo-id teleforge/so101_bridge || fail=1
consumer "$PY_LEROBOT" check_lerobot_bridge.py "$WORK/bridge_lerobot" "$WORK/bridge" --repo-id teleforge/so101_bridge || fail=1

# --- HF datasets 3.6 and 4.x --------------------------------------------------------------
tf export hf "$WORK/native" --out "$WORK/hf" || fail=1
consumer "$PY_LEROBOT21" check_hf_datasets.py "$WORK/hf" "$WORK/native" || fail=1
consumer "$PY_LEROBOT" check_hf_datasets.py "$WORK/hf" "$WORK/native" || fail=1

exit $fail
