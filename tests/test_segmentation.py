"""MS-TCN++ and the action segmentation metrics against the reference code (docs/method.md §6).

The network, loss and metric semantics are those of Li et al., "MS-TCN++" (TPAMI 2020) as
github.com/sj-li/MS-TCN2 computes them (``model.py``, ``eval.py``) with the exclusive final segment end
of github.com/yabufarha/ms-tcn ``eval.py``. Forward passes use a few dozen frames and tiny inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posebeam.models.metrics import label_segments, segmentation_scores
from posebeam.models.ms_tcn import IGNORE_INDEX, ms_tcn_pp, padding_mask, segmentation_loss

BG = "background"


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return ms_tcn_pp(in_dim=6, num_classes=4).eval()


# --- architecture ---


@pytest.mark.parametrize(
    ("in_dim", "num_classes", "expected"),
    [
        (2048, 10, 993_768),
        (2048, 19, 997_836),
        (2048, 48, 1_010_944),
        (256, 11, 879_532),
        (256, 48, 896_256),
        (34, 5, 862_612),
    ],
)
def test_parameter_count_is_64d_plus_858176_plus_452c(in_dim: int, num_classes: int, expected: int) -> None:
    assert expected == 64 * in_dim + 858_176 + 452 * num_classes
    assert _count(ms_tcn_pp(in_dim, num_classes)) == expected


def test_parameter_count_follows_the_conv_formula_for_other_sizes() -> None:
    d, c, f, l_pg, l_r, r = 7, 3, 8, 4, 2, 2
    expected = (d * f + f) + l_pg * (8 * f * f + 3 * f) + (f * c + c)
    expected += r * ((c * f + f) + l_r * (4 * f * f + 2 * f) + (f * c + c))
    assert _count(ms_tcn_pp(d, c, num_layers_pg=l_pg, num_layers_r=l_r, num_r=r, num_f_maps=f)) == expected


def test_dilations_fall_and_rise_in_the_first_stage_and_rise_in_refinements() -> None:
    net = ms_tcn_pp(8, 3)
    falling = [(conv.dilation[0], conv.padding[0], conv.kernel_size[0]) for conv in net.PG.conv_dilated_1]
    rising = [(conv.dilation[0], conv.padding[0], conv.kernel_size[0]) for conv in net.PG.conv_dilated_2]
    assert falling == [(2 ** (10 - i), 2 ** (10 - i), 3) for i in range(11)]
    assert rising == [(2**i, 2**i, 3) for i in range(11)]
    assert [fusion.in_channels for fusion in net.PG.conv_fusion] == [128] * 11
    assert len(net.Rs) == 3
    for stage in net.Rs:
        assert [layer.conv_dilated.dilation[0] for layer in stage.layers] == [2**i for i in range(10)]
        assert stage.conv_1x1.in_channels == 3 and stage.conv_out.out_channels == 3
    assert {m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)} == {0.5}
    assert all(conv.bias is not None for conv in net.modules() if isinstance(conv, torch.nn.Conv1d))


def test_refinement_stages_share_no_weights() -> None:
    net = ms_tcn_pp(8, 3)
    pointers = {p.data_ptr() for p in net.parameters()}
    assert len(pointers) == len(list(net.parameters()))
    first, second = net.Rs[0].conv_out.weight, net.Rs[1].conv_out.weight
    assert not torch.equal(first, second)


def test_state_dict_names_are_the_reference_names() -> None:
    keys = set(ms_tcn_pp(8, 3).state_dict())
    assert {
        "PG.conv_1x1_in.weight", "PG.conv_dilated_1.0.weight", "PG.conv_dilated_2.10.bias",
        "PG.conv_fusion.3.weight", "PG.conv_out.bias", "Rs.2.conv_1x1.weight",
        "Rs.0.layers.9.conv_dilated.weight", "Rs.1.layers.0.conv_1x1.bias", "Rs.2.conv_out.weight",
    } <= keys  # fmt: skip


@pytest.mark.parametrize(("num_r", "stages"), [(3, 4), (1, 2), (0, 1)])
def test_forward_returns_logits_of_every_stage(num_r: int, stages: int) -> None:
    net = ms_tcn_pp(5, 7, num_r=num_r).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 5, 33))
    assert out.shape == (stages, 2, 7, 33)


def test_each_refinement_stage_reads_the_softmax_of_the_stage_before(model: torch.nn.Module) -> None:
    x = torch.randn(1, 6, 20)
    with torch.no_grad():
        out = model(x)
        for s, stage in enumerate(model.Rs):
            assert torch.allclose(out[s + 1], stage(F.softmax(out[s], dim=1)), atol=1e-6)


def test_an_all_ones_mask_gives_the_unmasked_output(model: torch.nn.Module) -> None:
    x = torch.randn(2, 6, 25)
    with torch.no_grad():
        assert torch.equal(model(x), model(x, torch.ones(2, 4, 25)))


def test_padding_changes_neither_the_valid_outputs_nor_the_loss(model: torch.nn.Module) -> None:
    torch.manual_seed(3)
    short, long = torch.randn(1, 6, 20), torch.randn(1, 6, 29)
    batch = torch.cat([torch.cat([short, 5 * torch.randn(1, 6, 9)], dim=2), long])  # padding is garbage
    mask = padding_mask([20, 29])
    with torch.no_grad():
        padded = model(batch, mask)
        alone_short, alone_long = model(short), model(long)
        unmasked = model(batch)
    assert torch.allclose(padded[:, 0:1, :, :20], alone_short, atol=1e-5)
    assert torch.allclose(padded[:, 1:2], alone_long, atol=1e-5)
    assert torch.all(padded[:, 0, :, 20:] == 0)
    # without the mask the padded frames leak into the valid ones (the receptive field is 8,001 frames)
    assert not torch.allclose(unmasked[:, 0:1, :, :20], alone_short, atol=1e-3)

    labels = torch.randint(0, 4, (1, 20))
    padded_labels = torch.cat([labels, torch.full((1, 9), IGNORE_INDEX)], dim=1)
    expected = segmentation_loss(alone_short, labels)
    assert segmentation_loss(padded[:, 0:1], padded_labels) == pytest.approx(expected.item(), rel=1e-5)
    assert segmentation_loss(padded[:, 0:1], padded_labels, mask[0:1]) == pytest.approx(
        expected.item(), rel=1e-5
    )


# --- loss ---


def test_loss_matches_a_hand_computation_with_the_clamp() -> None:
    # one stage, one video, 2 classes, 3 frames: logits (0, 0), (1, −1), (−3, 3); labels 0, 0, 1
    stage = torch.tensor([[[0.0, 1.0, -3.0], [0.0, -1.0, 3.0]]])
    labels = torch.tensor([[0, 0, 1]])
    log_y = [
        (-math.log(2), -math.log(2)),
        (-math.log1p(math.exp(-2)), -2 - math.log1p(math.exp(-2))),
        (-6 - math.log1p(math.exp(-6)), -math.log1p(math.exp(-6))),
    ]
    cross_entropy = -(log_y[0][0] + log_y[1][0] + log_y[2][1]) / 3
    squares = [(log_y[t][c] - log_y[t - 1][c]) ** 2 for t in (1, 2) for c in (0, 1)]
    assert squares[2] > 16  # class 0 from frame 1 to 2 jumps by 5.9: clamped to τ² = 16
    smoothing = sum(min(s, 16.0) for s in squares) / 4
    expected = cross_entropy + 0.15 * smoothing
    assert segmentation_loss(stage, labels).item() == pytest.approx(expected, rel=1e-6)

    # a second stage of zero logits adds log 2 (cross-entropy) and no smoothing: stages are summed
    two = torch.stack([stage, torch.zeros_like(stage)])
    assert segmentation_loss(two, labels).item() == pytest.approx(expected + math.log(2), rel=1e-6)

    # a padded fourth frame with a wild logit changes nothing
    padded = torch.cat([stage, torch.tensor([[[40.0], [-40.0]]])], dim=2)
    padded_labels = torch.tensor([[0, 0, 1, IGNORE_INDEX]])
    assert segmentation_loss(padded, padded_labels).item() == pytest.approx(expected, rel=1e-6)


def test_loss_equals_the_reference_expression_on_an_unpadded_batch() -> None:
    torch.manual_seed(5)
    logits = 6 * torch.randn(3, 2, 5, 16)
    labels = torch.randint(0, 5, (2, 16))
    mask = torch.ones(2, 5, 16)
    reference = torch.zeros(())
    for p in logits:  # sj-li/MS-TCN2 model.py Trainer.train
        reference += F.cross_entropy(p.transpose(2, 1).reshape(-1, 5), labels.view(-1), ignore_index=-100)
        step = F.mse_loss(
            F.log_softmax(p[:, :, 1:], dim=1), F.log_softmax(p.detach()[:, :, :-1], dim=1), reduction="none"
        )
        reference += 0.15 * torch.mean(torch.clamp(step, min=0, max=16) * mask[:, :, 1:])
    assert segmentation_loss(logits, labels, mask).item() == pytest.approx(reference.item(), rel=1e-6)


def test_smoothing_does_not_pull_the_earlier_frame() -> None:
    torch.manual_seed(2)
    logits = torch.randn(1, 3, 6, requires_grad=True)
    labels = torch.randint(0, 3, (1, 6))
    (total,) = torch.autograd.grad(segmentation_loss(logits, labels), logits)
    (cross_entropy,) = torch.autograd.grad(F.cross_entropy(logits, labels), logits)
    # smoothing pulls frames 1..T−1 towards the frame before them...
    assert not torch.allclose(total[..., 1:], cross_entropy[..., 1:])
    # ...but never the earlier frame towards the later one: frame 0 only ever appears detached
    assert torch.allclose(total[..., 0], cross_entropy[..., 0], atol=1e-7)


# --- metrics ---


def test_segments_have_exclusive_ends_and_skip_background() -> None:
    frames = [BG, "A", "A", "B", BG, BG, "A"]
    assert label_segments(frames) == [(BG, 0, 1), ("A", 1, 3), ("B", 3, 4), (BG, 4, 6), ("A", 6, 7)]
    assert label_segments(frames, background=(BG,)) == [("A", 1, 3), ("B", 3, 4), ("A", 6, 7)]


def test_worked_example_one_video() -> None:
    scores = segmentation_scores(list("AAAAAABBBB"), list("AABAAABBBB"))
    assert scores == pytest.approx(
        {"accuracy": 90.0, "edit": 50.0, "f1@10": 200 / 3, "f1@25": 200 / 3, "f1@50": 200 / 3}
    )


def test_worked_example_two_videos_sums_counts_and_averages_edit() -> None:
    truth = [[BG, BG, "A", "A", "A", "A", BG, BG, "B", "B"], list("CCCCCCCC")]
    predicted = [[BG, "A", "A", "A", BG, BG, BG, "B", "B", "B"], list("CCCCDDCC")]
    scores = segmentation_scores(truth, predicted)
    assert scores == pytest.approx(
        {"accuracy": 1200 / 18, "edit": 200 / 3, "f1@10": 75.0, "f1@25": 75.0, "f1@50": 50.0}
    )


def test_worked_example_the_last_segment_ends_at_the_sequence_length() -> None:
    scores = segmentation_scores(list("AABB"), list("AAAB"))
    assert scores == pytest.approx({"accuracy": 75.0, "edit": 100.0, "f1@10": 100.0, "f1@25": 100.0,
                                    "f1@50": 100.0})  # fmt: skip


def test_a_perfect_prediction_scores_100_everywhere() -> None:
    videos = [[BG, "A", "A", "B", "B", BG], list("CCD"), [3, 3, 1]]
    assert segmentation_scores(videos, [list(v) for v in videos]) == pytest.approx(
        dict.fromkeys(("accuracy", "edit", "f1@10", "f1@25", "f1@50"), 100.0)
    )


def test_over_segmentation_lowers_edit_but_not_accuracy() -> None:
    truth = list("AAAAAAAABBBBBBBB")
    shifted = segmentation_scores(truth, list("AAAAAABBBBBBBBBB"))
    fragmented = segmentation_scores(truth, list("AAABAAABBBBBBBBB"))
    assert shifted["accuracy"] == fragmented["accuracy"] == 87.5
    assert shifted["edit"] == 100.0 and fragmented["edit"] == 50.0
    assert fragmented["f1@10"] == pytest.approx(200 / 3) and shifted["f1@10"] == 100.0


def test_background_counts_in_accuracy_only() -> None:
    scores = segmentation_scores([BG, BG, "A", "A"], ["A", "A", "A", "A"])
    assert scores == pytest.approx({"accuracy": 50.0, "edit": 100.0, "f1@10": 100.0, "f1@25": 100.0,
                                    "f1@50": 100.0})  # fmt: skip
    # two background labels confused with each other: frames are wrong, segments untouched
    truth, predicted = [BG, BG, "A", "A", "SIL"], ["SIL", "SIL", "A", "A", BG]
    both = segmentation_scores(truth, predicted, background=(BG, "SIL"))
    assert both == pytest.approx({"accuracy": 40.0, "edit": 100.0, "f1@10": 100.0, "f1@25": 100.0,
                                  "f1@50": 100.0})  # fmt: skip
    counted = segmentation_scores(truth, predicted, background=())
    assert counted["accuracy"] == 40.0 and counted["edit"] == pytest.approx(100 / 3)
    assert counted["f1@10"] == pytest.approx(100 / 3)


def test_f1_sums_counts_over_videos_before_dividing() -> None:
    # video 1: tp 1; video 2: B and C swapped, tp 0, fp 2, fn 2 → P = R = 1/3 (not the mean of 100 and 0)
    scores = segmentation_scores([list("AAAA"), list("BBBBCCCC")], [list("AAAA"), list("CCCCBBBB")])
    assert scores == pytest.approx({"accuracy": 100 / 3, "edit": 50.0, "f1@10": 100 / 3,
                                    "f1@25": 100 / 3, "f1@50": 100 / 3})  # fmt: skip


def test_a_taken_segment_is_not_replaced_by_the_second_best() -> None:
    # predicted B[2, 6) overlaps taken B[0, 4) most (1/3); B[5, 6) (IoU 1/4) is not tried instead
    scores = segmentation_scores(list("BBBBAB"), list("BABBBB"))
    assert scores == pytest.approx({"accuracy": 200 / 3, "edit": 100.0, "f1@10": 100 / 3,
                                    "f1@25": 100 / 3, "f1@50": 0.0})  # fmt: skip


def test_arrays_integers_and_one_video_lists_agree() -> None:
    truth, predicted = list("AAAAAABBBB"), list("AABAAABBBB")
    as_strings = segmentation_scores(truth, predicted)
    codes = {"A": 0, "B": 1}
    as_arrays = segmentation_scores(
        np.array([codes[x] for x in truth]), np.array([codes[x] for x in predicted])
    )
    assert as_arrays == as_strings == segmentation_scores([truth], [predicted])
    assert segmentation_scores(np.array([truth, truth]), np.array([predicted, predicted])) == as_strings


def test_videos_without_segments_do_not_fail() -> None:
    scores = segmentation_scores([[BG, BG], list("AA")], [[BG, "A"], list("AA")])
    assert scores["edit"] == pytest.approx(50.0)  # video 1: prediction [A] against [] is distance 1
    assert scores["f1@50"] == pytest.approx(200 / 3)  # tp 1 (video 2), fp 1 (video 1), fn 0
    assert segmentation_scores([BG, BG], [BG, BG])["edit"] == 100.0


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="frames"):
        segmentation_scores(list("AAB"), list("AA"))
    with pytest.raises(ValueError, match="videos"):
        segmentation_scores([list("AA"), list("B")], [list("AA")])


@pytest.mark.parametrize("stages", [(0,), (2,), (0, 1, 3)])
def test_fused_side_features_add_64_r_parameters_per_fused_stage(stages: tuple[int, ...]) -> None:
    pose_dim, side_dim, classes = 128, 48, 7
    model = ms_tcn_pp(pose_dim + side_dim, classes, fused_dim=side_dim, fused_stages=stages)
    expected = 64 * pose_dim + 858_176 + 452 * classes + 64 * side_dim * len(stages)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_fusing_into_the_first_stage_only_is_plain_ms_tcn_on_all_features() -> None:
    torch.manual_seed(0)
    plain = ms_tcn_pp(12, 4, num_layers_pg=3, num_layers_r=2, num_r=2).eval()
    fused = ms_tcn_pp(12, 4, num_layers_pg=3, num_layers_r=2, num_r=2, fused_dim=5, fused_stages=(0,)).eval()
    fused.load_state_dict(plain.state_dict())
    x = torch.randn(2, 12, 30)
    assert torch.equal(plain(x), fused(x))


def test_side_features_reach_only_the_fused_stages() -> None:
    torch.manual_seed(0)
    model = ms_tcn_pp(10, 3, num_layers_pg=3, num_layers_r=2, num_r=3, fused_dim=4, fused_stages=(2,)).eval()
    x = torch.randn(1, 10, 25)
    changed = x.clone()
    changed[:, 6:] += 1.0  # only the side features
    a, b = model(x), model(changed)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # PG and refinement 1 do not see them
    assert not torch.allclose(a[2], b[2])


def test_fused_stages_are_checked() -> None:
    with pytest.raises(ValueError, match=r"among 0\.\.3"):
        ms_tcn_pp(20, 3, fused_dim=4, fused_stages=(4,))
    with pytest.raises(ValueError, match="fused_dim"):
        ms_tcn_pp(20, 3, fused_dim=20, fused_stages=(0,))
