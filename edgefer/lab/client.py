"""A synchronous labgrid client: one gRPC session per coordinator on its own event-loop thread.

labgrid's `ClientSession` is asyncio (grpc.aio) and wants a single event loop; edgefer's board
workers are threads. So each coordinator gets one session running on a private loop thread and
the workers call it through `asyncio.run_coroutine_threadsafe`.

Reserving follows labgrid's own scheduler: a reservation with a filter (`name=PLACE` or the
profile's tags) waits until the coordinator allocates a free place to it; then the place is
acquired (locked for this user), its resources read, and on release both the place and the
reservation are given back. A place held by someone else therefore blocks until they release
it or `timeout_s` passes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from edgefer.errors import EdgeferError

DEFAULT_PORT = 20408  # labgrid-coordinator's default
POLL_S = 0.5


def _labgrid():
    try:
        from labgrid.remote import client, common
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb
    except ImportError:
        raise EdgeferError("labgrid is not installed", hint="pip install 'edgefer[labgrid]'") from None
    return client, common, pb


class _WithoutLabgrid(logging.Handler):
    """Python's last-resort output (WARNING+ to stderr) for every record but labgrid's own."""

    def emit(self, record: logging.LogRecord) -> None:
        if f"{os.sep}labgrid{os.sep}" not in record.pathname and logging.lastResort is not None:
            logging.lastResort.handle(record)


def _quiet_labgrid_logging() -> None:
    # labgrid reports a refused connection or a closed stream with logging.error on the root
    # logger; edgefer says it in one EdgeferError line instead. Only when nobody configured logging.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(_WithoutLabgrid(logging.WARNING))


@dataclass
class Lease:
    """A place held by this client, with the board's network service."""

    place: str
    token: str
    coordinator: str
    address: str
    username: str | None
    port: int
    proxy: str | None = None  # the exporter host when the lab only reaches the board through it
    acquired_by: str = ""
    waited_s: float = 0.0
    tags: dict = field(default_factory=dict)


class LabClient:
    """One coordinator connection; thread-safe synchronous methods."""

    def __init__(self, address: str, connect_timeout_s: float = 10.0):
        self._client, self._common, self._pb = _labgrid()
        self.address = address
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"labgrid {address}", daemon=True)
        self._thread.start()
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()
        _quiet_labgrid_logging()
        try:
            self.session = self._call(self._connect(connect_timeout_s))
        except BaseException:
            self._stop_loop()
            raise

    # ------------------------------------------------------------ plumbing

    def _call(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self, timeout_s: float):
        from labgrid.util.proxy import proxymanager

        grpc_address = proxymanager.get_grpc_address(self.address, default_port=DEFAULT_PORT)
        session = self._client.ClientSession(grpc_address, asyncio.get_running_loop())
        try:
            await asyncio.wait_for(session.start(), timeout_s)
        except (asyncio.TimeoutError, self._client.Error, OSError) as exc:
            with contextlib.suppress(Exception):
                await session.close()
            why = "no answer" if isinstance(exc, asyncio.TimeoutError) else "connection refused or host unknown"
            raise EdgeferError(f"labgrid coordinator {self.address} unreachable ({why})",
                               hint="check the address and that labgrid-coordinator runs there") from None
        return session

    def _rpc_error(self, what: str, exc: Exception) -> EdgeferError:
        details = getattr(exc, "details", None)
        text = details() if callable(details) else str(exc)
        return EdgeferError(f"labgrid coordinator {self.address}: {what}: {text}")

    # ------------------------------------------------------------ places

    def places(self) -> list[dict]:
        """Every place: name, tags, comment, who holds it, its matches and network services."""
        return self._call(self._places())

    async def _places(self) -> list[dict]:
        await self.session.sync_with_coordinator()
        out = []
        for name, p in sorted(self.session.places.items()):
            out.append({
                "name": name, "tags": dict(p.tags), "comment": p.comment or None, "acquired": p.acquired,
                "reserved": bool(p.reservation), "matches": [repr(m) for m in p.matches],
                "network_services": self._matching_services(p),
            })
        return out

    def _matching_services(self, place) -> list[dict]:
        """NetworkService resources the place matches (read before acquiring: where the board is)."""
        found = []
        for exporter, groups in sorted(self.session.resources.items()):
            for group_name, group in sorted(groups.items()):
                for resource_name, entry in sorted(group.items()):
                    if entry.cls != "NetworkService":
                        continue
                    if place.getmatch((exporter, group_name, entry.cls, resource_name)) is None:
                        continue
                    args = entry.args
                    found.append({"resource": f"{exporter}/{group_name}/{resource_name}", "address": args.get("address"),
                                  "username": args.get("username"), "port": int(args.get("port") or 22),
                                  "available": bool(entry.avail)})
        return found

    def _check_request(self, place: str | None, tags: dict | None) -> None:
        places = self.session.places
        if place is not None and place not in places:
            known = ", ".join(sorted(places)) or "none"
            raise EdgeferError(f"unknown labgrid place {place!r} on {self.address}", hint=f"places: {known}")
        if tags:
            if not any(all(p.tags.get(k) == v for k, v in tags.items()) for p in places.values()):
                want = ",".join(f"{k}={v}" for k, v in tags.items())
                raise EdgeferError(f"no labgrid place on {self.address} has tags {want}")

    def check(self, place: str | None = None, tags: dict | None = None) -> None:
        """Raise EdgeferError now if the place (or a place with the tags) does not exist."""
        self._call(self.session.sync_with_coordinator())
        self._check_request(place, tags)

    # ------------------------------------------------------------ reserve / acquire / release

    def acquire(self, place: str | None = None, tags: dict | None = None, timeout_s: float = 300.0,
                resource: str | None = None, cancel: threading.Event | None = None) -> Lease:
        """Reserve, wait up to timeout_s for the place, acquire it and read its NetworkService."""
        future = asyncio.run_coroutine_threadsafe(self._acquire(place, tags, timeout_s, resource), self.loop)
        while True:  # wait here (not in the loop) so a cancel request or Ctrl-C is seen promptly
            try:
                lease = future.result(timeout=POLL_S)
                break
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    raise EdgeferError(f"labgrid place {place or tags}: cancelled while waiting") from None
            except BaseException:
                if not future.done():
                    future.cancel()
                raise
        with self._lock:
            self._leases[lease.token] = lease
        return lease

    async def _acquire(self, place: str | None, tags: dict | None, timeout_s: float, resource: str | None) -> Lease:
        pb, common = self._pb, self._common
        await self.session.sync_with_coordinator()
        self._check_request(place, tags)
        filt = {"name": place} if place is not None else dict(tags or {})
        try:
            resp = await self.session.stub.CreateReservation(
                pb.CreateReservationRequest(filters={"main": pb.Reservation.Filter(filter=filt)}, prio=0))
        except Exception as exc:
            raise self._rpc_error("reserve", exc) from None
        res = common.Reservation.from_pb2(resp.reservation)
        started = time.monotonic()
        acquired = False
        try:
            while res.state is common.ReservationState.waiting:
                if time.monotonic() - started > timeout_s:
                    raise EdgeferError(self._held_message(place, tags, timeout_s))
                await asyncio.sleep(POLL_S)
                resp = await self.session.stub.PollReservation(pb.PollReservationRequest(token=res.token))
                res = common.Reservation.from_pb2(resp.reservation)
            if res.state not in (common.ReservationState.allocated, common.ReservationState.acquired):
                raise EdgeferError(f"labgrid reservation for {place or filt} ended {res.state.name}")
            name = res.allocations["main"][0]
            await self.session.stub.AcquirePlace(pb.AcquirePlaceRequest(placename=name))
            acquired = True
            await self.session.sync_with_coordinator()
            lease = self._lease(name, res.token, resource)
            lease.waited_s = time.monotonic() - started
            return lease
        except BaseException as exc:  # incl. cancellation: never leave a place or reservation behind
            if acquired:
                with contextlib.suppress(Exception):
                    await self.session.stub.ReleasePlace(pb.ReleasePlaceRequest(placename=name))
            with contextlib.suppress(Exception):
                await self.session.stub.CancelReservation(pb.CancelReservationRequest(token=res.token))
            if isinstance(exc, (EdgeferError, asyncio.CancelledError)) or not hasattr(exc, "details"):
                raise
            raise self._rpc_error(f"acquire {place or filt}", exc) from None

    def _held_message(self, place: str | None, tags: dict | None, timeout_s: float) -> str:
        if place is not None:
            p = self.session.places.get(place)
            me = f"{self.session.gethostname()}/{self.session.getuser()}"
            if p is not None and p.acquired == me:  # e.g. an earlier `labgrid-client acquire` of yours
                return (f"labgrid place {place} is held by you ({me}) outside this run: not free within "
                        f"{timeout_s:g} s (labgrid-client -p {place} release)")
            who = f"held by {p.acquired}" if p is not None and p.acquired else "reserved by another client"
            return f"labgrid place {place} is {who}: not free within {timeout_s:g} s"
        want = ",".join(f"{k}={v}" for k, v in (tags or {}).items())
        held = [f"{n} by {p.acquired}" for n, p in sorted(self.session.places.items())
                if all(p.tags.get(k) == v for k, v in (tags or {}).items()) and p.acquired]
        return f"no labgrid place with tags {want} free within {timeout_s:g} s (held: {', '.join(held) or 'reserved'})"

    def _lease(self, name: str, token: str, resource: str | None) -> Lease:
        place = self.session.places[name]
        services = [(n, r) for (n, cls), r in self.session.get_target_resources(place).items() if cls == "NetworkService"]
        if resource is not None:
            services = [(n, r) for n, r in services if n == resource]
        if len(services) != 1:
            what = f"NetworkService named {resource!r}" if resource else "exactly one NetworkService resource"
            raise EdgeferError(f"labgrid place {name} has {len(services)} NetworkService resources, needs {what}",
                               hint="add one with: labgrid-client -p PLACE add-match EXPORTER/GROUP/NetworkService")
        n, r = services[0]
        args, extra = r.args, r.extra or {}
        return Lease(place=name, token=token, coordinator=self.address, address=str(args["address"]),
                     username=args.get("username") or None, port=int(args.get("port") or 22),
                     proxy=extra.get("proxy") if extra.get("proxy_required") else None,
                     acquired_by=place.acquired or "", tags=dict(place.tags))

    def release(self, lease: Lease) -> None:
        """Give the place and its reservation back (idempotent)."""
        with self._lock:
            if self._leases.pop(lease.token, None) is None:
                return
        self._call(self._release(lease), timeout=30)

    async def _release(self, lease: Lease) -> None:
        pb = self._pb
        try:
            await self.session.stub.ReleasePlace(pb.ReleasePlaceRequest(placename=lease.place))
            await self.session.stub.CancelReservation(pb.CancelReservationRequest(token=lease.token))
            await self.session.sync_with_coordinator()
        except Exception as exc:
            raise self._rpc_error(f"release {lease.place}", exc) from None

    def close(self) -> None:
        """Release whatever is still held, then disconnect."""
        for lease in list(self._leases.values()):
            with contextlib.suppress(Exception):
                self.release(lease)
        with contextlib.suppress(Exception):
            self._call(self._close(), timeout=10)
        self._stop_loop()

    async def _close(self) -> None:
        await self.session.stop()
        await self.session.close()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class _Clients:
    """Coordinator address -> LabClient, opened on first use, all closed by close_all()."""

    def __init__(self) -> None:
        self._clients: dict[str, LabClient] = {}
        self._lock = threading.Lock()

    def get(self, address: str) -> LabClient:
        with self._lock:
            if address not in self._clients:
                self._clients[address] = LabClient(address)
            return self._clients[address]

    def close_all(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            c.close()


clients = _Clients()


def list_places(address: str) -> list[dict]:
    """The places of a coordinator with tags, holder and network services (`targets list --labgrid`)."""
    c = LabClient(address)
    try:
        return c.places()
    finally:
        c.close()
