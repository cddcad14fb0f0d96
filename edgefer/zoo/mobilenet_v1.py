"""MobileNet (v1), MobileNet + skip connections, and + multi-head self-attention (seed 001,
Nouisser, Zouari & Kherallah, IAJIT 20(3A), 2023), at FER2013's 48x48 grayscale.

Backbone: MobileNet v1 1.0 (Howard et al. 2017, Table 1): a 3x3/2 conv to 32 channels, then
13 depthwise-separable blocks ("26 successive depth-wise and pointwise layers", Sec. 3.3), each
depthwise 3x3 -> BN -> ReLU6 -> pointwise 1x1 -> BN -> ReLU6 (ReLU6 as in Keras' MobileNet,
which the paper fine-tunes), global average pooling and one linear classifier. With
num_classes=1000, in_chans=3 at 224x224 this is the standard ImageNet network: 4.23 M params,
569 M MACs (Howard et al. report 4.2 M / 569 M).

The paper gives neither a layer table for its changes nor parameter counts, so:
- Skip connections (Fig. 7, "between successive depthwise and pointwise convolution layers"):
  one shortcut around every depthwise-separable block, added after the block's output
  activation. Identity where shapes match (the 5 512->512 blocks and the last 1024->1024),
  otherwise a 1x1 conv (carrying the stride) + BN projection, ResNet-style: the paper trains
  "the parameters of skip connections", which only projection shortcuts have.
- Multi-head self-attention: "applied to the output of each depthwise separable convolution
  layer", 8 heads with 64-unit Q/K/V projections (Keras MultiHeadAttention layout). We apply it
  to every block's output, before the skip addition, over all H*W positions. This literal reading
  is expensive at 48x48: the first block's 24x24 = 576 tokens alone cost ~0.4 G MACs.
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.zoo.attention import MultiHeadSelfAttention2d
from edgefer.zoo.blocks import ConvBnAct, he_init_convs
from edgefer.zoo.registry import register_model

SEED_001 = "001_caf08f9ac5cd0bf0"
STEM_CHANNELS = 32
# (output channels, stride) of the 13 depthwise-separable blocks of MobileNet v1 1.0.
MOBILENET_V1_BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
MHA_HEADS = 8
MHA_HEAD_DIM = 64


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 -> pointwise 1x1 (BN + ReLU6 after each); optional MHSA and shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, skip: bool = False, mha: bool = False):
        super().__init__()
        self.depthwise = ConvBnAct(in_ch, in_ch, 3, stride, groups=in_ch, act="relu6")
        self.pointwise = ConvBnAct(in_ch, out_ch, 1, act="relu6")
        self.attention: nn.Module = nn.Identity()
        if mha:
            self.attention = MultiHeadSelfAttention2d(out_ch, MHA_HEADS, MHA_HEAD_DIM)
        self.skip = skip
        self.shortcut: nn.Module = nn.Identity()
        if skip and (stride != 1 or in_ch != out_ch):
            self.shortcut = ConvBnAct(in_ch, out_ch, 1, stride, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.attention(self.pointwise(self.depthwise(x)))
        return out + self.shortcut(x) if self.skip else out


class MobileNetV1(nn.Module):
    """MobileNet v1 1.0 with optional per-block skip connections and self-attention."""

    def __init__(self, num_classes: int = 7, in_chans: int = 1, skip: bool = False,
                 mha: bool = False):
        super().__init__()
        layers: list[nn.Module] = [ConvBnAct(in_chans, STEM_CHANNELS, 3, 2, act="relu6")]
        in_ch = STEM_CHANNELS
        for out_ch, stride in MOBILENET_V1_BLOCKS:
            layers.append(DepthwiseSeparable(in_ch, out_ch, stride, skip=skip, mha=mha))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_ch, num_classes)
        he_init_convs(self)  # linear layers keep PyTorch's default init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


@register_model(paper=SEED_001, input_size=(48, 48), in_chans=1,
                description="MobileNet v1 1.0 on 48x48 grayscale, seed 001's baseline")
def mobilenet_v1(num_classes: int = 7, in_chans: int = 1, **kw) -> nn.Module:
    """MobileNet v1 1.0 (seed 001's baseline).

    Measured at 1x1x48x48, 7 classes: 3.21 M params, 28.5 M MACs (the paper gives no figures).
    The standard ImageNet configuration is `num_classes=1000, in_chans=3` at 224x224, same
    layers: 4,231,976 params, 568.7 M MACs (Howard et al.: 4.2 M / 569 M).
    """
    return MobileNetV1(num_classes, in_chans, **kw)


@register_model(paper=SEED_001, input_size=(48, 48), in_chans=1,
                description="MobileNet v1 + a skip connection around every depthwise-separable "
                            "block (seed 001)")
def mobilenet_skip(num_classes: int = 7, in_chans: int = 1, **kw) -> nn.Module:
    """MobileNet v1 + skip connections (seed 001): identity or 1x1-projection shortcut per block.

    Measured at 1x1x48x48, 7 classes: 3.92 M params, 35.3 M MACs (the paper gives no figures).
    """
    return MobileNetV1(num_classes, in_chans, skip=True, **kw)


@register_model(paper=SEED_001, input_size=(48, 48), in_chans=1,
                description="MobileNet v1 + skip connections + 8-head self-attention after every "
                            "block (seed 001)")
def mobilenet_skip_mha(num_classes: int = 7, in_chans: int = 1, **kw) -> nn.Module:
    """MobileNet v1 + skip connections + multi-head self-attention (seed 001's proposed model).

    8 heads x 64-unit Q/K/V projections after each of the 13 depthwise-separable blocks.
    Measured at 1x1x48x48, 7 classes: 16.1 M params, 682.9 M MACs, of which the 13 attention
    blocks are 12.2 M params and 647.5 M MACs (the paper gives no figures).
    """
    return MobileNetV1(num_classes, in_chans, skip=True, mha=True, **kw)
