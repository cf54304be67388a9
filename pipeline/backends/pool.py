"""Several servers behind one backend: the one concurrency gate of the pipeline.

A :class:`ServerPool` holds one backend per server (all of one kind). Each server runs at most
``capabilities.slots`` jobs at once (a GPU server: one); a job goes to the least busy healthy
server, waits in line (first come, first served; cancel-aware; told "waiting for a server: N
ahead" through its progress; at most ``max_wait`` s, then ``Busy``) when all are busy, and fails
over to another server when its server turns out to be unreachable, even mid-request. The line
is bounded: with ``max_waiting`` jobs already waiting, the next is refused with ``Busy`` at once,
so the threads of every door (UI, Gradio API, REST, MCP) waiting here stay bounded too. A
background thread checks every server's health every ``health_interval`` s, so a dead server
is skipped and a revived one comes back. When none is healthy the error lists each server and
what is wrong with it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BackendCancelled, BackendError, BackendUnavailable, Busy, RateLimited
from ._worker import CANCELLED
from .base import (
    Capabilities,
    ImageBackend,
    Painting,
    PaintRequest,
    ProgressCallback,
    close_backend,
    no_progress,
)

__all__ = ["Member", "ServerPool", "waiting_message"]

_BUSY = str(Busy())
"""The studio's one busy message; the pool adds why in brackets."""
_FAILOVER = (BackendUnavailable, RateLimited)
"""Errors after which the same job is sent to another server."""


def waiting_message(ahead: int) -> str:
    """The progress message of a job waiting in line."""
    return f"waiting for a server: {ahead} ahead"


@dataclass(eq=False)
class _Waiter:
    """A job waiting in line, with the servers that already failed it."""

    failed: list[Member]


@dataclass
class Member:
    """One server of the pool and what the pool knows about it."""

    backend: ImageBackend
    busy: int = 0
    healthy: bool = True
    problem: str = ""
    served: int = 0

    @property
    def server(self) -> str:
        return self.backend.server or self.backend.name

    def status(self) -> dict[str, Any]:
        return {"server": self.server, "healthy": self.healthy, "busy": self.busy,
                "served": self.served, "problem": self.problem or None}


class ServerPool:
    """An :class:`~.base.ImageBackend` spreading jobs over ``backends`` (one per server)."""

    def __init__(
        self,
        backends: Sequence[ImageBackend],
        *,
        health_interval: float = 30.0,
        max_wait: float = 300.0,
        poll_interval: float = 0.05,
        max_waiting: int | None = None,
    ) -> None:
        if not backends:
            raise ValueError("a pool needs at least one server")
        self.members = [Member(backend) for backend in backends]
        first = backends[0]
        self.name = first.name
        self._health_interval = health_interval
        self._max_wait = max_wait
        self._poll = poll_interval
        self._max_waiting = max_waiting
        self._line: list[_Waiter] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._health_thread: threading.Thread | None = None

    # --- the ImageBackend protocol --------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self.members[0].backend.capabilities

    @property
    def model(self) -> str:
        return self.members[0].backend.model

    @property
    def server(self) -> str | None:
        servers = [m.backend.server for m in self.members if m.backend.server]
        return ", ".join(servers) if servers else None

    @property
    def slots(self) -> int:
        """Jobs the whole pool runs at once."""
        return sum(max(1, m.backend.capabilities.slots) for m in self.members)

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return self.members[0].backend.paint_size(request)

    def check(self) -> None:
        """Check every server now; raise when none is healthy."""
        self.check_all()
        with self._changed:
            if not any(m.healthy for m in self.members):
                raise self._none_healthy()

    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        """Paint on the least busy healthy server; on an unreachable one, try the next."""
        report = progress or no_progress
        token = cancel if cancel is not None else threading.Event()
        self.start()
        failed: list[Member] = []
        while True:
            member = self._acquire(token, failed, report)
            try:
                painting = member.backend.generate(request, report, token)
            except _FAILOVER as exc:
                self._set_health(member, False, str(exc))
                failed.append(member)
                if len(failed) >= len(self.members):
                    if len(self.members) == 1:
                        raise
                    raise self._none_healthy() from None
                report(0.0, f"{member.server} failed; trying another server")
                continue
            finally:
                self._release(member)
            with self._changed:
                member.served += 1
            return painting

    # --- health ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the periodic health checks (once; a no-op for a pool of one)."""
        if len(self.members) < 2:
            return
        with self._changed:
            if self._health_thread is not None or self._stop.is_set():
                return
            self._health_thread = threading.Thread(
                target=self._health_loop, name=f"{self.name}-pool-health", daemon=True
            )
            self._health_thread.start()

    def close(self) -> None:
        """Stop the health checks and close each server's backend (its HTTP client)."""
        self._stop.set()
        thread = self._health_thread
        if thread is not None:
            thread.join(timeout=5)
        for member in self.members:
            close_backend(member.backend)

    def check_all(self) -> None:
        """Check each server once (the health thread does this every interval)."""
        for member in self.members:
            self._check(member)

    def status(self) -> list[dict[str, Any]]:
        """Each server's health and load (for the authenticated /healthz detail)."""
        with self._changed:
            return [m.status() for m in self.members]

    def _health_loop(self) -> None:
        while not self._stop.wait(self._health_interval):
            self.check_all()

    def _check(self, member: Member) -> None:
        try:
            member.backend.check()
        except BackendError as exc:
            self._set_health(member, False, str(exc))
        except Exception as exc:  # a health check never kills the checking thread
            self._set_health(member, False, f"health check failed ({type(exc).__name__})")
        else:
            self._set_health(member, True, "")

    def _set_health(self, member: Member, healthy: bool, problem: str) -> None:
        with self._changed:
            member.healthy, member.problem = healthy, problem
            self._changed.notify_all()

    def _none_healthy(self) -> BackendUnavailable:
        kind = self.name
        lines = "; ".join(f"{m.server}: {m.problem or 'unhealthy'}" for m in self.members)
        return BackendUnavailable(
            f"None of the {len(self.members)} {kind} servers is healthy ({lines}). "
            "Start one, or fix the server list in the settings."
        )

    # --- the gate -------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Jobs waiting in line for a server now."""
        with self._changed:
            return len(self._line)

    def _free_for(self, waiter: _Waiter) -> tuple[list[Member], list[Member], list[Member]]:
        """(candidates, healthy, free) servers for ``waiter``; call with the lock held."""
        candidates = [m for m in self.members if m not in waiter.failed]
        healthy = [m for m in candidates if m.healthy]
        free = [m for m in healthy if m.busy < max(1, m.backend.capabilities.slots)]
        return candidates, healthy, free

    def _turn(self, waiter: _Waiter) -> int:
        """Jobs ahead of ``waiter`` in line (0: it is next)."""
        ahead = 0
        for other in self._line:
            if other is waiter:
                return ahead
            ahead += 1
        return ahead

    def _acquire(self, token: threading.Event, failed: list[Member],
                 report: ProgressCallback) -> Member:
        """The least busy healthy server with a free slot, not among ``failed``, in turn."""
        deadline = time.monotonic() + self._max_wait
        waiter = _Waiter(failed)
        with self._changed:
            limit = self._max_waiting
            if limit is not None and len(self._line) >= limit and not self._free_for(waiter)[2]:
                raise Busy(f"{_BUSY} (The line for a {self.name} server is full: "
                           f"{len(self._line)} waiting.)")
            self._line.append(waiter)
        try:
            return self._wait_turn(waiter, token, deadline, report)
        finally:
            with self._changed:
                self._line.remove(waiter)
                self._changed.notify_all()

    def _wait_turn(self, waiter: _Waiter, token: threading.Event, deadline: float,
                   report: ProgressCallback) -> Member:
        told = -1
        rechecked = False
        while True:
            if token.is_set():
                raise BackendCancelled(CANCELLED)
            with self._changed:
                candidates, healthy, free = self._free_for(waiter)
                ahead = self._turn(waiter)
                # A job ahead that no free server suits (all failed it) does not hold the line.
                blocking = [w for w in self._line[:ahead] if self._free_for(w)[2]]
                if free and not blocking:
                    chosen = min(free, key=lambda m: (m.busy, m.served))
                    chosen.busy += 1
                    return chosen
                if healthy:
                    if time.monotonic() >= deadline:
                        raise Busy(f"{_BUSY} (Every {self.name} server stayed busy for "
                                   f"{self._max_wait:g} s.)")
                    if ahead != told:
                        report(0.0, waiting_message(ahead))
                        told = ahead
                    self._changed.wait(self._poll)
                    continue
            # No healthy server left: look again at the ones not failed for this job, once.
            if not rechecked and candidates:
                rechecked = True
                for member in candidates:
                    self._check(member)
                continue
            with self._changed:
                raise self._none_healthy()

    def _release(self, member: Member) -> None:
        with self._changed:
            member.busy -= 1
            self._changed.notify_all()

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.close()
