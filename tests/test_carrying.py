"""``posebeam synth --carrying``: walkers and standers holding a forearm up (synth/carrying.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posebeam.pipeline.cli import EXIT_USAGE, main
from posebeam.synth.carrying import ELBOWS, SHOULDERS, WRISTS, held_weight, raise_forearms
from posebeam.synth.mocap import MOCAP_CLASSES
from posebeam.synth.mocap_scene import perform_class, synthesise_mocap
from posebeam.synth.scene import SceneConfig

ARMS = [*ELBOWS, *WRISTS]


def test_the_held_pose_fades_in_and_out_at_the_edges_of_walking_and_standing() -> None:
    labels = np.array(["jump"] * 3 + ["walk"] * 10 + ["stand"] * 3 + ["kick"] * 2 + ["walk"] * 4)
    weight = held_weight(labels, fps=10.0)  # fades over 4 frames
    assert weight.round(2).tolist() == [0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25,
                                        0, 0, 0.25, 0.5, 0.75, 1]  # fmt: skip
    assert held_weight(np.array(["walk"] * 5), 10.0).tolist() == [1.0] * 5
    assert held_weight(np.array(["run"] * 5), 10.0).tolist() == [0.0] * 5


def test_a_raised_forearm_keeps_the_bones_and_points_forward() -> None:
    walk = perform_class("walk", 60, 15.0, np.random.default_rng(0))
    labels = np.array(["walk"] * 40 + ["run"] * 20)
    held = raise_forearms(walk, labels, 15.0, np.random.default_rng(3))
    others = [j for j in range(17) if j not in ARMS]
    assert np.array_equal(held[:, others], walk[:, others])  # only elbows and wrists move
    assert np.array_equal(held[40:], walk[40:])  # not while running
    moved = [arm for arm in range(2) if not np.allclose(held[:40, WRISTS[arm]], walk[:40, WRISTS[arm]])]
    assert moved
    facing = np.cross(walk[:, 11] - walk[:, 12], [0.0, 1.0, 0.0])
    facing /= np.linalg.norm(facing, axis=-1, keepdims=True)
    for arm in moved:
        shoulder, elbow, wrist = held[:, SHOULDERS[arm]], held[:, ELBOWS[arm]], held[:, WRISTS[arm]]
        upper = np.linalg.norm(walk[:, ELBOWS[arm]] - walk[:, SHOULDERS[arm]], axis=-1)
        fore = np.linalg.norm(walk[:, WRISTS[arm]] - walk[:, ELBOWS[arm]], axis=-1)
        full = slice(0, 34)  # weight 1: 6 frames (0.4 s) before the run
        assert np.linalg.norm(elbow - shoulder, axis=-1)[full] == pytest.approx(np.median(upper), rel=1e-6)
        assert np.linalg.norm(wrist - elbow, axis=-1)[full] == pytest.approx(np.median(fore), rel=1e-6)
        ahead = np.einsum("td,td->t", wrist - shoulder, facing)[full]
        assert (ahead > 0).all()  # the hand is in front of the body
        assert (wrist[full, 1] > elbow[full, 1] - 0.2 * np.median(fore)).all()  # not hanging down


def test_carrying_changes_only_the_arms_of_walkers_and_standers(tmp_path: Path) -> None:
    config = SceneConfig(
        kind="sequences", duration_s=20.0, motion="mocap", split="train", actions=MOCAP_CLASSES
    )
    plain = synthesise_mocap(7, 0, config)
    held = synthesise_mocap(7, 0, dataclasses.replace(config, carrying=1.0))
    for before, after in zip(plain.persons, held.persons, strict=True):
        labels = before.performance.label
        carried = np.isin(labels, ["walk", "stand"])
        assert carried.any() and (~carried).any()
        assert np.array_equal(before.truth[~carried], after.truth[~carried])
        others = [j for j in range(17) if j not in ARMS]
        assert np.array_equal(before.truth[:, others], after.truth[:, others])
        assert not np.allclose(before.truth[carried][:, ARMS], after.truth[carried][:, ARMS])


def test_walkers_hold_a_wrist_up_more_often_with_carrying(tmp_path: Path) -> None:
    """What the sample clip's walkers labelled ``punch`` do: a wrist above mid-torso."""

    def raised_share(carrying: str) -> float:
        out = tmp_path / carrying
        argv = ["synth", str(out), "--motion", "mocap", "--kind", "sequences", "--videos", "12"]
        assert main([*argv, "--split", "train", "--seed", "5", "--carrying", carrying]) == 0
        frames = pd.read_parquet(out / "keypoints").merge(
            pd.read_parquet(out / "frame_labels_gt"), on=["video_id", "person_id", "frame_index"]
        )
        walking = frames[frames["label"] == "walk"]
        raised = np.zeros(len(walking), dtype=bool)
        for side in ("left", "right"):
            middle = (walking[f"{side}_shoulder_y"] + walking[f"{side}_hip_y"]) / 2
            raised |= ((walking[f"{side}_wrist_y"] < middle) & (walking[f"{side}_wrist_c"] > 0)).to_numpy()
        return float(raised.mean())

    assert raised_share("0") < 0.1 and raised_share("1") > 0.4  # measured: 2 % and 59 %


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--carrying", "0.5"], "--carrying needs --motion mocap"), (["--carrying", "1.5"], "from 0 to 1")],
)
def test_bad_carrying_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(["synth", str(tmp_path / "x"), *argv])
    except SystemExit as stopped:  # argparse refuses a value outside [0, 1]
        code = int(stopped.code or 0)
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
