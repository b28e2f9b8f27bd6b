"""Walkers and standers who hold a forearm up: carrying a bag or a cup, reading a phone, a hand at
the face.

Motion capture walks swing both arms, so a model trained on it has never seen a walker whose
forearm stays raised in front of the chest; on the sample street clip such walkers were labelled
``punch`` (README, segmenter). :func:`raise_forearms` re-poses the elbow and wrist of one arm or
both during a person's ``walk`` and ``stand`` frames: the upper arm hangs a little forward of
vertical, the forearm points forward and towards the body's middle, raised from level to near the
face, with a small wobble; the pose fades in and out over :data:`FADE_S` at the edges of those
frames, so the other actions keep their captured arms. Bone lengths are the capture's.
"""

from __future__ import annotations

import numpy as np

CARRIED_ACTIONS = ("walk", "stand")
"""The actions during which a person may hold a forearm up."""

FADE_S = 0.4
"""Seconds over which the held pose fades in and out."""

SHOULDERS, ELBOWS, WRISTS = (5, 6), (7, 8), (9, 10)
"""COCO-17 indices, left then right."""

UP = np.array([0.0, 1.0, 0.0])


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


def held_weight(labels: np.ndarray, fps: float) -> np.ndarray:
    """``(T,)`` in [0, 1]: 0 outside runs of :data:`CARRIED_ACTIONS`; inside, the distance in frames
    to the nearest frame outside, over :data:`FADE_S` of frames, capped at 1 (a run that starts or
    ends the video does not fade there)."""
    from scipy.ndimage import distance_transform_edt

    inside = np.isin(labels, CARRIED_ACTIONS)
    if inside.all():
        return np.ones(len(inside))
    fade = max(1, round(FADE_S * fps))
    return np.minimum(1.0, distance_transform_edt(inside) / fade)


def raise_forearms(
    joints: np.ndarray, labels: np.ndarray, fps: float, rng: np.random.Generator
) -> np.ndarray:
    """``joints`` ``(T, 17, 3)`` (metres, y up) with one forearm (60 %) or both held up during the
    ``walk`` and ``stand`` frames of ``labels`` ``(T,)`` (module doc); a copy."""
    out = np.array(joints, dtype=np.float64)
    weight = held_weight(np.asarray(labels), fps)
    if not weight.any():
        return out
    hips = out[:, 11] - out[:, 12]
    facing = _unit(np.cross(hips, UP))  # horizontal, the way the person faces
    arms = [int(rng.integers(2))] if rng.random() < 0.6 else [0, 1]
    t = np.arange(len(out)) / fps
    for arm in arms:
        shoulder = out[:, SHOULDERS[arm]]
        other = out[:, SHOULDERS[1 - arm]]
        upper = np.median(np.linalg.norm(out[:, ELBOWS[arm]] - shoulder, axis=-1))
        fore = np.median(np.linalg.norm(out[:, WRISTS[arm]] - out[:, ELBOWS[arm]], axis=-1))
        inward = _unit((other - shoulder) * [1.0, 0.0, 1.0])
        forward_tilt = np.radians(rng.uniform(0, 30))
        raised = np.radians(rng.uniform(-10, 70))
        towards_middle = np.radians(rng.uniform(0, 35))
        wobble = np.radians(6) * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 2 * np.pi))
        elbow = shoulder + upper * (-np.cos(forward_tilt) * UP + np.sin(forward_tilt) * facing)
        lift = (raised + wobble)[:, None]
        direction = (
            np.cos(lift) * (np.cos(towards_middle) * facing + np.sin(towards_middle) * inward)
            + np.sin(lift) * UP
        )
        wrist = elbow + fore * _unit(direction)
        w = weight[:, None]
        out[:, ELBOWS[arm]] = (1 - w) * out[:, ELBOWS[arm]] + w * elbow
        out[:, WRISTS[arm]] = (1 - w) * out[:, WRISTS[arm]] + w * wrist
    return out
