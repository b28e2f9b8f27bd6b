"""Repetition units with ordered phases from ``posebeam synth --kind repetitions``, and the protocol
over them with oracle and random embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posebeam.pipeline.cli import main
from posebeam.training.alignment_units import evaluate_units, phase_units, track_actions
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


def test_an_oracle_embedding_scores_near_the_top_and_noise_near_chance(repetitions: Path) -> None:
    sequences, names = load_frame_sequences(str(repetitions), str(repetitions), table="phase_labels")
    units = phase_units(sequences, names, track_actions(str(repetitions)))

    def oracle(sequence: FrameSequence) -> np.ndarray:
        progress = np.nan_to_num(sequence.progress if sequence.progress is not None else 0.0)
        return np.stack([progress, np.zeros_like(progress)], axis=1)

    def noise(sequence: FrameSequence) -> np.ndarray:
        return np.random.default_rng(len(sequence.labels)).normal(size=(len(sequence.labels), 8))

    good, bad = evaluate_units(oracle, sequences, units), evaluate_units(noise, sequences, units)
    assert good["actions"] == bad["actions"] >= 2
    assert good["kendalls_tau"] > 0.9 and good["progression"] > 0.7 and good["classification@1.0"] > 0.8
    assert abs(bad["kendalls_tau"]) < 0.3 and bad["progression"] < 0.3
    assert good["ap@5"] > bad["ap@5"]
