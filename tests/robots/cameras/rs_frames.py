"""The frames a fake ``pyrealsense2`` pipeline hands out (shared by the RealSense tests)."""

from __future__ import annotations

import numpy as np


class RsFrame:
    def __init__(self, data: np.ndarray | None, ts_ms: float) -> None:
        self._data, self._ts = data, ts_ms

    def __bool__(self) -> bool:  # pyrealsense2 frames are falsy when the frameset lacks them
        return self._data is not None

    def get_data(self) -> np.ndarray:
        assert self._data is not None
        return self._data

    def get_timestamp(self) -> float:
        return self._ts


class RsFrameset:
    def __init__(self, color: RsFrame, depth: RsFrame) -> None:
        self.color, self.depth = color, depth

    def get_color_frame(self) -> RsFrame:
        return self.color

    def get_depth_frame(self) -> RsFrame:
        return self.depth
