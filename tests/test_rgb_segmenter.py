"""The segmenter's optional RGB stream: crops cut as frames stream past, the fused model's size,
training on rendered ``posebeam synth`` videos and ``posebeam run`` re-reading the frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import BEAM_TEST_OPTIONS, keypoint_frame
from synth_video import write_video

from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.rgb_segmenter import RGBHeatmapSegmenter, rgb_parameter_count
from posebeam.models.segment_track import load_segmenter, segment_track
from posebeam.pipeline.cli import main
from posebeam.transforms.rgb_crops import RGBSegmenterSpec, crop_frame, track_crops

TINY = ["--epochs-frames", "1", "--epochs-tcn", "1", "--heatmap-size", "16", "--feature-dim", "16"]
TINY += ["--frame-batch-size", "16", "--augmented-copies", "1", "--tcn-window", "32", "--rgb-size", "16"]
TINY += ["--rgb-dim", "8"]


def test_a_crop_is_the_box_resized_and_black_outside_the_frame() -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:20, 30:40] = 200  # a 10 px square
    crop = crop_frame(image, np.array([30.0, 10.0, 10.0]), 20)
    assert crop.shape == (20, 20, 3) and crop[2:18, 2:18].min() == 200
    outside = crop_frame(image, np.array([-100.0, -100.0, 50.0]), 8)
    assert not outside.any()


def test_track_crops_read_frames_in_one_pass_and_stop_after_the_last_wanted() -> None:
    images = {i: np.full((8, 8, 3), i, np.uint8) for i in range(10)}
    read: list[int] = []

    def frames():  # type: ignore[no-untyped-def]
        for i in range(10):
            read.append(i)
            yield i, images[i]

    wanted = np.array([5, -1, 2, 2, 6])
    crops = track_crops(frames(), wanted, np.tile([0.0, 0.0, 8.0], (5, 1)), 4)
    assert [int(c.max()) for c in crops] == [5, 0, 2, 2, 6]
    assert read == list(range(7))


@pytest.mark.parametrize("stages", [(0,), (0, 3), (2,)])
def test_the_fused_model_has_the_documented_size_and_gives_every_stage(stages: tuple[int, ...]) -> None:
    spec = RGBSegmenterSpec(heatmap_size=16, feature_dim=32, rgb_size=16, rgb_dim=8, rgb_stages=stages)
    model = RGBHeatmapSegmenter(5, spec)
    counts = rgb_parameter_count(5, spec)
    parts = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert {k: v for k, v in parts.items() if v} == {k: v for k, v in counts.items() if k != "total"}
    assert model.temporal(torch.randn(2, 40, 25)).shape == (4, 2, 5, 25)


def test_rgb_stages_are_checked_and_kept_sorted() -> None:
    assert RGBSegmenterSpec(rgb_stages=(3, 0, 3)).rgb_stages == (0, 3)
    assert RGBSegmenterSpec.from_card(
        {**RGBSegmenterSpec(rgb_stages=(1,)).to_card(), "rgb_stages": [1]}
    ).rgb_stages == (1,)
    with pytest.raises(ValueError, match="RGB stages"):
        RGBSegmenterSpec(rgb_stages=(4,))


@pytest.fixture(scope="module")
def rgb_trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(rendered tables, an rgb_heatmap_mstcn trained 1 + 1 epochs on them, RGB into stages 0 and 3)."""
    root = tmp_path_factory.mktemp("rgbseg")
    argv = ["synth", str(root / "data"), "--motion", "mocap", "--kind", "sequences", "--videos", "4"]
    assert main([*argv, "--duration", "6", "--size", "96x72", "--render", "--seed", "5"]) == 0
    train = [
        "train",
        "segmenter",
        str(root / "data"),
        str(root / "model"),
        "--architecture",
        "rgb_heatmap_mstcn",
    ]
    assert main([*train, *TINY, "--rgb-stages", "0,3", "--test-fraction", "0.5"]) == 0
    return root / "data", root / "model" / "rgb_heatmap_mstcn.safetensors"


def test_an_rgb_segmenter_trains_on_rendered_videos_and_records_its_fusion(
    rgb_trained: tuple[Path, Path],
) -> None:
    data, weights = rgb_trained
    card = verify_checkpoint(weights)
    assert card["architecture"] == "rgb_heatmap_mstcn" and card["clip"]["rgb_stages"] == [0, 3]
    assert {"rgb_encoder", "rgb_head", "encoder", "tcn"} <= set(card["parameters"])
    model, spec, _ = load_segmenter(weights)
    assert isinstance(model, RGBHeatmapSegmenter) and spec == RGBSegmenterSpec.from_card(card["clip"])
    with pytest.raises(ValueError, match="RGB crop"):
        segment_track(model, np.zeros((5, 17, 2)), np.ones((5, 17)), spec)
    assert main(["evaluate", "segmenter", str(weights), str(data), "--json"]) == 0


def _run_on_one_video(weights: Path, tmp_path: Path) -> None:
    """``posebeam run`` with the ``shapes`` backend and ``weights`` as segmenter on one 24-frame video."""
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "walk.mp4", frames=24, num_boxes=1)
    argv = [
        "run",
        str(tmp_path / "videos"),
        str(tmp_path / "out"),
        "--backend",
        "shapes",
        "--classifier",
        "none",
    ]
    assert main([*argv, "--segmenter", str(weights), "--", *BEAM_TEST_OPTIONS]) == 0


def test_posebeam_run_re_reads_the_frames_for_an_rgb_segmenter(
    rgb_trained: tuple[Path, Path], tmp_path: Path
) -> None:
    _, weights = rgb_trained
    _run_on_one_video(weights, tmp_path)
    labels = pd.read_parquet(tmp_path / "out" / "frame_labels")
    assert len(labels) == len(keypoint_frame(tmp_path / "out")) > 0
    assert labels.model.str.startswith("rgb_heatmap_mstcn@").all()
    assert len(pd.read_parquet(tmp_path / "out" / "segments")) >= 1


def test_a_track_whose_video_cannot_be_re_read_becomes_a_failure_row(
    rgb_trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posebeam.pipeline.segment import RGBSegmenterHandler

    def gone(*args: object) -> None:
        raise FileNotFoundError("No such file or directory: 'walk.mp4'")

    monkeypatch.setattr(RGBSegmenterHandler, "_crops", gone)
    _, weights = rgb_trained
    _run_on_one_video(weights, tmp_path)
    failures = pd.read_parquet(tmp_path / "out" / "failures")
    assert len(pd.read_parquet(tmp_path / "out" / "videos")) == 1 and len(failures) == 1
    assert failures.stage[0] == "segment" and failures.error_type[0] == "FileNotFoundError"
    assert failures.message[0].startswith("1 track of this video could not be segmented: its frames cannot")
    assert pd.read_parquet(tmp_path / "out" / "frame_labels").empty
