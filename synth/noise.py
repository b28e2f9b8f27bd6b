"""Realism knobs for synthetic keypoints: camera motion, detector noise, missing data, tracking errors.

Every function takes the ``np.random.Generator`` it draws from; nothing uses global random state.
Arrays follow the ``keypoints`` table: image pixels (x right, y down), ``(T, 17, 2)`` coordinates and
``(T, 17)`` confidences per person, where confidence 0 means missing (docs/method.md §1) and a missing
joint is written (0, 0, 0) as OpenPose writes it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

JOINT_NOISE = np.array([0.6, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0, 1.3, 1.3, 1.7, 1.7, 1.0, 1.0, 1.2, 1.2, 1.4, 1.4])
"""Detector jitter per COCO-17 joint relative to :attr:`NoiseConfig.coord_sigma`: faces are sharp,
wrists and ankles blur."""

LIMBS = {"left_arm": (7, 9), "right_arm": (8, 10), "left_leg": (13, 15), "right_leg": (14, 16)}
"""Joints hidden when a limb is occluded."""


@dataclass(frozen=True)
class NoiseConfig:
    """How far synthetic keypoints are from a perfect detector. Lengths are fractions of the
    person's height in pixels (``coord_sigma``, ``outlier_shift``) or of the frame height
    (``camera_shake``); probabilities are per joint-frame, person-frame, person or video as named.
    ``NoiseConfig().scaled(0)`` is a perfect detector and a still camera.
    """

    coord_sigma: float = 0.02
    outlier_p: float = 0.01  # per joint-frame: a wrong detection far away, with low confidence
    outlier_shift: float = 0.25
    joint_drop_p: float = 0.05  # per joint-frame: missing
    frame_drop_p: float = 0.02  # per person-frame: a run of 1 to frame_drop_max missed frames starts
    frame_drop_max: int = 4
    occlusion_p: float = 0.3  # per person: one limb hidden for occlusion_s seconds
    occlusion_s: tuple[float, float] = (0.5, 2.0)
    camera_roll_deg: float = 4.0  # per video, uniform in ±
    camera_shake: float = 0.01  # smooth hand-held translation, fraction of the frame height
    zoom_drift: float = 0.06  # smooth relative change of scale over the video
    track_switch_p: float = 0.15  # per video with two persons or more: two tracks swap ids
    track_break_p: float = 0.1  # per person: the track restarts under a new id after missed frames

    def scaled(self, level: float) -> NoiseConfig:
        """Every knob multiplied by ``level`` (probabilities capped at 1; run lengths kept)."""
        keep = {"frame_drop_max", "occlusion_s"}
        values = {
            f.name: getattr(self, f.name) * level for f in dataclasses.fields(self) if f.name not in keep
        }
        values = {k: min(v, 1.0) if k.endswith("_p") else v for k, v in values.items()}
        return dataclasses.replace(self, **values)


def smooth_path(num_frames: int, fps: float, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """``(T,)`` a slow random wiggle in [-amplitude, amplitude]: three sines of 0.05–0.6 Hz."""
    t = np.arange(num_frames) / fps
    freqs = rng.uniform(0.05, 0.6, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.dirichlet(np.ones(3))
    return amplitude * np.sum(weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]), 0)


@dataclass(frozen=True)
class Camera:
    """Per-frame similarity transform about the frame centre: ``(T,)`` scale, roll (deg), ``(T, 2)`` shift."""

    scale: np.ndarray
    roll_deg: np.ndarray
    shift: np.ndarray
    centre: tuple[float, float]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``(T, ..., 2)`` pixel positions seen through the camera."""
        theta = np.deg2rad(self.roll_deg)
        cos, sin = np.cos(theta), np.sin(theta)
        extra = (None,) * (points.ndim - 2)
        rel = points - np.asarray(self.centre)
        x, y = rel[..., 0], rel[..., 1]
        s = self.scale[(..., *extra)]
        c, n = cos[(..., *extra)], sin[(..., *extra)]
        out = np.stack([c * x - n * y, n * x + c * y], axis=-1) * s[..., None]
        return out + np.asarray(self.centre) + self.shift[(slice(None), *extra, slice(None))]


def random_camera(
    num_frames: int, fps: float, width: int, height: int, rng: np.random.Generator, config: NoiseConfig
) -> Camera:
    """A camera with a fixed random roll plus slow zoom drift and hand-held shake."""
    roll = rng.uniform(-1, 1) * config.camera_roll_deg + smooth_path(
        num_frames, fps, rng, config.camera_roll_deg / 4
    )
    scale = 1.0 + smooth_path(num_frames, fps, rng, config.zoom_drift)
    shift = np.stack([smooth_path(num_frames, fps, rng, config.camera_shake * height) for _ in range(2)], -1)
    return Camera(scale, roll, shift, (width / 2, height / 2))


def detect(
    points: np.ndarray, person_height: np.ndarray, rng: np.random.Generator, config: NoiseConfig
) -> tuple[np.ndarray, np.ndarray]:
    """What a pose model reports for true positions: jittered coordinates and confidences.

    Args:
        points: ``(T, 17, 2)`` true pixel positions.
        person_height: ``(T,)`` the person's height in pixels (sets the noise scale).

    Returns:
        ``(T, 17, 2)`` coordinates and ``(T, 17)`` confidences in (0, 1]; larger errors get lower
        confidence, outliers get 0.05–0.35.
    """
    h = person_height[:, None, None]
    sigma = config.coord_sigma * h * JOINT_NOISE[None, :, None]
    xy = points + sigma * rng.standard_normal(points.shape)
    error = np.linalg.norm(xy - points, axis=-1) / np.maximum(h[..., 0], 1e-6)
    conf = 0.93 - 3.0 * error + 0.04 * rng.standard_normal(error.shape)
    outlier = rng.random(error.shape) < config.outlier_p
    angle = rng.uniform(0, 2 * np.pi, error.shape)
    jump = config.outlier_shift * h * np.stack([np.cos(angle), np.sin(angle)], -1)
    xy = np.where(outlier[..., None], xy + jump, xy)
    conf = np.where(outlier, rng.uniform(0.05, 0.35, error.shape), conf)
    return xy, np.clip(conf, 0.05, 1.0)


MOVENET_CONFIDENCE = np.array(
    [0.45, 0.47, 0.46, 0.52, 0.51, 0.64, 0.63, 0.47, 0.49, 0.38, 0.36, 0.66, 0.65, 0.59, 0.59, 0.55, 0.55]
)
"""Mean confidence per COCO-17 joint that MoveNet (the default backend) gives pedestrians 60–160 px
tall: measured on the sample clip's 4017 person-frames (no labels used); 10 % and 90 % quantiles
0.29 and 0.75. Faces and wrists are the least sure, hips and shoulders the surest."""

MOVENET_OUTLIERS = 0.3
"""MoveNet's far-off joints are rarer than :attr:`NoiseConfig.outlier_p` (a generic detector's)."""


def correlated_noise(shape: tuple[int, ...], rho: float, rng: np.random.Generator) -> np.ndarray:
    """Standard normal noise along axis 0 (time) with lag-1 correlation ``rho`` (an AR(1) process)."""
    out = rng.standard_normal(shape)
    for t in range(1, shape[0]):
        out[t] = rho * out[t - 1] + np.sqrt(1 - rho**2) * out[t]
    return out


def detect_movenet(
    points: np.ndarray, person_height: np.ndarray, fps: float, rng: np.random.Generator, config: NoiseConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`detect` as MoveNet behaves on real footage: confidences around
    :data:`MOVENET_CONFIDENCE`, shifted per person (±0.12) and drifting slowly (±0.08), with
    joint-frame wobble; jitter that is correlated from frame to frame and grows as confidence falls;
    the same outliers. ``config.coord_sigma`` scales it all (0: a perfect detector)."""
    num_frames = len(points)
    level = config.coord_sigma / NoiseConfig.coord_sigma
    person = rng.uniform(-0.12, 0.12) + smooth_path(num_frames, fps, rng, 0.08)
    wobble = 0.1 * correlated_noise((num_frames, 17), 0.6, rng)
    seen = np.clip(MOVENET_CONFIDENCE + person[:, None] + wobble, 0.05, 0.95)
    conf = 1.0 - level * (1.0 - seen)
    h = person_height[:, None, None]
    sigma = 0.6 * config.coord_sigma * h * JOINT_NOISE[None, :, None] * (0.5 + (1.0 - seen[..., None]))
    xy = points + sigma * correlated_noise(points.shape, 0.5, rng)
    outlier = rng.random(conf.shape) < MOVENET_OUTLIERS * config.outlier_p
    angle = rng.uniform(0, 2 * np.pi, conf.shape)
    jump = config.outlier_shift * h * np.stack([np.cos(angle), np.sin(angle)], -1)
    xy = np.where(outlier[..., None], xy + jump, xy)
    conf = np.where(outlier, rng.uniform(0.05, 0.35, conf.shape), conf)
    return xy, conf


def guess_hidden(
    xy: np.ndarray, conf: np.ndarray, hidden: np.ndarray, person_height: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hidden joints as MoveNet reports them: never missing, but a guess (off by about 5 % of the
    person's height) with confidence 0.05–0.25."""
    guess = xy + 0.05 * person_height[:, None, None] * rng.standard_normal(xy.shape)
    return (
        np.where(hidden[..., None], guess, xy),
        np.where(hidden, rng.uniform(0.05, 0.25, conf.shape), conf),
    )


def drop_joints(conf: np.ndarray, fps: float, rng: np.random.Generator, config: NoiseConfig) -> np.ndarray:
    """``(T, 17)`` confidences with random joints and, with ``occlusion_p``, one limb for a while set to 0."""
    conf = np.where(rng.random(conf.shape) < config.joint_drop_p, 0.0, conf)
    if rng.random() < config.occlusion_p:
        joints = list(LIMBS.values())[rng.integers(len(LIMBS))]
        length = round(rng.uniform(*config.occlusion_s) * fps)
        start = int(rng.integers(0, max(1, len(conf) - length)))
        conf[start : start + length, list(joints)] = 0.0
    return conf


def missed_frames(num_frames: int, rng: np.random.Generator, config: NoiseConfig) -> np.ndarray:
    """``(T,)`` bool, True where the detector misses the person: runs of 1 to ``frame_drop_max`` frames."""
    missed = np.zeros(num_frames, dtype=bool)
    for start in np.flatnonzero(rng.random(num_frames) < config.frame_drop_p):
        missed[start : start + int(rng.integers(1, config.frame_drop_max + 1))] = True
    return missed


def track_ids(missed: np.ndarray, rng: np.random.Generator, config: NoiseConfig) -> np.ndarray:
    """``(M, T)`` the track id of each person per frame, with breaks and swaps.

    Person ``m`` starts as track ``m``. A break (``track_break_p`` per person) gives a new id from the
    end of one of its missed runs on (or from a random frame); a switch (``track_switch_p`` per video
    with two persons or more) swaps the ids of two persons from a random frame on.
    """
    num_persons, num_frames = missed.shape
    ids = np.repeat(np.arange(num_persons)[:, None], num_frames, axis=1)
    next_id = num_persons
    for m in range(num_persons):
        if num_frames > 2 and rng.random() < config.track_break_p:
            resumes = np.flatnonzero(missed[m, :-1] & ~missed[m, 1:]) + 1
            frame = int(rng.choice(resumes)) if len(resumes) else int(rng.integers(1, num_frames))
            ids[m, frame:] = next_id
            next_id += 1
    if num_persons >= 2 and num_frames > 2 and rng.random() < config.track_switch_p:
        a, b = rng.choice(num_persons, 2, replace=False)
        frame = int(rng.integers(1, num_frames))
        ids[[a, b], frame:] = ids[[b, a], frame:]
    return ids
