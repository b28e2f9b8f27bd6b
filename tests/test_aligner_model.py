"""The aligner's space-time transformer and CASA's dual-softmax alignment loss."""

from __future__ import annotations

import pytest
import torch

from posebeam.models.aligner import (
    DividedSpaceTimeBlock,
    SpaceTimeAligner,
    aligner_parameter_count,
    alignment_loss,
    dual_softmax,
    sinusoidal_code,
)


@pytest.mark.parametrize(("size", "patch", "dim", "depth"), [(32, 8, 128, 4), (16, 8, 32, 2), (64, 8, 64, 1)])
def test_parameter_count_follows_the_formula(size: int, patch: int, dim: int, depth: int) -> None:
    model = SpaceTimeAligner(heatmap_size=size, patch=patch, dim=dim, depth=depth, heads=4, embedding_dim=48)
    expected = aligner_parameter_count(heatmap_size=size, patch=patch, dim=dim, depth=depth, embedding_dim=48)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_the_default_aligner_has_the_documented_size() -> None:
    assert aligner_parameter_count() == sum(p.numel() for p in SpaceTimeAligner().parameters()) == 1_454_848


def test_one_embedding_per_frame_and_padding_does_not_change_the_valid_frames() -> None:
    torch.manual_seed(0)
    model = SpaceTimeAligner(heatmap_size=16, patch=8, dim=32, depth=2, heads=4, embedding_dim=24).eval()
    x = torch.rand(1, 10, 34, 16, 16)
    padded = torch.cat([x, torch.rand(1, 5, 34, 16, 16)], dim=1)
    padding = torch.zeros(1, 15, dtype=torch.bool)
    padding[:, 10:] = True
    with torch.no_grad():
        alone = model(x)
        together = model(padded, padding)
    assert alone.shape == (1, 10, 24) and together.shape == (1, 15, 24)
    torch.testing.assert_close(together[:, :10], alone, atol=1e-5, rtol=1e-5)


def test_temporal_attention_mixes_only_the_same_patch_position_across_frames() -> None:
    torch.manual_seed(0)
    block = DividedSpaceTimeBlock(16, 2, zero_temporal_fc=False).eval()
    x = torch.randn(1, 6, 4, 16)
    changed = x.clone()
    changed[0, 2, 1] += torch.randn(16)  # frame 2, patch 1 (not a constant: LayerNorm would remove it)
    with torch.no_grad():
        temporal = block.temporal_attn
        block.attn = _NoMix(block.attn)  # spatial attention off: only temporal mixing is left
        a, b = block(x), block(changed)
    moved = (a - b).abs().sum(dim=-1)[0] > 1e-6  # (T, P)
    assert moved[:, 1].all() and not moved[:, [0, 2, 3]].any()
    assert temporal is block.temporal_attn


class _NoMix(torch.nn.Module):
    def __init__(self, attention: torch.nn.Module) -> None:
        super().__init__()
        self.attention = attention

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs: object
    ) -> tuple[torch.Tensor, None]:
        return torch.zeros_like(q), None


def test_sinusoidal_code_interleaves_sines_and_cosines() -> None:
    code = sinusoidal_code(torch.tensor([0, 1]), 4)
    assert code[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert code[1].tolist() == pytest.approx([0.841471, 0.540302, 0.0099998, 0.99995], abs=1e-5)


def test_dual_softmax_is_casas_scaled_euclidean_similarity() -> None:
    a = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 0.0]])
    p0, p1 = dual_softmax(a, b)
    # features / sqrt(2); distances 0 and sqrt(2); S = -d / 0.1 / 2 = 0 and -7.071
    expected = torch.softmax(torch.tensor([0.0, -(2**0.5) / 0.1 / 2]), dim=0)
    torch.testing.assert_close(p0[:, 0], expected)
    assert torch.allclose(p1, torch.ones_like(p1))


def test_alignment_loss_is_small_for_matched_frames_and_ignores_unmatched_ones() -> None:
    a = torch.eye(6) * 50.0  # well-separated frames
    b = a[[0, 2, 3, 5]]  # the copy lost frames 1 and 4
    match = torch.tensor([0, 2, 3, 5])
    assert alignment_loss(a, b, match).item() < 1e-6
    wrong = torch.tensor([5, 3, 2, 0])
    assert alignment_loss(a, b, wrong).item() == pytest.approx((25 + 1 + 1 + 25) / 4, rel=1e-4)
    assert alignment_loss(a, b, torch.tensor([0, -1, -1, 5])).item() < 1e-6
    assert alignment_loss(a, b, torch.full((4,), -1)).item() == 0.0


def test_the_loss_trains_the_model_to_align_a_copy() -> None:
    torch.manual_seed(0)
    model = SpaceTimeAligner(heatmap_size=16, patch=8, dim=32, depth=1, heads=4, embedding_dim=16)
    x = torch.rand(1, 12, 34, 16, 16)
    keep = torch.tensor([0, 1, 3, 4, 6, 8, 9, 11])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        a = model.project(model(x))[0]
        b = model.project(model(x[:, keep]))[0]
        loss = alignment_loss(a, b, keep)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_local_temporal_attention_sees_only_its_radius_and_ignores_padding() -> None:
    torch.manual_seed(0)
    model = SpaceTimeAligner(heatmap_size=16, dim=32, depth=2, embedding_dim=8, temporal_radius=3).eval()
    x = torch.rand(2, 20, 34, 16, 16)
    padding = torch.zeros(2, 20, dtype=torch.bool)
    padding[1, 12:] = True
    with torch.no_grad():
        out = model(x, padding)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out[1, :12], model(x[1:, :12])[0], atol=1e-5, rtol=1e-5)  # padding unseen
        changed = x.clone()
        changed[0, 15:] = 0
        moved = model(changed)[0]
    # two blocks of radius 3: frames up to 6 away from frame 15 can change, frames 0-8 cannot
    torch.testing.assert_close(moved[:9], out[0, :9], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(moved[14], out[0, 14])
    model.train()
    model(x, padding).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
