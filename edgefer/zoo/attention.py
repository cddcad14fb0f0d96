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


# --- Efficient Attention (seed 002, Sec. III-C and Fig. 3) ------------------------------------
class EfficientAttention(nn.Module):
    """Seed 002's Efficient Attention: a global branch (GAP -> channel weights -> x * w) and a
    local branch (depthwise convs -> Swish), concatenated and fused back to `channels`.

    The paper gives the two branches and "concatenated" fusion but no layer sizes; our reading:
    global weights by an SE-style bottleneck (1x1 conv C->C/r, ReLU, 1x1 conv, sigmoid), local
    branch = two depthwise 3x3 conv + BN + Swish, fusion = 1x1 conv 2C->C + BN (Table I keeps
    768 -> 768, so the concatenation must be projected back).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.global_fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )
        self.local = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.SiLU(),
        )
        self.fuse = nn.Sequential(nn.Conv2d(2 * channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        global_feat = x * torch.sigmoid(self.global_fc(x.mean((2, 3), keepdim=True)))
        local_feat = self.local(x)
        return self.fuse(torch.cat([global_feat, local_feat], dim=1))


# --- Shuffle Attention (Zhang & Yang, SA-Net, ICASSP 2021; seed 002 Sec. III-D) ----------------
class ShuffleAttention(nn.Module):
    """SA-Net shuffle attention: split channels into `groups`, halve each group into a channel
    branch (GAP -> per-channel affine -> sigmoid gate) and a spatial branch (per-channel
    GroupNorm -> affine -> sigmoid gate), concatenate, then channel-shuffle with 2 groups.

    Parameter names and init follow the SA-Net reference (cweight/sweight 0, cbias/sbias 1).
    Seed 002's Eq. (3) writes Softmax, its Fig. 4 and SA-Net use sigmoid: we use sigmoid.
    The GroupNorm has one channel per group (instance norm); it is written as mean/var
    reductions, same maths as `nn.GroupNorm`, because converters lower those directly.
    """

    def __init__(self, channels: int, groups: int = 64):
        super().__init__()
        if channels % (2 * groups):
            raise ValueError(f"channels ({channels}) must be divisible by 2 * groups ({2 * groups})")
        self.groups = groups
        half = channels // (2 * groups)
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gn = nn.GroupNorm(half, half)

    def _instance_norm(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean((2, 3), keepdim=True)
        var = (x - mean).pow(2).mean((2, 3), keepdim=True)
        x = (x - mean) * torch.rsqrt(var + self.gn.eps)
        return x * self.gn.weight.view(1, -1, 1, 1) + self.gn.bias.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b * self.groups, c // self.groups, h, w)
        x_channel, x_spatial = x.chunk(2, dim=1)
        gate_c = torch.sigmoid(self.cweight * x_channel.mean((2, 3), keepdim=True) + self.cbias)
        gate_s = torch.sigmoid(self.sweight * self._instance_norm(x_spatial) + self.sbias)
        out = torch.cat([x_channel * gate_c, x_spatial * gate_s], dim=1).reshape(b, c, h, w)
        # channel shuffle (2 groups) so information flows between the sub-features
        return out.reshape(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)


# --- Multi-head self-attention over a feature map (seed 001, Sec. 3.3, Eqs. 2-3) ---------------
class MultiHeadSelfAttention2d(nn.Module):
    """Self-attention among the H*W positions of an NCHW map: Q = K = V input (Vaswani et al.).

    Keras `MultiHeadAttention(num_heads, key_dim)` layout, as seed 001 describes it ("8 heads,
    64 units for query, key and value"): biased Q/K/V projections C -> heads*head_dim, scaled dot
    product per head, heads merged by reshape and projected back to C, so the output has the
    input's shape. Plain matmul/softmax (no nn.MultiheadAttention / SDPA) for the converters.
    """

    def __init__(self, channels: int, num_heads: int = 8, head_dim: int = 64):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = head_dim ** -0.5
        inner = num_heads * head_dim
        self.query = nn.Linear(channels, inner)
        self.key = nn.Linear(channels, inner)
        self.value = nn.Linear(channels, inner)
        self.out = nn.Linear(inner, channels)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        n, length, _ = t.shape  # N, L, heads*head_dim -> N, heads, L, head_dim
        return t.reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # N, H*W, C
        q = self._heads(self.query(tokens) * self.scale)
        k = self._heads(self.key(tokens))
        v = self._heads(self.value(tokens))
        attn = torch.softmax(q @ k.transpose(2, 3), dim=-1)
        merged = (attn @ v).transpose(1, 2).reshape(n, h * w, self.num_heads * self.head_dim)
        return self.out(merged).transpose(1, 2).reshape(n, c, h, w)
