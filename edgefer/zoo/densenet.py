"""DenseNet-121 (Huang et al., CVPR 2017) and seed 003's DCRNet built on its features.

Module names follow torchvision's DenseNet (`features.denseblock1.denselayer1.norm1`, ...,
`features.norm5`, `classifier`) so its ImageNet checkpoints load with `load_state_dict`.
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.zoo.attention import CBAM
from edgefer.zoo.blocks import ConvBnAct, he_init_convs
from edgefer.zoo.registry import register_model

SEED_003 = "003_9e253a67ccb13943"

DENSENET121_BLOCKS = (6, 12, 24, 16)


class DenseLayer(nn.Sequential):
    """BN-ReLU-1x1 conv (bn_size * growth) -> BN-ReLU-3x3 conv (growth): the new features."""

    def __init__(self, in_ch: int, growth_rate: int, bn_size: int):
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(in_ch))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(in_ch, bn_size * growth_rate, 1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("relu2", nn.ReLU(inplace=True))
        self.add_module("conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False))


class DenseBlock(nn.ModuleDict):
    """Each layer sees the concatenation of the block input and all earlier layers' outputs."""

    def __init__(self, num_layers: int, in_ch: int, growth_rate: int, bn_size: int):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_ch + i * growth_rate, growth_rate, bn_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A running concatenation instead of torchvision's list re-concatenated in every layer:
        # same tensors, one concat per layer.
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv (halves channels) -> 2x2 average pool."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_ch))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_ch, out_ch, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(2, stride=2))


def densenet_features(in_chans: int, block_config=DENSENET121_BLOCKS, growth_rate: int = 32,
                      init_features: int = 64, bn_size: int = 4) -> tuple[nn.Sequential, int]:
    """DenseNet feature extractor up to and including `norm5` (no final ReLU); returns
    (module, output channels)."""
    features = nn.Sequential()
    features.add_module("conv0", nn.Conv2d(in_chans, init_features, 7, stride=2, padding=3, bias=False))
    features.add_module("norm0", nn.BatchNorm2d(init_features))
    features.add_module("relu0", nn.ReLU(inplace=True))
    features.add_module("pool0", nn.MaxPool2d(3, stride=2, padding=1))
    channels = init_features
    for i, num_layers in enumerate(block_config):
        features.add_module(f"denseblock{i + 1}", DenseBlock(num_layers, channels, growth_rate, bn_size))
        channels += num_layers * growth_rate
        if i != len(block_config) - 1:
            features.add_module(f"transition{i + 1}", Transition(channels, channels // 2))
            channels //= 2
    features.add_module("norm5", nn.BatchNorm2d(channels))
    return features, channels


def _init_weights(model: nn.Module) -> None:
    """He-normal convs (fan_in, as torchvision's DenseNet), zero Linear biases; BatchNorm keeps
    PyTorch's defaults (weight 1, bias 0)."""
    he_init_convs(model)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


class DenseNet(nn.Module):
    """DenseNet: features -> ReLU -> global average pool -> Linear."""

    def __init__(self, num_classes: int, in_chans: int, block_config=DENSENET121_BLOCKS):
        super().__init__()
        self.features, channels = densenet_features(in_chans, block_config)
        self.classifier = nn.Linear(channels, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.relu(self.features(x)).mean((2, 3)))


class ResidualBlock(nn.Module):
    """Basic residual block: 3x3 conv-BN-ReLU -> 3x3 conv-BN, plus identity (or a 1x1 conv-BN
    projection when the width changes), then ReLU (seed 003 Eq. 5 / Fig. 5)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.body = nn.Sequential(ConvBnAct(in_ch, out_ch, 3), ConvBnAct(out_ch, out_ch, 3, act=None))
        self.shortcut = nn.Identity() if in_ch == out_ch else ConvBnAct(in_ch, out_ch, 1, act=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def residual_module(in_ch: int, out_ch: int, num_blocks: int = 3) -> nn.Sequential:
    return nn.Sequential(*[ResidualBlock(in_ch if i == 0 else out_ch, out_ch) for i in range(num_blocks)])


class DCRNet(nn.Module):
    """DenseNet121 features -> two conv+CBAM blocks -> two residual modules -> CBAM -> GAP ->
    dense 512/256/128 -> classifier. See `dcrnet` for the reading of the paper."""

    def __init__(self, num_classes: int, in_chans: int, conv_kernel: int = 3):
        super().__init__()
        self.features, channels = densenet_features(in_chans)
        self.features.add_module("relu5", nn.ReLU(inplace=True))  # Keras DenseNet121 ends in BN+ReLU
        self.conv_block1 = nn.Sequential(
            ConvBnAct(channels, 256, conv_kernel), nn.Dropout(0.3), CBAM(256),
        )
        self.conv_block2 = nn.Sequential(
            ConvBnAct(256, 512, conv_kernel), nn.MaxPool2d(2), nn.Dropout(0.4), CBAM(512),
        )
        w1, w2 = 32, 64  # "three residual blocks with ... convolutional layers of 32 and 64 filters"
        self.residual1 = residual_module(512, w1)
        self.residual2 = residual_module(w1, w2)
        self.cbam = CBAM(w2)
        self.head = nn.Sequential(
            nn.Linear(w2, 512), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(128, num_classes),
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_block2(self.conv_block1(self.features(x)))
        x = self.cbam(self.residual2(self.residual1(x)))
        return self.head(x.mean((2, 3)))


@register_model(paper=SEED_003, input_size=(224, 224), in_chans=3)
def densenet121(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """DenseNet-121 (growth 32, blocks 6/12/24/16), DCRNet's backbone and seed 003's baseline.

    Measured at 224x224x3 (FlopCounterMode, conv + linear): 6.96 M params / 2.83 G MACs with
    7 classes; with num_classes=1000 7.98 M / 2.83 G MACs against the published ImageNet
    figures 7.98 M / 2.9 G. Seed 003 publishes no figures for the bare backbone.
    """
    return DenseNet(num_classes, in_chans, **kw)


@register_model(paper=SEED_003, input_size=(224, 224), in_chans=3)
def dcrnet(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """DCRNet: DenseNet121 + conv/CBAM blocks + residual modules + CBAM + dense head (seed 003).

    Reading of Sec. 3 "Experimental Details" (the paper's only layer-level description):
    input 224x224x3 (stated for all three datasets); DenseNet121 without top (ends BN+ReLU,
    1024 ch, 7x7) -> Conv 256 / BN / ReLU / Dropout 0.3 / CBAM -> Conv 512 / BN / ReLU /
    MaxPool 2 (7x7 -> 3x3) / Dropout 0.4 / CBAM -> residual module of three basic residual
    blocks with 32 filters, then one with 64 filters ("convolutional layers of 32 and 64
    filters"; 1x1 projection shortcut where the width changes) -> CBAM -> GAP -> Dense
    512/256/128, each ReLU + Dropout 0.4 -> num_classes. Not stated, our choice: 3x3 kernels in
    the two conv blocks (`conv_kernel=` to change) and in the residual blocks,
    CBAM reduction 16 (the CBAM paper's), ReLU in the dense layers.

    Measured at 224x224x3, 7 classes: 11.15 M params (published 11.6 M, -3.9 %; 11.24 M if
    BatchNorm moving statistics are counted as Keras' "Total params" does) and 3.01 G MACs =
    6.02 GFLOPs (published 4.2 GFLOPs). The FLOPs figure cannot be matched at 224x224: the
    DenseNet121 features alone are 2.83 G MACs = 5.67 GFLOPs, so 4.2 G is more than the MACs of
    any head reading on them (3.0 G) yet less than the backbone's FLOPs; 1x1 kernels in the two
    conv blocks would only move the params further from 11.6 M (8.0 M).
    """
    return DCRNet(num_classes, in_chans, **kw)
