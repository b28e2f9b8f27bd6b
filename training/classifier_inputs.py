"""Classifier clips → training losses and test probabilities.

:class:`ClipInputs` is what the classifier trainer needs of an architecture's inputs; a registry
entry (:mod:`posebeam.models.registry`) names the class that provides it. :class:`PoseInputs`
serves the skeleton-only models (augmented heatmap volumes, test views × flip);
:class:`~posebeam.training.rgbpose_inputs.RGBPoseInputs` serves RGBPose-Conv3D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.rgbpose import clip_averaged_softmax
from posebeam.training.datasets import ClipSample
from posebeam.transforms.clip_inputs import CardSpec, ClipSpec, eval_views, train_volume


@dataclass(frozen=True)
class Predictions:
    """``(N, classes)`` probabilities that are scored, and each stream's where there are several."""

    probabilities: np.ndarray
    streams: dict[str, np.ndarray]


def sample_labels(batch: Sequence[ClipSample], device: torch.device) -> Tensor:
    return torch.tensor([s.label for s in batch], device=device)


class ClipInputs(Protocol):
    """How an architecture's clips become a training loss and test probabilities (a registry
    entry's ``training_inputs`` names the class; ``for_samples`` builds it)."""

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[ClipSample]) -> ClipInputs: ...

    def card_entries(self, eval_clips: int) -> dict[str, Any]: ...

    def loss(
        self, model: nn.Module, batch: Sequence[ClipSample], rng: np.random.Generator
    ) -> torch.Tensor: ...

    def predict(
        self, model: nn.Module, samples: Sequence[ClipSample], num_clips: int, flip: bool
    ) -> Predictions: ...


@dataclass(frozen=True)
class PoseInputs:
    """Skeleton models: augmented heatmap volumes, cross-entropy; test views × flip."""

    spec: ClipSpec

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[ClipSample]) -> PoseInputs:
        assert isinstance(spec, ClipSpec)
        return cls(spec)

    def card_entries(self, eval_clips: int) -> dict[str, Any]:
        return {
            "task": "skeleton action classification (one person per clip)",
            "sampling": f"UniformSampleFrames({self.spec.clip_len}); test: {eval_clips} clips x flip",
        }

    def loss(self, model: nn.Module, batch: Sequence[ClipSample], rng: np.random.Generator) -> torch.Tensor:
        volumes = np.stack([train_volume(s.keypoints, s.scores, self.spec, rng) for s in batch])
        dev = next(model.parameters()).device
        return nn.functional.cross_entropy(
            model(torch.from_numpy(volumes).to(dev)), sample_labels(batch, dev)
        )

    @torch.no_grad()
    def predict(
        self, model: nn.Module, samples: Sequence[ClipSample], num_clips: int, flip: bool
    ) -> Predictions:
        """``(N, classes)`` probabilities: softmax per view, averaged over the views of each clip."""
        model.eval()
        dev = next(model.parameters()).device
        out = []
        for sample in samples:
            views = eval_views(sample.keypoints, sample.scores, self.spec, num_clips=num_clips, flip=flip)
            out.append(
                clip_averaged_softmax(model(torch.from_numpy(views).to(dev)), len(views))[0].cpu().numpy()
            )
        return Predictions(np.stack(out), {})
