"""Real human motion from marker captures: the CSM reader, giving 3D COCO-17 skeletons.

**CSM** (3ds Max Character Studio Marker files, as Vicon's software writes them; Debian's
``assimp-testmodels`` ships ``ThomasFechten.csm``, see ``synth/motion_data/README.md``): a text
header of ``$Keyword value`` lines (``$Filename``, ``$Date``, ``$Time``, ``$Actor``, ``$Comments``
with free text on the lines below, ``$FirstFrame``, ``$LastFrame``, ``$Rate`` in frames per
second), ``$Order`` followed by the marker names, then ``$Points`` and one line per frame: the
frame number, then ``x y z`` for each marker in that order, or the one word ``DROPOUT`` for a
marker no camera saw. Positions are in millimetres, z up (the capture's head markers are 1.7 m
above its floor, its toe markers 4-7 cm). The Character Studio marker set names the markers:
``LFHD`` left front head, ``LSHO`` shoulder (acromion), ``LELB`` elbow, ``LWRA``/``LWRB`` the
wrist's two sides, ``LFWT``/``LBWT`` front and back waist (the pelvis' anterior and posterior
iliac spines), ``LKNE`` knee, ``LANK`` ankle, ``LHEL`` heel, ``LTOE`` toe, ``LMT5`` fifth
metatarsal, and ``R…`` the same on the right.

Markers sit on the skin, so COCO-17 takes: shoulders, elbows and knees from the marker of that
name; wrists from the mid-point of the two wrist markers; hips from the four waist markers by the
regression of Harrington et al. (J. Biomech. 40, 2007) on the pelvis' width and depth; ankles
from the foot markers, at the place the ankle marker most often has relative to the foot (the
capture's right ankle marker slides up and down the shin for its first ~1450 frames, while its
heel, toe and metatarsal markers stay put); the face (nose, eyes, ears) from the centre and
orientation of the four head markers. Dropped-out markers are filled by linear interpolation over
the frame numbers (held at the first and last seen position); a marker the skeleton needs and no
frame has is an error. Every :class:`~posebeam.synth.mocap.Motion` comes out y up (file x, z, -y:
the capture starts facing +z with its left at +x, like the BVH captures), scaled so that the
median left thigh (hip to knee) is :data:`~posebeam.synth.mocap.THIGH_M`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebeam.synth.mocap import THIGH_M, Motion, coco, face_points, open_text

DROPOUT = "DROPOUT"
MILLIMETRE = 0.001
HEAD_AXES = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
"""The head's forward, up and left directions at rest (y up): forward +z, left +x."""
HEAD_DROP = 0.7
"""The head's centre lies this many head radii below the centre of the four head markers (a band
round the forehead and the back of the head, above the eyes and ears)."""
ANKLE_RADIUS_M = 0.01
"""Positions of the ankle marker relative to the foot closer than this count as the same place."""
LIMBS = {"shoulder": "SHO", "elbow": "ELB", "knee": "KNE"}
"""COCO joints taken from one marker (with the side's ``L``/``R`` prefix)."""
LIMB_MARKERS = ("SHO", "ELB", "WRA", "WRB", "KNE", "ANK", "HEL", "TOE", "MT5")
MARKERS = (
    "LFHD", "RFHD", "LBHD", "RBHD", "LFWT", "RFWT", "LBWT", "RBWT",
    *(f"{lr}{part}" for lr in "LR" for part in LIMB_MARKERS),
)  # fmt: skip
"""The markers the skeleton is built from."""


@dataclass(frozen=True)
class CsmCapture:
    """A CSM file as written: ``points (T, M, 3)`` in file units (z up), NaN where dropped out."""

    header: dict[str, str]
    markers: tuple[str, ...]
    frames: np.ndarray
    points: np.ndarray
    rate: float

    @property
    def dropouts(self) -> int:
        """How many (frame, marker) samples the file gives as ``DROPOUT``."""
        return int(np.isnan(self.points[..., 0]).sum())


def _frame_values(words: list[str], count: int, line: int) -> np.ndarray:
    """``(count, 3)`` positions of one ``$Points`` line's words after the frame number."""
    if not any(word.upper() == DROPOUT for word in words):
        if len(words) != 3 * count:
            raise ValueError(f"CSM line {line}: {len(words)} numbers for {count} markers")
        return np.array(words, dtype=np.float64).reshape(count, 3)
    values = np.full((count, 3), np.nan)
    at = 0
    for marker in range(count):
        if at >= len(words):
            raise ValueError(f"CSM line {line}: values for {marker} of {count} markers")
        if words[at].upper() == DROPOUT:
            at += 1
        else:
            values[marker] = [float(v) for v in words[at : at + 3]]
            at += 3
    if at != len(words):
        raise ValueError(f"CSM line {line}: {len(words) - at} words left after {count} markers")
    return values


def parse_csm(text: str) -> CsmCapture:
    """The header, marker names, frame numbers and marker positions of a CSM file's text."""
    header: dict[str, str] = {}
    markers: list[str] = []
    frames: list[int] = []
    rows: list[np.ndarray] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("$"):
            keyword, _, value = line[1:].partition(" ")
            section = keyword.strip().lower()
            if section and section not in ("order", "points"):
                header[section] = value.strip()
        elif not line:
            continue
        elif section == "order":
            markers += line.split()
        elif section == "points":
            if not markers:
                raise ValueError(f"CSM line {number}: $Points before the $Order of the markers")
            words = line.split()
            frames.append(int(float(words[0])))
            rows.append(_frame_values(words[1:], len(markers), number))
        elif section:
            header[section] = f"{header[section]}\n{line}".strip()  # free text ($Comments)
    if not rows:
        raise ValueError("CSM file has no $Points frames")
    if "rate" not in header:
        raise ValueError("CSM file has no $Rate")
    return CsmCapture(header, tuple(markers), np.array(frames), np.stack(rows), float(header["rate"]))


def fill_dropouts(frames: np.ndarray, track: np.ndarray, name: str) -> np.ndarray:
    """A marker's ``track (T, 3)`` with its NaN samples interpolated linearly over ``frames``."""
    seen = ~np.isnan(track).any(axis=-1)
    if not seen.any():
        raise ValueError(f"CSM marker {name} has no valid sample: it is DROPOUT in all {len(track)} frames")
    if seen.all():
        return track
    return np.stack([np.interp(frames, frames[seen], track[seen, axis]) for axis in range(3)], axis=-1)


def csm_markers(capture: CsmCapture, names: tuple[str, ...] = MARKERS) -> dict[str, np.ndarray]:
    """``names``' tracks ``(T, 3)`` in metres, y up, dropouts filled."""
    missing = [name for name in names if name not in capture.markers]
    if missing:
        raise ValueError(f"CSM file lacks the markers {', '.join(missing)}")
    tracks = {}
    for name in names:
        track = fill_dropouts(capture.frames, capture.points[:, capture.markers.index(name)], name)
        tracks[name] = track[:, [0, 2, 1]] * np.array([1.0, 1.0, -1.0]) * MILLIMETRE
    return tracks


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _across(vectors: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The unit part of ``vectors (T, 3)`` perpendicular to the unit ``axis (T, 3)``."""
    return _unit(vectors - np.sum(vectors * axis, axis=-1, keepdims=True) * axis)


def hip_centres(m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Left and right hip joint centres ``(T, 3)`` from the waist markers (metres, y up):
    Harrington et al. (2007), from the mid-point of the front markers, in the pelvis' axes, with
    the pelvis' width (front markers) and depth (front to back mid-points) over the capture."""
    front = (m["LFWT"] + m["RFWT"]) / 2
    back = (m["LBWT"] + m["RBWT"]) / 2
    left = _unit(m["LFWT"] - m["RFWT"])
    forward = _across(front - back, left)
    up = np.cross(forward, left)
    width = float(np.median(np.linalg.norm(m["LFWT"] - m["RFWT"], axis=-1)))
    depth = float(np.median(np.linalg.norm(front - back, axis=-1)))
    base = front + forward * (-0.24 * depth - 0.0099) + up * (-0.30 * width - 0.0109)
    aside = left * (0.33 * width + 0.0073)
    return base + aside, base - aside


def foot_axes(m: dict[str, np.ndarray], side: str) -> np.ndarray:
    """``(T, 3, 3)``: columns forward (heel to toe), up and outward (towards the fifth metatarsal)
    of the ``side`` (``"L"`` or ``"R"``) foot."""
    heel = m[f"{side}HEL"]
    forward = _unit(m[f"{side}TOE"] - heel)
    outward = _across(m[f"{side}MT5"] - heel, forward)
    up = np.cross(forward, outward if side == "L" else -outward)
    return np.stack([forward, up, outward], axis=-1)


def usual_place(local: np.ndarray, radius: float = ANKLE_RADIUS_M) -> np.ndarray:
    """The place ``(3,)`` where most of the points ``local (T, 3)`` cluster: the median of those
    within 1.5 ``radius`` of the point with most neighbours within ``radius``."""
    sample = local[:: max(1, len(local) // 600)]
    neighbours = (np.linalg.norm(sample[:, None] - sample[None], axis=-1) < radius).sum(axis=1)
    centre = sample[int(np.argmax(neighbours))]
    return np.median(local[np.linalg.norm(local - centre, axis=-1) < 1.5 * radius], axis=0)


def ankle_centres(m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each ankle ``(T, 3)``: the usual place of its ankle marker in the axes of its foot."""
    ankles = {}
    for side in "LR":
        axes, heel = foot_axes(m, side), m[f"{side}HEL"]
        local = np.einsum("tji,tj->ti", axes, m[f"{side}ANK"] - heel)
        ankles[side] = heel + axes @ usual_place(local)
    return ankles


def head_pose(m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """The head's centre ``(T, 3)``, rotation ``(T, 3, 3)`` from :data:`HEAD_AXES` and radius
    (half the mean of the head markers' front-to-back and side-to-side spans)."""
    front, back = (m["LFHD"] + m["RFHD"]) / 2, (m["LBHD"] + m["RBHD"]) / 2
    across = (m["LFHD"] + m["LBHD"]) / 2 - (m["RFHD"] + m["RBHD"]) / 2
    left = _unit(across)
    forward = _across(front - back, left)
    up = np.cross(forward, left)
    spans = np.median(np.linalg.norm(front - back, axis=-1)) + np.median(np.linalg.norm(across, axis=-1))
    radius = float(spans) / 4
    centre = (front + back) / 2 - up * (HEAD_DROP * radius)
    return centre, np.stack([forward, up, left], axis=-1) @ HEAD_AXES, radius


def csm_joints(m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``"left_hip"`` … ``"right_ankle"``: the joints ``(T, 3)`` COCO-17 takes from the body."""
    joints = {}
    ankles = ankle_centres(m)
    for side, lr in (("L", "left"), ("R", "right")):
        for part, marker in LIMBS.items():
            joints[f"{lr}_{part}"] = m[f"{side}{marker}"]
        joints[f"{lr}_wrist"] = (m[f"{side}WRA"] + m[f"{side}WRB"]) / 2
        joints[f"{lr}_ankle"] = ankles[side]
    joints["left_hip"], joints["right_hip"] = hip_centres(m)
    return joints


def read_csm(path: Path) -> Motion:
    """A CSM marker capture as COCO-17 (metres, y up, scaled to :data:`THIGH_M`)."""
    capture = parse_csm(open_text(path))
    markers = csm_markers(capture)
    joints = csm_joints(markers)
    thigh = float(np.median(np.linalg.norm(joints["left_knee"] - joints["left_hip"], axis=-1)))
    if not 0.2 < thigh < 0.7:
        raise ValueError(f"{path.name}: a thigh of {thigh:.3f} m read as millimetres: not a CSM in mm?")
    scale = THIGH_M / thigh
    centre, rotation, radius = head_pose(markers)
    face = face_points(centre * scale, rotation, radius * scale, HEAD_AXES)
    scaled = {name: value * scale for name, value in joints.items()}
    side = {name: name for name in scaled}
    return Motion(path.name.split(".")[0], capture.rate, coco(face, scaled, side), False, f"csm:{path.name}")
