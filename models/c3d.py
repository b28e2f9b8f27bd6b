"""C3D, and the C3D-light pose model built from it (docs/method.md §4.2).

Follows pyskl ``pyskl/models/cnns/c3d.py``. The pools are average pools: the paper appendix's
max-pool is a typo (pyskl issue #95). Tensors are ``(N, C, T, H, W)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from posebeam.models.posec3d import ConvBNAct, I3DHead, Recognizer3D, init_conv_bn_


class C3D(nn.Module):
    """C3D without its flatten/MLP: 3×3×3 convs (pad 1, BN, ReLU, no bias) between avg-pools.

    Layers: ``conv1a`` → ``pool1`` → ``conv2a`` → ``pool2`` → ``conv3a``, ``conv3b`` → ``pool3``
    → ``conv4a``, ``conv4b`` [→ ``pool4`` → ``conv5a``, ``conv5b`` when ``num_stages=4``], with
    widths ``base·(1, 2, 4, 8, 8)``. ``pool1`` always halves only H and W; the later pools also
    halve T when ``temporal_downsample``.

    Shapes (3 stages, no temporal downsampling): ``(N, in_channels, T, H, W)`` →
    ``(N, 8·base, T, H/8, W/8)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 4,
        temporal_downsample: bool = True,
    ) -> None:
        super().__init__()
        if num_stages not in (3, 4):
            raise ValueError(f"num_stages must be 3 or 4, got {num_stages}")
        self.num_stages = num_stages
        c = base_channels
        pool: tuple[int, int, int] = (2, 2, 2) if temporal_downsample else (1, 2, 2)

        def conv(cin: int, cout: int) -> ConvBNAct:
            return ConvBNAct(cin, cout, 3, padding=1)

        self.conv1a = conv(in_channels, c)
        self.pool1 = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2))
        self.conv2a = conv(c, 2 * c)
        self.pool2 = nn.AvgPool3d(pool, stride=pool)
        self.conv3a = conv(2 * c, 4 * c)
        self.conv3b = conv(4 * c, 4 * c)
        self.pool3 = nn.AvgPool3d(pool, stride=pool)
        self.conv4a = conv(4 * c, 8 * c)
        self.conv4b = conv(8 * c, 8 * c)
        self.out_channels = 8 * c
        if num_stages == 4:
            self.pool4 = nn.AvgPool3d(pool, stride=pool)
            self.conv5a = conv(8 * c, 8 * c)
            self.conv5b = conv(8 * c, 8 * c)
        init_conv_bn_(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.conv1a(x))
        x = self.pool2(self.conv2a(x))
        x = self.pool3(self.conv3b(self.conv3a(x)))
        x = self.conv4b(self.conv4a(x))
        if self.num_stages == 4:
            x = self.conv5b(self.conv5a(self.pool4(x)))
        return x


def pose_c3d(
    num_classes: int,
    in_channels: int = 17,
    dropout: float = 0.5,
    base_channels: int = 32,
    init_std: float = 0.01,
) -> Recognizer3D:
    """C3D-light: ``C3D(in=17, base=32, num_stages=3, temporal_downsample=False)`` + I3DHead.

    Input is keypoint pseudo-heatmaps ``(N, 17, T, H, W)``; output ``(N, num_classes)`` logits.
    ``model.backbone(x)`` gives ``(N, 256, T, H/8, W/8)`` features (48×56² → 256×48×7×7).

    Parameters: 3,389,472 in the backbone; 3,404,892 with 60 classes.

    Weights: none bundled; random init as pyskl (kaiming conv, head normal std 0.01). pyskl's
    ``c3d_light_*`` checkpoints load after renaming ``cls_head.`` to ``head.``.
    """
    backbone = C3D(in_channels, base_channels, num_stages=3, temporal_downsample=False)
    head = I3DHead(backbone.out_channels, num_classes, dropout=dropout, init_std=init_std)
    return Recognizer3D(backbone, head)
