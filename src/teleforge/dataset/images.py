"""Frame encoding and decoding for the camera columns (JPEG, PNG or raw RGB) and the depth
columns (16-bit greyscale PNG of uint16 millimetres: lossless, ~2-4x smaller than raw).

simplejpeg and OpenCV both release the GIL, so encoder threads run in parallel
with the control loop and with each other.
"""

from __future__ import annotations

import cv2
import numpy as np
import simplejpeg

from teleforge.dataset.schema import CameraConfig
from teleforge.errors import DatasetError


def encode_image(image: np.ndarray, cam: CameraConfig) -> bytes:
    """(H, W, 3) uint8 RGB -> bytes in the camera's encoding."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise DatasetError(f"camera {cam.name!r}: expected an (H, W, 3) uint8 RGB frame, got {img.dtype} {img.shape}")
    if img.shape[0] != cam.height or img.shape[1] != cam.width:
        raise DatasetError(
            f"camera {cam.name!r}: frame is {img.shape[0]}x{img.shape[1]}, the dataset expects {cam.height}x{cam.width}"
        )
    if cam.encoding == "jpeg":
        jpeg: bytes = simplejpeg.encode_jpeg(np.ascontiguousarray(img), quality=int(cam.quality), colorspace="RGB")
        return jpeg
    if cam.encoding == "png":
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))
        if not ok:
            raise DatasetError(f"camera {cam.name!r}: PNG encoding failed")
        return buf.tobytes()
    return np.ascontiguousarray(img).tobytes()


def decode_image(data: bytes, cam: CameraConfig) -> np.ndarray:
    """Bytes from a camera column -> (H, W, 3) uint8 RGB.

    A frame that does not decode, or decodes to another size than the camera's, raises
    DatasetError (callers add the episode and step); the size is read from the header
    before any pixel buffer is allocated."""
    if cam.encoding == "jpeg":
        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
            if (h, w) != (cam.height, cam.width):
                raise DatasetError(f"camera {cam.name!r}: JPEG frame is {h}x{w}, the dataset declares {cam.height}x{cam.width}")
            rgb: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="RGB")
            return rgb
        except ValueError as exc:  # simplejpeg reports damage as ValueError (libjpeg-turbo's message)
            raise DatasetError(f"camera {cam.name!r}: unreadable JPEG frame ({exc})") from exc
    if cam.encoding == "png":
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"camera {cam.name!r}: unreadable PNG frame")
        if img.shape[:2] != (cam.height, cam.width):
            raise DatasetError(f"camera {cam.name!r}: PNG frame is {img.shape[0]}x{img.shape[1]}, "
                               f"the dataset declares {cam.height}x{cam.width}")
        return img[:, :, ::-1].copy()
    if len(data) != cam.height * cam.width * 3:
        raise DatasetError(f"camera {cam.name!r}: raw frame has {len(data)} bytes, {cam.height}x{cam.width}x3 expected")
    return np.frombuffer(data, np.uint8).reshape(cam.height, cam.width, 3).copy()


def encode_depth(depth: np.ndarray, cam: CameraConfig) -> bytes:
    """(H, W) uint16 depth in mm (0 = no reading) -> lossless 16-bit PNG bytes."""
    d = np.asarray(depth)
    if d.dtype != np.uint16 or d.ndim != 2:
        raise DatasetError(f"camera {cam.name!r}: expected an (H, W) uint16 depth frame in mm, got {d.dtype} {d.shape}")
    if d.shape != (cam.height, cam.width):
        raise DatasetError(f"camera {cam.name!r}: depth frame is {d.shape[0]}x{d.shape[1]}, "
                           f"the dataset expects {cam.height}x{cam.width}")
    # Compression level 1: depth is noisy, higher levels cost several times the CPU for a few percent.
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(d), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise DatasetError(f"camera {cam.name!r}: depth PNG encoding failed")
    return buf.tobytes()


def decode_depth(data: bytes, cam: CameraConfig) -> np.ndarray:
    """Bytes from a depth column -> (H, W) uint16 mm, exactly as recorded (DatasetError if damaged)."""
    d = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if d is None or d.dtype != np.uint16 or d.ndim != 2:
        raise DatasetError(f"camera {cam.name!r}: unreadable 16-bit depth PNG")
    if d.shape != (cam.height, cam.width):
        raise DatasetError(f"camera {cam.name!r}: depth frame is {d.shape[0]}x{d.shape[1]}, "
                           f"the dataset declares {cam.height}x{cam.width}")
    return d


def decode_image_min(data: bytes, cam: CameraConfig, min_size: int) -> np.ndarray:
    """Bytes -> (h, w, 3) uint8 RGB, decoded only as large as needed for ``min_size`` px.

    JPEG scales in the DCT (by 1/2, 1/4 or 1/8) to the smallest size with both sides
    >= ``min_size``, skipping most of the inverse transform and the colour conversion
    of pixels a later resize would throw away (224 px -> 96 px decodes at 112 px, ~2x
    faster). Other encodings decode at full size.
    """
    if cam.encoding == "jpeg" and min_size > 0:
        small: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=int(min_size), min_width=int(min_size))
        return small
    return decode_image(data, cam)


def jpeg_roundtrip(image: np.ndarray, quality: int = 95, min_size: int = 0) -> np.ndarray:
    """What a recorded JPEG camera frame looks like once read back (same codec as the recorder).

    Closed-loop eval and in-memory training data pass live renders through this so a
    policy sees the compression artefacts it would see in a recorded dataset. ``min_size``
    > 0 decodes as the training loader does (:func:`decode_image_min`), so eval frames
    take exactly the training frames' path.
    """
    h, w = image.shape[:2]
    cam = CameraConfig(name="roundtrip", height=h, width=w, encoding="jpeg", quality=int(quality))
    return decode_image_min(encode_image(image, cam), cam, int(min_size))
