"""ResNet3d with bottleneck blocks, and Pose-SlowOnly built from it (docs/method.md §4.1).

Follows pyskl ``pyskl/models/cnns/resnet3d.py`` and ``resnet3d_slowonly.py`` (depth 50 only, no
``advanced`` downsample, no frozen stages). Tensors are ``(N, C, T, H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from posebeam.models.posec3d import (
    ConvBNAct,
    I3DHead,
    Recognizer3D,
    ResidualBlock3d,
    init_conv_bn_,
    zero_init_bn_,
)


class Bottleneck3d(ResidualBlock3d):
    """1×1×1 (or 3×1×1 when inflated) → 1×3×3 (carries the stride) → 1×1×1 ×4, plus residual.

    Every conv is followed by BN; ReLU after the first two and after the residual sum. The last
    BN (``conv3.bn``) is the one zero-initialised by :class:`ResNet3d`.

    Shapes: ``(N, inplanes, T, H, W)`` → ``(N, 4·planes, T/st, H/ss, W/ss)`` for
    ``stride=(st, ss)``.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: tuple[int, int] = (1, 1),
        downsample: nn.Module | None = None,
        inflate: bool = True,
    ) -> None:
        super().__init__()
        temporal, spatial = stride
        # inflate_style '3x1x1': the temporal kernel sits in the first conv.
        self.conv1 = ConvBNAct(
            inplanes, planes, (3, 1, 1) if inflate else 1, padding=(1, 0, 0) if inflate else 0
        )
        self.conv2 = ConvBNAct(
            planes, planes, (1, 3, 3), stride=(temporal, spatial, spatial), padding=(0, 1, 1)
        )
        self.conv3 = ConvBNAct(planes, planes * self.expansion, 1, act=False)
        self.downsample = downsample
        self.relu = nn.ReLU(inplace=True)


def _res_layer(
    inplanes: int, planes: int, blocks: int, stride: tuple[int, int], inflate: bool
) -> nn.Sequential:
    """One stage: the first block strides (and projects the residual when shapes change)."""
    downsample = None
    out_channels = planes * Bottleneck3d.expansion
    if stride[1] != 1 or inplanes != out_channels:
        temporal, spatial = stride
        downsample = ConvBNAct(inplanes, out_channels, 1, stride=(temporal, spatial, spatial), act=False)
    layers = [Bottleneck3d(inplanes, planes, stride, downsample, inflate)]
    layers += [Bottleneck3d(out_channels, planes, (1, 1), None, inflate) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNet3d(nn.Module):
    """Bottleneck ResNet3d: stem ``conv1`` + ``maxpool``, then stages ``layer1`` … ``layerN``.

    Stage ``i`` (0-based) has ``base_channels·2^i`` inner and ``4·base_channels·2^i`` output
    channels. ``lateral_channels[i]`` extra input channels are added to stage ``i``'s first block,
    for the concatenated lateral features of a two-pathway model (all zero on its own).

    Args:
        in_channels: input channels (17 for COCO keypoint heatmaps, 3 for RGB).
        base_channels: stem width.
        stage_blocks: blocks per stage.
        conv1_kernel: stem kernel ``(t, h, w)``, padded to keep size.
        conv1_stride, pool1_stride: ``(temporal, spatial)`` strides of the stem conv and max-pool.
        spatial_strides, temporal_strides: per stage, applied in its first block.
        inflate: per stage, whether the first conv of its blocks is 3×1×1 (1) or 1×1×1 (0).
        lateral_channels: per stage, extra input channels from lateral connections.
        zero_init_residual: zero the last BN of every block.

    Shapes: ``(N, in_channels, T, H, W)`` → ``(N, out_channels, T/∏st, H/s, W/s)`` where ``s``
    is the product of all spatial strides (stem included).
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        stage_blocks: Sequence[int] = (3, 4, 6, 3),
        conv1_kernel: tuple[int, int, int] = (1, 7, 7),
        conv1_stride: tuple[int, int] = (1, 2),
        pool1_stride: tuple[int, int] = (1, 2),
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 1, 1),
        inflate: Sequence[int] = (0, 0, 1, 1),
        lateral_channels: Sequence[int] | None = None,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        num_stages = len(stage_blocks)
        lateral_channels = lateral_channels or (0,) * num_stages
        if (
            not len(spatial_strides)
            == len(temporal_strides)
            == len(inflate)
            == len(lateral_channels)
            == num_stages
        ):
            raise ValueError("strides, inflate and lateral_channels need one entry per stage")
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.conv1 = ConvBNAct(
            in_channels,
            base_channels,
            conv1_kernel,
            stride=(conv1_stride[0], conv1_stride[1], conv1_stride[1]),
            padding=(conv1_kernel[0] // 2, conv1_kernel[1] // 2, conv1_kernel[2] // 2),
        )
        self.maxpool = nn.MaxPool3d(
            (1, 3, 3), stride=(pool1_stride[0], pool1_stride[1], pool1_stride[1]), padding=(0, 1, 1)
        )
        inplanes = base_channels
        for i, blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            stride = (temporal_strides[i], spatial_strides[i])
            stage = _res_layer(inplanes + lateral_channels[i], planes, blocks, stride, inflate[i] == 1)
            self.add_module(f"layer{i + 1}", stage)
            inplanes = planes * Bottleneck3d.expansion
        self.out_channels = inplanes

        init_conv_bn_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    zero_init_bn_(m.conv3)

    def stage(self, index: int) -> nn.Module:
        """Stage ``layer{index}`` (1-based, as in the parameter names)."""
        return self.get_submodule(f"layer{index}")

    def stem(self, x: Tensor) -> Tensor:
        """``conv1`` then ``maxpool``."""
        return self.maxpool(self.conv1(x))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for i in range(1, self.num_stages + 1):
            x = self.stage(i)(x)
        return x


def resnet3d_slowonly(
    in_channels: int = 17,
    base_channels: int = 32,
    stage_blocks: Sequence[int] = (4, 6, 3),
    temporal_strides: Sequence[int] = (1, 1, 2),
) -> ResNet3d:
    """The Pose-SlowOnly backbone (pyskl ``ResNet3dSlowOnly`` as in the NTU configs).

    Stem conv (1,7,7) and max-pool (1,3,3), both with stride 1; spatial strides (2,2,2); inflate
    (0,1,1) in '3x1x1' style. Stage outputs have 128, 256 and 512 channels.

    Shapes: ``(N, 17, 48, 56, 56)`` → ``(N, 512, 24, 7, 7)``. 1,994,080 parameters.
    """
    return ResNet3d(
        in_channels=in_channels,
        base_channels=base_channels,
        stage_blocks=stage_blocks,
        conv1_kernel=(1, 7, 7),
        conv1_stride=(1, 1),
        pool1_stride=(1, 1),
        spatial_strides=(2,) * len(stage_blocks),
        temporal_strides=temporal_strides,
        inflate=(0,) + (1,) * (len(stage_blocks) - 1),
    )


def pose_slowonly(
    num_classes: int,
    in_channels: int = 17,
    dropout: float = 0.5,
    base_channels: int = 32,
    stage_blocks: Sequence[int] = (4, 6, 3),
    temporal_strides: Sequence[int] = (1, 1, 2),
    init_std: float = 0.01,
) -> Recognizer3D:
    """Pose-SlowOnly (PoseConv3D's main model): :func:`resnet3d_slowonly` + :class:`I3DHead`.

    Input is a stack of keypoint (or limb) pseudo-heatmaps ``(N, 17, T, H, W)``; the paper's
    clips are 48 frames at 56² (train) or 64² (test). Output is ``(N, num_classes)`` logits;
    ``model.backbone(x)`` gives the ``(N, 512, T/2, H/8, W/8)`` features.

    Parameters: 1,994,080 in the backbone; 2,024,860 with 60 classes, 2,055,640 with 120.

    Weights: none bundled; random init as pyskl (kaiming conv, zero last BN per block, head
    normal std 0.01). pyskl's ``slowonly_r50_*`` checkpoints load after renaming ``cls_head.``
    to ``head.``.
    """
    backbone = resnet3d_slowonly(in_channels, base_channels, stage_blocks, temporal_strides)
    head = I3DHead(backbone.out_channels, num_classes, dropout=dropout, init_std=init_std)
    return Recognizer3D(backbone, head)
