"""Checks of option values shared by the CLI commands: a bad value is one line naming the option."""

from __future__ import annotations

from typing import Iterable

from edgefer.errors import EdgeferError
from edgefer.runner.runtimes import RUNTIMES
from edgefer.runner.settings import ENERGY_MODES, PRECISIONS

# the device runtimes' names and aliases, and the host-only eager reference (edgefer.bench.torch_runner)
RUNTIME_CHOICES = (*RUNTIMES.spellings(), "torch")
PRECISION_CHOICES = PRECISIONS  # the settings' own list (edgefer.runner.settings), so CLI and runner agree
ENERGY_CHOICES = ENERGY_MODES


def check_choice(option: str, value: str | None, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value is not None and value not in choices:
        raise EdgeferError(f"invalid {option} {value!r}", hint=f"choose from: {', '.join(choices)}")

