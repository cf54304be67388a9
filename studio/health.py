"""The backend's health as the studio knows it: checked at start and every
``FLYER_HEALTH_INTERVAL`` seconds in the background, read by the header.

:class:`HealthMonitor` keeps the last :class:`pipeline.health.Health` of one check function
(``pipeline.health.backend_health`` bound to the service's backend, or whatever a server pool
offers instead). ``run_every`` is the lifespan's background task; a change is logged once (a
warning when the backend goes down, a line when it is back). Reading ``latest`` costs nothing,
so the header can ask on every page load.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time

from pipeline.health import Health, HealthCheck, backend_health
from pipeline.service import FlyerService

__all__ = ["HealthMonitor", "service_health_check"]

logger = logging.getLogger(__name__)


def service_health_check(service: FlyerService) -> HealthCheck:
    """The check for ``service``'s backend (its own ``check()``, with its own credentials)."""
    return functools.partial(backend_health, service.backend)


class HealthMonitor:
    """The last answer of ``check``; thread-safe. ``check`` must not raise (backend_health
    does not); if it does, the backend counts as down with that error."""

    def __init__(self, check: HealthCheck, backend: str, interval: float = 30.0) -> None:
        self._check = check
        self.backend = backend
        self.interval = interval
        self._latest: Health | None = None
        self._lock = threading.Lock()
        self._checking = threading.Lock()

    @property
    def latest(self) -> Health | None:
        """The last answer; None before the first check ends."""
        with self._lock:
            return self._latest

    def refresh(self) -> Health:
        """Check now (blocking); one check at a time, a caller that waited gets its answer."""
        with self._checking:
            try:
                health = self._check()
            except Exception as exc:  # a check must never end the monitor
                logger.exception("The backend health check failed")
                health = Health(self.backend, False, "not working", str(exc) or type(exc).__name__,
                                checked_at=time.time())
            with self._lock:
                previous, self._latest = self._latest, health
        self._log_change(previous, health)
        return health

    def fresh(self, max_age: float) -> Health:
        """The last answer if at most ``max_age`` seconds old, else a new check."""
        latest = self.latest
        if latest is not None and time.time() - latest.checked_at <= max_age:
            return latest
        return self.refresh()

    async def run_every(self) -> None:
        """Check now, then every ``interval`` seconds, until cancelled."""
        while True:
            await asyncio.to_thread(self.refresh)
            await asyncio.sleep(self.interval)

    @staticmethod
    def _log_change(previous: Health | None, health: Health) -> None:
        if previous is not None and (previous.up, previous.status) == (health.up, health.status):
            return
        where = f" at {health.server}" if health.server else ""
        if health.up:
            if previous is not None:
                logger.info("The %s backend%s is back up", health.backend, where)
            return
        logger.warning("The %s backend%s is %s: %s", health.backend, where, health.status,
                       health.problem)
