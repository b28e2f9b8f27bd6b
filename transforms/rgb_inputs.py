"""RGBPose-Conv3D inputs: one person's clip → an RGB volume and pose heatmaps (docs/method.md §4.4).

pyskl's ``configs/rgbpose_conv3d/rgbpose_conv3d.py`` test pipeline, step by step:

1. ``MMUniformSampleFrames(clip_len=dict(RGB=8, Pose=32), test_mode=True)``: each stream samples
   its own positions over the clip's T keypoint rows (:func:`rgb_positions` for RGB), so the
   frames to decode are known from the keypoint timeline before anything is decoded;
2. ``MMDecode``: the caller decodes the frames at the RGB positions;
3. ``MMCompact(hw_ratio=1, allow_imgpad=True)``: one square box (padding 0.25) around the
   keypoints of the sampled pose frames; frames are cropped to it with zeros where it leaves the
   image (:func:`crop_with_padding`), keypoints shifted;
4. ``Resize((S, S), keep_ratio=False)``: frames bilinearly (mmcv ``imresize``, i.e. OpenCV
   ``INTER_LINEAR`` on uint8), keypoints by float32 factors;
5. ``GeneratePoseTarget(sigma=0.7, with_kp=True, scaling=0.25)``: joint heatmaps on an
   ``int(S·0.25 + 0.5)`` grid with keypoints × 0.25;
6. ``Normalize``: ImageNet mean/std on RGB channels (:func:`normalize`);
7. ``FormatShape``: ``(num_clips, 3, rgb_frames, S, S)`` and ``(num_clips, 17, pose_frames, s, s)``.

The train pipeline (:func:`train_positions`, then :func:`rgbpose_train_inputs`) differs in steps
1 and 4: ``MMUniformSampleFrames`` in train mode draws the RGB positions, then the pose positions,
at random from the same clip (one clip; the frames to decode are still known before decoding);
after the compact box, frames and keypoints are resized to a square of ``rgb_size·256/224``, cut
by one ``RandomResizedCrop`` box (area 0.56–1), resized to ``rgb_size`` and, with p = 0.5,
mirrored (frames flipped left–right, keypoints ``x → S - x`` with COCO-17's left/right joints
swapped). Steps 5–7 are the same, without the clip axis.

Keypoints are ``(T, K, 2)`` pixels of the decoded frame and scores ``(T, K)``; frames are RGB
uint8 ``(H, W, 3)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.clip_inputs import CardSpec, flip_coco17, zero_missing
from posebeam.transforms.heatmaps import render_heatmaps
from posebeam.transforms.pose_transforms import (
    Rng,
    pose_compact,
    random_resized_crop,
    resize_keypoints,
    uniform_sample_frames,
)

IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
"""RGB mean of pyskl's ``img_norm_cfg`` (0–255 scale)."""
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
"""RGB standard deviation of pyskl's ``img_norm_cfg`` (0–255 scale)."""
SPEED_RATIO = 4
"""Pose frames per RGB frame: the model's lateral connections stride time by 4."""
TRAIN_RESIZE = 256 / 224
"""The train pipeline's ``Resize((256, 256))`` before the 224² crop, as a multiple of ``rgb_size``."""


@dataclass(frozen=True)
class RGBPoseSpec(CardSpec):
    """How a clip becomes RGBPose-Conv3D inputs; the model card's ``clip`` entry.

    Defaults are the paper's: 8 RGB frames at 224², 32 heatmap frames at 224·0.25 = 56², σ 0.7
    (heatmap pixels), COCO-17 joint channels. The model needs ``pose_frames = 4·rgb_frames`` and
    a pose grid of ``rgb_size / 4`` (its speed ratio and stride ratio).
    """

    rgb_frames: int = 8
    rgb_size: int = 224
    pose_frames: int = 32
    pose_scaling: float = 0.25
    sigma: float = 0.7

    def __post_init__(self) -> None:
        if self.pose_frames != SPEED_RATIO * self.rgb_frames:
            raise ValueError(
                f"pose_frames must be {SPEED_RATIO} x rgb_frames, "
                f"got {self.pose_frames} and {self.rgb_frames}"
            )

    @property
    def num_channels(self) -> int:
        return COCO17.num_joints

    @property
    def pose_size(self) -> int:
        """Side of the heatmap grid: ``int(rgb_size · pose_scaling + 0.5)`` as pyskl rounds it."""
        return int(self.rgb_size * self.pose_scaling + 0.5)


def rgb_positions(num_rows: int, spec: RGBPoseSpec, num_clips: int) -> np.ndarray:
    """Positions ``(num_clips · rgb_frames,)`` into a clip's T keypoint rows whose frames to decode.

    ``UniformSampleFrames`` in test mode (seeded, deterministic); a clip shorter than
    ``rgb_frames`` loops, so positions may repeat.
    """
    return uniform_sample_frames(num_rows, spec.rgb_frames, num_clips=num_clips, test_mode=True)


def crop_with_padding(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``image[y1:y2, x1:x2]`` of an ``(H, W, C)`` image with zeros outside it (pyskl ``MMCompact``).

    ``box`` is ``(x1, y1, x2, y2)`` in integer pixels and may extend past the image (``np.pad``
    with zeros, then slicing, in pyskl).
    """
    x1, y1, x2, y2 = box
    height, width = image.shape[:2]
    out = np.zeros((y2 - y1, x2 - x1, *image.shape[2:]), dtype=image.dtype)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, C)`` → ``(size, size, C)``, bilinear with half-pixel centres (mmcv ``imresize``)."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)


def normalize(images: np.ndarray) -> np.ndarray:
    """float32 ``(x - mean) / std`` per RGB channel of ``(..., 3)`` 0–255 images (pyskl ``Normalize``)."""
    return (np.asarray(images, dtype=np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def _crop_and_resize(
    images: Sequence[np.ndarray] | np.ndarray, box: tuple[int, int, int, int], size: int
) -> np.ndarray:
    """Each ``(H, W, 3)`` image cut to ``box`` (zeros outside it), then resized: ``(F, size, size, 3)``."""
    return np.stack([resize_image(crop_with_padding(image, box), size) for image in images])


def _stream_inputs(
    frames: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, spec: RGBPoseSpec, num_clips: int
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 5–7: ``(F, S, S, 3)`` uint8 frames and ``(P, K, 2)`` keypoints in their pixels, ``(P, K)``
    scores → normalised ``(num_clips, 3, rgb_frames, S, S)`` and heatmaps ``(num_clips, K,
    pose_frames, s, s)``."""
    size = spec.rgb_size
    rgb = normalize(frames).reshape(num_clips, spec.rgb_frames, size, size, 3).transpose(0, 4, 1, 2, 3)
    grid = spec.pose_size
    pose_xy = keypoints * np.float32(spec.pose_scaling)
    heatmaps = render_heatmaps(pose_xy[:, None], scores[:, None], grid, grid, sigma=spec.sigma)
    pose = heatmaps.reshape(num_clips, spec.pose_frames, -1, grid, grid).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(rgb), np.ascontiguousarray(pose)


def rgbpose_inputs(
    images: Sequence[np.ndarray],
    keypoints: np.ndarray,
    scores: np.ndarray,
    spec: RGBPoseSpec,
    num_clips: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One person's clip → test inputs ``(rgb, pose)``, float32, deterministic.

    Inputs: ``images``, the RGB uint8 frames ``(H, W, 3)`` at ``rgb_positions(T, spec,
    num_clips)`` in that order; ``keypoints`` ``(T, K, 2)`` pixels of those frames and
    ``scores`` ``(T, K)`` (score 0 = missing). Outputs: ``rgb`` ``(num_clips, 3, rgb_frames, S,
    S)`` normalised, and ``pose`` ``(num_clips, K, pose_frames, s, s)`` heatmaps, with ``S =
    rgb_size`` and ``s = pose_size``.
    """
    keypoints, scores = zero_missing(keypoints, scores)
    if len(images) != num_clips * spec.rgb_frames:
        raise ValueError(f"need {num_clips * spec.rgb_frames} frames, got {len(images)}")
    pose_index = uniform_sample_frames(len(keypoints), spec.pose_frames, num_clips=num_clips, test_mode=True)
    crop = pose_compact(keypoints[pose_index], images[0].shape[:2])
    frames = _crop_and_resize(images, crop.box, spec.rgb_size)
    size = (spec.rgb_size, spec.rgb_size)
    resized = resize_keypoints(crop.keypoints, crop.img_shape, size)
    return _stream_inputs(frames, resized, scores[pose_index], spec, num_clips)


def train_positions(num_rows: int, spec: RGBPoseSpec, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """``MMUniformSampleFrames`` in train mode: ``(rgb_frames,)`` RGB positions, then ``(pose_frames,)``
    pose positions, each drawn from ``rng`` over the same clip's ``num_rows`` keypoint rows.

    Decode the frames at the RGB positions and pass the pose positions to
    :func:`rgbpose_train_inputs` with the same ``rng``.
    """
    rgb = uniform_sample_frames(num_rows, spec.rgb_frames, rng=rng)
    return rgb, uniform_sample_frames(num_rows, spec.pose_frames, rng=rng)


def rgbpose_train_inputs(
    images: Sequence[np.ndarray],
    keypoints: np.ndarray,
    scores: np.ndarray,
    pose_index: np.ndarray,
    spec: RGBPoseSpec,
    rng: Rng,
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented training clip → ``(rgb (3, rgb_frames, S, S), pose (K, pose_frames, s, s))``.

    Inputs: ``images``, the ``rgb_frames`` RGB uint8 frames ``(H, W, 3)`` at the RGB positions of
    :func:`train_positions`, in order; ``keypoints`` ``(T, K, 2)`` pixels and ``scores`` ``(T,
    K)`` of all the clip's rows; ``pose_index`` the pose positions. One crop box and one flip
    draw (from ``rng``) apply to the frames and the keypoints alike.
    """
    if len(images) != spec.rgb_frames:
        raise ValueError(f"need {spec.rgb_frames} frames, got {len(images)}")
    keypoints, scores = zero_missing(keypoints, scores)
    keypoints, scores = keypoints[pose_index], scores[pose_index]
    crop = pose_compact(keypoints, images[0].shape[:2])
    side = round(spec.rgb_size * TRAIN_RESIZE)
    frames = _crop_and_resize(images, crop.box, side)
    keypoints = resize_keypoints(crop.keypoints, crop.img_shape, (side, side))
    crop = random_resized_crop(keypoints, (side, side), rng)
    frames = _crop_and_resize(frames, crop.box, spec.rgb_size)
    keypoints = resize_keypoints(crop.keypoints, crop.img_shape, (spec.rgb_size, spec.rgb_size))
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
        keypoints, scores = flip_coco17(keypoints, scores, spec.rgb_size)
    rgb, pose = _stream_inputs(frames, keypoints, scores, spec, num_clips=1)
    return rgb[0], pose[0]
