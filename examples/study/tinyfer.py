"""A researcher's own model, as `edgefer study` and `edgefer convert --module` take it: a factory
returning an nn.Module that maps (N, 1, 48, 48) face crops to 7 expression logits."""

import torch.nn as nn


def build(width: int = 16, num_classes: int = 7) -> nn.Module:
    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2))

    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        block(width, 2 * width), block(2 * width, 4 * width), block(4 * width, 8 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * width, num_classes))
