"""Parameters, MACs and FLOPs of a model for one sample at batch 1.

Counting is done by `torch.utils.flop_counter.FlopCounterMode` (not a hand-written module
walker), which sees the aten ops actually executed, so depthwise/grouped convolutions
(counted from the grouped weight shape), linear layers and attention matmuls (mm/bmm/
baddbmm/SDPA) are all included. We add formulas for the ops it leaves out that matter for
the papers' models: pooling and pooling-like reductions (adaptive/avg/max pooling, global
mean, amax as used by CBAM), at one FLOP per input element, and the CPU SDPA kernel.

Convention: FLOPs = 2 x MACs (one multiply-accumulate = two FLOPs). Papers mix both; the
`reproduce` tables say which one matches each paper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from edgefer.errors import EdgeferError, first_line

# What FlopCounterMode (and our additions) do not count; printed with every profile.
NOT_COUNTED = (
    "element-wise ops (activations, residual adds, attention gating multiplies), "
    "BatchNorm/LayerNorm, softmax, bias adds outside conv/linear kernels"
)


@dataclass
class Profile:
    model: str
    input_shape: list[int]
    params_total: int
    params_trainable: int
    macs: int
    flops: int
    flops_by_op: dict[str, int] = field(default_factory=dict)
    fp32_weight_bytes: int = 0
    int8_weight_bytes_estimate: int = 0
    convention: str = "FLOPs = 2 x MACs; pooling/reductions count 1 FLOP per input element"
    not_counted: str = NOT_COUNTED

    def to_dict(self) -> dict:
        return asdict(self)


def _numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def _reduction_flops(x_shape, *args, **kwargs) -> int:
    """Pooling and pooling-like reductions: one add/compare per input element."""
    return _numel(x_shape)


def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _custom_mapping() -> dict:
    import torch

    aten = torch.ops.aten
    mapping = {}
    for name in (
        "_adaptive_avg_pool2d",
        "adaptive_max_pool2d",
        "avg_pool2d",
        "max_pool2d_with_indices",
        "max_pool2d",
        "mean",
        "amax",
    ):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = _reduction_flops
    sdpa_cpu = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if sdpa_cpu is not None:
        mapping[sdpa_cpu] = _sdpa_cpu_flops
    return mapping


def count_params(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def profile_model(model, input_shape: tuple[int, ...], name: str = "model") -> Profile:
    """Count params and MACs/FLOPs of `model` on one zero input of `input_shape` (batch 1)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    if input_shape[0] != 1:
        input_shape = (1, *input_shape[1:])
    total, trainable = count_params(model)
    counter = FlopCounterMode(display=False, custom_mapping=_custom_mapping())
    x = torch.zeros(input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    except RuntimeError as exc:
        first = first_line(exc)
        raise EdgeferError(f"{name} cannot run on input shape {list(input_shape)}: {first}") from None
    finally:
        model.train(was_training)
    by_op: dict[str, int] = defaultdict(int)
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        by_op[str(op).replace("aten.", "")] += int(n)
    flops = int(counter.get_total_flops())
    return Profile(
        model=name,
        input_shape=list(input_shape),
        params_total=total,
        params_trainable=trainable,
        macs=flops // 2,
        flops=flops,
        flops_by_op=dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
        fp32_weight_bytes=4 * total,
        # int8 per-channel quantization stores ~1 byte per weight plus per-channel scales;
        # biases stay int32. An estimate, labelled as such.
        int8_weight_bytes_estimate=total,
    )


def profile_zoo_model(
    name: str,
    input_size: tuple[int, int] | None = None,
    channels: int | None = None,
    num_classes: int = 7,
    **kw,
) -> Profile:
    """Profile a zoo model at its default input unless overridden."""
    from edgefer.zoo import create_model, get_entry

    entry = get_entry(name)
    h, w = input_size or entry.input_size
    c = channels or entry.in_chans
    if h < 1 or w < 1:
        raise EdgeferError(f"--input-size must be positive, got {h} {w}")
    model = create_model(name, num_classes=num_classes, in_chans=c, **kw)
    return profile_model(model, (1, c, h, w), name=name)
