"""The inference log writer: completed requests leave the hot path through a bounded queue to a batched writer.

``InferenceLog`` is a ``ServingContext.on_request`` observer. On the event loop it does one ``put_nowait``; when
the queue is full the record is dropped and counted (never blocking serving). A background thread takes up to
``batch_size`` records or whatever arrived within ``flush_interval`` seconds, samples and redacts their payloads,
and writes them in one transaction (SQLite in WAL mode, or PostgreSQL). A kill -9 loses at most the records not
yet committed: the queue and the batch being built.

The serving daemon does not run this writer in its own interpreter (building Arrow blobs and writing holds the
GIL its event loop needs): ``log_writer.for_daemon`` hands records to a writer process that runs an
``InferenceLog`` there (log_writer imports this module, never the reverse). In-process use stays possible where a
separate process is not (e.g. Ray replicas).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..core.monitoring.storage import MonitoringStore, Rows
from ..core.store.risk_tables import RetentionRow
from .records import RequestRecord, capped

log = logging.getLogger(__name__)

Redactor = Callable[[pd.DataFrame], pd.DataFrame | None]
PURGE_INTERVAL = 600.0


def load_redactor(spec: str) -> Redactor | None:
    """``'package.module:function'`` -> the function (the configurable redaction hook), or None when empty."""
    if not spec:
        return None
    module, _, attr = spec.partition(":")
    fn = getattr(importlib.import_module(module), attr or "redact")
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn


class InferenceLog:
    """Bounded queue + batched writer thread. Call ``start()`` once and ``close()`` at shutdown (flushes)."""

    def __init__(
        self,
        target: MonitoringStore | Engine,
        *,
        capacity: int = 10_000,
        batch_size: int = 1_000,
        flush_interval: float = 0.5,
        sample_rate: float = 1.0,
        redact: Redactor | None = None,
        retention_days: float = 30.0,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.store = target if isinstance(target, MonitoringStore) else MonitoringStore(target)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.sample_rate = min(max(sample_rate, 0.0), 1.0)
        self.redact = redact
        self.retention_days = retention_days
        self._queue: queue.Queue[RequestRecord] = queue.Queue(maxsize=capacity)
        self._dropped: dict[str, int] = {}
        self._dropped_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random(0)
        self._last_purge = 0.0
        self.accepted = 0
        self.written = 0
        self.dropped = 0
        self.failed = 0

    # --- the hot path ---------------------------------------------------------------------------------------

    def __call__(self, record: RequestRecord) -> None:
        """Enqueue without blocking; a full queue drops the record and counts it."""
        if not self.enabled:
            return
        try:
            self._queue.put_nowait(record)
            self.accepted += 1
        except queue.Full:
            self.dropped += 1
            with self._dropped_lock:
                self._dropped[record.deployment] = self._dropped.get(record.deployment, 0) + 1

    def write(self, batch: list[RequestRecord], dropped: dict[str, int]) -> None:
        """Write one batch now, with drop counts from elsewhere (the writer process batches by itself)."""
        self._write(batch, dropped)

    def purge_if_due(self) -> None:
        """Apply the retention policy if the last purge is older than ``PURGE_INTERVAL``."""
        self._maybe_purge()

    # --- the writer thread ----------------------------------------------------------------------------------

    def start(self) -> InferenceLog:
        if self._thread is None and self.enabled:
            self._thread = threading.Thread(target=self._run, name="mlops-inference-log", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after it has written everything queued so far."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            batch = self._collect()
            dropped = self._take_dropped()
            if batch or dropped:
                self._write(batch, dropped)
            if self._stop.is_set() and self._queue.empty():
                return
            self._maybe_purge()

    def _collect(self) -> list[RequestRecord]:
        batch: list[RequestRecord] = []
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self._stop.is_set() and self._queue.empty()):
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.1)))
            except queue.Empty:
                continue
        return batch

    def _take_dropped(self) -> dict[str, int]:
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, {}
        return dropped

    def _write(self, batch: list[RequestRecord], dropped: dict[str, int]) -> None:
        records = [self._prepare(r) for r in batch]
        for attempt in range(3):
            try:
                self.written += self.store.write_batch(records, dropped)
                return
            except Exception as exc:
                if attempt == 2:
                    self.failed += len(records)
                    log.error("Inference log: %d records not written (%s)", len(records), type(exc).__name__)
                    return
                time.sleep(0.2 * (attempt + 1))

    def _prepare(self, record: RequestRecord) -> RequestRecord:
        record = capped(record)  # one request's payload logs at most MAX_LOGGED_ROWS rows
        inputs = outputs = None
        if not record.shadow and record.inputs is not None and self._random.random() < self.sample_rate:
            inputs = _as_frame(record.inputs)
            if inputs is not None and self.redact is not None:
                try:
                    inputs = self.redact(inputs.frame() if isinstance(inputs, Rows) else inputs)
                except Exception:
                    log.exception("The redaction hook failed; the request's payload is not logged")
                    inputs = None
            if inputs is not None and inputs.shape[0]:
                outputs = record.outputs  # aligned with the rows in the batch, in one step for the whole flush
        if inputs is record.inputs and outputs is record.outputs:
            return record  # logged as it came (the common case): replace() would cost more than the rest of this
        return dataclasses.replace(record, inputs=inputs, outputs=outputs)

    def _maybe_purge(self) -> None:
        now = time.time()
        if now - self._last_purge < PURGE_INTERVAL:
            return
        self._last_purge = now
        try:
            removed = self.purge(now)
            if removed:
                log.info("Inference log retention: removed %d records", removed)
        except Exception as exc:
            log.warning("Inference log retention failed: %s", type(exc).__name__)

    def purge(self, now: float | None = None) -> int:
        """Apply retention now: each deployment's declared days (``set_retention``), else the default; 0 = forever.

        A deployment with a declaration of its own is purged by it alone, so a high-risk deployment kept 400 days
        outlives the installation's ``inference_log_retention_days``. When the declarations cannot be read nothing
        is purged: deleting by the default could cut a longer declared retention short.

        Returns:
            The number of request records removed.
        """
        now = time.time() if now is None else now
        declared = self._declared()
        removed = 0
        for deployment, days in declared.items():
            if days > 0:
                removed += self.store.purge(now - days * 86400, only=deployment)
        if self.retention_days > 0:
            removed += self.store.purge(now - self.retention_days * 86400, keep=sorted(declared))
        return removed

    def _declared(self) -> dict[str, float]:
        """Inference-log retention (days) declared per deployment in the store's retention table."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(RetentionRow.deployment, RetentionRow.inference_log_days).where(
                    RetentionRow.inference_log_days.is_not(None)
                )
            ).all()
        return {str(name): float(days) for name, days in rows if days is not None}


def _as_frame(inputs: Any) -> pd.DataFrame | Rows | None:
    if isinstance(inputs, (pd.DataFrame, Rows)):
        return inputs
    if isinstance(inputs, np.ndarray) and inputs.ndim in (1, 2):
        array = inputs.reshape(len(inputs), -1)
        return pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])
    return None


def from_config(engine: Engine, config: Any) -> InferenceLog:
    """The writer with the settings of ``MLOpsConfig`` (sample rate, queue size, retention, redaction hook)."""
    redact = None
    sample_rate = config.inference_log_sample_rate
    try:
        redact = load_redactor(config.inference_log_redact)
    except Exception as exc:
        # Without the hook, storing unredacted payloads could leak data: log metadata only.
        log.error("Redaction hook %r not loaded (%s): payloads will not be logged", config.inference_log_redact, exc)
        sample_rate = 0.0
    return InferenceLog(
        engine,
        capacity=config.inference_log_queue_size,
        sample_rate=sample_rate,
        redact=redact,
        retention_days=config.inference_log_retention_days,
        enabled=config.inference_log_enabled,
    )
