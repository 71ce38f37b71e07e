#!/usr/bin/env bash
# OpenVLA, Octo, robomimic and ACT read a small teleforge handoff with their own code (issue 12).
# Called by .ci/run after .ci/validators.sh; uses the venvs and sources named in validators.env.
# A consumer whose pinned source is absent SKIPs with one line naming what shared/ lacks; it never
# fetches. Usage: tests/consumers/run_rlds_hdf5_family.sh PROJECT_PYTHON [WORKDIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=${1:?usage: run_rlds_hdf5_family.sh PROJECT_PYTHON [WORKDIR]}
WORK=${2:-$(mktemp -d)}
CACHE="${TELEFORGE_CI_CACHE:-$HOME/.cache/teleforge-ci}"
# shellcheck disable=SC1091
. "$CACHE/validators.env"
export PYTHONPATH="$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}" MUJOCO_GL=${MUJOCO_GL:-egl}
fail=0
skip() { echo "[consumers] SKIP $1: $2"; }
check() {  # name, command...: one JSON line per check; a failure fails the script at the end
  local name=$1; shift
  echo "[consumers] $name"
  if ! (cd tests/consumers && "$@" 2>"$WORK/$name.err" | tail -n 1); then
    echo "[consumers] FAIL $name (stderr: $WORK/$name.err)"; tail -n 5 "$WORK/$name.err"; fail=1
  fi
}

# A small native dataset (2 cameras, 3 episodes of unequal length), then one handoff per trainer.
DS="$WORK/ds"
if [ ! -f "$DS/teleforge.json" ]; then
  "$PY" -c "
import sys
from tests.curation.synth import EpisodePlan, make_dataset, make_spec
make_dataset(sys.argv[1], [EpisodePlan(seed=i, steps=30 + 3 * i) for i in range(3)], make_spec(('front', 'wrist'), size=64))
" "$DS" || exit 1
fi
for t in openvla octo robomimic act; do
  "$PY" -m teleforge.cli.main handoff "$t" "$DS" "$WORK/h_$t" --name ci_set --overwrite >/dev/null || { echo "[consumers] FAIL handoff $t"; fail=1; }
done

if [ -z "${SRC_DLIMP_OPENVLA:-}" ] || [ ! -d "$SRC_OPENVLA/prismatic" ]; then
  skip openvla "needs shared/validators/openvla-c8f03f4 and shared/validators/dlimp_openvla-040105d/dlimp (dlimp is on no registry)"
else
  check openvla "$PY_TFDS" check_openvla.py "$WORK/h_openvla" "$DS" --openvla-src "$SRC_OPENVLA" --dlimp-src "$SRC_DLIMP_OPENVLA"
fi
if [ -z "${SRC_DLIMP_OCTO:-}" ] || [ ! -d "$SRC_OCTO/octo" ]; then
  skip octo "needs shared/validators/octo-241fb35 and shared/validators/dlimp-5edaa46/dlimp (dlimp is on no registry)"
else
  check octo "$PY_TFDS" check_octo.py "$WORK/h_octo/rlds" ci_set "$DS" --octo-src "$SRC_OCTO" --dlimp-src "$SRC_DLIMP_OCTO" \
    --dataset-kwargs "$WORK/h_octo/octo_dataset_kwargs.json" --handoff "$WORK/h_octo"
fi
check robomimic "$PY_ROBOMIMIC" check_robomimic.py "$WORK/h_robomimic/robomimic/ci_set.hdf5" "$DS" --image \
  --config "$WORK/h_robomimic/robomimic_bc.json" --config "$WORK/h_robomimic/robomimic_bc_image.json"
# Depth: robomimic's SequenceDataset reads obs/<cam>_depth (uint16 mm) and obs/<cam>_depth_valid exactly.
if [ ! -f "$WORK/depth/teleforge.json" ]; then
  "$PY" -m tests.convert.depth_synth "$WORK/depth" >/dev/null || { echo "[consumers] FAIL depth dataset"; fail=1; }
fi
"$PY" -m teleforge.cli.main export robomimic "$WORK/depth" --out "$WORK/depth_rm.hdf5" --overwrite >/dev/null \
  || { echo "[consumers] FAIL export robomimic (depth)"; fail=1; }
check robomimic_depth "$PY_ROBOMIMIC" check_robomimic_depth.py "$WORK/depth_rm.hdf5" "$WORK/depth"
ACT_FULL="${TELEFORGE_ACT_CHECKOUT:-${TELEFORGE_VALIDATORS:-$ROOT/../shared/validators}/act-742c753}"
if [ -f "$ACT_FULL/policy.py" ] && [ -d "$ACT_FULL/detr" ]; then
  check act "$PY_ACT" check_act.py "$WORK/h_act/aloha" "$DS" --act-src "$SRC_ACT" --handoff "$WORK/h_act" --act-checkout "$ACT_FULL"
else
  skip "act training" "needs constants.py, policy.py and detr/ of tonyzhaozh/act 742c753 in shared/validators/act-742c753 (it holds utils.py only); running load_data only"
  check act "$PY_ACT" check_act.py "$WORK/h_act/aloha" "$DS" --act-src "$SRC_ACT"
fi
exit $fail
