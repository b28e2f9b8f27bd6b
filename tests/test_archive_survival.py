"""An archive run survives everything: native crashes, hostile input lists, bad options, forged
checkpoints and identical files. Every input (every list line) ends in exactly one of ``videos`` or
``failures``, and the job exits 0; usage mistakes stop it before it starts, in one line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_one_line_usage_error, keypoint_frame
from synth_video import write_video

from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.pipeline.cli import main
from posebeam.pipeline.failure_messages import INTERNAL_TEXT

BEAM = ["--", "--runner=FnApiRunner"]


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / "videos"), pd.read_parquet(out / "failures"), keypoint_frame(out)


def test_a_native_crash_fails_one_video_and_resume_does_not_retry_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_video(folder / "a.mp4", frames=10)
    write_video(folder / "narrow.mkv", codec="mjpeg", frames=6, width=64, height=128)
    write_video(folder / "c.mkv", codec="mjpeg", frames=8, num_boxes=2)
    out = tmp_path / "out"
    argv = ["extract", str(folder), str(out), "--backend", "shapes_crashing", *BEAM]
    assert main(argv) == 0
    assert re.search(r"videos done +2\n  inputs failed +1\n", capsys.readouterr().out)
    videos, failures, keypoints = _tables(out)
    assert sorted(Path(u).name for u in videos.uri) == ["a.mp4", "c.mkv"]
    assert failures.stage.tolist() == ["crash"] and Path(failures.uri[0]).name == "narrow.mkv"
    assert "SIGSEGV" in failures.message[0] and "other videos were not affected" in failures.message[0]
    assert set(keypoints.video_id) == set(videos.video_id)

    # --resume reuses the crash like any content-decided failure: the archive can finish.
    assert main(["extract", str(folder), str(out), "--backend", "shapes_crashing", "--resume", *BEAM]) == 0
    assert re.search(r"resumed +3 ", capsys.readouterr().out)
    assert _tables(out)[1].stage.tolist() == ["crash"]


@pytest.mark.parametrize("backend", ["movenet", "blazepose"])
def test_every_backend_takes_tiny_and_extreme_frames(tmp_path: Path, backend: str) -> None:
    """HOG (blazepose) corrupts the heap on frames under its 64×128 window; these ran into
    SIGSEGV/SIGABRT. MoveNet has no fixed window."""
    folder = tmp_path / "in"
    folder.mkdir()
    sizes = {"2x2.mkv": (2, 2), "120x90.mp4": (120, 90), "16x1000.mkv": (16, 1000), "1000x16.mkv": (1000, 16),
             "good.mp4": (320, 240)}  # fmt: skip
    for name, (width, height) in sizes.items():
        codec = "mpeg4" if name.endswith(".mp4") else "mjpeg"
        write_video(folder / name, codec=codec, frames=3, width=width, height=height, num_boxes=1)
    out = tmp_path / "out"
    assert main(["extract", str(folder), str(out), "--backend", backend, *BEAM]) == 0
    videos = pd.read_parquet(out / "videos")
    assert sorted(Path(u).name for u in videos.uri) == sorted(sizes)
    assert (videos.frames_processed == 3).all()


def test_an_input_list_accounts_for_every_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    first = write_video(folder / "first.mp4", frames=5)
    bracket = write_video(folder / "take [1] *final?.mp4", frames=5)
    write_video(folder / "other.mkv", codec="mjpeg", frames=5)
    lines = [
        str(first),  # the first line, after a byte-order mark
        "",
        "   # an indented comment",
        str(bracket),  # a real name full of glob characters
        str(folder / "missing.mp4"),
        str(folder / "*.webm"),  # a glob that matches nothing
        str(first),  # listed twice
        str(folder / "*.mkv"),
        str(folder / "o*.mkv"),  # matches other.mkv a second time
    ]
    listing = tmp_path / "inputs.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    out = tmp_path / "out"
    assert main(["extract", str(listing), str(out), "--backend", "shapes", *BEAM]) == 0
    videos, failures, _ = _tables(out)
    assert sorted(Path(u).name for u in videos.uri) == sorted(["first.mp4", bracket.name, "other.mkv"])
    reasons = dict(zip(failures.uri, failures.message, strict=True))
    assert reasons == {
        str(folder / "missing.mp4"): "listed on line 5 of inputs.txt, but there is no such file",
        str(folder / "*.webm"): "listed on line 6 of inputs.txt, but the pattern matches no file",
    }
    assert (failures.stage == "read").all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fps", "nan"], "must be a finite number, got nan"),
        (["--fps", "inf"], "must be a finite number, got inf"),
        (["--fps", "0"], "must be positive"),
        (["--max-side", "64"], "must be at least 128 pixels"),
        (["--batch-size", "1e3"], "expected a whole number"),
        (["--clip-window-s=-inf"], "must be a finite number"),
    ],
)
def test_numeric_options_are_checked_before_the_job(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert_one_line_usage_error(["run", str(video_folder), str(out), *args], message, capsys)
    assert not out.exists()


def _copy_shipped(tmp_path: Path) -> Path:
    weights = tmp_path / "model.safetensors"
    shutil.copy(SHIPPED_CLASSIFIER, weights)
    shutil.copy(SHIPPED_CLASSIFIER.with_suffix(".json"), weights.with_suffix(".json"))
    return weights


@pytest.mark.parametrize("forgery", ["flipped_byte", "renamed_classes", "truncated", "not_safetensors"])
def test_a_bad_checkpoint_stops_the_run_before_it_starts(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], forgery: str
) -> None:
    weights = _copy_shipped(tmp_path)
    data = weights.read_bytes()
    card = json.loads(weights.with_suffix(".json").read_text())
    if forgery == "flipped_byte":
        weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif forgery == "renamed_classes":
        card["classes"] = sorted(card["classes"], reverse=True)
        weights.with_suffix(".json").write_text(json.dumps(card))
    elif forgery == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    else:
        weights.write_bytes(b"just some text, not weights\n")
    out = tmp_path / "out"
    argv = ["run", str(video_folder), str(out), "--backend", "shapes", "--classifier", str(weights), *BEAM]
    assert_one_line_usage_error(argv, "refusing the classifier", capsys)
    assert not out.exists(), "nothing was started"


def test_identical_files_share_one_video_id_and_their_keypoints_are_written_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    original = write_video(folder / "original.mp4", frames=12, num_boxes=2)
    shutil.copy(original, folder / "copy of original.mp4")
    write_video(folder / "other.mkv", codec="mjpeg", frames=6)
    out = tmp_path / "out"
    assert main(["extract", str(folder), str(out), "--backend", "shapes", *BEAM]) == 0
    videos, failures, keypoints = _tables(out)
    assert len(videos) == 3 and failures.empty, "every input is accounted for"
    copies = videos[videos.uri.str.contains("original")]
    assert copies.video_id.nunique() == 1
    assert (copies.person_frames == 24).all()
    rows = keypoints[keypoints.video_id == copies.video_id.iloc[0]]
    assert len(rows) == 24, "a join on video_id does not double them"
    assert not rows.duplicated(["frame_index", "person_id"]).any()


def test_no_failure_message_reads_like_an_internal_exception(tmp_path: Path) -> None:
    from test_bad_inputs import build_corpus

    folder = tmp_path / "corpus"
    build_corpus(folder)
    out = tmp_path / "out"
    assert main(["extract", str(folder), str(out), "--backend", "shapes", *BEAM]) == 0
    failures = pd.read_parquet(out / "failures")
    assert len(failures) >= 9
    for uri, message in zip(failures.uri, failures.message, strict=True):
        assert not any(fragment in message for fragment in INTERNAL_TEXT), (uri, message)
    by_name = dict(zip(failures.uri.map(lambda u: Path(u).name), failures.message, strict=True))
    assert "too large to decode" in by_name["huge_header.y4m"]
    assert "index is missing or cut short" in by_name["moov_first_cut.mp4"]
    assert by_name["audio_only.mp4"] == "the file has no video stream"


def test_the_resume_fingerprint_changes_with_posebeam_and_backend_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from posebeam.pipeline import results_cache
    from posebeam.pipeline.pose_stage import ExtractConfig

    config = ExtractConfig(backend="blazepose", backend_version="opencv-4.12+mediapipe-0.10.21-c1")
    base = results_cache.config_fingerprint(config)
    assert results_cache.config_fingerprint(replace(config, batch_size=3)) == base, "batching changes nothing"
    assert (
        results_cache.config_fingerprint(replace(config, backend_version="opencv-4.13+mp-0.10.22-c1")) != base
    )
    monkeypatch.setattr(results_cache, "posebeam_version", lambda: "99.0")
    assert results_cache.config_fingerprint(config) != base
