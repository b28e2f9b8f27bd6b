"""Synthetic videos driven by real motion capture (``posebeam synth --motion mocap``).

Each person performs one captured motion (:data:`MOCAP_CLASSES`), re-timed by 0.7–1.4×, started
at a random point, possibly mirrored, turned to a random heading and placed on the ground at a
random spot and depth; cyclic clips (walking, running) loop with their root motion carried on, so
walkers cross the frame. The scene is filmed by a virtual pinhole camera
(:mod:`posebeam.synth.camera`: all round, eye level to surveillance height, perspective scale) with
the procedural generator's hand-held shake, then goes through a model of the default backend,
MoveNet: its per-joint confidence levels, frame-to-frame correlated jitter that grows as
confidence falls, outliers, and hidden joints reported as low-confidence guesses rather than
missing; plus missed frames and track switches (:mod:`posebeam.synth.noise`). ``stand`` is a
still standing pose (the mean of the walking cycles) with natural sway. ``--split`` chooses the
captures (:func:`~posebeam.synth.mocap.class_sources`). Kind ``clips``: one action per person per
video; kinds ``sequences`` and ``repetitions`` chain captures and ``stand`` with cross-faded
boundaries and derive phases from the motion (:mod:`posebeam.synth.mocap_timeline`).
"""

from __future__ import annotations

import functools

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.synth.camera import random_camera as random_pinhole
from posebeam.synth.carrying import raise_forearms
from posebeam.synth.mocap import WALKS, Motion, class_sources, read_source
from posebeam.synth.noise import (
    detect_movenet,
    drop_joints,
    guess_hidden,
    missed_frames,
    random_camera,
    track_ids,
)
from posebeam.synth.scene import SceneConfig, SynthPerson, SynthVideo, in_frame, synth_video_id
from posebeam.synth.timeline import Performance

MIRROR = np.array(COCO17.flip_index())
SPEED_RANGE = (0.7, 1.4)


@functools.cache
def source_motion(name: str) -> Motion:
    return read_source(name)


def yaw_rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def facing_yaw(joints: np.ndarray) -> float:
    """The yaw of the facing direction ((left hip − right hip) × up) of one frame ``(17, 3)``."""
    facing = np.cross(joints[11] - joints[12], [0.0, 1.0, 0.0])
    return float(np.arctan2(-facing[2], facing[0]))


def _cycles(motion: Motion, count: int) -> list[np.ndarray]:
    """Cycles 0 … ``count`` of a looping motion: each is the previous one moved by the rigid step
    (turn about y and ground translation) from the clip's first frame to its last, so root motion
    carries on."""
    joints = motion.joints
    rotation = yaw_rotation(facing_yaw(joints[-1]) - facing_yaw(joints[0]))
    start, end = joints[0, 11:13].mean(axis=0), joints[-1, 11:13].mean(axis=0)
    cycles = [joints.copy()]
    for _ in range(count):
        moved = (cycles[-1] - start) @ rotation.T + end
        moved[..., 1] = joints[..., 1]  # heights stay those of the capture
        cycles.append(moved)
    return cycles


def retimed(motion: Motion, num_frames: int, fps: float, speed: float, start: float) -> np.ndarray:
    """``(num_frames, 17, 3)``: ``motion`` played ``speed`` times as fast from ``start`` (in [0, 1]).
    A cyclic motion starts at that fraction of its cycle and loops with its root motion. A one-off
    motion is placed so that all of it is in the clip when it is shorter (``start`` sets where;
    its first and last poses are held around it) and the clip is all motion when it is longer."""
    step = speed * motion.fps / fps
    period = motion.num_frames - 1
    if motion.loop:
        position = start * period + np.arange(num_frames) * step
        cycles = _cycles(motion, int(position.max() // period) + 1)
        frames = np.concatenate([cycle[:-1] for cycle in cycles[:-1]] + [cycles[-1][:1]])
    else:
        slack = period - (num_frames - 1) * step
        position = np.clip(start * slack + np.arange(num_frames) * step, 0, period)
        frames = motion.joints
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(frames) - 1)
    weight = (position - low)[:, None, None]
    return (1 - weight) * frames[low] + weight * frames[high]


@functools.cache
def _neutral_pose() -> np.ndarray:
    """``(17, 3)``: the mean pose of the walking cycles, each frame centred and turned to +x."""
    poses = []
    for name in WALKS:
        joints = source_motion(name).joints
        hips = joints[:, 11:13].mean(axis=1, keepdims=True)
        facing = np.array([yaw_rotation(-facing_yaw(frame)) for frame in joints])
        poses.append(np.einsum("tij,tkj->tki", facing, joints - hips * [1, 0, 1]).mean(axis=0))
    pose: np.ndarray = np.mean(poses, axis=0)
    pose.flags.writeable = False  # shared by every standing person
    return pose


def standing(num_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """A still standing person: the mean pose of the walking cycles, centred, with sway."""
    pose = _neutral_pose()
    t = np.arange(num_frames) / fps
    sway = 0.015 * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 2 * np.pi))
    out = np.repeat(pose[None], num_frames, axis=0)
    out[..., 0] += sway[:, None] * (out[..., 1] / out[..., 1].max())  # sway grows with height
    return out


def perform_class(
    label: str, num_frames: int, fps: float, rng: np.random.Generator, split: str = "all"
) -> np.ndarray:
    """``(T, 17, 3)`` one person doing ``label`` (a capture of ``split``), centred at the origin,
    facing +x, in metres."""
    if label == "stand":
        return standing(num_frames, fps, rng)
    sources = class_sources(label, split)
    motion = source_motion(sources[int(rng.integers(len(sources)))])
    joints = retimed(motion, num_frames, fps, float(rng.uniform(*SPEED_RANGE)), float(rng.uniform()))
    first = joints[0, 11:13].mean(axis=0) * [1, 0, 1]
    return (joints - first) @ yaw_rotation(-facing_yaw(joints[0])).T


def synthesise_mocap(seed: int, index: int, config: SceneConfig) -> SynthVideo:
    """Video ``index`` of ``seed`` with motion-captured people."""
    from posebeam.synth.mocap_timeline import mirror_phases, perform_mocap  # it builds on this module

    rng = np.random.default_rng([seed, index, 1])
    cfg, noise = config, config.noise
    num_frames = cfg.num_frames
    num_persons = int(rng.integers(1, cfg.max_persons + 1))
    pinhole = random_pinhole(rng, cfg.width, cfg.height)
    shake = random_camera(num_frames, cfg.fps, cfg.width, cfg.height, rng, noise)
    people, performances = [], []
    for number in range(num_persons):
        if cfg.kind == "clips":
            label = cfg.actions[int(rng.integers(len(cfg.actions)))]
            joints = perform_class(label, num_frames, cfg.fps, rng, cfg.split)
            performance = _performance(label, num_frames)
        else:
            joints, performance = perform_mocap(cfg, rng)
        carrier = np.random.default_rng([seed, index, 2, number])  # apart: the other draws stay the same
        if carrier.random() < cfg.carrying:
            joints = raise_forearms(joints, performance.label, cfg.fps, carrier)
        joints = joints * np.exp(rng.normal(0, 0.05 * cfg.variation))
        if rng.random() < 0.5:  # a mirrored performer: the other hand kicks, the other way round
            joints = joints[:, MIRROR] * [1, 1, -1]
            performance = mirror_phases(performance)
        spot = np.array([rng.uniform(-2.5, 2.5), 0.0, rng.uniform(-2.5, 2.5)])
        world = joints @ yaw_rotation(rng.uniform(0, 2 * np.pi)).T + spot
        pixels, depth = pinhole.project(world)
        truth = shake.apply(pixels)
        height_px = pinhole.focal_px * 1.7 / np.maximum(depth.mean(axis=1), 0.5)
        xy, conf = detect_movenet(truth, height_px, cfg.fps, rng, noise)
        hidden = drop_joints(np.ones_like(conf), cfg.fps, rng, noise) == 0
        xy, conf = guess_hidden(xy, conf, hidden, height_px, rng)
        conf = np.where(depth > 0.3, conf, 0.0)
        xy, conf = in_frame(xy, conf, cfg.width, cfg.height)
        detected = ~missed_frames(num_frames, rng, noise) & ((conf > 0).sum(axis=1) >= 5)
        keypoints = np.concatenate([xy, conf[..., None]], -1)
        people.append(dict(truth=truth, height_px=height_px, keypoints=keypoints, detected=detected))
        performances.append(performance)
    ids = track_ids(np.array([~p["detected"] for p in people]).reshape(-1, num_frames), rng, noise)
    persons = [SynthPerson(**p, track_id=ids[m], performance=performances[m]) for m, p in enumerate(people)]
    return SynthVideo(synth_video_id(seed, index), seed, index, config, persons)


def _performance(label: str, num_frames: int) -> Performance:
    """Labels of one whole-video action (no pose parameters: the motion is captured)."""
    return Performance(
        params=np.zeros((num_frames, 0)),
        label=np.full(num_frames, label),
        phase=np.full(num_frames, ""),
        progress=np.full(num_frames, np.nan),
        segment=np.zeros(num_frames, dtype=np.int64),
    )
