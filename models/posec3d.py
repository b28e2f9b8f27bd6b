"""PoseConv3D pieces shared by every backbone: the conv unit, the I3D head and the recognizer.

The backbones and their builders live next door: :mod:`posebeam.models.resnet3d_slowonly`
(``pose_slowonly``), :mod:`posebeam.models.c3d` (``pose_c3d``), :mod:`posebeam.models.x3d`
(``pose_x3d``) and :mod:`posebeam.models.rgbpose` (``rgbpose_conv3d``). docs/method.md §4
describes the layer lists they follow (PYSKL's).

Module and parameter names mirror pyskl (``conv1.conv.weight``, ``layer3.0.downsample.bn.bias``,
``fc_cls.weight``, ...), so a pyskl checkpoint's ``state_dict`` loads once its ``backbone.`` prefix
is kept and ``cls_head.`` is renamed to ``head.``.

Every tensor is ``(N, C, T, H, W)``: batch, channels, frames, height, width.
"""

from __future__ import annotations

from torch import Tensor, nn

Size3 = int | tuple[int, int, int]


class ConvBNAct(nn.Module):
    """Bias-free ``Conv3d`` → optional ``BatchNorm3d`` → optional ReLU (mmcv ``ConvModule``).

    Attributes are named ``conv``, ``bn`` and ``activate`` as in mmcv, so pyskl weights load.

    Shapes: ``(N, in_channels, T, H, W)`` → ``(N, out_channels, T', H', W')`` with the usual
    convolution arithmetic per axis.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: Size3 = 0,
        groups: int = 1,
        norm: bool = True,
        act: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=False
        )
        self.bn: nn.Module = nn.BatchNorm3d(out_channels) if norm else nn.Identity()
        self.activate: nn.Module = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.activate(self.bn(self.conv(x)))


def init_conv_bn_(module: nn.Module) -> None:
    """pyskl's backbone init, in place: every ``Conv3d`` kaiming-normal (fan_out, ReLU gain),
    every ``BatchNorm3d`` γ=1, β=0. ``ConvTranspose3d`` keeps torch's default, as in pyskl."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def zero_init_bn_(layer: nn.Module) -> None:
    """Set the BatchNorm γ of a :class:`ConvBNAct` to 0, so a residual block starts as the identity."""
    assert isinstance(layer, ConvBNAct) and isinstance(layer.bn, nn.BatchNorm3d), "needs a ConvBNAct with BN"
    nn.init.zeros_(layer.bn.weight)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars (conv weights, BN γ/β, FC weight+bias); buffers not counted."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class ResidualBlock3d(nn.Module):
    """``relu(conv3(conv2(conv1(x))) + shortcut(x))``; subclasses set the convs and ``downsample``."""

    conv1: nn.Module
    conv2: nn.Module
    conv3: nn.Module
    downsample: nn.Module | None
    relu: nn.Module

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv3(self.conv2(self.conv1(x)))
        return self.relu(out + identity)


class I3DHead(nn.Module):
    """3D global average pool → dropout → linear (pyskl ``I3DHead``).

    The linear layer is initialised normal with std ``init_std`` and zero bias.

    Shapes: ``(N, in_channels, T, H, W)`` → ``(N, num_classes)`` logits.
    """

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.5, init_std: float = 0.01
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(p=dropout)
        self.fc_cls = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc_cls.weight, std=init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x).flatten(1)
        return self.fc_cls(self.dropout(x))


class Recognizer3D(nn.Module):
    """A backbone followed by a head; ``.backbone`` alone gives the features.

    Shapes: ``(N, C_in, T, H, W)`` → backbone ``(N, C_feat, T', H', W')`` → ``(N, num_classes)``
    logits (no softmax).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))
