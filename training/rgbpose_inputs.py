"""RGBPose-Conv3D clips for ``posebeam train classifier`` and ``evaluate classifier`` (docs/method.md §4.4).

:class:`RGBPoseInputs` is the two-stream counterpart of the skeleton trainer's heatmap inputs: for
each clip it draws the frame positions first (:func:`~posebeam.transforms.rgb_inputs.
train_positions` or, at test time, ``rgb_positions``), decodes only those frames from the clip's
video (the ``videos`` table's ``uri``; :func:`~posebeam.storage.video.read_frames` seeks to the
nearest keyframe), and builds pyskl's train or test inputs. The loss is cross-entropy on each
stream, summed 1:1; test scores are each stream's clip-averaged softmax and their 1:1 fusion.

Unlike inference, where a clip whose video cannot be re-read is skipped, training data that cannot
be read stops the run: :class:`TrainingVideoError` names the video. Every clip's video is checked
before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.rgbpose import clip_averaged_softmax, fuse_test_scores
from posebeam.storage.uris import exists, open_input
from posebeam.storage.video import READ_ERRORS, FramesNotFound, VideoReader, frames_at
from posebeam.training.classifier_inputs import Predictions, sample_labels
from posebeam.training.datasets import ClipSample, FrameSequence, read_source
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.rgb_inputs import (
    RGBPoseSpec,
    rgb_positions,
    rgbpose_inputs,
    rgbpose_train_inputs,
    train_positions,
)

STREAMS = ("rgb", "pose")


class TrainingVideoError(ValueError):
    """A labelled clip's video cannot be read; the message names the video."""


def video_uris(data: str, samples: Sequence[ClipSample | FrameSequence]) -> dict[str, str]:
    """``video_id → uri`` from ``data``'s ``videos`` table for the samples' videos (the first, sorted,
    of identical files); raises :class:`TrainingVideoError` for a video without a readable file."""
    table = read_source(data, "videos")
    uris: dict[str, str] = {}
    for video_id, uri in zip(
        table.column("video_id").to_pylist(), table.column("uri").to_pylist(), strict=True
    ):
        uris[video_id] = min(uri, uris.get(video_id, uri))
    for video_id in sorted({s.video_id for s in samples}):
        if video_id not in uris:
            raise TrainingVideoError(f"video {video_id} has no row in the videos table of {data}")
        if not exists(uris[video_id]):  # also a scheme no filesystem reads: synth:// without --render
            raise TrainingVideoError(f"video {video_id}: its file {uris[video_id]} does not exist")
    return uris


def read_clip_frames(video_id: str, uri: str, indices: Sequence[int]) -> list[np.ndarray]:
    """The RGB frames ``(H, W, 3)`` at ``indices`` (frame numbers of the video), in that order."""
    try:
        with open_input(uri) as fileobj, VideoReader(fileobj) as reader:
            return frames_at(reader, indices)
    except FramesNotFound as err:
        raise TrainingVideoError(f"video {video_id}: {uri} has no frames {err.missing[:5]}") from err
    except READ_ERRORS as err:
        raise TrainingVideoError(f"video {video_id}: cannot decode {uri}: {err}") from err


@dataclass(frozen=True)
class RGBPoseInputs:
    """Clips → RGBPose-Conv3D losses and test scores; ``uris`` from :func:`video_uris`."""

    spec: RGBPoseSpec
    uris: dict[str, str]

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[ClipSample]) -> RGBPoseInputs:
        """Checks first that every sample's video in ``data``'s ``videos`` table can be read."""
        assert isinstance(spec, RGBPoseSpec)
        return cls(spec, video_uris(data, samples))

    def card_entries(self, eval_clips: int) -> dict[str, Any]:
        spec = self.spec
        return {
            "task": "RGB + skeleton action classification (one person per clip)",
            "sampling": f"MMUniformSampleFrames(RGB={spec.rgb_frames}, Pose={spec.pose_frames}); "
            f"test: {eval_clips} clips, no flip, each stream's softmax averaged, fused 1:1",
            "loss": "cross-entropy on each stream, summed 1:1",
        }

    def _frames(self, sample: ClipSample, positions: np.ndarray) -> list[np.ndarray]:
        """The frames at ``positions`` into the sample's keypoint rows (row i is frame start + i)."""
        indices = (sample.start_frame + positions).tolist()
        return read_clip_frames(sample.video_id, self.uris[sample.video_id], indices)

    def loss(self, model: nn.Module, batch: Sequence[ClipSample], rng: np.random.Generator) -> Tensor:
        """Augmented inputs of ``batch`` (frames decoded here) → summed per-stream cross-entropy."""
        clips = []
        for sample in batch:
            rgb_index, pose_index = train_positions(len(sample.keypoints), self.spec, rng)
            images = self._frames(sample, rgb_index)
            clips.append(
                rgbpose_train_inputs(images, sample.keypoints, sample.scores, pose_index, self.spec, rng)
            )
        device = next(model.parameters()).device
        rgb, pose = (torch.from_numpy(np.stack(stream)).to(device) for stream in zip(*clips, strict=True))
        labels = sample_labels(batch, device)
        rgb_logits, pose_logits = model(rgb, pose)
        return nn.functional.cross_entropy(rgb_logits, labels) + nn.functional.cross_entropy(
            pose_logits, labels
        )

    @torch.no_grad()
    def predict(
        self, model: nn.Module, samples: Sequence[ClipSample], num_clips: int, flip: bool
    ) -> Predictions:
        """Fused and per-stream probabilities over ``num_clips`` test clips (pyskl tests without flips,
        so ``flip`` is not used)."""
        model.eval()
        device = next(model.parameters()).device
        fused, streams = [], []
        for sample in samples:
            images = self._frames(sample, rgb_positions(len(sample.keypoints), self.spec, num_clips))
            inputs = rgbpose_inputs(images, sample.keypoints, sample.scores, self.spec, num_clips)
            logits = model(*(torch.from_numpy(x).to(device) for x in inputs))
            rgb_logits, pose_logits = logits
            fused.append(fuse_test_scores(rgb_logits, pose_logits, views=num_clips)[0].cpu().numpy())
            streams.append([clip_averaged_softmax(x, num_clips)[0].cpu().numpy() for x in logits])
        per_stream = np.asarray(streams).reshape(len(samples), len(STREAMS), -1)
        return Predictions(
            np.asarray(fused).reshape(len(samples), -1),
            {name: per_stream[:, i] for i, name in enumerate(STREAMS)},
        )
