"""VGG-19 and VGG-19 + CBAM (seed 004), in torchvision's layout so state_dict keys match.

VGG-19 is configuration "E" of Simonyan & Zisserman (16 3x3 convs in five stages, no batch norm,
as in Keras' VGG19 that the paper fine-tunes) followed by the paper's head: two 4096-unit FC
layers and the class layer. CBAM goes after the last conv (+ReLU) of each of the five stages,
before that stage's max pool.
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.errors import EdgeferError
from edgefer.zoo.attention import CBAM
from edgefer.zoo.registry import register_model

SEED_004 = "004_d63269fea6bde54f"
VGG19_STAGES = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))
# Five 2x2 max pools: below 32 px the last stage would have no pixels left.
VGG_MIN_INPUT = 32
POOLED_SIZE = 7  # the classifier sees a 7x7x512 map, as at 224x224


class VGG(nn.Module):
    """Plain 3x3-conv stages with 2x2 max pooling, then a 3-layer MLP on the 7x7x512 map."""

    def __init__(self, stages: tuple[tuple[int, ...], ...] = VGG19_STAGES, num_classes: int = 7,
                 in_chans: int = 3, cbam: bool = False, hidden: int = 4096, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = in_chans
        for stage in stages:
            for out_ch in stage:
                layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = out_ch
            if cbam:
                layers.append(CBAM(in_ch))
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        # Identity at 224x224 (7x7 in, 7x7 out); at other sizes it resamples to 7x7 like torchvision.
        self.avgpool = nn.AdaptiveAvgPool2d((POOLED_SIZE, POOLED_SIZE))
        self.classifier = nn.Sequential(
            nn.Linear(in_ch * POOLED_SIZE * POOLED_SIZE, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VGG initialisation.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h < VGG_MIN_INPUT or w < VGG_MIN_INPUT:
            raise EdgeferError(f"VGG needs an input of at least {VGG_MIN_INPUT}x{VGG_MIN_INPUT}, got {h}x{w}")
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# The paper resizes FER2013's 48x48 gray faces to 224x224 ("VGG and ResNet require 224 x 224")
# and fine-tunes ImageNet models: 3-channel input (gray replicated), ImageNet normalisation.


@register_model(paper=SEED_004, input_size=(224, 224), in_chans=3,
                description="VGG-19 with the paper's 4096-4096 FC head, 224x224 RGB")
def vgg19(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """VGG-19 as fine-tuned on FER2013 in seed 004.

    Reading: the paper's head is "two layers comprising 4096 units each and the final FC layer
    matching the number of target categories", i.e. the ImageNet head with `num_classes`, so
    `num_classes=1000` is the standard model. No batch norm (neither the paper nor Keras' VGG19
    has it). Measured: 143.67 M params / 19.63 G MACs at 224x224x3 with 1000 classes (torchvision:
    143.67 M / 19.63 G); 139.60 M params with 7 classes (~558 MB fp32). The paper publishes no
    params/MACs. Needs >= 32x32 input (five 2x2 pools); other sizes resample to 7x7 before the FC.
    """
    return VGG(num_classes=num_classes, in_chans=in_chans, cbam=False, **kw)


@register_model(paper=SEED_004, input_size=(224, 224), in_chans=3,
                description="VGG-19 + CBAM after each of the five conv stages, 224x224 RGB")
def vgg19_cbam(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """VGG-19 with a CBAM (reduction 16, 7x7 spatial kernel) after every conv stage.

    Reading: the paper adds "CBAM to each model layer"; we read a layer as a conv stage and put one
    CBAM after the stage's last conv+ReLU, before its max pool (5 CBAMs; one per conv would be 16).
    Measured: 143.74 M params (+0.08 M) / 19.64 G MACs at 224x224x3 with 1000 classes
    (FlopCounterMode counts convs/FC only); 139.68 M / 19.64 G with 7 classes. The paper publishes no
    params/MACs.
    """
    return VGG(num_classes=num_classes, in_chans=in_chans, cbam=True, **kw)
