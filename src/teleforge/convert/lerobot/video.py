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
    elif vcodec == "libx264":
        opts["forced-idr"] = "1"  # a forced key frame (an episode's first) is an IDR: later frames never look back
    return opts


class VideoFileWriter:
    """One mp4 for one camera; frames appended in order, pts counted from the file start.

    ``path`` may be an in-memory buffer (``io.BytesIO``): :class:`SegmentEncoder` encodes a job's
    episodes that way. ``key_frame=True`` on :meth:`add` starts a closed group of pictures there
    (a key frame / IDR), so the file can be cut at that frame without re-encoding.

    Packets are held until :meth:`close` and muxed in decode order: SVT-AV1 (PyAV 18's
    FFmpeg) now and then hands out its last packets out of order when flushed on a busy
    machine (measured: about 1 flush in 3000), which the mp4 muxer refuses with a bare
    ``Invalid argument``. The held packets are an episode's or a job's worth (kB to a few MB).
    """

    def __init__(self, path: Path | io.BytesIO, fps: int, height: int, width: int, vcodec: str, gop: int = DEFAULT_GOP,
                 crf: int = DEFAULT_CRF, threads: int | None = None) -> None:
        import av  # lazy: see resolve_codec

        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner per file otherwise; keep errors only
        self.fps = int(fps)
        self.frames = 0
        self.where = str(path) if not isinstance(path, io.BytesIO) else f"{vcodec} segment"
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
        self._held: list[Any] = []
        self._packet_bytes = 0

    def add(self, rgb: np.ndarray, key_frame: bool = False) -> None:
        """Encode one (H, W, 3) uint8 RGB frame as the file's next frame (``key_frame``: force a key frame)."""
        import av  # lazy: see resolve_codec

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.time_base = self._tb
        if key_frame:
            frame.pict_type = av.video.frame.PictureType.I
        try:
            self._hold(self._stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise ExportError(f"{self.where}: encoding frame {self.frames} failed ({exc}); re-run the export") from exc
        self.frames += 1

    def _hold(self, packets: list[Any]) -> None:
        for packet in packets:
            self._packet_bytes += packet.size
            self._held.append(packet)

    def size_bytes(self) -> int:
        """Estimated size of the file once every frame given so far is encoded.

        The encoder holds back a look-ahead of frames, so bytes encoded so far lag behind;
        scale the average packet size to all frames instead."""
        if not self._held:
            return 0
        return int(self._packet_bytes / len(self._held) * self.frames)

    def close(self) -> None:
        """Flush the encoder, mux every packet in decode order, finish the file.

        Raises ExportError (one line) if the encoder lost or repeated a frame or FFmpeg refuses a packet."""
        import av  # lazy: see resolve_codec

        try:
            self._hold(self._stream.encode())
            packets = sorted(self._held, key=lambda p: p.dts)  # stable: equal dts keep their order
            dts = [p.dts for p in packets]
            if len(set(dts)) != len(dts) or len(packets) != self.frames:
                raise ExportError(f"{self.where}: the encoder returned {len(packets)} packets for {self.frames} "
                                  "frames (or repeated a time stamp); re-run the export")
            for packet in packets:
                self._container.mux(packet)
            self._held = []
            self._container.close()
        except av.error.FFmpegError as exc:
            raise ExportError(f"{self.where}: finishing the video failed ({exc}); re-run the export") from exc


def encode_segment(frames: Iterable[np.ndarray], fps: int, height: int, width: int, vcodec: str,
                   gop: int = DEFAULT_GOP, crf: int = DEFAULT_CRF, threads: int | None = None) -> tuple[bytes, int]:
    """Encode (H, W, 3) uint8 RGB frames as a standalone mp4 in memory: (its bytes, frame count)."""
    enc = SegmentEncoder(fps, height, width, vcodec, gop, crf, threads)
    enc.start_episode()
    for f in frames:
        enc.add(f)
    data = enc.finish()
    return data, enc.frames


class SegmentEncoder:
    """One camera's frames of a few episodes encoded back to back as one in-memory mp4.

    Each episode starts with a forced key frame, so :meth:`SegmentFileWriter.append` can cut it
    out by frame range without re-encoding: one encoder start per camera per job instead of per
    episode (SVT-AV1's start costs about as much as encoding a short low-resolution episode).
    """

    def __init__(self, fps: int, height: int, width: int, vcodec: str, gop: int = DEFAULT_GOP,
                 crf: int = DEFAULT_CRF, threads: int | None = None) -> None:
        self._buf = io.BytesIO()
        self._w = VideoFileWriter(self._buf, fps, height, width, vcodec, gop, crf, threads)
        self._key = False

    @property
    def frames(self) -> int:
        """Frames given so far (all episodes)."""
        return self._w.frames

    def start_episode(self) -> int:
        """Mark the next frame as an episode's first (a key frame); returns its frame number in the segment."""
        self._key = True
        return self._w.frames

    def add(self, rgb: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame."""
        self._w.add(rgb, key_frame=self._key)
        self._key = False

    def finish(self) -> bytes:
        """Flush and return the mp4's bytes."""
        self._w.close()
        return self._buf.getvalue()


class _Demuxed:
    """One mp4 segment opened and demuxed once: its video stream (a template) and its packets with their
    original (pts, dts), as ints in the segment's time base."""

    def __init__(self, data: bytes) -> None:
        import av  # lazy: see resolve_codec

        self.data = data  # held so that `is` identifies the segment
        self._container = av.open(io.BytesIO(data), "r")
        self.stream = self._container.streams.video[0]
        tb = self.stream.time_base
        assert tb is not None
        self.time_base: Fraction = tb
        self.packets = [(int(p.pts), int(p.dts), p) for p in self._container.demux(self.stream)
                        if p.dts is not None and p.pts is not None]  # skips the end-of-stream marker

    def close(self) -> None:
        self._container.close()


class SegmentFileWriter:
    """One mp4 built from encoded segments (:class:`SegmentEncoder`) joined back to back without re-encoding.

    An episode is a frame range of a segment that starts at a key frame (forced there), so a frame
    is found by seeking exactly as in a file encoded in one go; pts/dts are shifted so frame ``n``
    of the file is at ``n / fps``. Segments of one file must share codec and size (one camera's settings).
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
        self._seg: _Demuxed | None = None  # the last segment: a job's episodes arrive one after another

    def append(self, data: bytes, frames: int, first: int = 0) -> None:
        """Mux frames ``[first, first + frames)`` of the mp4 segment ``data`` after those already in the file.

        Frame ``first`` must be a key frame (:meth:`SegmentEncoder.start_episode`); packets are
        taken by presentation time, which for a closed group of pictures is a run of packets.
        A segment is demuxed once for all its episodes in this file (:class:`_Demuxed`)."""
        import av  # lazy: see resolve_codec

        try:
            seg = self._seg
            if seg is None or seg.data is not data:
                if seg is not None:
                    seg.close()
                seg = self._seg = _Demuxed(data)
            if self._stream is None:
                self._stream = self._container.add_stream_from_template(seg.stream, opaque=True)
                self._stream.time_base = Fraction(1, self.fps)
            tb = seg.time_base
            per_frame = Fraction(1, self.fps) / tb
            if per_frame.denominator != 1:
                raise ExportError(f"{self.path}: segment time base {tb} cannot hold frame times at {self.fps} fps; re-export")
            step = int(per_frame)
            shift = (self.frames - first) * step
            lo, hi = first * step, (first + frames) * step
            taken = 0
            for pts, dts, packet in seg.packets:
                if not lo <= pts < hi:
                    continue
                if taken == 0 and not packet.is_keyframe:
                    raise ExportError(f"{self.path}: episode segment does not start on a key frame; re-export")
                packet.pts = pts + shift
                packet.dts = dts + shift
                packet.stream = self._stream
                packet.time_base = tb
                self.bytes += packet.size
                self._container.mux(packet)  # the muxer takes the packet's data: each is muxed once
                taken += 1
        except av.error.FFmpegError as exc:
            raise ExportError(f"{self.path}: joining an episode's video failed ({exc}); re-run the export") from exc
        if taken != frames:
            raise ExportError(f"{self.path}: the segment holds {taken} of the episode's {frames} frames; re-export")
        self.frames += int(frames)

    def size_bytes(self) -> int:
        """Bytes of video data muxed so far (exact: the segments are already encoded)."""
        return self.bytes

    def close(self) -> None:
        import av  # lazy: see resolve_codec

        if self._seg is not None:
            self._seg.close()
            self._seg = None
        try:
            self._container.close()
        except av.error.FFmpegError as exc:
            raise ExportError(f"{self.path}: finishing the video failed ({exc}); re-run the export") from exc


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
