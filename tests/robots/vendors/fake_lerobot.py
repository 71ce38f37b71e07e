"""Fakes with LeRobot 0.4.4's Robot / Teleoperator interface (lerobot/robots/robot.py,
lerobot/teleoperators/teleoperator.py): flat feature dicts, connect(calibrate=...),
get_observation / send_action / get_action, disconnect. Shaped like an SO-101 pair."""

from __future__ import annotations

import numpy as np

MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


class FakeFollower:
    name = "so101_follower"
    robot_type = "so101_follower"

    def __init__(self, camera: tuple[int, int, int] | None = (48, 64, 3), max_step: float = 5.0) -> None:
        self.pos = {m: 0.0 for m in MOTORS}
        self.camera = camera
        self.max_step = max_step  # deg per send_action, like max_relative_target
        self.sent: list[dict[str, float]] = []
        self.is_connected = False
        self.frames = 0

    @property
    def observation_features(self) -> dict:
        ft: dict = {f"{m}.pos": float for m in MOTORS}
        if self.camera:
            ft["front"] = self.camera
        return ft

    @property
    def action_features(self) -> dict:
        return {f"{m}.pos": float for m in MOTORS}

    def connect(self, calibrate: bool = True) -> None:
        assert not self.is_connected
        self.is_connected = True

    def get_observation(self) -> dict:
        assert self.is_connected
        obs: dict = {f"{m}.pos": self.pos[m] for m in MOTORS}
        if self.camera:
            self.frames += 1
            obs["front"] = np.full(self.camera, self.frames % 255, np.uint8)
        return obs

    def send_action(self, action: dict) -> dict:
        assert self.is_connected and set(action) == set(self.action_features)
        out = {}
        for k, v in action.items():
            m = k[: -len(".pos")]
            step = float(np.clip(v - self.pos[m], -self.max_step, self.max_step))
            self.pos[m] += step
            out[k] = self.pos[m]
        self.sent.append(out)
        return out

    def disconnect(self) -> None:
        self.is_connected = False


class FakeLeader:
    name = "so101_leader"

    def __init__(self) -> None:
        self.t = 0
        self.is_connected = False

    @property
    def action_features(self) -> dict:
        return {f"{m}.pos": float for m in MOTORS}

    @property
    def feedback_features(self) -> dict:
        return {}

    def connect(self, calibrate: bool = True) -> None:
        self.is_connected = True

    def get_action(self) -> dict:
        self.t += 1
        return {f"{m}.pos": float(10 * np.sin(self.t / 20 + i)) for i, m in enumerate(MOTORS)}

    def disconnect(self) -> None:
        self.is_connected = False
