"""ResNet-50 and ResNet-50 + CBAM (seed 004), in torchvision's layout so state_dict keys match.

ResNet v1.5 (the stride sits on the 3x3 conv of each downsampling bottleneck, as in torchvision);
CBAM (Woo et al. 2018) goes where the CBAM authors put it: at the end of every bottleneck's
residual branch (after bn3), before the identity addition.
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.zoo.attention import CBAM
from edgefer.zoo.registry import register_model

SEED_004 = "004_d63269fea6bde54f"
RESNET50_LAYERS = (3, 4, 6, 3)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand x4, optional CBAM, + shortcut."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, cbam: bool = False):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        # Identity has no parameters, so the plain model keeps torchvision's keys exactly.
        self.cbam = CBAM(out_ch) if cbam else nn.Identity()
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.cbam(self.bn3(self.conv3(out)))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """Bottleneck ResNet: 7x7/2 stem, 3x3/2 max pool, four stages, global average pool, FC."""

    def __init__(self, layers: tuple[int, ...] = RESNET50_LAYERS, num_classes: int = 7,
                 in_chans: int = 3, cbam: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_ch = 64
        for i, (blocks, width) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
            stage = []
            for b in range(blocks):
                stride = 2 if (b == 0 and i > 1) else 1
                stage.append(Bottleneck(in_ch, width, stride, cbam))
                in_ch = width * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*stage))
        self.fc = nn.Linear(in_ch, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's ResNet initialisation (He-normal fan_out convs, BN = identity).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


# The paper resizes FER2013's 48x48 gray faces to 224x224 for VGG/ResNet ("VGG and ResNet
# require 224 x 224") and fine-tunes ImageNet models, so the input is 3-channel (gray replicated)
# with ImageNet normalisation.


@register_model(paper=SEED_004, input_size=(224, 224), in_chans=3,
                description="ResNet-50 (v1.5, torchvision layout), 224x224 RGB")
def resnet50(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """ResNet-50 as fine-tuned on FER2013 in seed 004 (GAP + one FC to the 7 classes).

    Reading: the paper (Keras) does not say v1 or v1.5; we use torchvision's v1.5 (stride on the
    3x3), which is what the 4.1 G MACs reference counts. The paper's head (global average pool,
    then the class layer) is the ImageNet head with `num_classes`, so `num_classes=1000` gives the
    standard model. Measured: 25.557 M params / 4.09 G MACs at 224x224x3 with 1000 classes
    (torchvision: 25.557 M / 4.09 G); 23.522 M params / 4.09 G MACs with 7 classes. The paper
    publishes no params/MACs. Any input >= 1x1 runs (the last stage sees 1x1 maps below 32 px).
    """
    return ResNet(num_classes=num_classes, in_chans=in_chans, cbam=False, **kw)


@register_model(paper=SEED_004, input_size=(224, 224), in_chans=3,
                description="ResNet-50 + CBAM in every bottleneck (seed 004's best model), 224x224 RGB")
def resnet50_cbam(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """ResNet-50 with CBAM (reduction 16, 7x7 spatial kernel) in all 16 bottlenecks.

    Reading: the paper adds "CBAM to each model layer" without a diagram we can read; we use the
    placement of Woo et al.'s ResNet-50 + CBAM: after bn3 of every bottleneck, before the residual
    addition. Measured at 224x224x3 with 1000 classes: 28.07 M params (+2.52 M) and 4.10 G MACs
    (FlopCounterMode counts convs/FC; CBAM's pooling and gating is not counted); 26.04 M / 4.09 G
    with 7 classes. Woo et al. report 28.09 M / 3.864 G for ResNet-50 v1 + CBAM: the 0.016 M gap is
    their MLP biases (our shared CBAM is bias-free), the MAC gap is v1 vs v1.5.
    """
    return ResNet(num_classes=num_classes, in_chans=in_chans, cbam=True, **kw)
