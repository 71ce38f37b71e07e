"""robomimic 0.3.0 reads a robomimic HDF5 export with its own SequenceDataset and trains on it.

Usage: PY_ROBOMIMIC check_robomimic.py HDF5 NATIVE_DATASET [--config CFG.json ...] [--steps 10] [--image]
Checks: SequenceDataset with its defaults (load_next_obs=True) and dataset_keys actions/rewards/dones;
`python -m robomimic.scripts.train --config` for a few steps of BC and of IQL (an algorithm that reads
next_obs). With --config, the given config JSONs (e.g. a handoff's) are trained as written except for
num_epochs=1, epoch_every_n_steps=STEPS, output_dir and checkpoint saving, instead of the BC configs
generated here (IQL always runs); --image adds a BC run on the RGB observations.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import decode_jpeg, native_state8, psnr, read_native, run


def make_config(algo: str, hdf5: str, out: str, low_dim: list[str], rgb: list[str], steps: int) -> dict:
    """A robomimic config (its own defaults for `algo`) trimmed to a few CPU steps, as a dict."""
    from robomimic.config import config_factory

    cfg = config_factory(algo)
    with cfg.values_unlocked():
        cfg.train.data = hdf5
        cfg.train.output_dir = out
        cfg.train.num_epochs = 1
        cfg.train.batch_size = 4
        cfg.train.num_data_workers = 0
        cfg.train.hdf5_cache_mode = "low_dim" if not rgb else None
        cfg.experiment.epoch_every_n_steps = steps
        cfg.experiment.validate = False
        cfg.experiment.rollout.enabled = False
        cfg.experiment.render_video = False
        cfg.experiment.logging.log_tb = False
        cfg.experiment.save.enabled = False
        cfg.experiment.name = f"teleforge_{algo}{'_image' if rgb else ''}"
        cfg.observation.modalities.obs.low_dim = low_dim
        cfg.observation.modalities.obs.rgb = rgb
    return json.loads(cfg.dump())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("hdf5")
    p.add_argument("native")
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--image", action="store_true")
    a = p.parse_args()

    def body(r: dict) -> None:
        import h5py
        import robomimic.utils.obs_utils as ObsUtils
        from robomimic.utils.dataset import SequenceDataset

        with h5py.File(a.hdf5, "r") as f:
            demos = sorted(f["data"].keys(), key=lambda d: int(d.split("_")[1]))
            d0 = f["data"][demos[0]]
            obs_keys = sorted(d0["obs"].keys())
            r["demos"], r["total"] = len(demos), int(f["data"].attrs.get("total", -1))
            r["demo0_keys"] = sorted(d0.keys())
            low_dim = [k for k in obs_keys if d0["obs"][k].ndim == 2]
            rgb = [k for k in obs_keys if d0["obs"][k].ndim == 4]
            actions0 = d0["actions"][()]
        native = read_native(a.native)
        r["actions_vs_native_max_abs"] = float(np.abs(actions0 - native[0]["action"]).max())
        with h5py.File(a.hdf5, "r") as f:  # every demo: actions, eef state, next_obs = obs shifted by one
            dmax = smax = nmax = 0.0
            for k, d in enumerate(demos):
                g, ep = f["data"][d], native[k]
                dmax = max(dmax, float(np.abs(g["actions"][()] - ep["action"]).max()))
                pos, quat = g["obs/robot0_eef_pos"][()], g["obs/robot0_eef_quat"][()]
                state = np.concatenate([pos, quat[:, 3:4], quat[:, :3], g["obs/robot0_gripper_qpos"][()]], axis=1)
                smax = max(smax, float(np.abs(state - native_state8(ep)).max()))
                if "next_obs" in g:
                    for key in g["obs"]:
                        o, n = g["obs"][key], g["next_obs"][key]
                        nmax = max(nmax, float(np.abs(n[:-1].astype(np.float64) - o[1:].astype(np.float64)).max()))
            r["all_demos_vs_native_max_abs"] = {"actions": dmax, "state8": smax, "next_obs_vs_obs_shift": nmax}
            if a.image and rgb:
                frames = f["data"][demos[0]]["obs"][rgb[0]][()]
                cam = rgb[0][: -len("_image")]
                r["psnr_" + cam + "_min_of_3"] = min(psnr(frames[i], decode_jpeg(native[0]["observation.images." + cam][i]))
                                                     for i in (0, len(frames) // 2, len(frames) - 1))

        ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": low_dim, "rgb": []}})
        failures = []
        try:  # load_next_obs defaults to True (robomimic/utils/dataset.py:34, read at :289)
            ds = SequenceDataset(hdf5_path=a.hdf5, obs_keys=low_dim, dataset_keys=("actions", "rewards", "dones"),
                                 seq_length=10, hdf5_cache_mode="low_dim")
            item = ds[0]
            r["sequence_dataset"] = {"len": len(ds), "actions": list(item["actions"].shape),
                                     "next_obs": sorted(item.get("next_obs", {}))}
        except Exception as exc:  # keep going: the training runs say more
            r["sequence_dataset"] = {"error": f"{type(exc).__name__}: {exc}"}
            failures.append("SequenceDataset")

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path[1:]))
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            configs = []
            for given in a.config:  # a handoff's config, as written, but for a.steps steps into tmp
                cfg = json.loads(Path(given).read_text())
                cfg.setdefault("train", {}).update(num_epochs=1, output_dir=str(Path(tmp, "out")))
                cfg.setdefault("experiment", {}).update(epoch_every_n_steps=a.steps)
                cfg["experiment"].setdefault("save", {})["enabled"] = False
                c = Path(tmp, "handoff_" + Path(given).name)
                c.write_text(json.dumps(cfg))
                configs.append(c)
            plan = [] if a.config else [("bc", low_dim, [])] + ([("bc", low_dim, rgb)] if a.image else [])
            plan.append(("iql", low_dim, []))  # an algorithm that trains on next_obs
            for algo, ld, im in plan:
                c = Path(tmp, f"{algo}{'_image' if im else ''}.json")
                c.write_text(json.dumps(make_config(algo, a.hdf5, str(Path(tmp, "out")), ld, im, a.steps)))
                configs.append(c)
            for c in configs:
                proc = subprocess.run([sys.executable, "-m", "robomimic.scripts.train", "--config", str(c)],
                                      capture_output=True, text=True, env=env, timeout=1800)
                tail = (proc.stdout + proc.stderr).strip().splitlines()[-2:]
                # train.py catches every exception and exits 0 ("run failed with error"): read its last line.
                done = proc.returncode == 0 and "finished run successfully!" in proc.stdout
                runs.append({"config": c.name, "ok": done, "tail": tail})
        r["train"] = runs
        failures += [x["config"] for x in runs if not x["ok"]]
        if failures:
            raise RuntimeError(f"failed: {failures}")

    run("robomimic", body)


if __name__ == "__main__":
    main()
