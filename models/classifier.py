"""Action classifiers built from (and saved with) a model card.

A card (JSON next to the ``.safetensors`` weights, see :mod:`posebeam.models.checkpoints`) names
the architecture (an entry of :mod:`posebeam.models.registry`), the classes and the clip spec, so
loading needs nothing but the weights path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from posebeam.models.checkpoints import load_checkpoint
from posebeam.models.registry import architecture

SHIPPED_CLASSIFIER = Path(__file__).with_name("weights") / "pose_slowonly_mocap.safetensors"
"""The Pose-SlowOnly trained on ``posebeam synth`` data that ``posebeam run`` uses by default."""


def build_classifier(name: str, num_classes: int, in_channels: int) -> nn.Module:
    """A freshly initialised classifier; ``in_channels`` are the heatmap channels."""
    return architecture(name).build(num_classes, in_channels)


def load_classifier(weights: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The verified classifier in eval mode, and its model card."""
    state, card = load_checkpoint(weights)
    model = build_classifier(card["architecture"], len(card["classes"]), card["clip"]["num_channels"])
    model.load_state_dict(state)
    return model.to(torch.device(device)).eval(), card
