"""Video files as LeRobot v3.0 stores them: many episodes back to back in one mp4 per camera.

Frames carry ``pts = n`` in a ``1/fps`` time base, counted from the start of the
file, so episode ``k`` spans ``[from_timestamp, to_timestamp) = [start/fps, end/fps)``
and LeRobot finds frame ``i`` at ``from_timestamp + i/fps`` (it decodes the frame
at ``round(t * fps)``). Encoding and decoding use PyAV only.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.errors import ExportError, ImportFormatError

# LeRobot's defaults (video_utils.encode_video_frames): AV1 via SVT, yuv420p, GOP 2, CRF 30.
DEFAULT_GOP = 2
DEFAULT_CRF = 30
SVT_PRESET = 12


def resolve_codec(vcodec: str = "auto") -> str:
    """``auto`` -> libsvtav1 (what LeRobot writes) when PyAV's FFmpeg has it, else libx264 (h264).

    SVT-AV1 writes the same bytes for the same frames every time (so the local and ray engines
    write identical videos); libx264 does not (measured: an episode encoded 100 times in one
    process, threads=1, gave 2-3 different files), so x264 exports are equal frame count and
    layout, not bytes."""
    import av  # lazy (here and below): FFmpeg's libraries load only when a video is written or read

    have = av.codecs_available
    if vcodec == "auto":
        for name in ("libsvtav1", "libx264", "h264"):
            if name in have:
                return name
        raise ExportError("PyAV's FFmpeg has neither libsvtav1 nor libx264; install PyAV wheels from PyPI (`pip install av`)")
    if vcodec not in have:
        raise ExportError(f"video codec {vcodec!r} is not in PyAV's FFmpeg; use 'auto', 'libsvtav1' or 'libx264'")
    return vcodec


def codec_options(vcodec: str, gop: int, crf: int) -> dict[str, str]:
    """FFmpeg options for ``vcodec``: GOP size, CRF, and SVT-AV1's preset."""
    opts = {"g": str(gop), "crf": str(crf)}
    if vcodec == "libsvtav1":
        opts["preset"] = str(SVT_PRESET)
    return opts


class VideoFileWriter:
    """One open mp4 for one camera; frames appended in order, pts counted from the file start.

    ``path`` may be an in-memory buffer (``io.BytesIO``): :func:`encode_segment` encodes one
    episode that way in an engine job.
    """

    def __init__(self, path: Path | io.BytesIO, fps: int, height: int, width: int, vcodec: str, gop: int = DEFAULT_GOP,
                 crf: int = DEFAULT_CRF, threads: int | None = None) -> None:
        import av  # lazy: see resolve_codec

        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner per file otherwise; keep errors only
        self.fps = int(fps)
        self.frames = 0
        if isinstance(path, io.BytesIO):
            self._container = av.open(path, "w", format="mp4")
        else:
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w")
        opts = codec_options(vcodec, gop, crf)
        if threads:
            if vcodec == "libsvtav1":
                opts["svtav1-params"] = f"lp={threads}"
            else:
                opts["threads"] = str(threads)
        stream = self._container.add_stream(vcodec, rate=self.fps, options=opts)
        # PyAV types add_stream(<any str>) as a video, audio or subtitle stream; vcodec is a video codec
        assert isinstance(stream, av.VideoStream), f"{vcodec} did not open a video stream"
        self._stream = stream
        self._stream.width = int(width)
        self._stream.height = int(height)
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = Fraction(1, self.fps)
        self._tb = Fraction(1, self.fps)
        self._packets = 0
        self._packet_bytes = 0

    def add(self, rgb: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame as the file's next frame."""
        import av  # lazy: see resolve_codec

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.time_base = self._tb
        for packet in self._stream.encode(frame):
            self._packets += 1
            self._packet_bytes += packet.size
            self._container.mux(packet)
        self.frames += 1

    def size_bytes(self) -> int:
        """Estimated size of the file once every frame given so far is encoded.

        The encoder holds back a look-ahead of frames, so bytes muxed so far lag behind;
        scale the average packet size to all frames instead."""
        if not self._packets:
            return 0
        return int(self._packet_bytes / self._packets * self.frames)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


def encode_segment(frames: Iterable[np.ndarray], fps: int, height: int, width: int, vcodec: str,
                   gop: int = DEFAULT_GOP, crf: int = DEFAULT_CRF, threads: int | None = None) -> tuple[bytes, int]:
    """Encode (H, W, 3) uint8 RGB frames as a standalone mp4 in memory: (its bytes, frame count).

    One episode's video as an engine job; :class:`SegmentFileWriter` joins segments into a file.
    """
    buf = io.BytesIO()
    w = VideoFileWriter(buf, fps, height, width, vcodec, gop, crf, threads)
    for f in frames:
        w.add(f)
    w.close()
    return buf.getvalue(), w.frames


class SegmentFileWriter:
    """One mp4 built from encoded segments (:func:`encode_segment`) joined back to back without re-encoding.

    Every segment starts with a key frame (each is its own encode), so a frame is found by
    seeking exactly as in a file encoded in one go; pts/dts are shifted so frame ``n`` of the
    file is at ``n / fps``. Segments of one file must share codec and size (one camera's settings).
    """

    def __init__(self, path: Path, fps: int) -> None:
        import av  # lazy: see resolve_codec

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = int(fps)
        self.frames = 0
        self.bytes = 0
        self._container = av.open(str(self.path), "w")
        self._stream: Any = None

    def append(self, data: bytes, frames: int) -> None:
        """Mux the ``frames`` frames of one segment after those already in the file."""
        import av  # lazy: see resolve_codec

        with av.open(io.BytesIO(data), "r") as src:
            ins = src.streams.video[0]
            if self._stream is None:
                self._stream = self._container.add_stream_from_template(ins, opaque=True)
                self._stream.time_base = Fraction(1, self.fps)
            tb = ins.time_base
            assert tb is not None
            shift = Fraction(self.frames, self.fps) / tb
            if shift.denominator != 1:
                raise ExportError(f"{self.path}: segment time base {tb} cannot hold frame times at {self.fps} fps; re-export")
            off = int(shift)
            for packet in src.demux(ins):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.pts = None if packet.pts is None else packet.pts + off
                packet.dts = packet.dts + off
                packet.stream = self._stream
                packet.time_base = tb
                self.bytes += packet.size
                self._container.mux(packet)
        self.frames += int(frames)

    def size_bytes(self) -> int:
        """Bytes of video data muxed so far (exact: the segments are already encoded)."""
        return self.bytes

    def close(self) -> None:
        self._container.close()


def video_info(path: Path) -> dict[str, Any]:
    """The ``info`` block LeRobot puts on a video feature (same keys as its ``get_video_info``)."""
    import av  # lazy: see resolve_codec

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.base_rate is None:
            raise ExportError(f"{path}: its video stream declares no frame rate; encode it again")
        info = {
            "video.height": s.height,
            "video.width": s.width,
            "video.codec": s.codec_context.codec.canonical_name,
            "video.pix_fmt": s.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(s.base_rate),
            "video.channels": 3,
            "has_audio": bool(c.streams.audio),
        }
    return info


class VideoFileReader:
    """Decodes one mp4 front to back, handing out the frames of consecutive time windows.

    Episodes in one file are read in file order without seeking; asking for an
    earlier window reopens the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._open()

    def _open(self) -> None:
        import av  # lazy: see resolve_codec

        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise ImportFormatError(f"{self.path}: cannot open video ({exc}); re-download or re-export it") from exc
        self._frames: Iterator[Any] = self._container.decode(video=0)
        self._pending: tuple[float, np.ndarray] | None = None
        self._last_t = -1.0

    def close(self) -> None:
        self._container.close()

    def _next(self) -> tuple[float, np.ndarray] | None:
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        try:
            f = next(self._frames)
        except StopIteration:
            return None
        except Exception as exc:  # PyAV raises its own error types for corrupt streams
            raise ImportFormatError(f"{self.path}: video decode failed after t={self._last_t:.3f}s ({exc}); the file is corrupt") from exc
        t = float(f.time) if f.time is not None else self._last_t + 1e-6
        return t, f.to_ndarray(format="rgb24")

    def window(self, from_s: float, n: int, fps: float) -> np.ndarray:
        """``n`` frames starting at ``from_s`` (frame i nearest ``from_s + i/fps``), as (n, H, W, 3) uint8."""
        half = 0.5 / fps
        if from_s - half < self._last_t:
            self.close()
            self._open()
        out: list[np.ndarray] = []
        while len(out) < n:
            item = self._next()
            if item is None:
                break
            t, img = item
            if t < from_s - half:
                continue
            self._last_t = t
            out.append(img)
        if len(out) < n:
            raise ImportFormatError(
                f"{self.path}: expected {n} frames from t={from_s:.3f}s, the video holds {len(out)}; "
                "the video and meta/episodes disagree — re-export the dataset"
            )
        return np.stack(out)
