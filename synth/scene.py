"""One synthetic video: persons placed in a frame, performing, seen through a camera and a detector.

:func:`synthesise` is a pure function of ``(seed, index, config)``: video ``index`` of a seed is the
same whatever the number of videos generated with it. Its result holds, per person, the true pose (for
rendering), the detected keypoints, the track id of every frame and the per-frame labels; the row
builders below turn it into the columns of the ``keypoints`` and label tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from posebeam.schemas.records import keep_inside_frame
from posebeam.synth.actions import ACTIONS
from posebeam.synth.body import BodyShape, forward_kinematics
from posebeam.synth.mocap import MOCAP_CLASSES, SPLITS
from posebeam.synth.noise import (
    NoiseConfig,
    detect,
    drop_joints,
    missed_frames,
    random_camera,
    track_ids,
)
from posebeam.synth.timeline import KINDS, Performance, perform, plan, sample_style

MOTIONS: dict[str, tuple[str, ...]] = {"procedural": tuple(ACTIONS), "mocap": tuple(MOCAP_CLASSES)}
"""Motion sources and the actions each can perform."""


@dataclass(frozen=True)
class SceneConfig:
    """What to generate. ``duration_s`` per video; frame size in pixels; persons per video are drawn
    uniformly from 1 to ``max_persons``; ``variation`` scales the spread between instances."""

    kind: str = "clips"
    duration_s: float = 3.0
    fps: float = 15.0
    width: int = 192
    height: int = 144
    max_persons: int = 1
    actions: tuple[str, ...] = tuple(ACTIONS)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    variation: float = 1.0
    motion: str = "procedural"  # or "mocap": people driven by motion capture (synth/mocap_scene.py)
    split: str = "all"  # mocap: "train" or "test" captures (synth.mocap.class_sources)
    carrying: float = 0.0  # mocap: share of persons holding a forearm up while walking and standing

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion source {self.motion!r}; known: {', '.join(MOTIONS)}")
        if self.split not in SPLITS or (self.split != "all" and self.motion != "mocap"):
            raise ValueError(f"split {self.split!r} needs --motion mocap; splits: {', '.join(SPLITS)}")
        if not 0 <= self.carrying <= 1 or (self.carrying and self.motion != "mocap"):
            raise ValueError(f"carrying {self.carrying} must lie in [0, 1] and needs --motion mocap")
        known = MOTIONS[self.motion]
        unknown = sorted(set(self.actions) - set(known))
        if unknown or not self.actions:
            raise ValueError(f"unknown actions {unknown or '(none given)'}; known: {', '.join(known)}")

    @property
    def num_frames(self) -> int:
        return max(1, round(self.duration_s * self.fps))


@dataclass(frozen=True)
class SynthPerson:
    """One person of a video.

    Attributes:
        truth: ``(T, 17, 2)`` true joint positions in pixels (what a renderer draws).
        height_px: ``(T,)`` the person's standing height in pixels, camera zoom included.
        keypoints: ``(T, 17, 3)`` what the detector reports: x, y (pixels), confidence (0 = missing).
        detected: ``(T,)`` bool, False where the detector missed the person (no row is written).
        track_id: ``(T,)`` the ``person_id`` this person has in each frame.
        performance: per-frame pose parameters and labels.
    """

    truth: np.ndarray
    height_px: np.ndarray
    keypoints: np.ndarray
    detected: np.ndarray
    track_id: np.ndarray
    performance: Performance


@dataclass(frozen=True)
class SynthVideo:
    video_id: str
    seed: int
    index: int
    config: SceneConfig
    persons: list[SynthPerson]

    @property
    def num_frames(self) -> int:
        return self.config.num_frames


def synth_video_id(seed: int, index: int) -> str:
    """The ``video_id`` of video ``index`` of ``seed``: 32 hex digits of a SHA-256, like extracted ids."""
    return hashlib.sha256(f"posebeam-synth:{seed}:{index}".encode()).hexdigest()[:32]


def in_frame(xy: np.ndarray, conf: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Detections as the ``keypoints`` table holds them: clamped into the frame, a joint outside it
    missing (confidence 0, written at (0, 0))."""
    inside = keep_inside_frame(np.concatenate([xy, conf[..., None]], -1), width, height)
    conf = inside[..., 2]
    return np.where(conf[..., None] > 0, inside[..., :2], 0.0), conf


def synthesise(seed: int, index: int, config: SceneConfig) -> SynthVideo:
    """Video ``index`` of ``seed`` (both non-negative)."""
    rng = np.random.default_rng([seed, index])
    cfg, noise = config, config.noise
    num_frames = cfg.num_frames
    num_persons = int(rng.integers(1, cfg.max_persons + 1))
    camera = random_camera(num_frames, cfg.fps, cfg.width, cfg.height, rng, noise)
    slots = rng.permutation(num_persons)
    people: list[dict[str, np.ndarray]] = []
    performances: list[Performance] = []
    for m in range(num_persons):
        shape = BodyShape().varied(rng, spread=0.05 * cfg.variation)
        style = sample_style(rng, cfg.variation)
        performance = perform(
            plan(cfg.kind, cfg.duration_s, list(cfg.actions), style, rng), num_frames, cfg.fps, style, rng
        )
        height = min(cfg.height * rng.uniform(0.55, 0.8), 1.15 * cfg.width / num_persons)
        centre_x = cfg.width * (slots[m] + 0.5 + rng.uniform(-0.15, 0.15)) / num_persons
        floor_y = cfg.height * rng.uniform(0.86, 0.95)
        body = forward_kinematics(performance.params, shape)
        image = np.stack([centre_x + height * body[..., 0], floor_y - height * body[..., 1]], -1)
        truth = camera.apply(image)
        height_px = height * camera.scale
        xy, conf = detect(truth, height_px, rng, noise)
        conf = drop_joints(conf, cfg.fps, rng, noise)
        xy, conf = in_frame(xy, conf, cfg.width, cfg.height)
        detected = ~missed_frames(num_frames, rng, noise) & (conf > 0).any(axis=1)
        keypoints = np.concatenate([xy, conf[..., None]], -1)
        people.append(dict(truth=truth, height_px=height_px, keypoints=keypoints, detected=detected))
        performances.append(performance)
    ids = track_ids(np.array([~p["detected"] for p in people]).reshape(-1, num_frames), rng, noise)
    persons = [SynthPerson(**p, track_id=ids[m], performance=performances[m]) for m, p in enumerate(people)]
    return SynthVideo(synth_video_id(seed, index), seed, index, config, persons)


def keypoint_columns(video: SynthVideo) -> dict[str, np.ndarray]:
    """Columns of the video's ``keypoints`` rows, sorted by frame then person: ``frame_index``,
    ``timestamp_s``, ``person_id`` ``(N,)``, ``bbox`` ``(N, 4)`` (visible joints padded by 10 % of the
    person's height, clipped to the frame), ``bbox_score`` ``(N,)``, ``keypoints`` ``(N, 17, 3)``."""
    cfg = video.config
    frames, ids, boxes, scores, kps = [], [], [], [], []
    for person in video.persons:
        rows = np.flatnonzero(person.detected)
        kp = person.keypoints[rows]
        visible = kp[..., 2] > 0
        pad = 0.1 * person.height_px[rows]
        lo = np.where(visible[..., None], kp[..., :2], np.inf).min(axis=1) - pad[:, None]
        hi = np.where(visible[..., None], kp[..., :2], -np.inf).max(axis=1) + pad[:, None]
        box = np.concatenate([lo, hi], -1)
        box = np.clip(box, 0, [cfg.width - 1, cfg.height - 1, cfg.width - 1, cfg.height - 1])
        frames.append(rows)
        ids.append(person.track_id[rows])
        boxes.append(box)
        scores.append(
            np.sum(kp[..., 2], axis=1) / np.maximum(visible.sum(axis=1), 1) * visible.mean(axis=1) ** 0.5
        )
        kps.append(kp)
    frame_index = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
    person_id = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    order = np.lexsort((person_id, frame_index))
    return {
        "frame_index": frame_index[order],
        "timestamp_s": frame_index[order] / cfg.fps,
        "person_id": person_id[order],
        "bbox": np.concatenate(boxes)[order],
        "bbox_score": np.concatenate(scores)[order],
        "keypoints": np.concatenate(kps)[order],
    }


def label_columns(video: SynthVideo) -> dict[str, dict[str, np.ndarray]]:
    """Columns (without ``video_id``) of the three label tables of one video.

    Only tracks with at least one ``keypoints`` row are labelled.

    - ``clip_labels``: one row per run of a track within one action segment or one idle gap;
    - ``frame_labels_gt``: every frame of every person under its track id, detected or not;
    - ``phase_labels``: the frames that lie fully inside a repetition.
    """
    clip: dict[str, list[np.ndarray]] = {k: [] for k in ("person_id", "start_frame", "end_frame", "label")}
    frame: dict[str, list[np.ndarray]] = {k: [] for k in ("person_id", "frame_index", "label")}
    phase: dict[str, list[np.ndarray]] = {k: [] for k in ("person_id", "frame_index", "phase", "progress")}
    seen = {int(t) for person in video.persons for t in np.unique(person.track_id[person.detected])}
    for person in video.persons:
        perf, tid = person.performance, person.track_id
        index = np.arange(len(tid))
        key = np.stack([tid, perf.segment], -1)
        starts = np.flatnonzero(np.r_[True, np.any(key[1:] != key[:-1], axis=1)])
        ends = np.r_[starts[1:], len(tid)]
        for k, v in zip(clip, (tid[starts], starts, ends, perf.label[starts]), strict=True):
            clip[k].append(v)
        for k, v in zip(frame, (tid, index, perf.label), strict=True):
            frame[k].append(v)
        inside = perf.phase != ""
        for k, v in zip(
            phase, (tid[inside], index[inside], perf.phase[inside], perf.progress[inside]), strict=True
        ):
            phase[k].append(v)

    def table(columns: dict[str, list[np.ndarray]], sort: tuple[str, str]) -> dict[str, np.ndarray]:
        joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}
        keep = np.flatnonzero(np.isin(joined["person_id"], list(seen)))
        order = keep[np.lexsort((joined[sort[1]][keep], joined[sort[0]][keep]))]
        return {k: v[order] for k, v in joined.items()}

    return {
        "clip_labels": table(clip, ("person_id", "start_frame")),
        "frame_labels_gt": table(frame, ("person_id", "frame_index")),
        "phase_labels": table(phase, ("person_id", "frame_index")),
    }
