"""The CSM marker-capture reader: properties a wrong reader breaks, a hand-checked frame, the parser."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from posebeam.synth.mocap import MOTION_DATA, THIGH_M, Motion, open_text
from posebeam.synth.mocap_csm import csm_markers, fill_dropouts, parse_csm, read_csm

FENCER = MOTION_DATA / "csm" / "ThomasFechten.csm.gz"
LEGS = {"left thigh": (11, 13), "left shin": (13, 15), "right thigh": (12, 14), "right shin": (14, 16)}
ARMS = {"left upper arm": (5, 7), "left forearm": (7, 9), "right upper arm": (6, 8), "right forearm": (8, 10)}
T_POSES = [*range(0, 20), *range(2420, 2439)]
"""Frames where the fencer stands in a T-pose (the capture starts and ends in one)."""


@pytest.fixture(scope="module")
def fencer() -> Motion:
    return read_csm(FENCER)


def test_the_fencer_is_read_whole(fencer: Motion) -> None:
    assert fencer.joints.shape == (2439, 17, 3) and np.isfinite(fencer.joints).all()
    assert fencer.fps == 120.0 and not fencer.loop and fencer.source == "csm:ThomasFechten.csm.gz"
    thigh = np.linalg.norm(fencer.joints[:, 11] - fencer.joints[:, 13], axis=-1)
    assert np.median(thigh) == pytest.approx(THIGH_M)


def test_bone_lengths_stay_nearly_constant(fencer: Motion) -> None:
    """Skin markers move a little on the bones: legs within 3 % (relative sd), arms within 8 %
    (the acromion marker rides on the shoulder blade, the elbow marker lies off the hinge); a
    slipping marker (the raw right ankle marker: 14 %) or a one-sided wrist marker (10 %) fails."""
    joints = fencer.joints
    for limit, bones in ((0.03, LEGS), (0.08, ARMS)):
        for name, (a, b) in bones.items():
            length = np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)
            assert length.std() < limit * length.mean(), f"{name}: sd {length.std() / length.mean():.3f}"
            assert 0.2 < length.mean() < 0.6, f"{name}: {length.mean():.2f} m"
    hips = np.linalg.norm(joints[:, 11] - joints[:, 12], axis=-1)
    assert hips.std() < 1e-9 and 0.15 < hips.mean() < 0.35, "hip width comes from the pelvis' size"


def test_the_feet_stand_on_the_floor_in_the_t_poses(fencer: Motion) -> None:
    ankles = fencer.joints[T_POSES][:, 15:17, 1]
    assert ankles.min() > 0.05 and ankles.max() < 0.2, "ankle bones a hand above the floor"
    assert np.abs(ankles[:, 0] - ankles[:, 1]).max() < 0.03, "both feet flat"
    assert fencer.joints[..., 1].min() > 0.05, "nothing goes under the floor"
    nose_above_ankles = fencer.joints[T_POSES, 0, 1] - fencer.joints[T_POSES][:, 15:17, 1].mean(1)
    assert ((nose_above_ankles > 1.5) & (nose_above_ankles < 2.0)).all()


def test_the_t_poses_hold_the_arms_out_level(fencer: Motion) -> None:
    for frame in (0, 2438):
        arm = fencer.joints[frame, 9:11] - fencer.joints[frame, 5:7]  # shoulder → wrist, left and right
        elevation = np.degrees(np.arctan2(arm[:, 1], np.linalg.norm(arm[:, [0, 2]], axis=-1)))
        assert np.abs(elevation).max() < 15, f"frame {frame}: arms at {elevation} degrees"
        assert arm[0, 0] > 0.5 and arm[1, 0] < -0.5, "left arm out at +x, right arm at -x"
        face = fencer.joints[frame, :5, 1]
        assert face[1:3].min() > face[0] and face[3:5].min() > face[0], "eyes and ears above the nose"
        assert 0.05 < face[0] - fencer.joints[frame, 5:7, 1].mean() < 0.3, "the nose above the shoulders"


def test_left_is_left_of_where_the_face_looks(fencer: Motion) -> None:
    """Mirrored axes or swapped sides put the left hip on the face's right. The fencer's hips
    turn 10-75 degrees from the face (en garde), never behind it."""
    joints = fencer.joints
    looking = joints[:, 0] - (joints[:, 3] + joints[:, 4]) / 2
    looking[:, 1] = 0
    face_left = np.cross([0.0, 1.0, 0.0], looking)
    for a, b in ((11, 12), (5, 6), (1, 2)):
        assert (np.sum((joints[:, a] - joints[:, b]) * face_left, -1) > 0).mean() > 0.95, (a, b)
    hips_forward = np.cross(joints[:, 11] - joints[:, 12], [0.0, 1.0, 0.0])
    assert (np.sum(hips_forward * looking, -1) > 0).mean() > 0.95
    assert looking[0, 2] > 0.9 * np.linalg.norm(looking[0]), "the capture starts facing +z"


def test_a_frame_checked_by_hand(fencer: Motion) -> None:
    """Frame 1's markers (mm, z up) as the file writes them; y up is (x, z, -y); one scale."""
    elbow = np.array([421.712067, 383.396545, 1475.078003])  # LELB
    left_wrist = np.array([639.251343 + 680.856689, 269.310730 + 391.087891, 1483.624878 + 1463.119141]) / 2
    right_wrist = np.array([-688.040466 - 718.292542, 265.347961 + 389.230835, 1472.282593 + 1438.962646]) / 2
    knee = np.array([221.155426, 370.615784, 475.737152])  # LKNE

    def y_up(mm: np.ndarray) -> np.ndarray:
        return np.array([mm[0], mm[2], -mm[1]]) / 1000

    scale = fencer.joints[0, 7] / y_up(elbow)
    np.testing.assert_allclose(scale, scale[0], rtol=1e-9)
    assert 1.0 < scale[0] < 1.4, "the thigh (hip centre to knee marker) is shorter than THIGH_M"
    np.testing.assert_allclose(fencer.joints[0, 9], scale[0] * y_up(left_wrist), rtol=1e-9)
    np.testing.assert_allclose(fencer.joints[0, 10], scale[0] * y_up(right_wrist), rtol=1e-9)
    np.testing.assert_allclose(fencer.joints[0, 13], scale[0] * y_up(knee), rtol=1e-9)
    hip = fencer.joints[0, 11] / scale[0]
    assert 0.75 < hip[1] < 0.85 and 0.05 < hip[0] < 0.1, "left hip joint inside the pelvis, below the waist"


TINY = """$Filename tiny.csm
$Date 2024/01/02
$Actor Someone
$
$Comments
two markers,
one dropped out
$FirstFrame 1
$LastFrame 4
$Rate 60.000
$
$Order
AAA BBB
$
$Points
1  10.0 20.0 30.0  100.0 200.0 300.0
2  11.0 21.0 31.0  DROPOUT
4  13.0 23.0 33.0  400.0 500.0 600.0
"""


def test_the_parser_reads_a_hand_written_capture_with_a_dropout() -> None:
    capture = parse_csm(TINY)
    assert capture.header["actor"] == "Someone" and capture.header["rate"] == "60.000"
    assert capture.header["comments"] == "two markers,\none dropped out"
    assert capture.markers == ("AAA", "BBB") and capture.rate == 60.0 and capture.dropouts == 1
    assert capture.frames.tolist() == [1, 2, 4]
    assert np.isnan(capture.points[1, 1]).all() and capture.points[2, 0].tolist() == [13.0, 23.0, 33.0]
    filled = fill_dropouts(capture.frames, capture.points[:, 1], "BBB")
    np.testing.assert_allclose(filled[1], [200.0, 300.0, 400.0])  # a third of the way from frame 1 to 4
    tracks = csm_markers(capture, ("AAA", "BBB"))
    np.testing.assert_allclose(tracks["BBB"][1], [0.2, 0.4, -0.3])  # metres, y up
    np.testing.assert_allclose(tracks["AAA"][0], [0.01, 0.03, -0.02])


def test_the_parser_refuses_broken_captures() -> None:
    with pytest.raises(ValueError, match="BBB has no valid sample"):
        fill_dropouts(np.arange(3), np.full((3, 3), np.nan), "BBB")
    with pytest.raises(ValueError, match="5 numbers for 2 markers"):
        parse_csm(TINY.replace("4  13.0 23.0 33.0", "4  13.0 23.0"))
    with pytest.raises(ValueError, match="lacks the markers CCC"):
        csm_markers(parse_csm(TINY), ("AAA", "CCC"))


def _first_frames(count: int) -> list[str]:
    lines = open_text(FENCER).splitlines()
    start = lines.index("$Points") + 1
    return lines[: start + count]


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    return path


def test_read_csm_fills_dropouts_by_interpolation_and_names_a_marker_never_seen(tmp_path: Path) -> None:
    lines = _first_frames(5)
    rows = [line.split() for line in lines[-5:]]
    wra = 1 + 3 * 13  # LWRA's first value after the frame number
    before, after = (np.array(rows[frame][wra : wra + 3], dtype=float) for frame in (1, 3))
    filled = [list(row) for row in rows]
    filled[2][wra : wra + 3] = [f"{value:.6f}" for value in (before + after) / 2]
    dropped = [list(row) for row in rows]
    dropped[2][wra : wra + 3] = ["DROPOUT"]
    head = lines[:-5]
    by_hand = read_csm(_write(tmp_path, "by_hand.csm.gz", head + ["  ".join(r) for r in filled])).joints
    read = read_csm(_write(tmp_path, "dropped.csm.gz", head + ["  ".join(r) for r in dropped])).joints
    np.testing.assert_allclose(read, by_hand, atol=1e-9)
    never = [[*row[:wra], "DROPOUT", *row[wra + 3 :]] for row in rows]
    with pytest.raises(ValueError, match="LWRA has no valid sample"):
        read_csm(_write(tmp_path, "never.csm.gz", head + ["  ".join(r) for r in never]))
