"""MS-TCN++ for action segmentation, and its training loss (docs/method.md §6).

The network and the loss follow Li et al., "MS-TCN++: Multi-Stage Temporal Convolutional Network for
Action Segmentation" (TPAMI 2020) as its code computes them (github.com/sj-li/MS-TCN2, ``model.py``):

- a prediction generation stage: a 1×1 conv D → F, ``num_layers_pg`` dual dilated layers (two
  kernel-3 convs with dilations 2^(L−1−i) and 2^i, concatenated, fused 2F → F by a 1×1 conv, ReLU,
  dropout, residual add), a 1×1 conv F → C;
- ``num_r`` refinement stages, each fed the class softmax of the stage before: a 1×1 conv C → F,
  ``num_layers_r`` dilated residual layers (dilation 2^i: kernel-3 conv, ReLU, 1×1 conv, dropout,
  residual add), a 1×1 conv F → C. Stages share no weights;
- every convolution has a bias; dropout p = 0.5.

With the defaults (F = 64, 11 / 10 / 3 layers and stages) the model has 64·D + 858,176 + 452·C
parameters. Module and parameter names are the reference's (``PG``, ``Rs``, ``conv_dilated_1``, ...),
so a state dict saved by the reference code loads as it is.

Multi-stage fusion (posebeam's, for Hyder et al.'s RGB fusion; off by default). With ``fused_dim``
R > 0 the input's last R channels are side features (e.g. per-frame RGB features) rather than
input for the first stage: they are concatenated with the input of each stage in ``fused_stages``
(0: the prediction generation stage, whose input is then the D − R main features plus them; k ≥ 1:
refinement stage k, whose 1×1 conv then takes the C class probabilities plus R). Stages not listed
never see them. Each fused stage has R·F more parameters in its input conv.

Padding. The reference trains one video per batch and never masks inside the network. Given a
``mask``, :class:`MSTCNPlusPlus` zeroes padded frames before every temporal convolution and before
each refinement stage (as MS-TCN does, github.com/yabufarha/ms-tcn, and also after the input 1×1
conv), so the outputs on valid frames are exactly those of the unpadded sequence. Without a mask
the forward pass is the reference's. :func:`segmentation_loss` averages both of its terms over
valid frames only (the reference's smoothing mean also counts padded positions, as zeros; the two
agree on unpadded batches).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100
"""The label of padded frames: cross-entropy skips them (the reference pads targets with −100)."""


def _masked(x: Tensor, mask: Tensor | None) -> Tensor:
    return x if mask is None else x * mask


class DilatedResidualLayer(nn.Module):
    """Dilated kernel-3 conv F → F, ReLU, 1×1 conv, dropout, residual add; length T is kept."""

    def __init__(self, dilation: int, num_f_maps: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv_dilated = nn.Conv1d(num_f_maps, num_f_maps, 3, padding=dilation, dilation=dilation)
        self.conv_1x1 = nn.Conv1d(num_f_maps, num_f_maps, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        out = self.dropout(self.conv_1x1(F.relu(self.conv_dilated(x))))
        return _masked(x + out, mask)


class PredictionGeneration(nn.Module):
    """The first stage: ``(N, D, T)`` features → ``(N, C, T)`` logits through dual dilated layers.

    Layer i has two kernel-3 convs F → F with dilations 2^(L−1−i) (falling) and 2^i (rising),
    concatenated (2F) and fused by a 1×1 conv 2F → F, then ReLU, dropout and a residual add.
    """

    def __init__(
        self, num_layers: int, num_f_maps: int, in_dim: int, num_classes: int, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.conv_1x1_in = nn.Conv1d(in_dim, num_f_maps, 1)
        falling = [2 ** (num_layers - 1 - i) for i in range(num_layers)]
        rising = [2**i for i in range(num_layers)]
        self.conv_dilated_1 = nn.ModuleList(
            nn.Conv1d(num_f_maps, num_f_maps, 3, padding=d, dilation=d) for d in falling
        )
        self.conv_dilated_2 = nn.ModuleList(
            nn.Conv1d(num_f_maps, num_f_maps, 3, padding=d, dilation=d) for d in rising
        )
        self.conv_fusion = nn.ModuleList(nn.Conv1d(2 * num_f_maps, num_f_maps, 1) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.conv_out = nn.Conv1d(num_f_maps, num_classes, 1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        f = _masked(self.conv_1x1_in(x), mask)
        layers = zip(self.conv_dilated_1, self.conv_dilated_2, self.conv_fusion, strict=True)
        for falling, rising, fusion in layers:
            fused = fusion(torch.cat([falling(f), rising(f)], dim=1))
            f = _masked(f + self.dropout(F.relu(fused)), mask)
        return _masked(self.conv_out(f), mask)


class Refinement(nn.Module):
    """A refinement stage: ``(N, C, T)`` class probabilities → ``(N, C, T)`` logits."""

    def __init__(
        self, num_layers: int, num_f_maps: int, in_dim: int, num_classes: int, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.conv_1x1 = nn.Conv1d(in_dim, num_f_maps, 1)
        dilations = [2**i for i in range(num_layers)]
        self.layers = nn.ModuleList(DilatedResidualLayer(d, num_f_maps, dropout) for d in dilations)
        self.conv_out = nn.Conv1d(num_f_maps, num_classes, 1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        out = _masked(self.conv_1x1(x), mask)
        for layer in self.layers:
            out = layer(out, mask)
        return _masked(self.conv_out(out), mask)


class MSTCNPlusPlus(nn.Module):
    """MS-TCN++: a prediction generation stage then refinement stages (``Rs``), no shared weights;
    optionally side features fused into chosen stages (module doc)."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        num_layers_pg: int = 11,
        num_layers_r: int = 10,
        num_r: int = 3,
        num_f_maps: int = 64,
        dropout: float = 0.5,
        fused_dim: int = 0,
        fused_stages: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if fused_dim and (not fused_stages or not set(fused_stages) <= set(range(num_r + 1))):
            raise ValueError(f"fused stages must be among 0..{num_r}, got {list(fused_stages)}")
        if not 0 <= fused_dim < in_dim:
            raise ValueError(f"fused_dim must be in [0, {in_dim}), got {fused_dim}")
        self.num_classes = num_classes
        self.fused_dim = fused_dim
        self.fused_stages = frozenset(fused_stages) if fused_dim else frozenset()
        side = [fused_dim if k in self.fused_stages else 0 for k in range(num_r + 1)]
        main_dim = in_dim - fused_dim + side[0]
        self.PG = PredictionGeneration(num_layers_pg, num_f_maps, main_dim, num_classes, dropout)
        self.Rs = nn.ModuleList(
            Refinement(num_layers_r, num_f_maps, num_classes + side[k], num_classes, dropout)
            for k in range(1, num_r + 1)
        )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Every stage's logits, ``(stages, N, C, T)``, from ``(N, D, T)`` features.

        ``mask`` is ``(N, C or 1, T)``, 1 on valid frames and 0 on padding (only its first channel is
        read); with it, padded frames are zeroed inside the network and read 0 in the output. The
        prediction is the argmax over classes of the last stage.
        """
        frames = None if mask is None else mask[:, 0:1, :].to(x.dtype)
        main, side = (x[:, : x.shape[1] - self.fused_dim], x[:, x.shape[1] - self.fused_dim :])

        def stage_input(k: int, first: Tensor) -> Tensor:
            return torch.cat([first, side], dim=1) if k in self.fused_stages else first

        out = self.PG(stage_input(0, main) if self.fused_dim else x, frames)
        outputs = [out]
        for k, refine in enumerate(self.Rs, 1):
            out = refine(stage_input(k, _masked(F.softmax(out, dim=1), frames)), frames)
            outputs.append(out)
        return torch.stack(outputs)


def ms_tcn_pp(
    in_dim: int,
    num_classes: int,
    num_layers_pg: int = 11,
    num_layers_r: int = 10,
    num_r: int = 3,
    num_f_maps: int = 64,
    dropout: float = 0.5,
    fused_dim: int = 0,
    fused_stages: Sequence[int] = (),
) -> MSTCNPlusPlus:
    """MS-TCN++ with the reference's training settings (train.sh: 11 / 10 / 3, 64 maps): 4 stages,
    64·D + 858,176 + 452·C parameters for ``in_dim`` D and ``num_classes`` C; with ``fused_dim`` R,
    64·R more per fused refinement stage (``fused_stages``, module doc)."""
    return MSTCNPlusPlus(
        in_dim, num_classes, num_layers_pg, num_layers_r, num_r, num_f_maps, dropout, fused_dim, fused_stages
    )


def padding_mask(lengths: Sequence[int] | Tensor, num_frames: int | None = None) -> Tensor:
    """``(N, 1, T)`` float mask, 1 on the first ``lengths[n]`` frames of each sequence and 0 after;
    ``T`` is ``num_frames`` or the longest length."""
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    total = int(lengths.max()) if num_frames is None else num_frames
    return (torch.arange(total)[None, :] < lengths[:, None]).float()[:, None, :]


def segmentation_loss(
    stage_logits: Tensor,
    labels: Tensor,
    mask: Tensor | None = None,
    smoothing_weight: float = 0.15,
    tau: float = 4.0,
) -> Tensor:
    """The MS-TCN++ training loss, summed over stages: cross-entropy + 0.15 × truncated MSE.

    ``stage_logits`` is ``(stages, N, C, T)`` (or one stage's ``(N, C, T)``), ``labels`` ``(N, T)``
    class indices with :data:`IGNORE_INDEX` on padded frames, ``mask`` ``(N, C or 1, T)``, 1 on valid
    frames (default: the frames whose label is not ignored). For each stage:

    - cross-entropy averaged over valid frames;
    - smoothing: ``min((log y[t] − log y[t−1])², τ²)`` with ``y`` the class softmax and the earlier
      frame detached (no gradient pulls frame t−1 towards t), over every class and every valid frame
      t ≥ 1, averaged over those C·(valid frames t ≥ 1) terms; 0 when there are none.
    """
    if stage_logits.dim() == 3:
        stage_logits = stage_logits[None]
    if mask is None:
        valid = (labels != IGNORE_INDEX).to(stage_logits.dtype)
    else:
        valid = mask[:, 0, :].to(stage_logits.dtype)
        labels = labels.masked_fill(valid == 0, IGNORE_INDEX)
    later = valid[:, None, 1:]
    terms = stage_logits.shape[2] * later.sum().clamp(min=1.0)
    loss = stage_logits.new_zeros(())
    for logits in stage_logits:
        loss = loss + F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
        step = F.log_softmax(logits[:, :, 1:], dim=1) - F.log_softmax(logits.detach()[:, :, :-1], dim=1)
        truncated = torch.clamp(step**2, min=0.0, max=tau**2)
        loss = loss + smoothing_weight * (truncated * later).sum() / terms
    return loss
