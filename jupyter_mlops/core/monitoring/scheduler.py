"""AlertScheduler: evaluate every deployment's alert rules on a timer, so an unwatched deployment still alerts."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Evaluator(Protocol):
    """What the scheduler drives: ``Monitoring`` (rule evaluation over every deployment, and closing)."""

    def evaluate_all(self) -> int:
        """Evaluate every deployment's rules; returns how many alerts fired."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Wait for the background work (webhook deliveries) started by evaluations."""
        ...


class AlertScheduler:
    """Evaluate every deployment's alert rules every ``interval`` seconds in a background thread.

    Without it, rules are evaluated only when alerts, health or a report are read: a deployment nobody looks at
    would never alert. It runs where the store is at hand outside the serving interpreter (the serving daemon's
    log writer process) and shares ``Monitoring.evaluate`` with the on-read path; ``MonitoringStore.fire``
    records each firing once whichever path gets there first.
    """

    def __init__(self, monitoring: Evaluator, interval: float) -> None:
        self.monitoring = monitoring
        self.interval = float(interval)
        self.rounds = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AlertScheduler:
        """Start evaluating in a daemon thread; returns itself."""
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="mlops-alert-scheduler", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.monitoring.evaluate_all()
            except Exception:  # the store may be briefly unavailable: the next round retries
                log.exception("Scheduled alert evaluation failed")
            self.rounds += 1
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the round in progress, and wait for webhook deliveries it started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.monitoring.close(timeout)
