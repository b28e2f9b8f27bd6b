"""The heatmap segmenter with an RGB stream fused into MS-TCN++ (docs/method.md §6, RGB fusion).

Hyder et al. report a further gain from a multi-stage fusion of RGB with the skeleton heatmaps; its
design is not published in a form we could read, so this one is posebeam's:

- a second per-frame encoder, :class:`~posebeam.models.segmenter.FrameEncoder` on the person's RGB
  crop (``(3, s, s)``, :mod:`posebeam.transforms.rgb_crops`) with widths ``(w/2, w, 2w, R)``, and
  its own per-frame head (trained with the pose head in step (a), the two heads' logits summed for
  the per-frame baseline);
- MS-TCN++ on the ``(D + R, T)`` concatenated features with the last R fused
  (:class:`~posebeam.models.ms_tcn.MSTCNPlusPlus`): into the prediction generation stage (stage 0,
  early fusion) and/or into chosen refinement stages, whose inputs are then the class
  probabilities of the stage before plus the RGB features (``rgb_stages``).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.ms_tcn import ms_tcn_pp
from posebeam.models.segmenter import FrameEncoder, HeatmapSegmenter, parameter_count
from posebeam.transforms.rgb_crops import RGBSegmenterSpec, standardise_crops


class RGBHeatmapSegmenter(HeatmapSegmenter):
    """Heatmap encoder + RGB encoder, each with a per-frame head, and MS-TCN++ fusing them."""

    def __init__(self, num_classes: int, spec: RGBSegmenterSpec) -> None:
        super().__init__(
            num_classes, spec.num_channels, spec.base_width, spec.feature_dim, spec.num_layers_pg,
            spec.num_layers_r, spec.num_r, spec.num_f_maps,
        )  # fmt: skip
        self.rgb_encoder = FrameEncoder(3, rgb_widths(spec))
        self.rgb_head = nn.Linear(spec.rgb_dim, num_classes)
        self.tcn = ms_tcn_pp(
            spec.feature_dim + spec.rgb_dim, num_classes, spec.num_layers_pg, spec.num_layers_r, spec.num_r,
            spec.num_f_maps, fused_dim=spec.rgb_dim, fused_stages=spec.rgb_stages,
        )  # fmt: skip

    def encode_rgb(self, crops: Tensor) -> Tensor:
        """``(M, 3, s, s)`` standardised crops → ``(M, R)``."""
        features: Tensor = self.rgb_encoder(crops)
        return features

    def frame_logits(self, features: Tensor) -> Tensor:
        """Per-frame logits of ``(..., D)`` heatmap features (the pose head) or of ``(..., D + R)``
        features (the pose and RGB heads' logits summed: the per-frame baseline)."""
        pose_dim = self.frame_head.in_features
        logits: Tensor = self.frame_head(self.frame_dropout(features[..., :pose_dim]))
        if features.shape[-1] > pose_dim:
            logits = logits + self.rgb_head(self.frame_dropout(features[..., pose_dim:]))
        return logits


def rgb_widths(spec: RGBSegmenterSpec) -> tuple[int, ...]:
    half = max(spec.base_width // 2, 1)
    return (half, 2 * half, 4 * half, spec.rgb_dim)


def rgb_parameter_count(num_classes: int, spec: RGBSegmenterSpec) -> dict[str, int]:
    """:func:`~posebeam.models.segmenter.parameter_count` plus the RGB encoder and head, and R·F
    more MS-TCN++ parameters per fused stage."""
    counts = parameter_count(num_classes, spec)
    widths = [3, *rgb_widths(spec)]
    counts["rgb_encoder"] = sum(9 * a * b + 2 * b for a, b in itertools.pairwise(widths))
    counts["rgb_head"] = spec.rgb_dim * num_classes + num_classes
    counts["tcn"] += spec.rgb_dim * spec.num_f_maps * len(spec.rgb_stages)
    counts["total"] = sum(v for k, v in counts.items() if k != "total")
    return counts


@torch.no_grad()
def encode_rgb_crops(
    model: RGBHeatmapSegmenter, crops: np.ndarray, chunk_frames: int, flip: bool = False
) -> Tensor:
    """``(R, T)`` RGB features of ``(T, s, s, 3)`` uint8 crops, ``chunk_frames`` frames at a time."""
    device = next(model.parameters()).device
    parts = [
        model.encode_rgb(
            torch.from_numpy(standardise_crops(crops[start : start + chunk_frames], flip)).to(device)
        )
        for start in range(0, len(crops), chunk_frames)
    ]
    if not parts:
        return torch.zeros(model.rgb_encoder.feature_dim, 0, device=device)
    return torch.cat(parts).T
