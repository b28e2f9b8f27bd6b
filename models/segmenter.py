"""The action segmenter: a per-frame 2D CNN on joint + limb heatmaps, then MS-TCN++ over time.

After Hyder et al., "Action Segmentation Using 2D Skeleton Heatmaps" (ICRA 2024, arXiv 2309.06462):
each frame's pseudo-heatmaps (:mod:`posebeam.transforms.frame_heatmaps`) become a feature vector,
and MS-TCN++ (:mod:`posebeam.models.ms_tcn`) labels every frame. Their encoder is not published in
a form we could read; posebeam's is its own (docs/method.md §6):

- :class:`FrameEncoder`: four blocks of 3×3 conv (stride 2, padding 1, no bias), BatchNorm and
  ReLU with widths ``(w, 2w, 4w, D)``, then global average pooling: ``(M, 34, S, S)`` → ``(M, D)``.
  With ``w = 32``, ``D = 128``: 250,112 parameters; a 32² frame costs 5.5 M multiply-adds.
- ``frame_head``: dropout 0.5 and a linear layer ``D → C`` on each frame's features: the
  per-frame baseline (same features, no temporal model), and the encoder's training objective.
- ``tcn``: MS-TCN++ on the ``(N, D, T)`` feature sequence, ``64·D + 858,176 + 452·C`` parameters.

In total ``9·(34w + 2w² + 8w² + 4wD) + 2·(7w + D) + 64·D + 858,176 + 581·C`` parameters with the
MS-TCN++ defaults (:func:`parameter_count`): 1,116,480 + 581·C for w = 32, D = 128.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.ms_tcn import MSTCNPlusPlus, ms_tcn_pp
from posebeam.transforms.frame_heatmaps import SegmenterSpec


class FrameEncoder(nn.Module):
    """``(M, C, S, S)`` heatmaps of M frames → ``(M, D)`` features; frames are independent."""

    def __init__(self, in_channels: int = 34, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in widths:
            layers += [nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]  # fmt: skip
            in_channels = width
        self.blocks = nn.Sequential(*layers)
        self.feature_dim = widths[-1]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x).mean(dim=(2, 3))


class TemporalSegmenter(nn.Module):
    """A segmenter's temporal part: MS-TCN++ ``tcn`` over per-frame features, all that the temporal
    training step and the windowed inference (:mod:`posebeam.models.segment_track`) use."""

    tcn: MSTCNPlusPlus

    def temporal(self, features: Tensor, mask: Tensor | None = None) -> Tensor:
        """MS-TCN++ on ``(N, D, T)`` features: every stage's logits ``(stages, N, C, T)``."""
        logits: Tensor = self.tcn(features, mask)
        return logits


class HeatmapSegmenter(TemporalSegmenter):
    """Per-frame encoder + per-frame head (the baseline) + MS-TCN++ over the frames' features."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 34,
        base_width: int = 32,
        feature_dim: int = 128,
        num_layers_pg: int = 11,
        num_layers_r: int = 10,
        num_r: int = 3,
        num_f_maps: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        widths = (base_width, 2 * base_width, 4 * base_width, feature_dim)
        self.encoder = FrameEncoder(in_channels, widths)
        self.frame_dropout = nn.Dropout(dropout)
        self.frame_head = nn.Linear(feature_dim, num_classes)
        self.tcn = ms_tcn_pp(
            feature_dim, num_classes, num_layers_pg, num_layers_r, num_r, num_f_maps, dropout
        )

    def encode(self, frames: Tensor) -> Tensor:
        """``(M, C, S, S)`` → ``(M, D)``."""
        features: Tensor = self.encoder(frames)
        return features

    def frame_logits(self, features: Tensor) -> Tensor:
        """The per-frame baseline's logits ``(..., classes)`` from ``(..., D)`` features."""
        logits: Tensor = self.frame_head(self.frame_dropout(features))
        return logits

    def forward(self, heatmaps: Tensor, mask: Tensor | None = None) -> Tensor:
        """Stage logits ``(stages, N, C, T)`` of ``(N, T, 34, S, S)`` heatmaps; ``mask`` ``(N, 1, T)``
        is 1 on valid frames (:func:`~posebeam.models.ms_tcn.padding_mask`)."""
        n, t = heatmaps.shape[:2]
        features = self.encode(heatmaps.flatten(0, 1)).view(n, t, -1).transpose(1, 2)
        return self.temporal(features, mask)


def heatmap_segmenter(
    num_classes: int, spec: SegmenterSpec | None = None, in_channels: int | None = None
) -> HeatmapSegmenter:
    """The segmenter ``spec`` describes (default: :class:`SegmenterSpec`'s defaults); ``in_channels``
    overrides the spec's 34 heatmap channels."""
    spec = spec or SegmenterSpec()
    return HeatmapSegmenter(
        num_classes, in_channels or spec.num_channels, spec.base_width, spec.feature_dim, spec.num_layers_pg,
        spec.num_layers_r, spec.num_r, spec.num_f_maps,
    )  # fmt: skip


def parameter_count(num_classes: int, spec: SegmenterSpec | None = None) -> dict[str, int]:
    """Trainable parameters by part, from the formulas (conv ``in·out·k`` without bias, BatchNorm
    ``2·out``, linear ``in·out + out``, MS-TCN++ as in :mod:`posebeam.models.ms_tcn`)."""
    s = spec or SegmenterSpec()
    w, d, f, c = s.base_width, s.feature_dim, s.num_f_maps, num_classes
    widths = [s.num_channels, w, 2 * w, 4 * w, d]
    encoder = sum(9 * a * b + 2 * b for a, b in itertools.pairwise(widths))
    refinement = (c * f + f) + s.num_layers_r * (4 * f * f + 2 * f) + (f * c + c)
    tcn = (d * f + f) + s.num_layers_pg * (8 * f * f + 3 * f) + (f * c + c) + s.num_r * refinement
    head = d * c + c
    return {"encoder": encoder, "frame_head": head, "tcn": tcn, "total": encoder + head + tcn}


@torch.no_grad()
def encode_chunks(model: HeatmapSegmenter, chunks: Iterable[np.ndarray]) -> Tensor:
    """``(D, T)`` features of a track whose heatmaps come in ``(n, 34, S, S)`` chunks (e.g.
    :func:`~posebeam.transforms.frame_heatmaps.heatmap_chunks`); only one chunk is held at a time."""
    device = next(model.parameters()).device
    parts = [model.encode(torch.from_numpy(chunk).to(device)) for chunk in chunks]
    if not parts:
        return torch.zeros(model.encoder.feature_dim, 0, device=device)
    return torch.cat(parts).T
