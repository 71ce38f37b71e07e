"""Quick-look media: videos play back with every frame in the right colour, images round-trip."""

from __future__ import annotations

from fractions import Fraction

import av
import imageio.v3 as iio
import numpy as np
import pytest

from teleforge.errors import VideoError
from teleforge.video import image_strip, save_png, write_video


def ramp(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Frames whose colour walks red -> green -> blue, so order and content are checkable."""
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        colour = (int(255 * (1 - t)), int(255 * (1 - abs(2 * t - 1))), int(255 * t))
        frames.append(np.full((h, w, 3), colour, np.uint8))
    return frames


def decode(path) -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        return frames, stream


def test_mp4_keeps_every_frame_in_order_with_its_colour(tmp_path):
    src = ramp(24)
    out = write_video(iter(src), tmp_path / "ep.mp4", fps=20)  # a generator: streamed, not listed
    frames, stream = decode(out)
    assert len(frames) == 24
    assert stream.average_rate == Fraction(20)
    assert stream.codec_context.pix_fmt == "yuv420p"
    for got, want in zip(frames, src):
        assert np.abs(got.astype(int).mean(axis=(0, 1)) - want[0, 0]).max() < 10
    assert not list(tmp_path.glob(".*partial")), "temporary file renamed into place"


def test_mp4_pads_odd_sizes_to_even_without_cropping(tmp_path):
    src = [np.full((33, 47, 3), (10, 200, 90), np.uint8) for _ in range(5)]
    src[0][:, -1] = (250, 250, 250)  # last column must survive
    frames, _ = decode(write_video(src, tmp_path / "odd.mp4", fps=10))
    assert len(frames) == 5
    assert frames[0].shape == (34, 48, 3)
    assert frames[0][10, 46].min() > 200  # the white column is still there
    assert np.abs(frames[2][16, 20].astype(int) - (10, 200, 90)).max() < 12


def test_mp4_accepts_grey_and_float_frames(tmp_path):
    src = [np.full((32, 32), 0.5, np.float32) for _ in range(3)]
    frames, _ = decode(write_video(src, tmp_path / "grey.mp4", fps=5))
    assert len(frames) == 3
    assert np.abs(frames[1].astype(int) - 128).max() < 8


def test_gif_keeps_frames_colours_and_timing(tmp_path):
    src = ramp(10)
    out = write_video(src, tmp_path / "ep.gif", fps=20)
    frames = iio.imread(out)
    assert frames.shape == (10, 48, 64, 3)
    for got, want in zip(frames, src):
        assert np.abs(got.astype(int)[5, 5] - want[0, 0]).max() < 12
    assert iio.immeta(out)["duration"] == pytest.approx(50, abs=10)  # ms per frame at 20 fps


def test_falls_back_to_mpeg4_when_h264_encoder_is_missing(tmp_path, monkeypatch):
    import teleforge.video as video

    monkeypatch.setattr(video, "_ENCODERS", ("no_such_h264_encoder", "mpeg4"))
    frames, stream = decode(write_video(ramp(6), tmp_path / "fallback.mp4", fps=15))
    assert stream.codec_context.name == "mpeg4"
    assert len(frames) == 6
    assert np.abs(frames[0].astype(int).mean(axis=(0, 1)) - (255, 0, 0)).max() < 12


def test_no_encoder_at_all_says_to_use_gif(tmp_path, monkeypatch):
    import teleforge.video as video

    monkeypatch.setattr(video, "_ENCODERS", ("no_such_encoder",))
    with pytest.raises(VideoError, match="gif"):
        write_video(ramp(2), tmp_path / "x.mp4", fps=10)
    assert list(tmp_path.iterdir()) == []


def test_mkv_is_written_by_pyav_too(tmp_path):
    frames, _ = decode(write_video(ramp(4), tmp_path / "ep.mkv", fps=10))
    assert len(frames) == 4


def test_unknown_extension_names_the_supported_ones(tmp_path):
    with pytest.raises(VideoError, match=r"\.mp4.*\.gif"):
        write_video(ramp(2), tmp_path / "ep.avi", fps=10)
    assert not (tmp_path / "ep.avi").exists()


@pytest.mark.parametrize("name", ["empty.mp4", "empty.gif"])
def test_no_frames_raises_and_leaves_no_file(tmp_path, name):
    with pytest.raises(VideoError, match="no frames"):
        write_video([], tmp_path / name, fps=10)
    assert list(tmp_path.iterdir()) == []


def test_frame_size_change_midway_raises_and_leaves_no_file(tmp_path):
    src = ramp(3) + [np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(VideoError, match="frame 3"):
        write_video(src, tmp_path / "bad.mp4", fps=10)
    assert list(tmp_path.iterdir()) == []


def test_bad_fps_is_refused(tmp_path):
    with pytest.raises(VideoError, match="fps"):
        write_video(ramp(2), tmp_path / "a.mp4", fps=0)


def test_image_strip_takes_evenly_spaced_frames_including_first_and_last():
    frames = [np.full((8, 6, 3), i, np.uint8) for i in range(9)]
    strip = image_strip(frames, n=5)
    assert strip.shape == (8, 30, 3)
    assert [int(strip[0, 6 * k, 0]) for k in range(5)] == [0, 2, 4, 6, 8]
    assert image_strip(frames[:3], n=8).shape == (8, 18, 3)  # never repeats frames
    small = image_strip(frames, n=3, height=4)
    assert small.shape == (4, 9, 3)
    assert [int(small[0, 3 * k, 0]) for k in range(3)] == [0, 4, 8]


def test_image_strip_rejects_empty_and_mixed_sizes():
    with pytest.raises(VideoError):
        image_strip([], n=3)
    with pytest.raises(VideoError, match="frame"):
        image_strip([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], n=2)


def test_save_png_round_trips_exactly(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(iio.imread(save_png(rgb, tmp_path / "sub" / "a.png")), rgb)
    grey = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    back = iio.imread(save_png(grey, tmp_path / "g.png"))
    assert np.array_equal(back[..., 0] if back.ndim == 3 else back, grey)
    with pytest.raises(VideoError, match=".png"):
        save_png(rgb, tmp_path / "a.jpg")
