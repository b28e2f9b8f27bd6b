"""Repetition units with ordered phases from ``posebeam synth --kind repetitions``, and the protocol
over them with oracle and random embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posebeam.pipeline.cli import main
from posebeam.training.alignment_units import (
    Repetitions,
    evaluate_units,
    load_repetitions,
    phase_units,
    track_actions,
)
from posebeam.training.datasets import FrameSequence, load_frame_sequences


@pytest.fixture(scope="module")
def repetitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("units") / "data"
    argv = ["synth", str(data), "--motion", "mocap", "--kind", "repetitions", "--videos", "24"]
    assert main([*argv, "--actions", "jump,cartwheel,crawl", "--seed", "2"]) == 0
    return data


def test_units_are_single_repetitions_with_the_actions_most_common_pattern(repetitions: Path) -> None:
    sequences, names = load_frame_sequences(str(repetitions), str(repetitions), table="phase_labels")
    units = phase_units(sequences, names, track_actions(str(repetitions)))
    assert set(units) == {"jump", "cartwheel", "crawl"}
    for action, found in units.items():
        assert len(found) >= 4, action
        lengths = {int(u.phases.max()) + 1 for u in found}
        assert len(lengths) == 1  # one pattern per action
        for unit in found:
            assert (np.diff(unit.phases) >= 0).all() and unit.phases[0] == 0  # ordered, from 0
            progress = sequences[unit.sequence].progress
            assert progress is not None and (np.diff(progress[unit.start : unit.end]) >= 0).all()


def oracle(sequence: FrameSequence) -> np.ndarray:
    """An embedding that is the truth: each frame's progress through its repetition."""
    progress = np.nan_to_num(sequence.progress if sequence.progress is not None else 0.0)
    return np.stack([progress, np.zeros_like(progress)], axis=1)


def test_an_oracle_embedding_scores_near_the_top_and_noise_near_chance(repetitions: Path) -> None:
    sequences, names = load_frame_sequences(str(repetitions), str(repetitions), table="phase_labels")
    units = phase_units(sequences, names, track_actions(str(repetitions)))

    def noise(sequence: FrameSequence) -> np.ndarray:
        return np.random.default_rng(len(sequence.labels)).normal(size=(len(sequence.labels), 8))

    data = Repetitions(sequences, units)
    good, bad = evaluate_units(oracle, data), evaluate_units(noise, data)
    assert good["actions"] == bad["actions"] >= 2
    assert good["kendalls_tau"] > 0.9 and good["progression"] > 0.7 and good["classification@1.0"] > 0.8
    assert abs(bad["kendalls_tau"]) < 0.3 and bad["progression"] < 0.3
    assert good["ap@5"] > bad["ap@5"]


def test_readouts_fit_on_a_training_split_score_every_held_out_unit_with_its_pattern(
    repetitions: Path, tmp_path: Path
) -> None:
    """The reference protocol fits its readouts on the train split and scores the val split: with
    ``training`` every unit of the held-out data is validation, with the training data's patterns."""
    held_out = tmp_path / "held_out"
    argv = ["synth", str(held_out), "--motion", "mocap", "--kind", "repetitions", "--videos", "12"]
    assert main([*argv, "--actions", "cartwheel,crawl", "--seed", "9", "--split", "test"]) == 0
    training = load_repetitions(str(repetitions))
    data = load_repetitions(str(held_out), patterns_of=training)
    assert set(data.units) == {"cartwheel", "crawl"}
    for action, found in data.units.items():
        assert len(found) >= 2 and {u.pattern for u in found} == {training.units[action][0].pattern}
    scores = evaluate_units(oracle, data, training=training)
    per_action = scores["per_action"]
    assert isinstance(per_action, dict) and set(per_action) == {"cartwheel", "crawl"}
    assert scores["kendalls_tau"] > 0.9 and scores["progression"] > 0.7  # type: ignore[operator]
    split_in_half = evaluate_units(oracle, data)
    assert scores["progression"] != split_in_half["progression"]
