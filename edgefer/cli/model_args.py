"""`--model-arg KEY=VALUE` (repeatable): keyword arguments of a zoo model on the command line.

Values are read as YAML scalars, so `head=imagenet` is a string, `ca=true` a bool, `dropout=0.2`
a float and `dka_kernels=[3,5,7]` a list; which keys a model takes is checked by the zoo
registry (an unknown one is a one-line error listing the accepted ones).
"""

from __future__ import annotations

import re

import yaml

from edgefer.errors import EdgeferError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HELP = ("Keyword argument of the model, KEY=VALUE (value read as YAML: head=imagenet, act=hardswish, ca=true); "
        "repeat for several.")


def parse_model_args(items: list[str] | None, flag: str = "--model-arg") -> dict:
    args: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise EdgeferError(f"{flag} takes KEY=VALUE (e.g. head=imagenet), got {item!r}")
        if key in args:
            raise EdgeferError(f"{flag} {key} given twice")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise EdgeferError(f"{flag} {key}: value {text!r} is not a YAML scalar or list") from None
        if isinstance(value, dict):
            raise EdgeferError(f"{flag} {key}: value {text!r} is a mapping; give a scalar or a [list]")
        args[key] = value
    return args
