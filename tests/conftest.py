"""Shared fixtures: synthetic videos, the ``shapes`` test backend, offline Beam options."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.pose_backend import BACKENDS
from posebeam.models.rgbpose import rgbpose_conv3d
from posebeam.schemas.layouts import COCO17
from posebeam.transforms.rgb_inputs import RGBPoseSpec

BACKENDS.setdefault("shapes", "shapes_backend:ShapesBackend")
BACKENDS.setdefault("shapes_crashing", "shapes_backend:CrashingShapesBackend")

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


def assert_one_line_usage_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``posebeam ARGV`` exits 2 and prints exactly one line containing ``message``."""
    from posebeam.pipeline.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1, err


RGBPOSE_CLASSES = ["clap", "jump", "sit", "stand", "walk", "wave"]


@pytest.fixture(scope="session")
def rgbpose_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised ``rgbpose_conv3d`` checkpoint at 8 RGB frames of 64², 32 heatmap
    frames of 16², saved with its model card."""
    torch.manual_seed(0)
    model = rgbpose_conv3d(num_classes=len(RGBPOSE_CLASSES))
    weights = tmp_path_factory.mktemp("rgbpose") / "rgbpose_conv3d.safetensors"
    card = {"architecture": "rgbpose_conv3d", "classes": RGBPOSE_CLASSES, "layout": COCO17.name}
    save_checkpoint(model.state_dict(), weights, {**card, "clip": RGBPoseSpec(rgb_size=64).to_card()})
    return weights


SEGMENTER_TINY_FLAGS = [
    "--epochs-frames",
    "1",
    "--epochs-tcn",
    "1",
    "--heatmap-size",
    "16",
    "--feature-dim",
    "32",
]
SEGMENTER_TINY_FLAGS += ["--frame-batch-size", "32", "--augmented-copies", "0", "--tcn-window", "64"]


@pytest.fixture(scope="session")
def tiny_segmenter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tables, weights): 12 mocap sequence videos of 10 s and a segmenter trained 1 + 1 epochs,
    its temperature fitted on the same tables."""
    from posebeam.pipeline.cli import main

    root = tmp_path_factory.mktemp("segmenter")
    data = root / "data"
    synth = ["synth", str(data), "--motion", "mocap", "--kind", "sequences", "--videos", "12"]
    assert main([*synth, "--duration", "10", "--seed", "3"]) == 0
    train = ["train", "segmenter", str(data), str(root / "model"), "--validation-data", str(data)]
    assert main([*train, *SEGMENTER_TINY_FLAGS]) == 0
    return data, root / "model" / "heatmap_mstcn.safetensors"


def keypoint_frame(out: Path) -> pd.DataFrame:
    """The keypoints table of output folder ``out`` as readers get it (``bbox``, ``bbox_score`` and
    ``keypoints`` as floats in pixels), one row per person-frame."""
    from posebeam.storage.parquet_tables import read_table

    return read_table(str(out), "keypoints").to_pandas()
