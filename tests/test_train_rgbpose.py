"""``posebeam train classifier --architecture rgbpose_conv3d`` on rendered ``posebeam synth`` videos.

One module-scoped run trains for one epoch (two steps of two clips) at a tiny input: 4 RGB frames
at 32², 16 heatmap frames at 8², one test clip. Its checkpoint is then evaluated and used by
``posebeam run``.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import BEAM_TEST_OPTIONS, assert_one_line_usage_error
from synth_video import write_video

from posebeam.models.classifier import build_classifier, load_classifier
from posebeam.pipeline.cli import main
from posebeam.schemas.tables import VIDEOS
from posebeam.training.rgbpose_inputs import TrainingVideoError, read_clip_frames
from posebeam.transforms.rgb_inputs import RGBPoseSpec

SPEC = RGBPoseSpec(rgb_frames=4, rgb_size=32, pose_frames=16)
TRAIN_ARGS = ["--architecture", "rgbpose_conv3d", "--epochs", "1", "--batch-size", "2", "--eval-clips", "1"]
TRAIN_ARGS += ["--rgb-frames", "4", "--rgb-size", "32", "--pose-frames", "16"]


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six rendered one-person videos (2 s at 8 fps, 64×48), wave or squat."""
    data = tmp_path_factory.mktemp("synth") / "data"
    argv = ["synth", str(data), "--videos", "6", "--duration", "2", "--fps", "8", "--size", "64x48"]
    assert main([*argv, "--actions", "wave,squat", "--render"]) == 0
    return data


@pytest.fixture(scope="module")
def trained(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The checkpoint trained by the CLI, and what training printed."""
    out = tmp_path_factory.mktemp("model")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        # The temperature is fitted on the training videos themselves, so all 4 clips train (2 steps).
        argv = [
            "train",
            "classifier",
            str(synth_data),
            str(out),
            *TRAIN_ARGS,
            "--validation-data",
            str(synth_data),
        ]
        assert main(argv) == 0
    return out / "rgbpose_conv3d.safetensors", printed.getvalue()


def test_training_writes_a_verified_checkpoint_with_fused_and_per_stream_metrics(
    trained: tuple[Path, str],
) -> None:
    weights, printed = trained
    model, card = load_classifier(weights)  # checks the sha256 against the card
    assert "epoch 1/1 step 2/2 loss" in printed and "held-out" in printed
    assert card["architecture"] == "rgbpose_conv3d" and card["classes"] == ["squat", "wave"]
    assert card["layout"] == "coco17" and RGBPoseSpec.from_card(card["clip"]) == SPEC
    held_out = card["metrics"]["held_out"]
    assert set(held_out) == {
        "top1", "top5", "mean_class_accuracy", "num_clips", "rgb_top1", "pose_top1", "per_class_accuracy"
    }  # fmt: skip
    assert held_out["num_clips"] == 2 and all(
        0 <= held_out[k] <= 1 for k in ("top1", "rgb_top1", "pose_top1")
    )
    training = card["training"]
    assert training["lr"] == pytest.approx(0.0075 * 2 / 48) and training["weight_decay"] == 1e-4
    assert training["train_clips"] == 4 and "cosine" in training["schedule"]
    assert training["loss"] == "cross-entropy on each stream, summed 1:1"
    torch.manual_seed(0)  # the trainer's seed: the same initial weights, then two SGD steps
    initial = build_classifier("rgbpose_conv3d", 2, 17).state_dict()
    state = model.state_dict()
    assert not torch.equal(state["head.fc_rgb.weight"], initial["head.fc_rgb.weight"])
    assert not torch.equal(state["head.fc_pose.weight"], initial["head.fc_pose.weight"])


def test_evaluate_prints_fused_metrics_of_every_clip(
    trained: tuple[Path, str], synth_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, _ = trained
    assert main(["evaluate", "classifier", str(weights), str(synth_data), "--clips", "1"]) == 0
    metrics = json.loads(capsys.readouterr().out.removeprefix("posebeam: "))
    assert metrics["num_clips"] == 6 and {"top1", "rgb_top1", "pose_top1"} <= metrics.keys()


def test_run_classifies_with_the_trained_checkpoint(trained: tuple[Path, str], tmp_path: Path) -> None:
    weights, _ = trained
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "walk.mp4", frames=12, num_boxes=1)
    argv = ["run", str(tmp_path / "videos"), str(tmp_path / "out"), "--backend", "shapes"]
    argv += ["--classifier", str(weights), "--clip-window-s", "1.0"]
    assert main([*argv, "--", *BEAM_TEST_OPTIONS]) == 0
    predictions = pd.read_parquet(tmp_path / "out" / "clip_predictions")
    assert len(predictions) == 1 and predictions.model[0].startswith("rgbpose_conv3d@")
    assert predictions.label[0] in ("squat", "wave")


def _with_uris(data: Path, tmp_path: Path, uri_of: dict[str, str]) -> Path:
    """A copy of ``data``'s tables whose ``videos`` rows point at other files."""
    copy = tmp_path / "data"
    for table in ("keypoints", "clip_labels"):
        (copy / table).mkdir(parents=True)
        pq.write_table(pq.read_table(data / table), copy / table / "part-00000.parquet")
    videos = pq.read_table(data / "videos").to_pylist()
    rows = [{**row, "uri": uri_of.get(row["video_id"], row["uri"])} for row in videos]
    (copy / "videos").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=VIDEOS), copy / "videos" / "part-00000.parquet")
    return copy


def _one_line_failure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_a_clip_whose_video_is_missing_stops_training_naming_the_video(
    synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video_id = str(pd.read_parquet(synth_data / "videos").video_id[3])
    data = _with_uris(synth_data, tmp_path, {video_id: str(tmp_path / "moved.mp4")})
    err = _one_line_failure(["train", "classifier", str(data), str(tmp_path / "out"), *TRAIN_ARGS], capsys)
    assert f"TrainingVideoError: video {video_id}: its file {tmp_path / 'moved.mp4'} does not exist" in err
    assert not (tmp_path / "out").exists()


def test_a_video_that_cannot_be_decoded_stops_training(
    synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    video_ids = pd.read_parquet(synth_data / "videos").video_id
    data = _with_uris(synth_data, tmp_path, dict.fromkeys(video_ids, str(garbage)))
    err = _one_line_failure(["train", "classifier", str(data), str(tmp_path / "out"), *TRAIN_ARGS], capsys)
    assert "TrainingVideoError: video " in err and f"cannot decode {garbage}" in err


def test_frames_past_the_end_of_the_video_are_an_error(synth_data: Path) -> None:
    videos = pd.read_parquet(synth_data / "videos")
    video_id, uri = str(videos.video_id[0]), str(videos.uri[0])
    frames = read_clip_frames(video_id, uri, [5, 2, 5])
    assert [f.shape for f in frames] == [(48, 64, 3)] * 3 and (frames[0] == frames[2]).all()
    with pytest.raises(TrainingVideoError, match=rf"video {video_id}: .* has no frames \[16, 99\]"):
        read_clip_frames(video_id, uri, [0, 16, 99])


def test_a_skeleton_clip_option_is_a_usage_error_for_rgbpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "classifier", str(tmp_path), str(tmp_path / "out"), *TRAIN_ARGS, "--clip-len", "8"]
    assert_one_line_usage_error(argv, "--clip-len does not apply to rgbpose_conv3d", capsys)
