"""``posebeam synth --motion mocap --kind sequences|repetitions``: captures chained with ``stand``,
cross-faded at aligned roots; phases from foot contacts and hip height."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from posebeam.pipeline.cli import main
from posebeam.synth.mocap import MOCAP_CLASSES, class_sources
from posebeam.synth.mocap_scene import MIRROR, source_motion, synthesise_mocap
from posebeam.synth.mocap_timeline import (
    BLEND_MAX_S,
    CONTACT_HEIGHT_M,
    Part,
    _capture_part,
    mirror_phases,
    perform,
    perform_mocap,
    plan,
)
from posebeam.synth.noise import NoiseConfig
from posebeam.synth.scene import SceneConfig, label_columns
from posebeam.synth.timeline import Performance
from posebeam.training.datasets import load_frame_sequences, load_tracks

CLASSES = tuple(MOCAP_CLASSES)


def _config(kind: str, duration_s: float, actions: tuple[str, ...] = CLASSES, **kw: Any) -> SceneConfig:
    return SceneConfig(kind=kind, duration_s=duration_s, motion="mocap", actions=actions, **kw)


def _person(config: SceneConfig, seed: int) -> tuple[list[Part], np.ndarray, Performance]:
    rng = np.random.default_rng(seed)
    parts = plan(config, rng)
    joints, performance = perform(parts, config.num_frames, config.fps, rng)
    return parts, joints, performance


def test_sequences_are_labelled_parts_separated_by_stand() -> None:
    for seed in range(6):
        parts, joints, perf = _person(_config("sequences", 20.0), seed)
        assert joints.shape == (300, 17, 3) and np.isfinite(joints).all()
        actions = [p for p in parts if p.label != "stand"]
        assert len(actions) >= 2 and len({p.label for p in actions}) >= 2
        assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]] and parts[-1].end == 300
        assert [p.segment for p in parts] == list(range(len(parts)))
        for before, after in itertools.pairwise(parts):  # stand between actions
            assert "stand" in (before.label, after.label)
        assert set(perf.label) <= set(CLASSES) and np.all(np.diff(perf.segment) >= 0)
        changes = np.flatnonzero(np.diff(perf.segment))
        assert np.all(np.diff(perf.segment)[changes] == 1)
        gaps = [p.end - p.start for p in parts[1:-1] if p.label == "stand"]
        assert gaps and min(gaps) >= 9 and max(gaps) <= 27  # 0.6–1.8 s at 15 fps
        # phases only inside actions, and never in a cross-fade
        assert np.all(perf.phase[perf.label == "stand"] == "")
        for p in parts[1:]:
            assert perf.phase[p.start - 1] == "" and perf.phase[p.start] == ""


def test_sequences_write_one_clip_row_per_part() -> None:
    config = _config("sequences", 16.0, noise=NoiseConfig().scaled(0))
    video = synthesise_mocap(3, 1, config)
    labels = label_columns(video)
    clips = labels["clip_labels"]
    segments = video.persons[0].performance.segment
    assert len(clips["label"]) == segments.max() + 1 >= 4
    assert np.array_equal(clips["start_frame"][1:], clips["end_frame"][:-1]) and clips["end_frame"][-1] == 240
    assert list(clips["label"][::2]).count("stand") == len(clips["label"][::2])  # stand, action, stand…
    assert labels["frame_labels_gt"]["frame_index"].tolist() == list(range(240))


def test_the_hips_never_jump_at_a_boundary() -> None:
    """Each part starts where the previous one left the person: the hips move less in a frame than
    a walking step (~0.7 m), where a part played from its own origin would jump metres."""
    half = int(np.ceil(BLEND_MAX_S * 15 / 2)) + 1
    for kind, seeds in (("sequences", range(8)), ("repetitions", range(8))):
        for seed in seeds:
            parts, joints, _ = _person(_config(kind, 20.0), seed)
            hips = joints[:, 11:13].mean(axis=1)
            step = np.linalg.norm(np.diff(hips[:, [0, 2]], axis=0), axis=-1)
            for part in parts[1:]:
                near = step[max(0, part.start - half) : part.start + half]
                assert near.max() < 0.5, (kind, seed, part.label, near.max())
            assert np.hypot(*hips[:, [0, 2]].mean(axis=0)) < 1e-9  # centred on the mean hip position


def _ankles(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ankles = joints[:, 15:17]
    speed = np.r_[np.linalg.norm(np.diff(ankles, axis=0), axis=-1), np.zeros((1, 2))]  # to the next frame
    return ankles[..., 1], speed


@pytest.mark.parametrize("mirrored", [False, True])
def test_walker_phases_follow_the_foot_contacts(mirrored: bool) -> None:
    counts = {"left_swing": 0, "right_swing": 0, "double_support": 0}
    for seed in range(8):
        _, joints, perf = _person(_config("repetitions", 12.0, ("walk",)), seed)
        if mirrored:  # as synthesise_mocap mirrors a performer
            joints, perf = joints[:, MIRROR] * [1, 1, -1], mirror_phases(perf)
        height, speed = _ankles(joints)
        low = height - height.min(axis=0) < CONTACT_HEIGHT_M + 0.02
        for name, swing in (("left_swing", 0), ("right_swing", 1)):
            frames = perf.phase == name
            counts[name] += int(frames.sum())
            assert np.mean(height[frames, swing] > height[frames, 1 - swing]) > 0.9, (seed, name)
            assert np.mean(speed[frames, swing] > speed[frames, 1 - swing]) > 0.85, (seed, name)
            assert np.mean(low[frames, 1 - swing]) > 0.9, (seed, name)  # the other foot is down
        double = perf.phase == "double_support"
        counts["double_support"] += int(double.sum())
        assert np.mean(low[double].all(axis=1)) > 0.9
        assert set(perf.phase) <= {"", *counts}, "a walk has no flight"
    assert all(n > 50 for n in counts.values()), counts


def test_repetition_progress_rises_and_restarts() -> None:
    for seed in range(6):
        parts, _, perf = _person(_config("repetitions", 12.0, ("walk", "jump", "punch")), seed)
        assert [p.label for p in (parts[0], parts[-1])] == ["stand", "stand"]
        assert len({p.label for p in parts[1:-1]}) == 1 and {p.segment for p in parts} == {0, 1, 2}
        inside = np.flatnonzero(perf.phase != "")
        done = perf.progress[inside]
        assert np.all((done >= 0) & (done < 1)) and np.isnan(perf.progress[perf.phase == ""]).all()
        steps = np.diff(done)
        assert np.all((steps > 0) | (steps < -0.5)), "progress rises, or restarts"
        period = source_motion(parts[1].source).num_frames - 1
        repetitions = round(sum(p.end - p.start for p in parts[1:-1]) * parts[1].step / period)
        assert repetitions >= 2 and repetitions - 1 <= (steps < -0.5).sum() <= repetitions


def test_hop_phases_follow_the_hips_and_feet() -> None:
    for seed in range(6):
        _, joints, perf = _person(_config("repetitions", 12.0, ("jump", "backflip")), seed)
        hips = joints[:, 11:13, 1].mean(axis=1)
        height, _ = _ankles(joints)
        clearance = height - height.min(axis=0)
        crouch, flight = perf.phase == "crouch", perf.phase == "flight"
        assert flight.any() and crouch.any()
        assert set(perf.phase) <= {"", "rest", "crouch", "flight", "landing"}
        assert np.all(clearance[flight] > CONTACT_HEIGHT_M)  # both feet off the ground
        grounded = ~flight & (perf.phase != "")
        assert hips[crouch].min() < np.median(hips[grounded]) - 0.05 < hips[flight].max() - 0.1
        runs = [p for k, p in enumerate(perf.phase) if k == 0 or p != perf.phase[k - 1]]
        for before, now, after in zip(runs, runs[1:], runs[2:], strict=False):
            if now == "flight":
                assert before in ("crouch", "rest") and after in ("landing", "rest", ""), runs


def test_split_chooses_the_captures() -> None:
    for split in ("train", "test"):
        config = _config("sequences", 30.0, split=split)
        for seed in range(4):
            for part in plan(config, np.random.default_rng(seed)):
                assert part.label == "stand" or part.source in class_sources(part.label, split)


def test_people_are_deterministic_for_a_seed() -> None:
    for kind in ("sequences", "repetitions"):
        config = _config(kind, 8.0, max_persons=2)
        a, b, c = (
            synthesise_mocap(5, 1, config),
            synthesise_mocap(5, 1, config),
            synthesise_mocap(5, 2, config),
        )
        for p, q in zip(a.persons, b.persons, strict=True):
            np.testing.assert_array_equal(p.keypoints, q.keypoints)
            np.testing.assert_array_equal(p.performance.phase, q.performance.phase)
            np.testing.assert_array_equal(p.performance.progress, q.performance.progress)
        assert not np.array_equal(a.persons[0].keypoints, c.persons[0].keypoints)
        x, _ = perform_mocap(config, np.random.default_rng(0))
        y, _ = perform_mocap(config, np.random.default_rng(0))
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", ["sequences", "repetitions"])
def test_synth_writes_label_tables_the_loaders_accept(tmp_path: Path, kind: str) -> None:
    argv = ["synth", str(tmp_path), "--videos", "3", "--seed", "2", "--motion", "mocap", "--kind", kind,
            "--duration", "10", "--persons", "2"]  # fmt: skip
    assert main(argv) == 0
    tracks = load_tracks(str(tmp_path))
    clips = pd.read_parquet(tmp_path / "clip_labels")
    assert len(clips) >= 3 * 3 and set(clips.label) <= set(CLASSES) and "stand" in set(clips.label)
    frames, actions = load_frame_sequences(tracks, str(tmp_path))
    assert frames and all((s.labels >= 0).all() for s in frames) and len(actions) >= 3
    phases, names = load_frame_sequences(tracks, str(tmp_path), table="phase_labels")
    assert phases and len(names) >= 2 and all(s.progress is not None for s in phases)
    assert all(np.nanmax(s.progress) < 1 for s in phases if s.progress is not None)


def test_stretches_of_non_cyclic_captures_start_inside_them() -> None:
    """A stretch as long as its capture (rounding up) starts at its beginning instead of failing."""
    config = SceneConfig(kind="sequences", motion="mocap", actions=("walk", "punch"), split="train")
    rng = np.random.default_rng(0)
    for _ in range(3000):
        part, length = _capture_part(("walk", "punch")[int(rng.integers(2))], 0, 0, config, rng, whole=False)
        assert length > 0 and part.position0 >= 0.0
