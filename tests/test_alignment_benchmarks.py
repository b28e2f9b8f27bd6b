"""``benchmarks/aligner_dropout.py`` and ``benchmarks/align_boundaries.py`` on tiny held-out
repetitions with the shipped aligner, and the boundary error on a worked example."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from posebeam.models.aligner import SHIPPED_ALIGNER
from posebeam.models.alignment import KEYPOINT_WEIGHT
from posebeam.pipeline.cli import main as posebeam
from posebeam.training.alignment_units import PhaseUnit, boundary_errors
from posebeam.training.train_aligner import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import align_boundaries
import aligner_dropout


@pytest.fixture(scope="module")
def repetitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bench") / "rep"
    argv = ["synth", str(data), "--motion", "mocap", "--kind", "repetitions", "--actions", "walk,punch"]
    assert posebeam([*argv, "--videos", "8", "--duration", "8", "--split", "test", "--seed", "3"]) == 0
    return data


def test_a_boundary_error_is_the_distance_to_where_the_phase_starts_in_b() -> None:
    a = PhaseUnit("a", "x", 0, 0, 6, np.array([0, 0, 1, 1, 2, 2]))
    b = PhaseUnit("b", "x", 1, 0, 8, np.array([0, 1, 1, 1, 1, 2, 2, 2]))
    matched = np.array([0, 0, 2, 3, 4, 7])  # A's phase 1 starts at 2 -> B's 2 (starts at 1); 2 at 4 -> 4 (5)
    assert boundary_errors(a, b, matched) == [1, 1]


def test_the_dropout_benchmark_at_zero_is_the_evaluation_and_runs_every_rate(
    repetitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aligner_dropout.main([str(repetitions), "--weights", str(SHIPPED_ALIGNER), "--rates", "0,50", "--json"])
    result = json.loads(capsys.readouterr().out)
    scores = evaluate(str(SHIPPED_ALIGNER), str(repetitions))
    for name in ("aligner", "baseline"):
        assert result[name]["0"]["kendalls_tau"] == round(scores[name]["kendalls_tau"], 3)
        assert set(result[name]) == {"0", "50"}
    assert result["baseline"]["50"] != result["baseline"]["0"]


def test_the_boundary_benchmark_scores_each_way_of_aligning(
    repetitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    align_boundaries.main([str(repetitions), "--weights", str(SHIPPED_ALIGNER), "--pairs", "5", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert set(result["all"]) == {"fused", "aligner", "aligner_raw", "baseline", "baseline_raw", "uniform"}
    assert result["keypoint_weight"] == KEYPOINT_WEIGHT
    assert len({result["all"][m]["boundaries"] for m in result["all"]}) == 1  # the same pairs
    assert all(result["all"][m]["boundaries"] > 0 for m in result["all"])
    align_boundaries.main(
        [
            str(repetitions),
            "--weights",
            str(SHIPPED_ALIGNER),
            "--pairs",
            "5",
            "--keypoint-weight",
            "0",
            "--json",
        ]
    )
    alone = json.loads(capsys.readouterr().out)["all"]
    assert alone["fused"] == alone["aligner"]  # weight 0: the z-normalised embeddings alone


def test_a_non_uniform_warp_defeats_the_uniform_stretch(
    repetitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--warp``: B's repetition re-timed piecewise, so a plain time stretch misplaces phase starts
    that it finds exactly on an un-warped copy of the timing."""
    assert align_boundaries.retimed_frames(11, 0.7).tolist() == [0, 1, 1, 2, 3, 4, 4, 5, 7, 8, 10]
    assert align_boundaries.retimed_frames(5, 0.5).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="strictly between"):
        align_boundaries.retimed_frames(5, 1.0)
    argv = [str(repetitions), "--weights", str(SHIPPED_ALIGNER), "--pairs", "5", "--json"]
    align_boundaries.main(argv)
    plain = json.loads(capsys.readouterr().out)["all"]
    align_boundaries.main([*argv, "--warp", "0.8"])
    warped = json.loads(capsys.readouterr().out)
    assert warped["warp"] == 0.8 and warped["all"]["uniform"]["boundaries"] > 0
    assert warped["all"]["uniform"]["mean"] > plain["uniform"]["mean"] + 1.0
