"""The aligner: a space-time transformer on per-frame heatmaps, trained to align a track with an
augmented copy of itself (docs/method.md §7).

After LA2DS (Hyder et al., "Learning by Aligning 2D Skeleton Sequences and Multi-Modality Fusion",
arXiv 2305.19480: heatmaps into a video transformer attending over space and time, CASA's
objective) and CASA (Kwon et al., github.com/taeinkwon/CASA: dual-softmax soft alignment of a
sequence with its augmented copy, regression of the matched index). LA2DS's sizes are not published
in a form we could read; posebeam's:

- *Patches*: each frame's ``(34, S, S)`` joint + limb heatmaps cut into ``(S / p)²`` patches of
  ``p × p`` by a strided convolution to ``dim`` channels (ViT's patch embedding), plus a learned
  spatial position embedding per patch and CASA's sinusoidal temporal code by frame index (any
  length, no table to outgrow).
- *Divided space-time blocks* (TimeSformer, github.com/facebookresearch/TimeSformer): attention over
  the frames at each patch position (its own LayerNorm, then ``temporal_fc``, zero-initialised in
  every block but the first, and a residual add), then attention over the patches of each frame,
  then an MLP (ratio 4, GELU), each pre-normed with a residual add. Padded frames are masked out of
  the temporal attention's keys.
- *Per-frame readout*: LayerNorm, the mean of the frame's patch tokens, a linear layer to the
  ``embedding_dim`` embedding; the projection head (Linear, ReLU, Linear) is used in training only,
  as CASA's.

:func:`alignment_loss` is CASA's (``src/losses/casa_loss.py``, regression, one direction) on its dual
softmax (``src/casa/utils/matching.py``): features divided by √C, similarity
``S = −‖a_i − b_j‖ / τ / C`` (Euclidean, τ = 0.1), ``P0 = softmax`` over the frames of ``a``; for
every frame j of ``b`` with a true match, the expected index ``Σ_i i · P0[i, j]`` regresses onto it
(mean squared error).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.checkpoints import load_checkpoint
from posebeam.transforms.alignment_views import AlignerSpec
from posebeam.transforms.frame_heatmaps import heatmap_chunks
from posebeam.transforms.windows import blended_windows

ALIGNMENT_TASK = "temporal alignment: a per-frame embedding of one tracked person"
"""The model card's ``task`` of an aligner checkpoint."""

SHIPPED_ALIGNER = Path(__file__).with_name("weights") / "aligner_space_time_mocap.safetensors"
"""The space-time aligner trained on ``posebeam synth --kind repetitions`` that ``posebeam run`` uses
by default."""


class DividedSpaceTimeBlock(nn.Module):
    """Temporal attention per patch position, spatial attention per frame, MLP (module doc)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, zero_temporal_fc: bool = True) -> None:
        super().__init__()
        self.temporal_norm = nn.LayerNorm(dim)
        self.temporal_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.temporal_fc = nn.Linear(dim, dim)
        if zero_temporal_fc:
            nn.init.zeros_(self.temporal_fc.weight)
            nn.init.zeros_(self.temporal_fc.bias)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: Tensor, padding: Tensor | None = None, blocked: Tensor | None = None) -> Tensor:
        """``x`` ``(N, T, P, D)``; ``padding`` ``(N, T)`` True on padded frames (masked out of the
        temporal attention's keys), or ``blocked`` ``(N, T, T)`` True where frame i may not attend to
        frame j (then ``padding`` is not used)."""
        n, t, p, d = x.shape
        xt = x.permute(0, 2, 1, 3).reshape(n * p, t, d)
        h = self.temporal_norm(xt)
        if blocked is not None:
            mask = blocked.repeat_interleave(p * self.temporal_attn.num_heads, dim=0)
            attended = self.temporal_attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        else:
            keys = None if padding is None else padding.repeat_interleave(p, dim=0)
            attended = self.temporal_attn(h, h, h, key_padding_mask=keys, need_weights=False)[0]
        xt = xt + self.temporal_fc(attended)
        xs = xt.reshape(n, p, t, d).permute(0, 2, 1, 3).reshape(n * t, p, d)
        h = self.norm1(xs)
        xs = xs + self.attn(h, h, h, need_weights=False)[0]
        xs = xs + self.mlp(self.norm2(xs))
        return xs.reshape(n, t, p, d)


def sinusoidal_code(frame_index: Tensor, dim: int) -> Tensor:
    """``(..., dim)`` sinusoidal code of frame indices (base 10000, sines then cosines interleaved as
    in CASA's ``position_encoding.py``)."""
    half = torch.arange(0, dim, 2, device=frame_index.device, dtype=torch.float32)
    angle = frame_index[..., None].float() * torch.exp(-math.log(10000.0) * half / dim)
    code = torch.zeros(*frame_index.shape, dim, device=frame_index.device)
    code[..., 0::2] = torch.sin(angle)
    code[..., 1::2] = torch.cos(angle)
    return code


class SpaceTimeAligner(nn.Module):
    """``(N, T, 34, S, S)`` heatmaps → ``(N, T, E)`` per-frame embeddings (module doc)."""

    def __init__(
        self, in_channels: int = 34, heatmap_size: int = 32, patch: int = 8, dim: int = 128, depth: int = 4,
        heads: int = 4, embedding_dim: int = 128, temporal_radius: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.temporal_radius = temporal_radius
        if heatmap_size % patch:
            raise ValueError(f"the heatmap size {heatmap_size} is not a multiple of the patch size {patch}")
        self.dim = dim
        self.num_patches = (heatmap_size // patch) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.spatial_pos = nn.Parameter(torch.zeros(1, 1, self.num_patches, dim))
        nn.init.trunc_normal_(self.spatial_pos, std=0.02)
        self.blocks = nn.ModuleList(
            DividedSpaceTimeBlock(dim, heads, zero_temporal_fc=i > 0) for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.readout = nn.Linear(dim, embedding_dim)
        self.projection = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim), nn.ReLU(), nn.Linear(embedding_dim, embedding_dim)
        )

    def forward(
        self, heatmaps: Tensor, padding: Tensor | None = None, frame_index: Tensor | None = None
    ) -> Tensor:
        """Embeddings ``(N, T, E)`` (before the projection head). ``padding`` ``(N, T)`` True on padded
        frames; ``frame_index`` ``(N, T)`` (default ``0 … T-1``) positions the temporal code."""
        n, t = heatmaps.shape[:2]
        tokens = self.patch_embed(heatmaps.flatten(0, 1)).flatten(2).transpose(1, 2)
        x = tokens.reshape(n, t, self.num_patches, self.dim) + self.spatial_pos
        if frame_index is None:
            frame_index = torch.arange(t, device=heatmaps.device).expand(n, t)
        x = x + sinusoidal_code(frame_index, self.dim)[:, :, None, :]
        blocked = None
        if self.temporal_radius > 0:  # beyond the radius, or a padded key; a frame always sees itself
            steps = torch.arange(t, device=heatmaps.device)
            blocked = ((steps[:, None] - steps[None, :]).abs() > self.temporal_radius).expand(n, t, t)
            if padding is not None:
                blocked = blocked | padding[:, None, :]
            blocked = blocked & ~torch.eye(t, dtype=torch.bool, device=heatmaps.device)
        for block in self.blocks:
            x = block(x, padding, blocked)
        embedding: Tensor = self.readout(self.norm(x).mean(dim=2))
        return embedding

    def project(self, embeddings: Tensor) -> Tensor:
        """The training-only projection head."""
        projected: Tensor = self.projection(embeddings)
        return projected


def aligner_parameter_count(
    in_channels: int = 34, heatmap_size: int = 32, patch: int = 8, dim: int = 128, depth: int = 4,
    embedding_dim: int = 128,
) -> int:  # fmt: skip
    """Parameters from the formula: patch conv ``C·p²·d + d``, spatial positions ``P·d``; per block
    three attentions-worth (two ``4d² + 4d`` attentions, ``temporal_fc`` ``d² + d``), three
    LayerNorms ``6d``, MLP ``8d² + 5d``; final LayerNorm ``2d``, readout ``d·E + E``, head ``2(E² + E)``."""
    num_patches = (heatmap_size // patch) ** 2
    block = 2 * (4 * dim * dim + 4 * dim) + (dim * dim + dim) + 6 * dim + (8 * dim * dim + 5 * dim)
    head = 2 * (embedding_dim * embedding_dim + embedding_dim)
    stem = in_channels * patch * patch * dim + dim + num_patches * dim
    return stem + depth * block + 2 * dim + dim * embedding_dim + embedding_dim + head


def dual_softmax(a: Tensor, b: Tensor, temperature: float = 0.1) -> tuple[Tensor, Tensor]:
    """CASA's dual softmax of ``a`` ``(Ta, C)`` and ``b`` ``(Tb, C)``: ``(P0, P1)``, ``(Ta, Tb)``
    each, softmax of the similarity over ``a``'s frames and over ``b``'s."""
    channels = a.shape[-1]
    a, b = a / channels**0.5, b / channels**0.5
    similarity = -torch.cdist(a[None], b[None])[0] / temperature / channels
    return torch.softmax(similarity, dim=0), torch.softmax(similarity, dim=1)


def alignment_loss(a: Tensor, b: Tensor, match: Tensor, temperature: float = 0.1) -> Tensor:
    """CASA's regression loss: for each frame j of ``b`` whose true frame of ``a`` is
    ``match[j] ≥ 0``, the squared error between ``Σ_i i · P0[i, j]`` and ``match[j]``, averaged."""
    p0, _ = dual_softmax(a, b, temperature)
    expected = (torch.arange(a.shape[0], device=a.device, dtype=p0.dtype)[:, None] * p0).sum(dim=0)
    valid = match >= 0
    if not valid.any():
        return a.sum() * 0.0
    return ((expected[valid] - match[valid].to(p0.dtype)) ** 2).mean()


def build_aligner(spec: AlignerSpec) -> SpaceTimeAligner:
    """The untrained aligner ``spec`` describes."""
    sizes = (spec.heatmap_size, spec.patch, spec.dim, spec.depth, spec.heads, spec.embedding_dim)
    return SpaceTimeAligner(spec.num_channels, *sizes, temporal_radius=spec.temporal_radius)


def load_aligner(
    weights: str | Path, device: str = "cpu"
) -> tuple[SpaceTimeAligner, AlignerSpec, dict[str, Any]]:
    """The verified aligner in eval mode, its spec and its model card; ``ValueError`` for a
    checkpoint of another task."""
    state, card = load_checkpoint(weights)
    if card.get("task") != ALIGNMENT_TASK:
        raise ValueError(f"{weights} is not an aligner (its task: {card.get('task', 'none')})")
    spec = AlignerSpec.from_card(card["clip"])
    model = build_aligner(spec)
    model.load_state_dict(state)
    return model.to(torch.device(device)).eval(), spec, card


@torch.no_grad()
def embed_track(
    model: SpaceTimeAligner, keypoints: np.ndarray, scores: np.ndarray, spec: AlignerSpec
) -> np.ndarray:
    """``(T, E)`` per-frame embeddings of a track of any length: its smoothed boxes over the whole
    track, then windows of ``spec.window`` frames every quarter window, each rendered and embedded
    on its own (temporal code from 0 in each, as in training), and each frame's embedding the mean
    of the windows covering it, weighted towards their centres (:func:`blended_windows`). A frame's
    embedding depends on its context: taken from one window alone, it moved as far as any two
    frames lie apart when the windows were shifted (docs/method.md §7). One window of heatmaps in
    memory at a time. Puts ``model`` in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    heatmaps = spec.heatmaps()
    boxes = heatmaps.boxes(keypoints, scores)
    total = np.zeros((len(keypoints), model.readout.out_features), dtype=np.float64)
    weight = np.zeros(len(keypoints))
    for start, weights in blended_windows(len(keypoints), spec.window):
        end = start + len(weights)
        chunks = heatmap_chunks(
            keypoints[start:end], scores[start:end], heatmaps, end - start, boxes=boxes[start:end]
        )
        volume = torch.from_numpy(np.concatenate(list(chunks)))[None].to(device)
        total[start:end] += weights[:, None] * model(volume)[0].cpu().numpy()
        weight[start:end] += weights
    return (total / weight[:, None]).astype(np.float32)
