"""Model registry: every zoo architecture is one decorated factory function.

    @register_model(paper="000_2f938d631e59cb84", input_size=(224, 224), in_chans=3, ...)
    def mobilenetv3_large(num_classes=7, in_chans=3, **kw) -> nn.Module: ...

`create_model(name, num_classes=7, in_chans=None, seed=None, **kw)` builds it (deterministic
for a given seed), `list_models()` lists names, `get_entry(name)` returns its `ModelEntry`
(paper, default input, preprocessing, class names).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Callable

from edgefer.errors import EdgeferError

# FER2013 / most FER papers' 7 classes, in FER2013 label order.
FER7_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How raw face images become the model's input tensor (NCHW float32).

    pixel -> resize to input size -> (grayscale | rgb) -> /255 -> (x - mean) / std.
    """

    color: str = "rgb"  # "rgb" or "grayscale"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize: str = "bilinear"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable = field(repr=False, compare=False)
    paper: str  # seed file name without .txt, e.g. "000_2f938d631e59cb84"
    input_size: tuple[int, int]  # (H, W)
    in_chans: int
    preprocessing: Preprocessing
    class_names: tuple[str, ...] = FER7_CLASSES
    description: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.in_chans, *self.input_size)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "paper": self.paper,
            "input_size": list(self.input_size),
            "in_chans": self.in_chans,
            "preprocessing": self.preprocessing.to_dict(),
            "class_names": list(self.class_names),
            "description": self.description,
        }


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    *,
    paper: str,
    input_size: tuple[int, int],
    in_chans: int,
    preprocessing: Preprocessing | None = None,
    class_names: tuple[str, ...] = FER7_CLASSES,
    description: str = "",
):
    """Decorator: add a factory `fn(num_classes=7, in_chans=..., **kw) -> nn.Module`."""

    def deco(fn: Callable) -> Callable:
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        pre = preprocessing
        if pre is None:
            pre = (
                Preprocessing(color="grayscale", mean=(0.5,), std=(0.5,))
                if in_chans == 1
                else Preprocessing()
            )
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(
            name=name,
            factory=fn,
            paper=paper,
            input_size=tuple(input_size),
            in_chans=in_chans,
            preprocessing=pre,
            class_names=tuple(class_names),
            description=description or (doc[0] if doc else ""),
        )
        return fn

    return deco


def _ensure_loaded() -> None:
    # Importing the family modules runs their @register_model decorators.
    from edgefer.zoo import _families  # noqa: F401


def list_models() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `edgefer models`"
        raise EdgeferError(f"unknown model {name!r}", hint=hint)
    return _REGISTRY[name]


# Arguments every factory takes itself; they have their own options (--num-classes, --channels).
_FIXED_ARGS = ("num_classes", "in_chans")


def accepted_kwargs(name: str) -> list[str]:
    """Keyword arguments zoo model `name` accepts beyond num_classes/in_chans: the factory's own
    plus those of the module class it forwards `**kw` to (read from the class on the meta device,
    so nothing is allocated)."""
    import inspect

    import torch

    entry = get_entry(name)
    names: list[str] = []

    def add(fn) -> bool:
        forwards = False
        for p in inspect.signature(fn).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                forwards = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in (*_FIXED_ARGS, "self"):
                if p.name not in names:
                    names.append(p.name)
        return forwards

    if add(entry.factory):
        with torch.device("meta"):
            add(type(entry.factory()).__init__)
    return names


def check_kwargs(name: str, kw: dict) -> None:
    """One-line error for a keyword argument the model does not take, listing the ones it does."""
    fixed = [k for k in kw if k in _FIXED_ARGS]
    if fixed:
        raise EdgeferError(f"model {name}: {fixed[0]} is set with --num-classes/--channels, not as a model argument")
    accepted = accepted_kwargs(name)
    unknown = [k for k in kw if k not in accepted]
    if unknown:
        raise EdgeferError(f"model {name} takes no argument {unknown[0]!r}",
                           hint=f"it accepts: {', '.join(accepted) or 'none'}")


def create_model(name: str, num_classes: int = 7, in_chans: int | None = None, seed: int | None = 0, **kw):
    """Build zoo model `name` in eval mode. Same seed -> same weights.

    `kw` are the model's own keyword arguments (`accepted_kwargs(name)`): an unknown one, or a
    value the model rejects, is a one-line EdgeferError."""
    import torch

    entry = get_entry(name)
    if kw:
        check_kwargs(name, kw)
    if in_chans is None:
        in_chans = entry.in_chans
    if num_classes < 1:
        raise EdgeferError(f"--num-classes must be >= 1, got {num_classes}")
    if in_chans < 1:
        raise EdgeferError(f"--channels must be >= 1, got {in_chans}")
    try:
        if seed is None:
            model = entry.factory(num_classes=num_classes, in_chans=in_chans, **kw)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = entry.factory(num_classes=num_classes, in_chans=in_chans, **kw)
    except (TypeError, ValueError, KeyError) as exc:
        if not kw:
            raise
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise EdgeferError(f"model {name} rejects {args}: {type(exc).__name__}: {first_line}") from None
    return model.eval()
