"""Exponential moving average of model weights, as seed 002 (CTAN) trains with.

Seed 002 Eq. (4): theta_EMA = alpha * theta_current + (1 - alpha) * theta_EMA. We take the
usual `decay` form, shadow = decay * shadow + (1 - decay) * current, i.e. alpha = 1 - decay.
It is a training-time utility, not a layer: after training, `copy_to` writes the averaged
weights into the model that gets exported.
"""

from __future__ import annotations

import torch
from torch import nn


class ModelEma:
    """Keeps a shadow copy of a model's state_dict and averages it after each optimiser step.

    Floating-point entries (parameters and BatchNorm running statistics) are averaged; integer
    buffers such as `num_batches_tracked` are copied, since an average of counters means nothing.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] = {
            k: v.detach().clone() for k, v in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        state = model.state_dict()
        if state.keys() != self.shadow.keys():
            raise ValueError("model does not match the one this EMA was created from")
        for key, current in state.items():
            shadow = self.shadow[key]
            if shadow.is_floating_point():
                shadow.lerp_(current.detach(), 1.0 - self.decay)
            else:
                shadow.copy_(current)

    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into `model` (same architecture)."""
        model.load_state_dict(self.shadow)
