"""Camera frames to model input: the one resize that training data and live observations share.

torch-free, so data loading workers and the policy's observation path can import it at the top.
"""

from __future__ import annotations

import cv2
import numpy as np

from teleforge.errors import TrainError


def resize_frame(img: np.ndarray, size: int) -> np.ndarray:
    """One (H, W, 3) uint8 camera frame to the model's ``size``×``size`` input; the only resize training and eval use."""
    if img.shape[0] != size or img.shape[1] != size:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


def prep_images(images: dict[str, np.ndarray], cameras: tuple[str, ...], size: int) -> np.ndarray:
    """Resize each named camera frame to ``size`` the same way for training and eval: (n_cam, s, s, 3) uint8."""
    out = []
    for cam in cameras:
        img = images.get(cam)
        if img is None:
            raise TrainError(f"the policy needs camera {cam!r}; the observation has {sorted(images)}")
        out.append(resize_frame(np.asarray(img), size))
    return np.stack(out)
