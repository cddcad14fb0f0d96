"""ConvNeXt-Tiny (Liu et al., CVPR 2022) and seed 002's CTAN built on it.

Module names follow facebookresearch/ConvNeXt (`downsample_layers`, `stages`, `norm`, `head`)
so its ImageNet checkpoints load with `load_state_dict`. Drop path (stochastic depth; seed 002
trains with rate 0.3) is training-only and identity at inference, so it is left out: these
models are built for export and benchmarking. EMA, the other training-time part of CTAN, is
`edgefer.zoo.ema.ModelEma`.
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.zoo.attention import EfficientAttention, ShuffleAttention
from edgefer.zoo.blocks import ConvBnAct
from edgefer.zoo.registry import Preprocessing, register_model

SEED_002 = "002_8e26bb8eadca2c31"
# Seed 002 Sec. IV-B: resize to 224x224, normalise with mean 0.5 / std 0.5 per channel.
SEED_002_PREPROCESSING = Preprocessing(color="rgb", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))

TINY_DEPTHS = (3, 3, 9, 3)
TINY_DIMS = (96, 192, 384, 768)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (ConvNeXt's 'channels_first' LN).

    A subclass (not a wrapper) so the state_dict keys match the reference checkpoints; the
    forward is written permute -> layer_norm -> permute, the form converters (litert-torch,
    onnx) lower cleanly.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """dw 7x7 conv -> LN -> Linear 4C -> GELU -> Linear C -> layer scale, plus identity."""

    def __init__(self, dim: int, layer_scale_init: float = 1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # NHWC so LN and the Linears act on channels
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class BasicRFB(nn.Module):
    """Receptive Field Block (Liu et al., RFBNet, ECCV 2018, reference `BasicRFB`, visual=1).

    Three branches of 1x1 reduction + 3x3 convs ending in dilations 1, 2, 3; concatenated,
    1x1 projected, scaled by 0.1 and added to a 1x1 shortcut, then ReLU.
    """

    def __init__(self, in_ch: int, out_ch: int, scale: float = 0.1):
        super().__init__()
        self.scale = scale
        inter = in_ch // 8
        self.branch0 = nn.Sequential(
            ConvBnAct(in_ch, 2 * inter, 1),
            ConvBnAct(2 * inter, 2 * inter, 3, dilation=1, act=None),
        )
        self.branch1 = nn.Sequential(
            ConvBnAct(in_ch, inter, 1),
            ConvBnAct(inter, 2 * inter, 3),
            ConvBnAct(2 * inter, 2 * inter, 3, dilation=2, act=None),
        )
        self.branch2 = nn.Sequential(
            ConvBnAct(in_ch, inter, 1),
            ConvBnAct(inter, inter // 2 * 3, 3),
            ConvBnAct(inter // 2 * 3, 2 * inter, 3),
            ConvBnAct(2 * inter, 2 * inter, 3, dilation=3, act=None),
        )
        self.conv_linear = ConvBnAct(6 * inter, out_ch, 1, act=None)
        self.shortcut = ConvBnAct(in_ch, out_ch, 1, act=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_linear(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return self.relu(out * self.scale + self.shortcut(x))


class ConvNeXt(nn.Module):
    """ConvNeXt backbone + head, with two optional insertion points used by CTAN.

    after_stem: module run on the stem output (CTAN's Basic RFB).
    neck: module run on the last stage's feature map before global pooling (CTAN's attention).
    """

    def __init__(self, num_classes: int, in_chans: int, depths=TINY_DEPTHS, dims=TINY_DIMS,
                 after_stem: nn.Module | None = None, neck: nn.Module | None = None):
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6))]
            + [
                nn.Sequential(LayerNorm2d(dims[i], eps=1e-6), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2))
                for i in range(len(dims) - 1)
            ]
        )
        self.after_stem = after_stem if after_stem is not None else nn.Identity()
        self.stages = nn.ModuleList(
            [nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(depth)]) for dim, depth in zip(dims, depths)]
        )
        self.neck = neck if neck is not None else nn.Identity()
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        # Reference init: trunc-normal(0.02) for every conv/linear, zero bias. The RFB/attention
        # blocks are re-initialised too; their BN/GN/affine parameters keep their own init.
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.after_stem(self.downsample_layers[0](x))
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.downsample_layers[i](x)
            x = stage(x)
        return self.neck(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.forward_features(x).mean((2, 3))))


@register_model(paper=SEED_002, input_size=(224, 224), in_chans=3, preprocessing=SEED_002_PREPROCESSING)
def convnext_tiny(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """ConvNeXt-Tiny, seed 002's baseline (depths 3/3/9/3, widths 96/192/384/768).

    Measured at 224x224x3 (FlopCounterMode, conv + linear): 27.83 M params / 4.46 G MACs with
    7 classes; with num_classes=1000 28.59 M / 4.46 G MACs against the published ImageNet
    figures 28.6 M / 4.5 G (Liu et al. count multiply-adds as "FLOPs"). Seed 002 publishes no
    params/MACs for it.
    """
    return ConvNeXt(num_classes, in_chans, **kw)


@register_model(paper=SEED_002, input_size=(224, 224), in_chans=3, preprocessing=SEED_002_PREPROCESSING)
def ctan(num_classes: int = 7, in_chans: int = 3, **kw) -> nn.Module:
    """CTAN: ConvNeXt-Tiny + Basic RFB + Efficient Attention + Shuffle Attention (seed 002).

    Reading of Table I: stem (4x4 stride 4; the table's stride 0 is a typo) -> Basic RFB
    96->96 (RFBNet's `BasicRFB`; the text never describes it, the name matches that reference
    module) -> ConvBlock1..4 = ConvNeXt-T stages of 3/3/9/3 blocks with dw 7x7 kernels, each
    "in->out" row being a stage followed by its downsampling -> Efficient Attention 768 ->
    Shuffle Attention 768 (64 groups, the SA-Net default) -> global average pool -> LayerNorm ->
    FC. Table I's "EMA" row is the training-time weight average (`edgefer.zoo.ema.ModelEma`),
    not a layer. Block internals the paper leaves open are documented on `EfficientAttention`.

    Measured at 224x224x3, 7 classes: 29.14 M params / 4.65 G MACs (ConvNeXt-T + 0.20 G for
    the RFB at 56x56 and the attention at 7x7). Seed 002 publishes no params or MACs, only
    speed (Table 7: 0.0175-0.0427 s latency, 105-229 FPS on an RTX 4090).
    """
    dim = TINY_DIMS[-1]
    return ConvNeXt(
        num_classes,
        in_chans,
        after_stem=BasicRFB(TINY_DIMS[0], TINY_DIMS[0]),
        neck=nn.Sequential(EfficientAttention(dim), ShuffleAttention(dim)),
        **kw,
    )
