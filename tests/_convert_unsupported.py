"""A model with an operator no converter knows (a custom torch op), for the bad-op tests.

Imported only through `--module tests/_convert_unsupported.py:build` so the op registers once.
"""

import torch
from torch import nn


@torch.library.custom_op("edgefer_test::twist", mutates_args=())
def twist(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1).clone()


@twist.register_fake
def _(x):
    return torch.empty_like(x)


class Twisted(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(24 * 24, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(twist(x), 1))


def build() -> Twisted:
    return Twisted().eval()
