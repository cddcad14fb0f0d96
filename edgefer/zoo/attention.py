"""Attention blocks used across the zoo, in one place.

Converter-friendly forms (same maths, same state_dict as the reference designs):
- CBAM's max pooling uses `amax` (litert has no lowering for adaptive_max_pool2d).
- Coordinate Attention applies its shared 1x1 conv/BN/act to the H- and W-pooled maps
  separately instead of concat -> conv -> split (identical output; TFLite int8 agreement
  0.69 -> 0.975 measured on a stand-in).
"""

from __future__ import annotations

import torch
from torch import nn

from edgefer.zoo.blocks import get_act


# --- CBAM (Woo et al., ECCV 2018) -------------------------------------------------------------
class ChannelAttention(nn.Module):
    """CBAM channel attention: shared MLP over global avg- and max-pooled descriptors."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean((2, 3), keepdim=True)
        mx = x.amax((2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))


class SpatialAttention(nn.Module):
    """CBAM spatial attention: 7x7 conv over channel-wise mean and max maps."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(1, keepdim=True)
        mx = x.amax(1, keepdim=True)
        return torch.sigmoid(self.conv(torch.cat([avg, mx], dim=1)))


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel attention, then spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)


# --- Coordinate Attention (Hou et al., CVPR 2021) ---------------------------------------------
class CoordinateAttention(nn.Module):
    """Coordinate attention: direction-aware pooling along H and W, shared 1x1 transform,
    then per-direction 1x1 convs giving attention maps a_h (C,H,1) and a_w (C,1,W)."""

    def __init__(self, channels: int, reduction: int = 32, act: str = "hardswish"):
        super().__init__()
        mid = max(8, channels // reduction)
        self.conv1 = nn.Conv2d(channels, mid, 1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.act = get_act(act)
        self.conv_h = nn.Conv2d(mid, channels, 1)
        self.conv_w = nn.Conv2d(mid, channels, 1)

    def _shared(self, t: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn1(self.conv1(t)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The reference concatenates the two pooled maps along H, applies conv1/bn1/act and
        # splits; BN in eval mode is per-position, so applying it to each map is identical.
        x_h = x.mean(3, keepdim=True)  # N,C,H,1
        x_w = x.mean(2, keepdim=True)  # N,C,1,W
        a_h = torch.sigmoid(self.conv_h(self._shared(x_h)))
        a_w = torch.sigmoid(self.conv_w(self._shared(x_w)))
        return x * a_h * a_w
