"""The registry of model architectures: one entry per architecture, for every model family.

An entry says everything posebeam needs to build, train, save and serve one architecture:

- ``build(num_classes, in_channels)``: a freshly initialised torch module;
- ``spec``: the input spec (:class:`~posebeam.transforms.clip_inputs.CardSpec`) saved as the model
  card's ``clip`` entry, so inference builds exactly the inputs training used;
- ``optimiser``: the optimiser defaults (SGD: learning rate per clip, scaled linearly to the batch
  size, and weight decay; Adam: the learning rate itself);
- ``training_inputs``: the class in :mod:`posebeam.training` that turns labelled samples into a
  loss and test probabilities;
- ``inference_handler``: the Beam ``RunInference`` model handler in :mod:`posebeam.pipeline` that
  serves the checkpoint.

The last two are named as ``"module:Class"`` strings and imported on use
(:func:`load_object`), so this module imports neither Beam nor the training code. Adding an
architecture is one entry here plus its own module; no code elsewhere tests architecture names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from posebeam.models.aligner import build_aligner
from posebeam.models.c3d import pose_c3d
from posebeam.models.resnet3d_slowonly import pose_slowonly
from posebeam.models.rgb_segmenter import RGBHeatmapSegmenter
from posebeam.models.rgbpose import rgbpose_conv3d
from posebeam.models.segmenter import heatmap_segmenter
from posebeam.models.x3d import pose_x3d
from posebeam.transforms.alignment_views import AlignerSpec
from posebeam.transforms.clip_inputs import CardSpec, ClipSpec
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.rgb_crops import RGBSegmenterSpec
from posebeam.transforms.rgb_inputs import RGBPoseSpec

CLASSIFIER = "classifier"
SEGMENTER = "segmenter"
ALIGNER = "aligner"


@dataclass(frozen=True)
class Optimiser:
    """SGD defaults: ``lr = lr_per_clip × batch size`` (linear scaling) and ``weight_decay``. With
    ``algorithm="Adam"`` the rate is not scaled: ``lr_per_clip`` is the learning rate."""

    lr_per_clip: float
    weight_decay: float
    source: str
    algorithm: str = "SGD"

    def lr(self, batch_size: int) -> float:
        return self.lr_per_clip * batch_size if self.algorithm == "SGD" else self.lr_per_clip


@dataclass(frozen=True)
class Architecture:
    name: str
    family: str
    description: str
    build: Callable[[int, int], nn.Module]
    spec: type[CardSpec]
    optimiser: Optimiser
    training_inputs: str
    inference_handler: str


POSEC3D_SGD = Optimiser(0.4 / 256, 3e-4, "PYSKL PoseC3D: lr 0.4 for 256 clips, weight decay 3e-4")
RGBPOSE_SGD = Optimiser(0.0075 / 48, 1e-4, "pyskl RGBPose-Conv3D: lr 0.0075 for 48 clips, weight decay 1e-4")
CASA_ADAM = Optimiser(3e-4, 0.0, "CASA (taeinkwon/CASA): Adam lr 3e-4, gradient norm clipped at 0.5", "Adam")
MSTCN_ADAM = Optimiser(5e-4, 0.0, "MS-TCN++ (sj-li/MS-TCN2 main.py): Adam lr 5e-4, no schedule", "Adam")
SKELETON_INPUTS = "posebeam.training.classifier_inputs:PoseInputs"
SKELETON_HANDLER = "posebeam.pipeline.classify:PoseClassifierHandler"


def _rgbpose(num_classes: int, in_channels: int) -> nn.Module:
    return rgbpose_conv3d(num_classes, pose_in_channels=in_channels)


ARCHITECTURES: dict[str, Architecture] = {
    entry.name: entry
    for entry in (
        Architecture(
            "pose_slowonly", CLASSIFIER, "Pose-SlowOnly (ResNet3D-50 slow pathway) on heatmap volumes",
            lambda classes, channels: pose_slowonly(classes, in_channels=channels),
            ClipSpec, POSEC3D_SGD, SKELETON_INPUTS, SKELETON_HANDLER,
        ),
        Architecture(
            "pose_c3d", CLASSIFIER, "C3D-light on heatmap volumes",
            lambda classes, channels: pose_c3d(classes, in_channels=channels),
            ClipSpec, POSEC3D_SGD, SKELETON_INPUTS, SKELETON_HANDLER,
        ),
        Architecture(
            "pose_x3d", CLASSIFIER, "X3D-shallow on heatmap volumes",
            lambda classes, channels: pose_x3d(classes, in_channels=channels),
            ClipSpec, POSEC3D_SGD, SKELETON_INPUTS, SKELETON_HANDLER,
        ),
        Architecture(
            "rgbpose_conv3d", CLASSIFIER, "RGBPose-Conv3D: RGB frames + heatmaps, two streams fused 1:1",
            _rgbpose, RGBPoseSpec, RGBPOSE_SGD,
            "posebeam.training.rgbpose_inputs:RGBPoseInputs",
            "posebeam.pipeline.classify:RGBPoseClassifierHandler",
        ),
        Architecture(
            "heatmap_mstcn", SEGMENTER,
            "per-frame 2D CNN on joint + limb heatmaps, then MS-TCN++ over the frames (Hyder et al.)",
            lambda classes, channels: heatmap_segmenter(classes, SegmenterSpec(), in_channels=channels),
            SegmenterSpec, MSTCN_ADAM,
            "posebeam.training.segmenter_inputs:SegmenterInputs",
            "posebeam.pipeline.segment:SegmenterHandler",
        ),
        Architecture(
            "rgb_heatmap_mstcn", SEGMENTER,
            "heatmap_mstcn plus a per-frame CNN on the person's RGB crops, its features fused into "
            "chosen MS-TCN++ stages (re-reads each track's frames from its video)",
            lambda classes, channels: RGBHeatmapSegmenter(classes, RGBSegmenterSpec()),
            RGBSegmenterSpec, MSTCN_ADAM,
            "posebeam.training.rgb_segmenter_inputs:RGBSegmenterInputs",
            "posebeam.pipeline.segment:RGBSegmenterHandler",
        ),
        Architecture(
            "space_time_aligner", ALIGNER,
            "divided space-time transformer on joint + limb heatmap patches, per-frame embeddings "
            "trained with CASA's self-supervised alignment (LA2DS)",
            lambda classes, channels: build_aligner(AlignerSpec()),
            AlignerSpec, CASA_ADAM,
            "posebeam.training.train_aligner:AlignerInputs",
            "posebeam.pipeline.embed:AlignerHandler",
        ),
    )
}  # fmt: skip


def architecture(name: str) -> Architecture:
    """The entry called ``name``; ``KeyError`` naming the known ones otherwise."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name]


def architectures(family: str) -> list[str]:
    """The names of ``family``'s architectures, sorted."""
    return sorted(name for name, entry in ARCHITECTURES.items() if entry.family == family)


def load_object(reference: str) -> Any:
    """The object a ``"package.module:Name"`` reference names."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
