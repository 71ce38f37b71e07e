"""LeRobot 0.4.4 loads a LeRobot-bridge recording: a teleforge collection driven by a (fake) SO-101
leader into a (fake) SO-101 follower, exported with `teleforge export lerobot --state joints`.

Run with the LeRobot venv's python (no teleforge import). Checks, with LeRobot's own code:
- ``LeRobotDataset`` loads the export; episode and frame counts match the native shards;
- the action feature is exactly what LeRobot's own dataset features for its real ``SO101Follower``
  are (``hw_to_dataset_features``: float32, shape (6,), the motor keys in the robot's order), and
  ``observation.state`` starts with the same motor keys (then teleforge's gripper opening);
  the camera has the follower's declared (H, W, 3);
- every frame's action, state, frame/episode index equal the native recording bit for bit, and
  each decoded video frame is the recorded camera frame (PSNR).

LeRobot's real follower class is built with its Feetech SDK stubbed (no bus is opened): the
check compares against the features LeRobot itself declares, not against our fake's.

Usage: check_lerobot_bridge.py EXPORT NATIVE --repo-id ID
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from _common import decode_jpeg, psnr, read_native, run


def lerobot_so101_features(shape: tuple[int, int, int]) -> tuple[dict, dict]:
    """(action feature, observation features) of LeRobot's own SO101Follower, via its dataset helper."""
    sys.modules.setdefault("scservo_sdk", mock.MagicMock(name="scservo_sdk"))  # no servo bus here
    from lerobot.cameras.opencv import OpenCVCameraConfig
    from lerobot.datasets.utils import hw_to_dataset_features
    from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

    h, w, _ = shape
    robot = SO101Follower(SO101FollowerConfig(port="/dev/null", id="teleforge_check",
                                              cameras={"front": OpenCVCameraConfig(index_or_path=0, fps=30, width=w, height=h)}))
    action = hw_to_dataset_features(robot.action_features, "action", use_video=True)["action"]
    obs = hw_to_dataset_features(robot.observation_features, "observation", use_video=True)
    return action, obs


def body(report: dict, export: Path, native: Path, repo_id: str) -> None:
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(repo_id, root=export)
    eps = read_native(native)
    manifest = json.loads((native / "teleforge.json").read_text())
    feats = ds.meta.features
    report.update(episodes=ds.num_episodes, frames=ds.num_frames, robot_type=ds.meta.robot_type)
    assert ds.num_episodes == len(eps) and ds.num_frames == sum(len(e["step"]) for e in eps), "counts differ"
    cam_shape = tuple(feats["observation.images.front"]["shape"])
    ref_action, ref_obs = lerobot_so101_features(cam_shape)  # type: ignore[arg-type]
    got_action = {k: (list(v) if isinstance(v, tuple) else v) for k, v in feats["action"].items() if k in ("dtype", "shape", "names")}
    want_action = {k: (list(v) if isinstance(v, tuple) else v) for k, v in ref_action.items() if k in ("dtype", "shape", "names")}
    assert got_action == want_action, f"action feature {got_action} != LeRobot SO101Follower's {want_action}"
    assert got_action["names"] == manifest["feature_names"]["action"], "the export renamed the recorded action"
    motor_names = ref_obs["observation.state"]["names"]
    assert feats["observation.state"]["names"] == [*motor_names, "gripper"], feats["observation.state"]["names"]
    assert tuple(ref_obs["observation.images.front"]["shape"]) == cam_shape, (ref_obs["observation.images.front"], cam_shape)
    report.update(action_names=got_action["names"], state_names=feats["observation.state"]["names"])

    worst_psnr = float("inf")
    k = 0
    for e_idx, ep in enumerate(eps):
        state = np.concatenate([ep["observation.state.joint_pos"], ep["observation.state.gripper"][:, None]], axis=1)
        for i in range(len(ep["step"])):
            item = ds[k]
            a = item["action"].numpy()
            s = item["observation.state"].numpy()
            assert a.dtype == np.float32 and np.array_equal(a, ep["action"][i]), f"frame {k}: action {a} != {ep['action'][i]}"
            assert np.array_equal(s, state[i].astype(np.float32)), f"frame {k}: state differs"
            assert int(item["episode_index"]) == e_idx and int(item["frame_index"]) == i
            jpeg = ep["observation.images.front"][i]
            if jpeg is not None:
                img = item["observation.images.front"]
                assert isinstance(img, torch.Tensor) and tuple(img.shape) == (cam_shape[2], cam_shape[0], cam_shape[1])
                frame = (img.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
                worst_psnr = min(worst_psnr, psnr(frame, decode_jpeg(jpeg)))
            k += 1
    report["worst_video_psnr_db"] = round(worst_psnr, 2)
    assert worst_psnr > 30, f"a decoded video frame is far from the recorded one ({worst_psnr:.1f} dB)"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("export", type=Path)
    ap.add_argument("native", type=Path)
    ap.add_argument("--repo-id", default="teleforge/so101_bridge")
    args = ap.parse_args()
    run("lerobot-bridge (LeRobot 0.4.4)", lambda r: body(r, args.export, args.native, args.repo_id))
