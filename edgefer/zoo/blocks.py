"""Building blocks shared by the zoo families (convs, activations, squeeze-excite)."""

from __future__ import annotations

import torch
from torch import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of `divisor` (MobileNet convention), never below 90%."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SoftSwish(nn.Module):
    """x * sigmoid(x) (SiLU / Swish-1); seed 000 calls it SoftSwish."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def get_act(name: str | None) -> nn.Module:
    if name is None or name == "identity":
        return nn.Identity()
    return {
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "hardswish": lambda: nn.Hardswish(inplace=True),
        "hardsigmoid": lambda: nn.Hardsigmoid(inplace=True),
        "softswish": SoftSwish,
        "silu": SoftSwish,
        "gelu": nn.GELU,
        "sigmoid": nn.Sigmoid,
    }[name]()


class ConvBnAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation; 'same' padding for odd kernels."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1, groups: int = 1,
                 act: str | None = "relu", padding: int | None = None, dilation: int = 1):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            get_act(act),
        )


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) as used in MobileNetV3."""

    def __init__(self, channels: int, squeeze_channels: int, act: str = "relu", gate: str = "hardsigmoid"):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = get_act(act)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


def he_init_convs(module: nn.Module) -> None:
    """He-normal (fan_in) init of every Conv2d in `module`, zero conv biases.

    Why fan_in and not torchvision's fan_out: with fan_out a depthwise kernel gets std
    sqrt(2 / (9 C)) and an untrained network's activations vanish (logits ~1e-9 to 1e-18 by
    the last block), which makes parity and int8-calibration checks on zoo weights meaningless.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
