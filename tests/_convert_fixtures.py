"""A tiny FER-like conv net for the convert tests (also importable as a --module target)."""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    """1x24x24 -> 7 logits; conv/bn/relu/pool/linear, like the zoo models in miniature."""

    def __init__(self, num_classes: int = 7, in_chans: int = 1, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


def build_tiny(num_classes: int = 7, in_chans: int = 1, width: int = 8, seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(num_classes, in_chans, width).eval()


class Erf(nn.Module):
    """A net using an op that we make the exporter reject (see the unsupported-op test)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)[:, :7]


def class_mean(y: int) -> float:
    """Mean pixel value (0..255) of synthetic images of class y (see `fer_rows`)."""
    return 40.0 + 30.0 * y


class IntensityNet(nn.Module):
    """Classifies by mean brightness: logit_k = 2 c_k m - c_k^2 (= -(m - c_k)^2 + const).

    An "oracle" for the synthetic data below (accuracy ~100 %), so accuracy and recall gates
    have something real to measure. Conv + pool + linear, so the int8 path quantizes all three.
    """

    def __init__(self, in_chans: int = 1, mean: float = 0.5, std: float = 0.5):
        super().__init__()
        centers = torch.tensor([(class_mean(k) / 255.0 - mean) / std for k in range(7)])
        self.conv = nn.Conv2d(in_chans, 1, 1, bias=False)
        nn.init.constant_(self.conv.weight, 1.0 / in_chans)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(1, 7)
        with torch.no_grad():
            self.head.weight.copy_((2 * centers)[:, None])
            self.head.bias.copy_(-(centers**2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.conv(x)), 1))


def build_oracle(in_chans: int = 1) -> IntensityNet:
    return IntensityNet(in_chans).eval()


def fer_image(y: int, rng, side: int = 48):
    import numpy as np

    return np.clip(rng.normal(class_mean(y), 12.0, (side, side)), 0, 255).astype("uint8")


def write_fer_csv(path, counts: dict[str, int], seed: int = 0, rare: int | None = 1) -> None:
    """Synthetic FER2013 CSV: `counts` rows per split, classes round-robin; class `rare`
    (disgust) gets only every 5th of its turns, like the real set's imbalance."""
    import csv

    import numpy as np

    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for split, n in counts.items():
            written, i = 0, 0
            while written < n:
                y = i % 7
                i += 1
                if y == rare and (i // 7) % 5:
                    continue
                w.writerow([y, " ".join(map(str, fer_image(y, rng).ravel())), split])
                written += 1
