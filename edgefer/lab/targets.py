"""A labgrid profile + a held place = an SSH target: resources (where) apart from drivers (how).

The profile's `connection: {type: labgrid, ...}` keeps how edgefer talks to the board (SSH key,
known_hosts, host-key policy, python, workdir); the place's NetworkService says where the board
is (address, username, port) and only counts while the place is held.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Callable, Iterator, TypeVar

from edgefer.errors import EdgeferError
from edgefer.lab.client import Lease, clients
from edgefer.targets.schema import SSHConnection, Target

T = TypeVar("T")


def _unset_variable(value: str | None) -> str | None:
    m = re.search(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", value or "")
    return m.group(1) if m else None


def check_connection(target: Target) -> None:
    """A $VAR the profile names but the environment lacks is a one-line error, not a strange path."""
    c = target.connection
    for field in ("coordinator", "key", "known_hosts"):
        var = _unset_variable(getattr(c, field))
        if var:
            raise EdgeferError(f"target {target.name}: connection.{field} uses ${var}, which is not set")


def board_target(target: Target, lease: Lease) -> Target:
    """The profile with its labgrid connection replaced by SSH to the leased board."""
    c = target.connection
    ssh = SSHConnection(type="ssh", host=lease.address, port=lease.port, user=c.user or lease.username, key=c.key,
                        known_hosts=c.known_hosts, jump=c.jump or lease.proxy,
                        strict_host_key_checking=c.strict_host_key_checking, connect_timeout_s=c.connect_timeout_s)
    board = target.model_copy(update={"connection": ssh, "workdir": target.workdir.replace("{place}", lease.place)})
    board._path = target.path
    return board


@contextlib.contextmanager
def leased_target(target: Target, cancel: threading.Event | None = None,
                  on_wait: Callable[[str], None] | None = None) -> Iterator[tuple[Target, Lease]]:
    """Hold the profile's place for the duration of the block; released on error and Ctrl-C too."""
    check_connection(target)
    c = target.connection
    client = clients.get(c.coordinator)
    if on_wait is not None:
        on_wait(f"{target.name}: waiting for labgrid place {c.place or c.tags}")
    lease = client.acquire(place=c.place, tags=c.tags, timeout_s=c.acquire_timeout_s, resource=c.resource,
                           cancel=cancel)
    try:
        yield board_target(target, lease), lease
    finally:
        client.release(lease)


def is_labgrid(target) -> bool:
    from edgefer.targets import load_target

    return load_target(target).connection.type == "labgrid"


def bench_on_place(target: str | Target, bench_on_board: Callable[[Target], T]) -> T:
    """`bench_on_board(board)` with the labgrid profile's place held for the whole call; `board` is
    the profile with an SSH connection to the leased board."""
    from edgefer.targets import load_target

    with leased_target(load_target(target)) as (board, _lease):
        return bench_on_board(board)
