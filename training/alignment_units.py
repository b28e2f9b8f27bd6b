"""Repetitions with ordered phases, and the alignment protocol over them (docs/method.md §7).

The protocol (:mod:`posebeam.models.alignment`) wants, per action, executions whose phases come in
one order (Penn Action: one execution a video, K ordered phases). ``posebeam synth --kind
repetitions`` tracks hold several repetitions each (``phase_labels``: ``progress`` restarts at 0 on
each), and a cyclic capture's repetition may start anywhere in its cycle (a walk at a left swing or
at a double support). So:

- a *unit* is one repetition: a run of labelled frames of a track whose ``progress`` does not fall;
- its *pattern* is the sequence of its phase runs' names (``left_swing, double_support,
  right_swing, double_support``); each action keeps only the units with its most common pattern
  (ties: the first in sorted order), and a unit's frame phases are the ordinal of their run in it
  (0 … K-1, in temporal order, as the protocol's key events assume);
- the action of a track is its most common label other than ``stand`` in ``frame_labels_gt``.

:func:`evaluate_units` embeds every track once, cuts the units' frames out, splits each action's
units by video (a seeded half of its videos for validation), runs the protocol per action and
averages each metric over the actions that have at least two validation units and a training unit
(the others are listed under ``skipped`` with the reason).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from posebeam.models.alignment import evaluate_alignment
from posebeam.training.datasets import FrameSequence, load_frame_sequences, read_labels
from posebeam.training.splits import split_by_group


@dataclass(frozen=True)
class PhaseUnit:
    """Frames ``[start, end)`` of ``sequences[sequence]``, one repetition of ``action``, with its
    ordinal ``phases`` ``(end - start,)``."""

    video_id: str
    action: str
    sequence: int
    start: int
    end: int
    phases: np.ndarray
    pattern: tuple[str, ...] = ()


def track_actions(data: str) -> dict[tuple[str, int], str]:
    """Each labelled track's action: its most common ``frame_labels_gt`` label other than ``stand``."""
    labels = read_labels(data, "frame_labels_gt")
    labels = labels[labels.label != "stand"]
    return {
        (str(video), int(person)): str(rows.label.value_counts().index[0])
        for (video, person), rows in labels.groupby(["video_id", "person_id"], sort=True)
    }


def _repetitions(sequence: FrameSequence) -> list[tuple[int, int]]:
    labelled = sequence.labels >= 0
    progress = sequence.progress if sequence.progress is not None else np.zeros(len(labelled))
    spans, start = [], None
    for t in range(len(labelled) + 1):
        ends = t == len(labelled) or not labelled[t] or (start is not None and progress[t] < progress[t - 1])
        if start is not None and ends:
            spans.append((start, t))
            start = None
        if t < len(labelled) and labelled[t] and start is None:
            start = t
    return spans


def phase_units(
    sequences: Sequence[FrameSequence], phase_names: Sequence[str], actions: dict[tuple[str, int], str],
    patterns: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[PhaseUnit]]:  # fmt: skip
    """Every action's units with its most common phase pattern (module doc), or with the pattern
    ``patterns`` gives it (another dataset's, so that its units and these have the same phases;
    actions missing from ``patterns`` are left out)."""
    candidates: dict[str, list[tuple[tuple[str, ...], PhaseUnit]]] = {}
    for index, sequence in enumerate(sequences):
        action = actions.get((sequence.video_id, sequence.person_id))
        if action is None:
            continue
        for start, end in _repetitions(sequence):
            names = np.asarray(phase_names, dtype=object)[sequence.labels[start:end]]
            run = np.r_[0, np.cumsum(names[1:] != names[:-1])]
            pattern = tuple(names[np.r_[True, names[1:] != names[:-1]]])
            unit = PhaseUnit(sequence.video_id, action, index, start, end, run.astype(np.int64), pattern)
            candidates.setdefault(action, []).append((pattern, unit))
    units = {}
    for action, found in sorted(candidates.items()):
        counts = Counter(pattern for pattern, _ in found)
        if patterns is None:
            best = max(sorted(counts), key=lambda p: counts[p])
        elif action in patterns:
            best = patterns[action]
        else:
            continue
        units[action] = [unit for pattern, unit in found if pattern == best]
    return units


def boundary_errors(unit_a: PhaseUnit, unit_b: PhaseUnit, matched: np.ndarray) -> list[int]:
    """For each phase start of ``unit_a`` (after its first frame) whose phase also starts in
    ``unit_b``, the distance in frames from ``matched[t]`` (A's frame t → a frame of B) to it."""
    starts_b = {int(unit_b.phases[t]): int(t) for t in np.flatnonzero(np.diff(unit_b.phases)) + 1}
    return [
        abs(int(matched[t]) - starts_b[int(unit_a.phases[t])])
        for t in np.flatnonzero(np.diff(unit_a.phases)) + 1
        if int(unit_a.phases[t]) in starts_b
    ]


@dataclass(frozen=True)
class Repetitions:
    """A dataset's tracks and their units per action (:func:`load_repetitions`)."""

    sequences: Sequence[FrameSequence]
    units: dict[str, list[PhaseUnit]]


def load_repetitions(data: str, patterns_of: Repetitions | None = None) -> Repetitions:
    """``data``'s tracks (keypoints with ``phase_labels``) and units, each action's with its most
    common pattern or, given ``patterns_of``, with that dataset's pattern for the action."""
    sequences, names = load_frame_sequences(data, data, table="phase_labels")
    patterns = None
    if patterns_of is not None:
        patterns = {action: found[0].pattern for action, found in patterns_of.units.items() if found}
    return Repetitions(sequences, phase_units(sequences, names, track_actions(data), patterns))


def evaluate_units(
    embed: Callable[[FrameSequence], np.ndarray], data: Repetitions, seed: int = 0,
    training: Repetitions | None = None,
) -> dict[str, object]:  # fmt: skip
    """The protocol's metrics per action and their mean over the actions scored (module doc).

    Without ``training``, each action's units of ``data`` are split by video (a seeded half for
    validation). With it (e.g. the aligner's own training videos, as TCC, LAV and CASA fit their
    readouts on a dataset's train split), every unit of ``data`` is validation and the readouts are
    fit on ``training``'s units of the same action (``data`` loaded with ``patterns_of=training``).
    """
    embedded: dict[tuple[int, int], np.ndarray] = {}

    def cut(source: Repetitions, chosen: list[PhaseUnit]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        for u in chosen:
            if (id(source), u.sequence) not in embedded:
                embedded[id(source), u.sequence] = embed(source.sequences[u.sequence])
        return [embedded[id(source), u.sequence][u.start : u.end] for u in chosen], [u.phases for u in chosen]

    per_action: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for action, found in data.units.items():
        if training is None:
            val_mask = split_by_group([u.video_id for u in found], 0.5, seed) if len(found) > 1 else [False]
            train = [u for u, v in zip(found, val_mask, strict=True) if not v]
            val = [u for u, v in zip(found, val_mask, strict=True) if v]
        else:
            train, val = training.units.get(action, []), found
        if len(val) < 2 or not train:
            skipped[action] = f"{len(train)} training and {len(val)} validation units"
            continue
        num_phases = int(max(int(u.phases.max()) for u in (*train, *val))) + 1
        try:
            per_action[action] = evaluate_alignment(
                *cut(data if training is None else training, train), *cut(data, val), num_phases=num_phases
            )
        except ValueError as err:  # e.g. units shorter than AP@15's neighbours
            skipped[action] = str(err)
    if not per_action:
        raise ValueError("no action has a training unit and two validation units to score")
    metrics = list(next(iter(per_action.values())))
    mean = {name: float(np.nanmean([scores[name] for scores in per_action.values()])) for name in metrics}
    return {**mean, "actions": len(per_action), "per_action": per_action, "skipped": skipped}
