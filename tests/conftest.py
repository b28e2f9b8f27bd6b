"""Shared fixtures: synthetic videos, the ``shapes`` test backend, offline Beam options."""

from __future__ import annotations

from pathlib import Path

import pytest

from posebeam.models.pose_backend import BACKENDS

BACKENDS.setdefault("shapes", "shapes_backend:ShapesBackend")

BEAM_TEST_OPTIONS = ["--runner=FnApiRunner"]


@pytest.fixture
def video_folder(tmp_path: Path) -> Path:
    """A folder with two small valid videos (mp4/h264-free mpeg4 and mkv/mjpeg)."""
    from synth_video import write_video

    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "walk.mp4", codec="mpeg4", frames=24)
    write_video(folder / "walk3.mkv", codec="mjpeg", frames=12, num_boxes=3)
    return folder
