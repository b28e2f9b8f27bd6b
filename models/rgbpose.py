"""RGBPose-Conv3D: an RGB ResNet3d-50 and a pose SlowOnly joined by lateral connections.

Follows pyskl ``pyskl/models/cnns/rgbposeconv3d.py``, ``resnet3d_slowfast.py`` (pathways and
``DeConvModule``) and ``heads/rgbpose_head.py``, configured as ``configs/rgbpose_conv3d/
rgbpose_conv3d.py`` (docs/method.md §4.4). Tensors are ``(N, C, T, H, W)``.

Each lateral is owned by the pathway it feeds and named after the stage whose output it joins,
as in pyskl: ``rgb_path.layer2_lateral`` turns pose ``layer1`` features into extra input
channels for RGB ``layer3``; ``pose_path.layer1_lateral`` turns RGB ``layer2`` features into
extra input channels for pose ``layer2``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from posebeam.models.posec3d import ConvBNAct, init_conv_bn_
from posebeam.models.resnet3d_slowonly import ResNet3d


class LateralDeconv(nn.Module):
    """Bias-free ``ConvTranspose3d`` (k×1×1, temporal stride s) → BN → ReLU (pyskl ``DeConvModule``).

    Shapes: ``(N, in_channels, T, H, W)`` → ``(N, out_channels, s·T, H, W)`` exactly (the output
    size is passed to the transposed conv).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_t: int = 7, stride_t: int = 4) -> None:
        super().__init__()
        self.stride_t = stride_t
        self.conv = nn.ConvTranspose3d(
            in_channels,
            out_channels,
            (kernel_t, 1, 1),
            stride=(stride_t, 1, 1),
            padding=((kernel_t - 1) // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        t, h, w = x.shape[-3:]
        return self.relu(self.bn(self.conv(x, output_size=[self.stride_t * t, h, w])))


class RGBPoseConv3D(nn.Module):
    """The two-pathway backbone; returns both pathways' last features.

    RGB pathway: ResNet3d-50, stages (3,4,6,3), base 64, stem conv (1,7,7) and max-pool both
    with spatial stride 2, spatial strides (1,2,2,2), inflate (0,0,1,1). Pose pathway: the
    Pose-SlowOnly backbone with temporal strides (1,1,1).

    Pose→RGB (``rgb_path.layer{2,3}_lateral``): bias-free Conv3d (k,1,1), temporal stride
    ``speed_ratio``, no BN or activation, ``C·rgb_lateral_infl`` channels out of C in (128→128
    and 256→256). RGB→pose (``pose_path.layer{1,2}_lateral``): :class:`LateralDeconv` to 1/
    ``pose_lateral_infl`` of its input channels (512→32 and 1024→64). So RGB ``layer3`` takes
    512+128 channels, ``layer4`` 1024+256; pose ``layer2`` takes 128+32, ``layer3`` 256+64.

    In training, with probability ``rgb_drop_path`` (``pose_drop_path``) per forward pass the
    lateral input into the RGB (pose) pathway is zeroed. ``rgb_detach`` (``pose_detach``) stops
    gradients from the RGB (pose) pathway's loss flowing back through its lateral input.

    Shapes: ``rgb (N, 3, T, H, W)`` and ``pose (N, 17, speed_ratio·T, H/4, W/4)`` →
    ``(N, 2048, T, H/32, W/32)`` and ``(N, 512, speed_ratio·T, H/32, W/32)``; the paper's clips
    are 8×224² RGB and 32×56² heatmaps, giving 2048×8×7×7 and 512×32×7×7.
    """

    def __init__(
        self,
        pose_in_channels: int = 17,
        speed_ratio: int = 4,
        channel_ratio: int = 4,
        fusion_kernel: int = 7,
        rgb_lateral_infl: int = 1,
        pose_lateral_infl: int = 16,
        rgb_detach: bool = False,
        pose_detach: bool = False,
        rgb_drop_path: float = 0.0,
        pose_drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if not (0 <= rgb_drop_path <= 1 and 0 <= pose_drop_path <= 1):
            raise ValueError("drop path probabilities must lie in [0, 1]")
        self.rgb_detach, self.pose_detach = rgb_detach, pose_detach
        self.rgb_drop_path, self.pose_drop_path = rgb_drop_path, pose_drop_path
        # Output channels of RGB stages 3, 4 and pose stages 2, 3 (4·base·2^i).
        rgb_out = {2: 512, 3: 1024}
        pose_out = {1: 128, 2: 256}
        to_rgb = {k: c * rgb_lateral_infl // channel_ratio for k, c in rgb_out.items()}
        to_pose = {k: c * channel_ratio // pose_lateral_infl for k, c in pose_out.items()}
        self.rgb_path = ResNet3d(
            in_channels=3,
            base_channels=64,
            stage_blocks=(3, 4, 6, 3),
            conv1_kernel=(1, 7, 7),
            conv1_stride=(1, 2),
            pool1_stride=(1, 2),
            spatial_strides=(1, 2, 2, 2),
            temporal_strides=(1, 1, 1, 1),
            inflate=(0, 0, 1, 1),
            lateral_channels=(0, 0, to_rgb[2], to_rgb[3]),
        )
        self.pose_path = ResNet3d(
            in_channels=pose_in_channels,
            base_channels=32,
            stage_blocks=(4, 6, 3),
            conv1_kernel=(1, 7, 7),
            conv1_stride=(1, 1),
            pool1_stride=(1, 1),
            spatial_strides=(2, 2, 2),
            temporal_strides=(1, 1, 1),
            inflate=(0, 1, 1),
            lateral_channels=(0, to_pose[1], to_pose[2]),
        )
        pad = (fusion_kernel - 1) // 2
        for k, c in rgb_out.items():
            lateral = ConvBNAct(
                c // channel_ratio,
                to_rgb[k],
                (fusion_kernel, 1, 1),
                stride=(speed_ratio, 1, 1),
                padding=(pad, 0, 0),
                norm=False,
                act=False,
            )
            init_conv_bn_(lateral)
            self.rgb_path.add_module(f"layer{k}_lateral", lateral)
        for k, c in pose_out.items():
            deconv = LateralDeconv(c * channel_ratio, to_pose[k], fusion_kernel, speed_ratio)
            self.pose_path.add_module(f"layer{k}_lateral", deconv)

    def _lateral(self, name: str, x: Tensor, detach: bool, drop: bool) -> Tensor:
        out = self.get_submodule(name)(x.detach() if detach else x)
        return torch.zeros_like(out) if drop else out

    def forward(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, Tensor]:
        """``rgb (N, 3, T, H, W)``, ``pose (N, 17, 4T, H/4, W/4)`` → RGB and pose features."""
        drop_rgb = drop_pose = False
        if self.training:
            drop_rgb = bool(torch.rand(1) < self.rgb_drop_path)
            drop_pose = bool(torch.rand(1) < self.pose_drop_path)
        x_rgb = self.rgb_path.stage(1)(self.rgb_path.stem(rgb))
        x_pose = self.pose_path.stem(pose)
        for k in (2, 3):
            x_rgb = self.rgb_path.stage(k)(x_rgb)
            x_pose = self.pose_path.stage(k - 1)(x_pose)
            into_rgb = self._lateral(f"rgb_path.layer{k}_lateral", x_pose, self.rgb_detach, drop_rgb)
            into_pose = self._lateral(f"pose_path.layer{k - 1}_lateral", x_rgb, self.pose_detach, drop_pose)
            x_rgb = torch.cat((x_rgb, into_rgb), dim=1)
            x_pose = torch.cat((x_pose, into_pose), dim=1)
        return self.rgb_path.stage(4)(x_rgb), self.pose_path.stage(3)(x_pose)


class RGBPoseHead(nn.Module):
    """One global average pool → dropout → linear per stream (pyskl ``RGBPoseHead``).

    Linear layers are initialised normal with std ``init_std`` and zero bias.

    Shapes: ``((N, 2048, T, H, W), (N, 512, T', H', W'))`` → two ``(N, num_classes)`` logits.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: tuple[int, int] = (2048, 512),
        dropout: float = 0.5,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.dropout_rgb = nn.Dropout(p=dropout)
        self.dropout_pose = nn.Dropout(p=dropout)
        self.fc_rgb = nn.Linear(in_channels[0], num_classes)
        self.fc_pose = nn.Linear(in_channels[1], num_classes)
        for fc in (self.fc_rgb, self.fc_pose):
            nn.init.normal_(fc.weight, std=init_std)
            nn.init.zeros_(fc.bias)

    def forward(self, features: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        x_rgb, x_pose = (self.avg_pool(x).flatten(1) for x in features)
        return self.fc_rgb(self.dropout_rgb(x_rgb)), self.fc_pose(self.dropout_pose(x_pose))


class RGBPoseRecognizer(nn.Module):
    """:class:`RGBPoseConv3D` + :class:`RGBPoseHead`; ``.backbone`` alone gives the features.

    ``forward(rgb, pose)`` returns ``(rgb_logits, pose_logits)``, each ``(N, num_classes)``.
    Train with cross-entropy on each stream (weights 1:1); at test time average each stream's
    softmax over clips, then fuse the two averages 1:1 (docs/method.md §4.4).
    """

    def __init__(self, backbone: RGBPoseConv3D, head: RGBPoseHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.backbone(rgb, pose))


def rgbpose_conv3d(
    num_classes: int,
    pose_in_channels: int = 17,
    dropout: float = 0.5,
    rgb_detach: bool = False,
    pose_detach: bool = False,
    rgb_drop_path: float = 0.0,
    pose_drop_path: float = 0.0,
    init_std: float = 0.01,
) -> RGBPoseRecognizer:
    """RGBPose-Conv3D as in pyskl's ``rgbpose_conv3d.py`` config (speed and channel ratio 4,
    fusion kernel 7, RGB lateral_infl 1, pose lateral_infl 16).

    Inputs: ``rgb (N, 3, 8, 224, 224)`` normalised with ImageNet mean/std, and keypoint
    heatmaps ``pose (N, 17, 32, 56, 56)``. Output: ``(rgb_logits, pose_logits)``.

    Parameters (measured with torch 2.13; the paper publishes no number): backbone
    35,994,208 = RGB pathway 33,354,816 (its pose→RGB laterals 573,440 included) + pose pathway
    2,639,392 (its RGB→pose deconvs 573,632 included); 36,147,928 with 60 classes (head
    153,720). Without laterals and the extra input channels they need, the pathways are
    31,634,496 (SlowOnly-R50) and 1,994,080 (Pose-SlowOnly).

    Weights: none bundled. pyskl initialises this model from its separately trained
    ``rgb_only`` and ``pose_only`` checkpoints (``rgbpose_conv3d_init.pth``); those state dicts
    load after renaming ``cls_head.`` to ``head.``.
    """
    backbone = RGBPoseConv3D(
        pose_in_channels=pose_in_channels,
        rgb_detach=rgb_detach,
        pose_detach=pose_detach,
        rgb_drop_path=rgb_drop_path,
        pose_drop_path=pose_drop_path,
    )
    head = RGBPoseHead(num_classes, (2048, 512), dropout=dropout, init_std=init_std)
    return RGBPoseRecognizer(backbone, head)


def clip_averaged_softmax(logits: Tensor, views: int) -> Tensor:
    """One stream's test score: softmax per view, averaged over each sample's ``views`` consecutive
    views. ``(N·views, num_classes)`` logits → ``(N, num_classes)`` probabilities."""
    return torch.softmax(logits, dim=1).reshape(-1, views, logits.shape[1]).mean(dim=1)


def fuse_test_scores(rgb_logits: Tensor, pose_logits: Tensor, views: int) -> Tensor:
    """RGBPose test fusion (docs/method.md §4.4): per sample, each stream's softmax is averaged over
    its ``views`` clips (:func:`clip_averaged_softmax`), then the two averages are mixed 1:1 (their
    mean, so scores stay probabilities; the ranking equals pyskl's 1:1 sum).

    Shapes: two ``(N·views, num_classes)`` logits, a sample's views consecutive → ``(N, num_classes)``.
    """
    return (clip_averaged_softmax(rgb_logits, views) + clip_averaged_softmax(pose_logits, views)) / 2
