"""``posebeam train aligner`` and ``posebeam evaluate aligner`` end to end on tiny repetitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_usage_error

from posebeam.models.aligner import load_aligner
from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.segment_track import SHIPPED_SEGMENTER
from posebeam.pipeline.cli import main

METRICS = {"classification@0.1", "classification@0.5", "classification@1.0", "progression", "kendalls_tau",
           "ap@5", "ap@10", "ap@15"}  # fmt: skip
TINY = ["--steps", "20", "--batch-size", "2", "--heatmap-size", "16", "--dim", "32", "--depth", "1"]
TINY += ["--embedding-dim", "16", "--clip-frames", "24"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(held-out repetitions, an aligner trained 20 steps on other repetitions)."""
    root = tmp_path_factory.mktemp("aligner")
    synth = ["synth", "--motion", "mocap", "--kind", "repetitions", "--actions", "jump,crawl"]
    assert (
        main([synth[0], str(root / "train"), *synth[1:], "--videos", "6", "--split", "train", "--seed", "1"])
        == 0
    )
    assert (
        main([synth[0], str(root / "test"), *synth[1:], "--videos", "16", "--split", "test", "--seed", "2"])
        == 0
    )
    argv = ["train", "aligner", str(root / "train"), str(root / "model"), "--test-data", str(root / "test")]
    assert main([*argv, *TINY]) == 0
    return root / "test", root / "model" / "space_time_aligner.safetensors"


def test_training_writes_a_card_with_the_aligners_and_the_baselines_scores(
    trained: tuple[Path, Path],
) -> None:
    _, weights = trained
    card = verify_checkpoint(weights)
    assert card["architecture"] == "space_time_aligner" and card["clip"]["fps"] == 15
    held_out = card["metrics"]["held_out"]
    for name in ("aligner", "baseline"):
        assert set(held_out[name]) >= METRICS and held_out[name]["actions"] >= 1
    model, spec, _ = load_aligner(weights)
    assert spec.dim == 32 and sum(p.numel() for p in model.parameters()) == card["parameters"]


def test_evaluate_json_prints_the_aligner_and_the_baseline(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, weights = trained
    capsys.readouterr()
    assert main(["evaluate", "aligner", str(weights), str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) == {"aligner", "baseline"} and set(scores["aligner"]) >= METRICS
    assert -1 <= scores["aligner"]["kendalls_tau"] <= 1 and 0 <= scores["baseline"]["ap@5"] <= 1


def test_usage_errors_are_one_line(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = trained
    assert_one_line_usage_error(
        ["train", "aligner", "NOWHERE", "OUT"], "TABLES NOWHERE does not exist", capsys
    )
    assert_one_line_usage_error(
        ["evaluate", "aligner", str(SHIPPED_SEGMENTER), str(data)], "is not an aligner", capsys
    )


def test_evaluate_can_fit_the_readouts_on_the_training_videos(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--train-data``: the readouts learn from other tables (the reference protocol's train split)
    and every held-out repetition is scored, so the scores differ from a split of the held-out ones."""
    data, weights = trained
    capsys.readouterr()
    assert main(["evaluate", "aligner", str(weights), str(data), "--json"]) == 0
    halves = json.loads(capsys.readouterr().out)
    argv = ["evaluate", "aligner", str(weights), str(data), "--train-data", str(data.parent / "train")]
    assert main([*argv, "--json"]) == 0
    fit_on_train = json.loads(capsys.readouterr().out)
    assert set(fit_on_train["aligner"]) >= METRICS and fit_on_train["aligner"]["actions"] >= 1
    assert fit_on_train["baseline"]["progression"] != halves["baseline"]["progression"]
    assert_one_line_usage_error(
        [*argv[:4], "--train-data", "NOWHERE"], "--train-data NOWHERE does not exist", capsys
    )
