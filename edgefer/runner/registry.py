"""One lazy name -> implementation registry, for everything edgefer picks by name.

Runtimes (edgefer.runner.runtimes.RUNTIMES), energy meters (edgefer.runner.energy.METERS), face
detectors (edgefer.runner.pipeline.detectors.DETECTORS) and transports
(edgefer.deploy.transport.TRANSPORTS) are each one `Registry`: a name (and its aliases) maps to
"package.module:attribute", imported the first time the name is used, so a board with one
runtime installed, or no OpenCV, still imports the registry itself. Host code may register more
names in its own process (the torch reference runtime: edgefer.bench.torch_runner); the device
never sees those registrations.

Device side: standard library only.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any

from edgefer.errors import EdgeferError, first_line


class Registry:
    """Names of one kind of thing (`kind`: "runtime", "energy meter type", ...) -> implementations.

    Names are case-insensitive. `others` describes what else the caller accepts besides a name
    (a model file, say); it is added to the list of choices in the unknown-name error."""

    def __init__(self, kind: str, *, others: str | None = None) -> None:
        self.kind, self.others = kind, others
        self._targets: dict[str, str | Any] = {}  # canonical name -> "module:attr" or the object
        self._aliases: dict[str, str] = {}  # alias -> canonical name (every canonical name included)
        self._loaded: dict[str, Any] = {}

    def register(self, name: str, target: str | Any, *, aliases: Iterable[str] = ()) -> None:
        """`target`: "package.module:attribute", imported on first use, or the object itself.
        Registering a name again replaces it."""
        if isinstance(target, str) and target.count(":") != 1:
            raise ValueError(f"{self.kind} '{name}': target must be 'package.module:attribute', "
                             f"got {target!r}")
        key = name.lower()
        self._targets[key] = target
        self._loaded.pop(key, None)
        for alias in (key, *aliases):
            self._aliases[alias.lower()] = key

    def names(self) -> tuple[str, ...]:
        """Canonical names, in registration order (aliases left out)."""
        return tuple(self._targets)

    def spellings(self) -> tuple[str, ...]:
        """Every name accepted: canonical names and aliases (what a CLI choice check offers)."""
        return tuple(self._aliases)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._aliases

    def canonical(self, name: str) -> str:
        """The canonical name of `name` or one of its aliases; unknown -> EdgeferError."""
        key = self._aliases.get(str(name).lower())
        if key is None:
            raise self.unknown(name)
        return key

    def unknown(self, name: Any) -> EdgeferError:
        """The one-line error for a name nobody registered, with the nearest known name."""
        choices = ", ".join(self.names()) + (f", {self.others}" if self.others else "")
        close = difflib.get_close_matches(str(name).lower(), list(self._aliases), n=1, cutoff=0.6)
        guess = f"did you mean '{close[0]}'? " if close else ""
        return EdgeferError(f"unknown {self.kind} '{name}' ({guess}choose from: {choices})")

    def get(self, name: str) -> Any:
        """The implementation registered under `name`, importing its module on first use.
        A module that cannot be imported here -> EdgeferError ("... is not installed here")."""
        key = self.canonical(name)
        if key not in self._loaded:
            target = self._targets[key]
            if isinstance(target, str):
                module, _, attr = target.partition(":")
                try:
                    target = getattr(importlib.import_module(module), attr)
                except ImportError as exc:
                    raise EdgeferError(f"{self.kind} '{key}' is not installed here "
                                       f"({first_line(exc)})") from None
            self._loaded[key] = target
        return self._loaded[key]

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """get(name) called with these arguments: a new instance of what `name` names."""
        return self.get(name)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


__all__ = ["Registry"]
