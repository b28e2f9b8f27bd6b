"""X3D, and the X3D-shallow pose model built from it (docs/method.md §4.3).

Follows pyskl ``pyskl/models/cnns/x3d.py`` as configured for poses: ``gamma_w=1``, ``gamma_d=1``
(so widths and depths are taken as given), no squeeze-excitation, ReLU instead of swish. Those
two options are not implemented here. Tensors are ``(N, C, T, H, W)``.
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


class BlockX3D(ResidualBlock3d):
    """1×1×1 expand (BN, ReLU) → depthwise 3×3×3 (BN, carries the spatial stride) → 1×1×1
    project (BN), plus residual, then ReLU. ``conv3.bn`` is zero-initialised by :class:`X3D`.

    Shapes: ``(N, inplanes, T, H, W)`` → ``(N, outplanes, T, H/s, W/s)``.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        outplanes: int,
        spatial_stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(inplanes, planes, 1)
        self.conv2 = ConvBNAct(
            planes, planes, 3, stride=(1, spatial_stride, spatial_stride), padding=1, groups=planes, act=False
        )
        self.conv3 = ConvBNAct(planes, outplanes, 1, act=False)
        self.downsample = downsample
        self.relu = nn.ReLU(inplace=True)


class X3D(nn.Module):
    """X3D: stem, stages of :class:`BlockX3D`, and a final 1×1×1 ``conv5``.

    Stem: ``conv1_s`` 1×3×3 with spatial stride 2 (no BN, no activation), then ``conv1_t`` a
    depthwise 5×1×1 conv with BN and ReLU. Stage ``i`` has width ``base·2^i`` and inner width
    ``int(base·2^i·gamma_b)``; its first block strides and projects the residual. ``conv5``
    widens the last stage by ``gamma_b`` (BN, ReLU).

    Shapes: ``(N, in_channels, T, H, W)`` → ``(N, out_channels, T, H/s, W/s)`` with ``s`` = 2 ×
    the product of ``spatial_strides``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 24,
        stage_blocks: Sequence[int] = (2, 5, 3),
        spatial_strides: Sequence[int] = (2, 2, 2),
        gamma_b: float = 2.25,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if len(spatial_strides) != len(stage_blocks):
            raise ValueError("spatial_strides needs one entry per stage")
        self.num_stages = len(stage_blocks)
        self.conv1_s = ConvBNAct(
            in_channels, base_channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), norm=False, act=False
        )
        self.conv1_t = ConvBNAct(
            base_channels, base_channels, (5, 1, 1), padding=(2, 0, 0), groups=base_channels
        )
        layer_inplanes = base_channels
        for i, blocks in enumerate(stage_blocks):
            width = base_channels * 2**i
            planes = int(width * gamma_b)
            stride = spatial_strides[i]
            downsample = None
            if stride != 1 or layer_inplanes != width:
                downsample = ConvBNAct(layer_inplanes, width, 1, stride=(1, stride, stride), act=False)
            layers = [BlockX3D(layer_inplanes, planes, width, stride, downsample)]
            layers += [BlockX3D(width, planes, width) for _ in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
            layer_inplanes = width
        self.out_channels = int(layer_inplanes * gamma_b)
        self.conv5 = ConvBNAct(layer_inplanes, self.out_channels, 1)

        init_conv_bn_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BlockX3D):
                    zero_init_bn_(m.conv3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1_t(self.conv1_s(x))
        for i in range(1, self.num_stages + 1):
            x = self.get_submodule(f"layer{i}")(x)
        return self.conv5(x)


def pose_x3d(
    num_classes: int,
    in_channels: int = 17,
    dropout: float = 0.5,
    base_channels: int = 24,
    stage_blocks: Sequence[int] = (2, 5, 3),
    init_std: float = 0.01,
) -> Recognizer3D:
    """X3D-shallow: ``X3D(in=17, base=24, stage_blocks=(2,5,3), strides (2,2,2))`` + I3DHead.

    Stage widths 24, 48, 96 (inner 54, 108, 216); ``conv5`` 96→216. Input is keypoint
    pseudo-heatmaps ``(N, 17, T, H, W)``; output ``(N, num_classes)`` logits.
    ``model.backbone(x)`` gives ``(N, 216, T, H/16, W/16)`` features (48×56² → 216×48×4×4).

    Parameters: 241,488 in the backbone; 254,508 with 60 classes.

    Weights: none bundled; random init as pyskl (kaiming conv, zero last BN per block, head
    normal std 0.01). pyskl's ``x3d_shallow_*`` checkpoints load after renaming ``cls_head.``
    to ``head.``.
    """
    backbone = X3D(in_channels, base_channels, stage_blocks, spatial_strides=(2,) * len(stage_blocks))
    head = I3DHead(backbone.out_channels, num_classes, dropout=dropout, init_std=init_std)
    return Recognizer3D(backbone, head)
