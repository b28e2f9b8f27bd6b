"""``posebeam render``: the overlay video keeps the source's frames and timing (variable frame rate
and rotation included) and shows each person's box in its colour."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from synth_video import set_mp4_rotation_clockwise_90, write_video

from posebeam.figures.video_overlay import PersonOverlay, draw_persons, person_colour
from posebeam.pipeline.cli import main
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.video import VideoReader


def _decoded(path: Path) -> tuple[list[float], list[np.ndarray], tuple[int, int]]:
    with path.open("rb") as handle, VideoReader(handle) as reader:
        frames = list(reader.frames())
        return (
            [f.timestamp_s for f in frames],
            [f.rgb for f in frames],
            (reader.info.width, reader.info.height),
        )


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "walk.mp4", frames=24, num_boxes=2)
    pts = [0, 2, 3, 7, 8, 9, 15, 16, 30, 31]  # variable frame rate, in 1/24 s
    write_video(folder / "vfr.mp4", frames=len(pts), pts=pts, time_base=Fraction(1, 24), num_boxes=1)
    set_mp4_rotation_clockwise_90(write_video(folder / "portrait.mp4", frames=8, num_boxes=1))
    out = tmp_path_factory.mktemp("run") / "out"
    argv = [
        "extract",
        str(folder),
        str(out),
        "--backend",
        "shapes",
        "--fps",
        "6",
        "--",
        "--runner=FnApiRunner",
    ]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("name", ["walk.mp4", "vfr.mp4", "portrait.mp4"])
def test_the_overlay_has_the_videos_frames_timing_and_orientation(
    extracted: Path, tmp_path: Path, name: str
) -> None:
    target = tmp_path / "overlay.mp4"
    assert main(["render", str(extracted), name, "-o", str(target)]) == 0
    source = next(Path(uri) for uri in read_table(str(extracted), "videos").column("uri").to_pylist()
                  if uri.endswith(name))  # fmt: skip
    times, _, size = _decoded(source)
    rendered_times, _, rendered_size = _decoded(target)
    assert len(rendered_times) == len(times)
    np.testing.assert_allclose(rendered_times, times, atol=1e-4)
    assert rendered_size == size  # portrait.mp4: 128 x 160 after its display rotation


def test_each_person_is_drawn_in_its_colour_where_it_was_found(extracted: Path, tmp_path: Path) -> None:
    target = tmp_path / "walk_overlay.mp4"
    assert main(["render", str(extracted), "walk.mp4", "-o", str(target)]) == 0
    _, frames, _ = _decoded(target)
    keypoints = read_table(str(extracted), "keypoints").to_pandas()
    walk_id = (
        read_table(str(extracted), "videos").to_pandas().set_index("video_id").uri.str.endswith("walk.mp4")
    )
    rows = keypoints[keypoints.video_id.map(walk_id)]
    frame = 2  # processed under --fps 6 (every other frame of 12 fps); frame 3 holds frame 2's persons
    for index in (frame, frame + 1):
        image = frames[index].astype(int)
        for _, row in rows[rows.frame_index == frame].iterrows():
            x1, y1 = (int(v) for v in row.bbox[:2])
            own, other = (np.array(person_colour(pid)) for pid in (row.person_id, 1 - row.person_id))
            # the box's left edge, below its top (captions sit above it): nearer its own colour
            edge = image[y1 + 10 : y1 + 30, x1 : x1 + 2].reshape(-1, 3)
            near_own = np.abs(edge - own).sum(axis=1) < np.abs(edge - other).sum(axis=1)
            assert near_own.mean() > 0.8 and np.abs(edge - own).sum(axis=1).mean() < 120, (
                index,
                row.person_id,
            )


def test_draw_persons_leaves_the_input_untouched_and_skips_unsure_joints() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    joints = np.zeros((17, 3))
    joints[:, :2] = 32
    joints[5] = [10, 10, 0.9]
    joints[6] = [50, 10, 0.1]  # below the drawing threshold
    drawn = draw_persons(image, [PersonOverlay(3, np.array([5.0, 5.0, 60.0, 60.0]), joints, ("walk",))])
    assert not image.any() and drawn.any()
    assert drawn[10, 10].any() and not drawn[10, 50].any()


def test_report_and_inspect_of_an_extract_run(
    extracted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    assert main(["report", str(extracted), "-o", str(page), "--max-videos", "2"]) == 0
    html = page.read_text()
    assert 'id="count-videos">3<' in html and 'id="count-failures">0<' in html
    assert '<span id="video-sections">2</span>' in html and "1 more videos not shown" in html
    pictures = sorted(p.name for p in (tmp_path / "page_files").iterdir())
    assert len(pictures) == 4 and sum(name.endswith("_timeline.png") for name in pictures) == 2
    assert main(["inspect", str(extracted)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"videos: 3; persons per video: min 1, median \d, max 2\n", text)
    assert "walk.mp4" in text and "failures" in text and "clip_predictions" not in text
    assert main(["report", str(tmp_path / "nothing")]) == 2  # a usage error, one line
