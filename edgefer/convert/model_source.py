"""Where the model comes from: a zoo name or the user's own `pkg.module:factory`, plus weights.

Returns the eval-mode module together with its input spec and class names, and the facts
the manifest records (source, weights sha256).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefer.data.spec import InputSpec
from edgefer.errors import EdgeferError, first_line
from edgefer.runner.files import sha256_file

# Keys under which training scripts commonly nest the state dict in a checkpoint.
CHECKPOINT_KEYS = ("state_dict", "model", "model_state_dict")
_MAX_KEYS_SHOWN = 5


@dataclass
class ModelSource:
    model: Any  # torch.nn.Module, in eval mode
    name: str
    source: dict  # {"type": "zoo", "name": ...} | {"type": "module", "module": ..., "args": {...}}
    spec: InputSpec
    class_names: list[str]
    weights: dict | None = field(default=None)  # {"path", "sha256", "checkpoint_key"}


def _import_attr(target: str):
    """`pkg.mod:attr` or `path/to/file.py:attr` -> the attribute."""
    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr:
        raise EdgeferError(f"--module must look like my_pkg.my_file:build_model, got {target!r}")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise EdgeferError(f"--module file not found: {path}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            if "" not in sys.path:  # like `python -m`: the working directory is importable
                sys.path.insert(0, "")
            module = importlib.import_module(mod_name)
    except EdgeferError:
        raise
    except Exception as exc:  # anything the user's module raises while importing
        raise EdgeferError(f"cannot import --module {mod_name!r}: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        raise EdgeferError(f"--module {mod_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _build_user_model(target: str, args: dict):
    import torch

    factory = _import_attr(target)
    if not callable(factory):
        raise EdgeferError(f"--module {target!r} is neither a factory function nor an nn.Module class")
    try:
        model = factory(**args)
    except Exception as exc:
        raise EdgeferError(f"--module {target!r} failed with --module-args {args}: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise EdgeferError(f"--module {target!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _extract_state_dict(obj, path: Path) -> tuple[dict, str | None]:
    import torch

    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, None
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            sd = obj.get(key)
            if isinstance(sd, dict) and sd and all(isinstance(v, torch.Tensor) for v in sd.values()):
                return sd, key
    keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
    raise EdgeferError(
        f"{path}: no state dict found (a state_dict, or a dict with one of {', '.join(CHECKPOINT_KEYS)}; got {keys})"
    )


def _fmt_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
    more = f" (+{len(keys) - _MAX_KEYS_SHOWN} more)" if len(keys) > _MAX_KEYS_SHOWN else ""
    return shown + more


def load_weights(model, path: Path) -> dict:
    """Load a state dict / checkpoint into `model` strictly; mismatches name the keys."""
    import torch

    if not path.is_file():
        raise EdgeferError(f"--weights file not found: {path}")
    try:
        # weights_only: never unpickle arbitrary code from a downloaded checkpoint
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = first_line(exc)
        raise EdgeferError(
            f"cannot load --weights {path}: {first[:200]}", hint="save a state_dict: torch.save(model.state_dict(), path)"
        ) from None
    sd, key = _extract_state_dict(obj, path)
    if all(k.startswith("module.") for k in sd):  # saved from nn.DataParallel / DDP
        sd = {k[len("module."):]: v for k, v in sd.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {list(sd[k].shape)} vs model {list(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_fmt_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_fmt_keys(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {_fmt_keys(shapes)}")
        raise EdgeferError(f"--weights {path.name} do not fit the model: " + "; ".join(parts))
    model.load_state_dict(sd, strict=True)
    return {"path": str(path), "sha256": sha256_file(path), "checkpoint_key": key}


def _class_names(given: list[str] | None, default: list[str] | None, num_classes: int | None) -> list[str]:
    if given:
        return list(given)
    if default is not None:
        return list(default)
    return [f"class_{i}" for i in range(num_classes or 0)]


def _check_model_options(model, module, input_size, channels, class_names) -> None:
    if bool(model) == bool(module):
        raise EdgeferError("give exactly one of a zoo MODEL name or --module pkg.file:factory")
    if channels is not None and channels not in (1, 3):
        raise EdgeferError(f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if input_size is not None and (len(input_size) != 2 or any(not 8 <= int(v) <= 4096 for v in input_size)):
        raise EdgeferError(f"--input-size must be two sizes between 8 and 4096 pixels, got {list(input_size)}")
    if class_names is not None and (not class_names or any(not str(n).strip() for n in class_names)):
        raise EdgeferError("--class-names must be a comma-separated list of non-empty names")


@dataclass
class _Built:
    """A model built from its source, before weights and the output check."""

    net: Any
    name: str
    spec: InputSpec
    source: dict
    default_names: list[str] | None  # None: FER7 names if 7 logits, else class_0..


def _build_module_model(module: str, module_args: dict, input_size, channels, color, mean, std) -> _Built:
    from edgefer.zoo.registry import IMAGENET_MEAN, IMAGENET_STD

    if input_size is None or channels is None:
        raise EdgeferError("--module needs --input-size H W and --channels C")
    net = _build_user_model(module, module_args)
    gray = channels == 1
    spec = InputSpec(
        tuple(input_size),
        channels,
        color or ("grayscale" if gray else "rgb"),
        tuple(mean or ((0.5,) if gray else IMAGENET_MEAN)),
        tuple(std or ((0.5,) if gray else IMAGENET_STD)),
    )
    source = {"type": "module", "module": module, "args": module_args}
    return _Built(net, module.rpartition(":")[2], spec, source, None)


def _build_zoo_model(model: str, module_args: dict, input_size, channels, color, mean, std) -> _Built:
    from edgefer.zoo import create_model, get_entry

    entry = get_entry(model)
    base = InputSpec.from_entry(entry)
    c = channels or base.channels
    spec = InputSpec(
        tuple(input_size or base.input_size),
        c,
        color or (base.color if c == base.channels else ("grayscale" if c == 1 else "rgb")),
        tuple(mean or (base.mean if c == base.channels else (0.5,) * c)),
        tuple(std or (base.std if c == base.channels else (0.5,) * c)),
        base.resize,
    )
    default_names = list(entry.class_names)
    # module_args are the zoo model's keyword arguments here (e.g. head="imagenet"). The zoo entry
    # (or an explicit num_classes argument) fixes the classifier width: class names that disagree
    # with it are a mistake, not a request for another head (that would silently build a
    # different, untrained model)
    zoo_kwargs = dict(module_args)
    n = zoo_kwargs.pop("num_classes", len(default_names))
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000:
        raise EdgeferError(f"num_classes must be an integer between 1 and 100000, got {n!r}")
    if n != len(default_names):
        default_names = None  # another width: names come from --class-names or class_0..
    net = create_model(model, num_classes=n, in_chans=c, **zoo_kwargs)
    source = {"type": "zoo", "name": model, "paper": entry.paper}
    if module_args:
        source["args"] = module_args
    return _Built(net, model, spec, source, default_names)


def _count_logits(net, name: str, spec: InputSpec) -> int:
    """Run the model once on zeros: the classifier width decides how many classes there are."""
    import torch

    with torch.no_grad():
        try:
            out = net(torch.zeros(spec.shape(1)))
        except Exception as exc:
            first = first_line(exc)
            raise EdgeferError(f"{name} cannot run on input {list(spec.shape(1))}: {first[:200]}") from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        got = getattr(out, "shape", type(out).__name__)
        raise EdgeferError(f"{name} must return one (batch, classes) logits tensor, got {got}")
    return int(out.shape[1])


def resolve_model(
    *,
    model: str | None = None,
    module: str | None = None,
    module_args: dict | None = None,
    weights: Path | None = None,
    input_size: tuple[int, int] | None = None,
    channels: int | None = None,
    class_names: list[str] | None = None,
    color: str | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> ModelSource:
    """Build the model (zoo or user module), load weights, and settle the input spec."""
    from edgefer.zoo.registry import FER7_CLASSES

    _check_model_options(model, module, input_size, channels, class_names)
    if module:
        built = _build_module_model(module, module_args or {}, input_size, channels, color, mean, std)
    else:
        built = _build_zoo_model(model, module_args or {}, input_size, channels, color, mean, std)
    built.net.eval()
    wrec = load_weights(built.net, Path(weights)) if weights else None
    n_out = _count_logits(built.net, built.name, built.spec)
    default_names = built.default_names
    if default_names is None and n_out == len(FER7_CLASSES):
        default_names = list(FER7_CLASSES)
    names = _class_names(class_names, default_names, n_out)
    if len(names) != n_out:
        raise EdgeferError(f"{len(names)} class names given but the model outputs {n_out} logits")
    return ModelSource(built.net, built.name, built.source, built.spec, names, wrec)
