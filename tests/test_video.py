"""Decoding: codecs and containers, timestamps, resizing, corrupt packets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from synth_video import (
    corrupt_packets,
    frame_image,
    set_mp4_rotation_clockwise_90,
    write_audio_only,
    write_video,
)

from posebeam.storage.video import NoVideoStream, VideoReader, content_hash, read_frames


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("a.mp4", "mpeg4"),
        ("b.avi", "mpeg4"),
        ("c.mkv", "mjpeg"),
        ("d.webm", "libvpx-vp9"),
        ("e.mov", "libx264"),
    ],
)
def test_decodes_every_frame_with_pts_timestamps(tmp_path: Path, name: str, codec: str) -> None:
    path = write_video(tmp_path / name, codec=codec, frames=20, fps=10)
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        frames = list(reader.frames())
        info = reader.info
    assert [f.index for f in frames] == list(range(20))
    np.testing.assert_allclose([f.timestamp_s for f in frames], np.arange(20) / 10, atol=1e-6)
    assert (info.width, info.height, info.fps, info.frames_decoded) == (160, 128, 10.0, 20)
    assert info.packets_skipped == 0
    # Lossy codecs: the decoded picture is close to what was encoded.
    error = np.abs(frames[5].rgb.astype(int) - frame_image(5, 2, 160, 128)).mean()
    assert error < 12


def test_max_side_resizes_keeping_aspect(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", frames=3, width=320, height=240)
    with open(path, "rb") as handle, VideoReader(handle, max_side=160) as reader:
        frames = list(reader.frames())
        assert reader.scale == 0.5
    assert frames[0].rgb.shape == (120, 160, 3)


@pytest.mark.parametrize(("name", "codec"), [("a.avi", "mpeg4"), ("b.mkv", "libx264"), ("c.mkv", "mjpeg")])
def test_corrupt_packets_are_counted_and_skipped(tmp_path: Path, name: str, codec: str) -> None:
    valid = write_video(tmp_path / name, frames=60, fps=10, gop=5, codec=codec)
    broken = corrupt_packets(valid, tmp_path / f"broken_{name}", {20, 21, 22})
    with open(broken, "rb") as handle, VideoReader(handle) as reader:
        frames = list(reader.frames())
        info = reader.info
    indices = [f.index for f in frames]
    assert info.packets_skipped == 3
    assert "InvalidDataError" in info.errors[0]
    assert 50 <= len(frames) <= 57
    assert indices == sorted(set(indices)), "indices stay unique and increasing"
    assert indices[-1] == 59, "frames after the damage are decoded, with their own indices"


def test_truncated_stream_yields_the_frames_before_the_cut(tmp_path: Path) -> None:
    cut = write_video(tmp_path / "a.mkv", frames=60, fps=10).read_bytes()
    with VideoReader(io.BytesIO(cut[: len(cut) // 2])) as reader:
        frames = list(reader.frames())
    assert 15 <= len(frames) < 60
    assert [f.index for f in frames] == list(range(len(frames)))


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    path = set_mp4_rotation_clockwise_90(write_video(tmp_path / "phone.mp4", frames=2, width=160, height=128))
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        (first, _) = list(reader.frames())
        info = reader.info
    assert (info.rotation_deg, info.width, info.height) == (270, 128, 160)
    assert first.rgb.shape == (160, 128, 3)
    upright = frame_image(0, 2, 160, 128)
    error = np.abs(first.rgb.astype(int) - np.rot90(upright, -1)).mean()
    assert error < 12, "turned clockwise, as a player shows it"


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = write_audio_only(tmp_path / "a.m4a")
    with open(path, "rb") as handle, pytest.raises(NoVideoStream):
        VideoReader(handle)


def test_content_hash_is_sha256_prefix() -> None:
    assert content_hash(io.BytesIO(b"abc")) == "ba7816bf8f01cfea414140de5dae2223"


@pytest.mark.parametrize(("name", "codec"), [("a.mp4", "mpeg4"), ("b.mkv", "libx264"), ("c.avi", "mpeg4")])
def test_read_frames_seeks_and_matches_a_full_decode(tmp_path: Path, name: str, codec: str) -> None:
    path = write_video(tmp_path / name, frames=60, fps=10, gop=10, codec=codec)
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        everything = {f.index: f for f in reader.frames()}
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        picked = read_frames(reader, [47, 25, 26, 25])
        decoded = reader.info.frames_decoded
    assert [f.index for f in picked] == [25, 26, 47]
    for frame in picked:
        assert frame.timestamp_s == pytest.approx(everything[frame.index].timestamp_s)
        np.testing.assert_array_equal(frame.rgb, everything[frame.index].rgb)
    assert decoded <= 30, "decoding starts at the keyframe before frame 25, not at frame 0"


def test_read_frames_reuses_one_reader_backwards_and_from_frame_0(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", frames=30, fps=10, gop=10)
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        later = read_frames(reader, [21, 24])
        first = read_frames(reader, [0, 3])
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        everything = {f.index: f.rgb for f in reader.frames()}
    assert [f.index for f in later + first] == [21, 24, 0, 3]
    for frame in later + first:
        np.testing.assert_array_equal(frame.rgb, everything[frame.index])


class _CannotSeek:
    """A container whose seeks fail, as an unindexed stream's may."""

    def __init__(self, container: object) -> None:
        self._container = container

    def seek(self, *args: object, **kwargs: object) -> None:
        raise OSError("not seekable")

    def __getattr__(self, name: str) -> object:
        return getattr(self._container, name)


def test_a_seek_that_fails_or_overshoots_loses_no_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "a.mp4", frames=60, fps=10, gop=10)
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        reader._container = _CannotSeek(reader._container)  # type: ignore[assignment]
        failed = [f.index for f in reader.frames(start_s=3.0)]
    assert failed == list(range(30, 60))  # read from the start, frames before 3 s skipped
    real_seek = VideoReader._seek
    overshoots = iter([5.0])
    monkeypatch.setattr(VideoReader, "_seek", lambda self, s: real_seek(self, next(overshoots, s)))
    with open(path, "rb") as handle, VideoReader(handle) as reader:
        overshot = [f.index for f in reader.frames(start_s=3.0)]
    assert overshot == list(range(30, 60))  # landed at 5 s: decoded again from the start
