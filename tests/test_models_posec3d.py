"""PoseConv3D backbones and heads against PYSKL's (docs/method.md §4: counts, shapes, init), RGBPose (§4.4).

Forward passes on real tensors use tiny clips; the paper-size shape checks run on the ``meta``
device, which runs the same layers' shape arithmetic without computing anything.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from posebeam.models.c3d import pose_c3d
from posebeam.models.posec3d import I3DHead, Recognizer3D, count_parameters
from posebeam.models.resnet3d_slowonly import Bottleneck3d, pose_slowonly
from posebeam.models.rgbpose import LateralDeconv, RGBPoseRecognizer, rgbpose_conv3d
from posebeam.models.x3d import BlockX3D, pose_x3d

BUILDERS: dict[str, Callable[..., Recognizer3D]] = {
    "slowonly": pose_slowonly,
    "c3d": pose_c3d,
    "x3d": pose_x3d,
}


@pytest.fixture(scope="module")
def rgbpose() -> RGBPoseRecognizer:
    torch.manual_seed(0)
    return rgbpose_conv3d(num_classes=60).eval()


def _tiny_rgbpose_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """RGB 2×64² and heatmaps 8×16²: the pose clip is 4× longer and 4× smaller, as 32×56² vs 8×224²."""
    torch.manual_seed(1)
    return torch.randn(1, 3, 2, 64, 64), torch.randn(1, 17, 8, 16, 16)


# --- parameter counts (PYSKL's backbones, docs/method.md §4: conv weights, BN γ/β, FC weight+bias) ---


@pytest.mark.parametrize(
    ("name", "expected"),
    [("slowonly", 1_994_080), ("c3d", 3_389_472), ("x3d", 241_488)],
)
def test_backbone_parameter_count_matches_reference(name: str, expected: int) -> None:
    model = BUILDERS[name](num_classes=60)
    assert count_parameters(model.backbone) == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("name", "num_classes", "expected"),
    [
        ("slowonly", 60, 2_024_860),
        ("slowonly", 120, 2_055_640),
        ("c3d", 60, 3_404_892),
        ("x3d", 60, 254_508),
    ],
)
def test_parameter_count_with_head_matches_reference(name: str, num_classes: int, expected: int) -> None:
    model = BUILDERS[name](num_classes=num_classes)
    assert count_parameters(model) == pytest.approx(expected, rel=0.01)


def test_rgbpose_parameter_count_is_the_documented_one(rgbpose: RGBPoseRecognizer) -> None:
    # No published number; these are the measured counts written in rgbpose_conv3d's docstring.
    assert count_parameters(rgbpose.backbone.rgb_path) == 33_354_816
    assert count_parameters(rgbpose.backbone.pose_path) == 2_639_392
    assert count_parameters(rgbpose.backbone) == 35_994_208
    assert count_parameters(rgbpose) == 36_147_928


# --- shapes ---


@pytest.mark.parametrize(
    ("name", "feature_shape"),
    [
        ("slowonly", (1, 512, 4, 4, 4)),  # T/2 (stage-3 temporal stride), H/8
        ("c3d", (1, 256, 8, 4, 4)),  # no temporal downsampling, three (1,2,2) avg-pools
        ("x3d", (1, 216, 8, 2, 2)),  # stem stride 2 then three stride-2 stages
    ],
)
def test_small_heatmap_clip_gives_features_and_logits(name: str, feature_shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](num_classes=7).eval()
    x = torch.rand(1, 17, 8, 32, 32)
    with torch.no_grad():
        features = model.backbone(x)
        logits = model(x)
    assert tuple(features.shape) == feature_shape
    assert tuple(logits.shape) == (1, 7)
    assert torch.isfinite(logits).all()


def test_slowonly_paper_clip_gives_512x24x7x7_features() -> None:
    with torch.device("meta"):
        model = pose_slowonly(num_classes=60).eval()
        x = torch.empty(1, 17, 48, 56, 56)
        assert tuple(model.backbone(x).shape) == (1, 512, 24, 7, 7)
        assert tuple(model(x).shape) == (1, 60)


def test_slowonly_stage_widths_are_128_256_512() -> None:
    backbone = pose_slowonly(num_classes=60).backbone
    widths = [backbone.stage(i)[-1].conv3.conv.out_channels for i in (1, 2, 3)]
    assert widths == [128, 256, 512]


def test_c3d_light_pools_by_average() -> None:
    modules = list(pose_c3d(num_classes=60).backbone.modules())
    assert sum(isinstance(m, nn.AvgPool3d) for m in modules) == 3
    assert not any(isinstance(m, nn.MaxPool3d) for m in modules)


# --- initialisation ---


@pytest.mark.parametrize(("name", "block"), [("slowonly", Bottleneck3d), ("x3d", BlockX3D)])
def test_last_bn_of_every_block_starts_at_zero(name: str, block: type[nn.Module]) -> None:
    backbone = BUILDERS[name](num_classes=60).backbone
    blocks = [m for m in backbone.modules() if isinstance(m, block)]
    assert len(blocks) == {"slowonly": 13, "x3d": 10}[name]
    last_bns = {id(b.get_submodule("conv3.bn")) for b in blocks}
    for m in backbone.modules():
        if isinstance(m, nn.BatchNorm3d):
            expected = 0.0 if id(m) in last_bns else 1.0
            assert torch.all(m.weight == expected)
            assert torch.all(m.bias == 0)


def test_rgbpose_zero_inits_last_bn_in_both_pathways(rgbpose: RGBPoseRecognizer) -> None:
    blocks = [m for m in rgbpose.backbone.modules() if isinstance(m, Bottleneck3d)]
    assert len(blocks) == 16 + 13
    assert all(torch.all(b.conv3.bn.weight == 0) for b in blocks)


@pytest.mark.parametrize("name", ["slowonly", "c3d", "x3d"])
def test_head_is_normal_with_std_001_and_zero_bias(name: str) -> None:
    torch.manual_seed(0)
    head = BUILDERS[name](num_classes=120).head
    assert isinstance(head, I3DHead)
    weight = head.fc_cls.weight
    # ≥ 25,920 samples: the std estimate is within ~1 % of 0.01, the mean within ~1e-4 of 0.
    assert weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert abs(weight.mean().item()) < 3e-4
    assert torch.all(head.fc_cls.bias == 0)


def test_rgbpose_heads_are_normal_with_std_001(rgbpose: RGBPoseRecognizer) -> None:
    for fc in (rgbpose.head.fc_rgb, rgbpose.head.fc_pose):
        assert fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
        assert torch.all(fc.bias == 0)


def test_convs_are_kaiming_normal_fan_out() -> None:
    torch.manual_seed(0)
    conv = pose_slowonly(num_classes=60).backbone.stage(3)[0].conv2.conv  # 128→128, 1×3×3
    fan_out = 128 * 3 * 3
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)


# --- RGBPose-Conv3D (docs/method.md §4.4) ---


def test_rgbpose_stages_take_the_lateral_channels(rgbpose: RGBPoseRecognizer) -> None:
    rgb, pose = rgbpose.backbone.rgb_path, rgbpose.backbone.pose_path

    def in_channels(path: nn.Module, stage: int) -> int:
        conv = path.get_submodule(f"layer{stage}.0.conv1.conv")
        assert isinstance(conv, nn.Conv3d)
        return conv.in_channels

    assert in_channels(rgb, 3) == 512 + 128
    assert in_channels(rgb, 4) == 1024 + 256
    assert in_channels(pose, 2) == 128 + 32
    assert in_channels(pose, 3) == 256 + 64
    assert in_channels(rgb, 2) == 256 and in_channels(pose, 1) == 32  # no lateral into these


@pytest.mark.parametrize(("stage", "channels"), [(2, 128), (3, 256)])
def test_pose_to_rgb_lateral_is_a_7x1x1_conv_with_temporal_stride_4(
    rgbpose: RGBPoseRecognizer, stage: int, channels: int
) -> None:
    lateral = rgbpose.backbone.rgb_path.get_submodule(f"layer{stage}_lateral")
    conv = lateral.get_submodule("conv")
    assert isinstance(conv, nn.Conv3d)
    assert (conv.in_channels, conv.out_channels) == (channels, channels)
    assert conv.kernel_size == (7, 1, 1) and conv.stride == (4, 1, 1) and conv.bias is None
    assert count_parameters(lateral) == channels * channels * 7  # no BN, no bias


@pytest.mark.parametrize(("stage", "in_ch", "out_ch"), [(1, 512, 32), (2, 1024, 64)])
def test_rgb_to_pose_lateral_is_a_deconv_to_one_sixteenth(
    rgbpose: RGBPoseRecognizer, stage: int, in_ch: int, out_ch: int
) -> None:
    lateral = rgbpose.backbone.pose_path.get_submodule(f"layer{stage}_lateral")
    assert isinstance(lateral, LateralDeconv)
    assert (lateral.conv.in_channels, lateral.conv.out_channels) == (in_ch, out_ch)
    assert lateral.conv.kernel_size == (7, 1, 1) and lateral.conv.stride == (4, 1, 1)
    with torch.no_grad():
        out = lateral(torch.randn(1, in_ch, 2, 3, 3))
    assert tuple(out.shape) == (1, out_ch, 8, 3, 3)
    assert torch.all(out >= 0)  # BN then ReLU


def test_rgbpose_tiny_forward_gives_two_logits(rgbpose: RGBPoseRecognizer) -> None:
    rgb, pose = _tiny_rgbpose_inputs()
    with torch.no_grad():
        x_rgb, x_pose = rgbpose.backbone(rgb, pose)
        rgb_logits, pose_logits = rgbpose(rgb, pose)
    assert tuple(x_rgb.shape) == (1, 2048, 2, 2, 2)
    assert tuple(x_pose.shape) == (1, 512, 8, 2, 2)
    assert tuple(rgb_logits.shape) == tuple(pose_logits.shape) == (1, 60)
    assert not torch.equal(rgb_logits, pose_logits)


def test_rgbpose_paper_clips_give_2048x8x7x7_and_512x32x7x7() -> None:
    with torch.device("meta"):
        model = rgbpose_conv3d(num_classes=60).eval()
        rgb, pose = torch.empty(1, 3, 8, 224, 224), torch.empty(1, 17, 32, 56, 56)
        x_rgb, x_pose = model.backbone(rgb, pose)
    assert tuple(x_rgb.shape) == (1, 2048, 8, 7, 7)
    assert tuple(x_pose.shape) == (1, 512, 32, 7, 7)


def _rgb_logits_for_two_pose_inputs(**flags: float) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = rgbpose_conv3d(num_classes=5, dropout=0.0, **flags).train()
    rgb, pose = _tiny_rgbpose_inputs()
    with torch.no_grad():
        first, _ = model(rgb, pose)
        second, _ = model(rgb, pose + 1.0)
    return first, second


def test_rgb_drop_path_one_cuts_pose_features_out_of_the_rgb_stream() -> None:
    first, second = _rgb_logits_for_two_pose_inputs(rgb_drop_path=1.0)
    assert torch.equal(first, second)
    first, second = _rgb_logits_for_two_pose_inputs()
    assert not torch.allclose(first, second, rtol=0, atol=1e-7)


@pytest.mark.parametrize("rgb_detach", [False, True])
def test_rgb_detach_stops_rgb_gradients_reaching_the_pose_input(rgb_detach: bool) -> None:
    torch.manual_seed(0)
    model = rgbpose_conv3d(num_classes=5, rgb_detach=rgb_detach).eval()
    rgb, pose = _tiny_rgbpose_inputs()
    pose.requires_grad_(True)
    rgb_logits, _ = model(rgb, pose)
    rgb_logits.sum().backward()
    if rgb_detach:
        assert pose.grad is None
    else:
        assert pose.grad is not None and pose.grad.abs().sum() > 0


# --- layout and dependencies ---


def test_parameter_names_follow_pyskl_checkpoints(rgbpose: RGBPoseRecognizer) -> None:
    slowonly_keys = set(pose_slowonly(num_classes=60).state_dict())
    assert {
        "backbone.conv1.conv.weight",
        "backbone.layer1.0.conv1.conv.weight",
        "backbone.layer3.0.downsample.bn.running_mean",
        "backbone.layer3.2.conv3.bn.weight",
        "head.fc_cls.weight",
    } <= slowonly_keys
    assert {"backbone.conv1_s.conv.weight", "backbone.conv5.bn.bias"} <= set(pose_x3d(60).state_dict())
    assert {"backbone.conv4b.conv.weight", "backbone.conv1a.bn.weight"} <= set(pose_c3d(60).state_dict())
    assert {
        "backbone.rgb_path.layer2_lateral.conv.weight",
        "backbone.rgb_path.layer4.2.conv3.bn.weight",
        "backbone.pose_path.layer1_lateral.conv.weight",
        "backbone.pose_path.layer2_lateral.bn.running_var",
        "head.fc_rgb.weight",
        "head.fc_pose.bias",
    } <= set(rgbpose.state_dict())
