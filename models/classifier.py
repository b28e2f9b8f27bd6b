"""Action classifiers by name, built from (and saved with) a model card.

A card (JSON next to the ``.safetensors`` weights, see :mod:`posebeam.models.checkpoints`) names
the architecture, the classes and the clip spec, so loading needs nothing but the weights path.
The skeleton-only architectures take heatmap volumes; ``rgbpose_conv3d`` takes RGB frames and
heatmaps and returns one logit tensor per stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posebeam.models.c3d import pose_c3d
from posebeam.models.checkpoints import load_checkpoint
from posebeam.models.resnet3d_slowonly import pose_slowonly
from posebeam.models.rgbpose import rgbpose_conv3d
from posebeam.models.x3d import pose_x3d

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "pose_slowonly": pose_slowonly,
    "pose_c3d": pose_c3d,
    "pose_x3d": pose_x3d,
}
"""Skeleton-only classifiers (``posebeam train classifier --architecture`` takes these and RGBPose)."""

RGBPOSE_ARCHITECTURE = "rgbpose_conv3d"
"""Two-stream RGBPose-Conv3D (:func:`posebeam.models.rgbpose.rgbpose_conv3d`), trained on video frames."""

SHIPPED_CLASSIFIER = Path(__file__).with_name("weights") / "pose_slowonly_synth.safetensors"
"""The Pose-SlowOnly trained on ``posebeam synth`` data that ``posebeam run`` uses by default."""


def build_classifier(architecture: str, num_classes: int, in_channels: int) -> nn.Module:
    """A freshly initialised classifier; ``in_channels`` are the heatmap channels."""
    if architecture == RGBPOSE_ARCHITECTURE:
        return rgbpose_conv3d(num_classes, pose_in_channels=in_channels)
    if architecture not in ARCHITECTURES:
        known = ", ".join(sorted([*ARCHITECTURES, RGBPOSE_ARCHITECTURE]))
        raise KeyError(f"unknown classifier {architecture!r}; choose from {known}")
    return ARCHITECTURES[architecture](num_classes=num_classes, in_channels=in_channels)


def load_classifier(weights: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The verified classifier in eval mode, and its model card."""
    state, card = load_checkpoint(weights)
    model = build_classifier(card["architecture"], len(card["classes"]), card["clip"]["num_channels"])
    model.load_state_dict(state)
    return model.to(torch.device(device)).eval(), card
