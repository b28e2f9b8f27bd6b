"""The pose stage's child process: started ahead of need by window planning, taken over by the pose
stage, stopped when nothing takes it, and never left behind by a job."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import keypoint_frame
from synth_video import write_video

from posebeam.pipeline import isolation
from posebeam.pipeline.cli import main
from posebeam.pipeline.isolation import IsolatedPoseStage, discard_spare, prestart
from posebeam.pipeline.pose_stage import ExtractConfig

SHAPES = "shapes_backend:ShapesBackend"


def _pose_children() -> list[int]:
    """This process's living children that are pose stages (from /proc: no psutil here)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"posebeam.pipeline.isolation" in command:
            found.append(int(entry.name))
    return found


def test_a_prestarted_child_is_the_one_the_pose_stage_uses(tmp_path: Path) -> None:
    write_video(tmp_path / "a.mp4", frames=6)
    config = ExtractConfig(backend="shapes", window_s=None)
    prestart(config, SHAPES)
    spare = isolation._SPARES[isolation._config_json(config, SHAPES)]
    prestart(config, SHAPES)  # at most one spare per config
    assert isolation._SPARES[isolation._config_json(config, SHAPES)] is spare
    stage = IsolatedPoseStage(config, SHAPES)
    result, counts = stage.run(str(tmp_path / "a.mp4"), "a")
    assert result.failure is None and counts.frames == 6
    assert stage._child is spare and not isolation._SPARES
    stage.close()
    assert spare.poll() is not None and not _pose_children()


def test_a_spare_nothing_took_is_stopped() -> None:
    config = ExtractConfig(backend="shapes", fps=3.0)
    prestart(config, SHAPES)
    spare = isolation._SPARES[isolation._config_json(config, SHAPES)]
    discard_spare(config, SHAPES)
    assert spare.poll() is not None and not isolation._SPARES and not _pose_children()
    discard_spare(config, SHAPES)  # nothing left: a no-op


def test_a_job_leaves_no_pose_child_behind(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(folder / name, frames=8, num_boxes=2 if name == "b.mp4" else 1)
    assert (
        main(
            [
                "extract",
                str(folder),
                str(tmp_path / "out"),
                "--backend",
                "shapes",
                "--",
                "--runner=FnApiRunner",
            ]
        )
        == 0
    )
    assert len(set(keypoint_frame(tmp_path / "out").video_id)) == 2
    assert not isolation._SPARES and not _pose_children()
