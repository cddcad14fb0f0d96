"""Inception-v3 and Inception-v3 + CBAM (seed 004), in torchvision's layout so state_dict keys match.

Szegedy et al. 2016 as implemented by torchvision (BasicConv2d = conv + BN(eps=1e-3) + ReLU,
Mixed_5b ... Mixed_7c). The auxiliary classifier is a training-only option: it is never built
unless asked for and never runs in eval mode, so exported graphs have one output.
CBAM goes after every one of the 11 inception blocks (Mixed_*), on the concatenated output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgefer.errors import EdgeferError
from edgefer.zoo.attention import CBAM
from edgefer.zoo.blocks import he_init_convs
from edgefer.zoo.registry import register_model

SEED_004 = "004_d63269fea6bde54f"
# Six unpadded stride-2 reductions: 75x75 is the smallest input leaving a 1x1 map for Mixed_7c.
INCEPTION_MIN_INPUT = 75
# The aux head's 5x5/3 average pool and 5x5 conv need a 17x17 Mixed_6e map (input ~299).
AUX_MIN_MAP = 17


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU; torchvision's names (conv, bn) for its keys."""

    def __init__(self, in_ch: int, out_ch: int, **conv_kw):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, bias=False, **conv_kw)
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (out 224 + pool_features)."""

    def __init__(self, in_ch: int, pool_features: int, cbam: bool = False):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_ch, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, pool_features, kernel_size=1)
        self.cbam = CBAM(224 + pool_features) if cbam else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return self.cbam(torch.cat([b1, b5, b3, bp], 1))


class InceptionB(nn.Module):
    """35 -> 17 grid reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 (out 480 + in_ch)."""

    def __init__(self, in_ch: int, cbam: bool = False):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)
        self.cbam = CBAM(480 + in_ch) if cbam else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        b3d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return self.cbam(torch.cat([b3, b3d, bp], 1))


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convs (1x7 / 7x1); out 768."""

    def __init__(self, in_ch: int, channels_7x7: int, cbam: bool = False):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)
        self.cbam = CBAM(768) if cbam else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = self.branch7x7dbl_1(x)
        b7d = self.branch7x7dbl_3(self.branch7x7dbl_2(b7d))
        b7d = self.branch7x7dbl_5(self.branch7x7dbl_4(b7d))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return self.cbam(torch.cat([b1, b7, b7d, bp], 1))


class InceptionD(nn.Module):
    """17 -> 8 grid reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 (out 512 + in_ch)."""

    def __init__(self, in_ch: int, cbam: bool = False):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)
        self.cbam = CBAM(512 + in_ch) if cbam else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return self.cbam(torch.cat([b3, b7, bp], 1))


class InceptionE(nn.Module):
    """8x8 block with expanded 1x3 / 3x1 filter banks; out 2048."""

    def __init__(self, in_ch: int, cbam: bool = False):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_ch, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)
        self.cbam = CBAM(2048) if cbam else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return self.cbam(torch.cat([b1, b3, b3d, bp], 1))


class InceptionAux(nn.Module):
    """Training-time auxiliary classifier on the 17x17x768 Mixed_6e map."""

    def __init__(self, in_ch: int, num_classes: int):
        super().__init__()
        self.conv0 = BasicConv2d(in_ch, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h < AUX_MIN_MAP or w < AUX_MIN_MAP:
            raise EdgeferError(
                f"Inception-v3's aux classifier needs a {AUX_MIN_MAP}x{AUX_MIN_MAP} Mixed_6e map "
                f"(input >= 299x299), got {h}x{w}; build the model with aux_logits=False"
            )
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(x.mean((2, 3)))


class Inception3(nn.Module):
    """Inception-v3 stem, 11 inception blocks, global average pool, dropout, FC."""

    def __init__(self, num_classes: int = 7, in_chans: int = 3, cbam: bool = False,
                 aux_logits: bool = False, dropout: float = 0.5):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(in_chans, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32, cbam=cbam)
        self.Mixed_5c = InceptionA(256, pool_features=64, cbam=cbam)
        self.Mixed_5d = InceptionA(288, pool_features=64, cbam=cbam)
        self.Mixed_6a = InceptionB(288, cbam=cbam)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, cbam=cbam)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, cbam=cbam)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, cbam=cbam)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, cbam=cbam)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768, cbam=cbam)
        self.Mixed_7b = InceptionE(1280, cbam=cbam)
        self.Mixed_7c = InceptionE(2048, cbam=cbam)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        # He-normal (fan_in) convs, BN = identity (its default), default Linear init. Not
        # torchvision's truncated normal with std 0.1: with untrained BN statistics that gives
        # ~1e11 logits in eval mode (measured), which overflow fp16 and make int8 calibration
        # meaningless.
        he_init_convs(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with aux_logits=True, (logits, aux_logits)."""
        h, w = x.shape[-2:]
        if h < INCEPTION_MIN_INPUT or w < INCEPTION_MIN_INPUT:
            side = INCEPTION_MIN_INPUT
            raise EdgeferError(f"Inception-v3 needs an input of at least {side}x{side}, got {h}x{w}")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(self.maxpool1(x)))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(self.maxpool2(x))))
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        logits = self.fc(self.dropout(x.mean((2, 3))))
        return logits if aux is None else (logits, aux)


# The paper resizes FER2013's 48x48 gray faces to 299x299 ("Inception requires 299 x 299") and
# fine-tunes an ImageNet model: 3-channel input (gray replicated), ImageNet normalisation.


@register_model(paper=SEED_004, input_size=(299, 299), in_chans=3,
                description="Inception-v3 (torchvision layout, no aux head at inference), 299x299 RGB")
def inception_v3(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """Inception-v3 as fine-tuned on FER2013 in seed 004 (GAP + dropout + one FC).

    Reading: the paper mentions the auxiliary classifier as a training aid; it is off by default
    (`aux_logits=True` adds it for training, where it needs >= 299x299 input; eval never runs it).
    Keras' InceptionV3 pads its 3x3 average pools without counting the padding; we keep
    torchvision's count_include_pad=True. Needs >= 75x75 input.
    Measured at 299x299x3 with 1000 classes: 23.83 M params without / 27.16 M with the aux head
    (torchvision: 27.16 M with), 5.71 G MACs (torchvision: 5.71 G); 21.80 M / 5.71 G with 7 classes.
    The paper publishes none.
    """
    return Inception3(num_classes=num_classes, in_chans=in_chans, cbam=False, **kw)


@register_model(paper=SEED_004, input_size=(299, 299), in_chans=3,
                description="Inception-v3 + CBAM after each of the 11 inception blocks, 299x299 RGB")
def inception_v3_cbam(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """Inception-v3 with a CBAM (reduction 16, 7x7 spatial kernel) after every inception block.

    Reading: the paper adds "CBAM to each model layer"; we put one CBAM on the concatenated output
    of each of the 11 Mixed_* blocks (the two grid-reduction blocks included), none in the stem.
    Measured at 299x299x3 with 1000 classes, no aux head: 25.49 M params (+1.65 M) / 5.72 G MACs
    (FlopCounterMode counts convs/FC only); 23.45 M / 5.72 G with 7 classes. The paper publishes no
    params/MACs.
    """
    return Inception3(num_classes=num_classes, in_chans=in_chans, cbam=True, **kw)
