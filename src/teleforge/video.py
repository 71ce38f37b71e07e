"""Quick-look media: episode videos (.mp4 / .gif), thumbnail strips and PNGs.

For eyes, not for training: the dataset keeps the original frames. Videos are
written to a hidden temporary file and renamed into place, so a crash never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.errors import VideoError

# Containers PyAV writes, keyed by extension.
_AV_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
SUPPORTED_EXTENSIONS = (*_AV_FORMATS, ".gif")
# Tried in order: H.264 plays everywhere; MPEG-4 part 2 ships with every FFmpeg build.
_ENCODERS = ("libx264", "mpeg4")


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float) -> Path:
    """Write RGB frames (H, W, 3 uint8; grey, RGBA and float [0, 1] are converted) as a video.

    The format follows the extension: .mp4 / .mov / .mkv (H.264 via libx264 when
    available, else MPEG-4; yuv420p) or .gif. Frames are streamed, so an mp4 of a
    long episode does not need all of it in memory. Returns the written path.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise VideoError(
            f"cannot write video '{path}': unknown extension '{path.suffix}'; use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if not fps or fps <= 0 or not np.isfinite(fps):
        raise VideoError(f"cannot write video '{path}': fps must be a positive number, got {fps!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if ext == ".gif":
            _write_gif(_rgb_frames(frames, path), tmp, fps)
        else:
            _write_av(_rgb_frames(frames, path), tmp, fps, _AV_FORMATS[ext])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def image_strip(frames: Sequence[np.ndarray] | np.ndarray, n: int = 8, height: int | None = None) -> np.ndarray:
    """``n`` evenly spaced frames (first and last included) side by side, as one RGB image.

    ``height`` scales the thumbnails (nearest neighbour) to that many rows.
    """
    count = len(frames)
    if count == 0:
        raise VideoError("image_strip needs at least one frame")
    if n < 1:
        raise VideoError(f"image_strip needs n >= 1, got {n}")
    idx = np.unique(np.linspace(0, count - 1, min(n, count)).round().astype(int))
    thumbs = [_to_rgb(frames[i], f"frame {i}") for i in idx]
    shape = thumbs[0].shape
    for i, t in zip(idx, thumbs):
        if t.shape != shape:
            raise VideoError(f"image_strip: frame {i} is {t.shape[1]}x{t.shape[0]}, frame {idx[0]} is {shape[1]}x{shape[0]}")
    if height is not None and height != shape[0]:
        rows = np.minimum((np.arange(height) * shape[0] / height).astype(int), shape[0] - 1)
        width = max(1, round(shape[1] * height / shape[0]))
        cols = np.minimum((np.arange(width) * shape[1] / width).astype(int), shape[1] - 1)
        thumbs = [t[rows][:, cols] for t in thumbs]
    return np.ascontiguousarray(np.concatenate(thumbs, axis=1))


def save_png(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Save an image array (H, W), (H, W, 3) or (H, W, 4) as PNG; float arrays are read as [0, 1]."""
    import imageio.v3 as iio  # lazy: imageio and av take ~0.35 s to import; pay it only when writing media

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise VideoError(f"save_png writes PNG files: give '{path}' a .png extension")
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 4:
        img = _to_uint8(arr, str(path))
    else:
        img = _to_rgb(arr, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, img, extension=".png")
    return path


# ---------------------------------------------------------------- internals
def _to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return np.clip(arr, 0, 255).astype(np.uint8) if arr.dtype != np.bool_ else arr.astype(np.uint8) * 255
    raise VideoError(f"{what}: unsupported pixel type {arr.dtype}; pass uint8 RGB or float in [0, 1]")


def _to_rgb(frame: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise VideoError(f"{what}: expected an image of shape (H, W, 3), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise VideoError(f"{what}: empty image of shape {arr.shape}")
    return np.ascontiguousarray(_to_uint8(arr, what))


def _rgb_frames(frames: Iterable[np.ndarray], path: Path) -> Iterator[np.ndarray]:
    """Validated RGB uint8 frames, all the size of the first; raises if there are none."""
    shape = None
    for i, f in enumerate(frames):
        rgb = _to_rgb(f, f"frame {i} of '{path.name}'")
        if shape is None:
            shape = rgb.shape
        elif rgb.shape != shape:
            raise VideoError(
                f"frame {i} of '{path.name}' is {rgb.shape[1]}x{rgb.shape[0]} but the video is {shape[1]}x{shape[0]}: "
                "all frames must have the same size"
            )
        yield rgb
    if shape is None:
        raise VideoError(f"no frames to write to '{path}': the episode or camera has no images")


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: repeat the last row/column rather than crop content."""
    h, w = rgb.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _open_encoder(container: Any, fps: float, width: int, height: int) -> Any:
    import av  # lazy, as imageio above

    rate = Fraction(fps).limit_denominator(1001)
    last: Exception | None = None
    for name in _ENCODERS:
        try:
            stream = container.add_stream(name, rate=rate)
        except (av.FFmpegError, ValueError) as exc:  # UnknownCodecError: not in this FFmpeg build
            last = exc
            continue
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if name == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        else:
            stream.bit_rate = max(2_000_000, width * height * 8)  # quick looks should not smear small objects
        return stream
    raise VideoError(f"no usable video encoder in this PyAV build (tried {', '.join(_ENCODERS)}): {last}; write a .gif instead")


def _write_av(frames: Iterator[np.ndarray], tmp: Path, fps: float, fmt: str) -> None:
    import av  # lazy, as imageio above

    first = next(frames)  # sizes the stream; raises VideoError when there are no frames
    h, w = _pad_even(first).shape[:2]
    with av.open(str(tmp), mode="w", format=fmt) as container:
        stream = _open_encoder(container, fps, w, h)
        for rgb in _chain_first(first, frames):
            frame = av.VideoFrame.from_ndarray(_pad_even(rgb), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):  # flush delayed frames
            container.mux(packet)


def _chain_first(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _write_gif(frames: Iterator[np.ndarray], tmp: Path, fps: float) -> None:
    import imageio.v3 as iio  # lazy: imageio and av take ~0.35 s to import; pay it only when writing media

    # GIF needs every frame before writing its palette; quick looks are short.
    stack = np.stack(list(frames))
    # GIF frame delays are in 1/100 s; loop=0 repeats forever, as a preview should.
    iio.imwrite(tmp, stack, extension=".gif", duration=1000.0 / fps, loop=0)
