"""Real cameras: OpenCV devices/files/streams and Intel RealSense, on capture threads with
the same latest-frame ``Camera`` interface as the sim renderers (``robots.sim_cameras``)."""

from teleforge.robots.cameras.capture import CaptureCamera, CaptureStats, FrameSource, RawFrame
from teleforge.robots.cameras.rig import CameraSet, CameraSource, open_camera, parse_camera_arg

__all__ = ["CameraSet", "CameraSource", "CaptureCamera", "CaptureStats", "FrameSource", "RawFrame",
           "open_camera", "parse_camera_arg"]
