"""The serving daemon's inference log writer process: logging work leaves the serving interpreter altogether.

Building Arrow blobs and writing to the store in a thread of the daemon held the GIL its event loop needs (p99
180 ms at concurrency 1). Here the daemon does, per answered request, one ``pickle.dumps`` of a few fixed fields
and the raw numpy payload (about 20 us, on the event loop) into a bounded in-memory buffer: a full buffer drops and
counts, never blocks. A sender thread passes the buffer to a writer process through a pipe every
``SEND_INTERVAL`` (one ``write``, which releases the GIL). The writer process (``python -m
jupyter_mlops.serving.log_writer``, spawned, restarted when it dies and stopped by the daemon; niced) batches the
records and writes them through ``InferenceLog``'s write path: sampling, the redaction hook, Arrow encoding,
batched DB writes, retention, drop counters. It also runs the ``AlertScheduler`` (``MLOpsConfig.alert_interval``).

Durability: a kill -9 of the daemon loses only what is still in its buffer (at most ``SEND_INTERVAL`` of
traffic); the writer then reads the rest of the pipe to its end, writes everything it was handed and exits. A
kill -9 of the writer loses what it held unwritten (at most one flush interval); the daemon starts a new writer.
The pipe carries pickles between two processes of ours only (the writer reads nothing else).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd

from ..core.monitoring.storage import Rows
from .inference_log import InferenceLog, from_config
from .records import RequestRecord, capped

log = logging.getLogger(__name__)

SEND_INTERVAL = 0.02  # seconds between two hand-overs to the writer: the most a kill -9 of the daemon loses
SEND_CHUNK = 1000  # records (and at most PIPE_SIZE bytes) per pipe write: bounds the GIL time of one hand-over
RESTART_DELAY = 1.0  # seconds between two starts of the writer when it keeps dying
PIPE_SIZE = 1 << 20  # bytes of pipe buffer (Linux F_SETPIPE_SZ): the writer may lag without the sender waiting
WRITER_NICENESS = 5  # background work: lower CPU priority than the daemon (CFS weight about a third)
START_AFTER_TIMEOUT = 30.0  # seconds a daemon's writer waits for MLflow's import before it starts anyway
ORPHAN_GRACE = 5.0  # seconds without input after the daemon died before the writer gives up waiting for EOF
_F_SETPIPE_SZ = 1031


# --- the wire format: length-prefixed pickles, a tuple per record, a dict of drop counts -------------------------


_NAMES_CACHED = 256  # column indexes whose names are remembered (the fast path shares one Index per signature)
_names: dict[int, tuple[Any, tuple[str, ...]]] = {}  # id(Index) -> (the Index, kept alive; its names)


def _column_names(columns: Any) -> tuple[str, ...]:
    """The names of a frame's columns as plain strings, computed once per Index object: reading an Arrow-backed
    string Index costs ~10-40 us, and the serving fast path builds every frame on one shared Index per signature."""
    key = id(columns)
    cached = _names.get(key)
    if cached is not None and cached[0] is columns:
        return cached[1]
    names = tuple(str(c) for c in columns.to_numpy(dtype=object))
    if len(_names) >= _NAMES_CACHED:
        _names.clear()
    _names[key] = (columns, names)
    return names


def _raw(array: Any) -> tuple[str, tuple[int, ...], bytes] | None:
    """A numeric ndarray as (dtype, shape, bytes): pickling those costs a quarter of pickling the array itself."""
    if type(array) is np.ndarray and array.dtype.kind in "biuf":
        return array.dtype.str, array.shape, array.tobytes()
    return None


_dtype = functools.lru_cache(maxsize=64)(np.dtype)  # parsing a dtype string costs more than the frombuffer


def _array(raw: tuple[str, tuple[int, ...], bytes]) -> np.ndarray:
    dtype, shape, data = raw
    return np.frombuffer(data, dtype=_dtype(dtype)).reshape(shape)


def encode(record: RequestRecord) -> bytes:
    """A record as bytes, cheaply (this runs on the serving event loop for every logged request): fixed fields, a
    single-dtype DataFrame as (column names, raw array bytes) and numeric outputs as raw bytes, not pickled pandas
    or numpy objects. The payload is cut to ``MAX_LOGGED_ROWS`` rows first."""
    record = capped(record)
    inputs: Any = record.inputs
    if isinstance(inputs, pd.DataFrame):
        # One block = one dtype: its ndarray is what the writer stacks anyway (pickling pandas costs ~25 us).
        manager = getattr(inputs, "_mgr", None)
        if getattr(manager, "nblocks", 0) == 1:
            array = manager.blocks[0].values.T  # type: ignore[union-attr]  # the block, (columns, rows): a view
            if type(array) is not np.ndarray or array.shape != inputs.shape:
                array = inputs.to_numpy()
            raw = _raw(array)
            names = _column_names(inputs.columns)
            inputs = (names, raw) if raw is not None else (names, array)
    outputs = record.outputs
    raw_outputs = _raw(outputs)
    fields = (
        record.request_id,
        record.deployment,
        record.variant,
        record.model_version,
        record.time,
        record.latency_ms,
        record.status,
        record.shadow,
    )
    try:
        return _frame((*fields, inputs, outputs if raw_outputs is None else (_RAW, raw_outputs)))
    except Exception:  # an unpicklable payload: log the request's metadata only
        return _frame((*fields, None, None))


_RAW = "__raw_ndarray__"  # marks outputs sent as (dtype, shape, bytes)


def _frame(item: Any) -> bytes:
    """A pickle with its length in front (the writer reads whole frames out of what the pipe holds)."""
    data = pickle.dumps(item, protocol=5)
    return len(data).to_bytes(4, "little") + data


def decode(item: tuple[Any, ...]) -> RequestRecord:
    """The record the daemon encoded; single-dtype inputs as ``Rows`` (the writer stacks them without pandas)."""
    request_id, deployment, variant, model_version, at, latency_ms, status, shadow, inputs, outputs = item
    if isinstance(inputs, tuple):
        columns, array = inputs
        inputs = Rows(tuple(columns), _array(array) if isinstance(array, tuple) else np.asarray(array))
    if isinstance(outputs, tuple) and len(outputs) == 2 and isinstance(outputs[0], str) and outputs[0] == _RAW:
        outputs = _array(outputs[1])
    return RequestRecord(request_id, deployment, variant, model_version, at, latency_ms, status, shadow, inputs,
                         outputs)  # fmt: skip


# --- the daemon's side -------------------------------------------------------------------------------------------


def for_daemon(engine: Any, *, alerts: bool = True) -> WriterProcessLog:
    """The daemon's inference log (and, with ``alerts``, the alert scheduler), configured from ``MLOpsConfig``, not
    started yet: a writer process fed by a bounded buffer, so none of the work runs in the serving interpreter."""
    from ..config import MLOpsConfig

    config = MLOpsConfig()
    if not alerts:
        config.alert_interval = 0.0
    return WriterProcessLog.from_config(engine.url.render_as_string(hide_password=False), config)


def start_after(prepared: Future[Any] | None, log: WriterProcessLog, timeout: float = START_AFTER_TIMEOUT) -> None:
    """Start ``log``'s writer once ``prepared`` is done (whether it succeeded or not), or after ``timeout`` seconds
    if it is still running (a registry that does not answer must not keep the alert scheduler from starting); at
    once without one. Records that come meanwhile wait in the buffer."""
    if prepared is None:
        log.start()
        return
    timer = threading.Timer(timeout, log.start)
    timer.daemon = True
    timer.start()

    def done(_future: Future[Any]) -> None:
        timer.cancel()
        log.start()

    prepared.add_done_callback(done)


class WriterProcessLog:
    """An ``on_request`` observer with ``InferenceLog``'s interface whose writer is a separate process.

    Counters: ``accepted`` (buffered), ``dropped`` (buffer full), ``sent`` (handed to a writer), ``lost`` (handed
    to a writer that died before writing them: counted per writer as sent minus written or failed, warned in the
    daemon log with the count, and stored as the deployments' ``dropped_records`` by the next writer),
    ``written``/``failed`` (as the writers report them), ``restarts``.
    """

    def __init__(
        self,
        store_url: str,
        *,
        capacity: int = 10_000,
        enabled: bool = True,
        alert_interval: float = 0.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.store_url = store_url
        self.capacity = capacity
        self.enabled = enabled
        self.alert_interval = alert_interval
        self.env = env
        self._buffer: collections.deque[tuple[str, bytes]] = collections.deque()
        # per writer process: records handed to it and records it reported done (written or failed), by deployment
        self._handed: dict[int, collections.Counter[str]] = {}
        self._done: dict[int, collections.Counter[str]] = {}
        self._dropped: dict[str, int] = {}
        self._dropped_lock = threading.Lock()
        self._stop = threading.Event()
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._progress: threading.Thread | None = None
        self._started_at = 0.0
        self.accepted = 0
        self.dropped = 0
        self.sent = 0
        self.lost = 0
        self.written = 0
        self.failed = 0
        self.restarts = 0

    @classmethod
    def from_config(cls, store_url: str, config: Any) -> WriterProcessLog:
        return cls(
            store_url,
            capacity=config.inference_log_queue_size,
            enabled=config.inference_log_enabled,
            alert_interval=config.alert_interval,
        )

    @property
    def pid(self) -> int | None:
        """The PID of the current writer process (None before the first start or after close)."""
        return self._child.pid if self._child is not None else None

    # --- the hot path (the event loop) ----------------------------------------------------------------------

    def __call__(self, record: RequestRecord) -> None:
        """Buffer the record's bytes without blocking; a full buffer drops the record and counts it."""
        if not self.enabled:
            return
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            with self._dropped_lock:
                self._dropped[record.deployment] = self._dropped.get(record.deployment, 0) + 1
            return
        self._buffer.append((record.deployment, encode(record)))  # atomic: the sender thread pops concurrently
        self.accepted += 1

    # --- the sender thread ----------------------------------------------------------------------------------

    def start(self) -> WriterProcessLog:
        """Start the writer process and the sender (nothing when logging and the alert scheduler are both off, or
        once closed). Records buffered before the start are handed over with the first send."""
        with self._lifecycle:
            if self._thread is None and not self._stop.is_set() and (self.enabled or self.alert_interval > 0):
                self._spawn()
                self._thread = threading.Thread(target=self._run, name="mlops-inference-log-sender", daemon=True)
                self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Hand over everything buffered, then let the writer write it and exit (killed after ``timeout``)."""
        with self._lifecycle:  # a start running in another thread finishes first; none starts afterwards
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.close()  # end of input: the writer flushes and exits
        except OSError:
            pass
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("The inference log writer (pid %s) did not finish in %.0f s; killing it", child.pid, timeout)
            child.kill()
            child.wait()
        if self._progress is not None:
            self._progress.join(2.0)  # the writer's last progress line
        self._account_lost(child)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(SEND_INTERVAL)
            self._send_pending()
            if stopping:
                return

    def _send_pending(self) -> None:
        while True:
            child = self._alive_child()
            if child is None:
                return  # restarting: the buffer keeps filling (and drops and counts when full)
            frames: list[bytes] = []
            handed = collections.Counter[str]()
            size = 0
            while self._buffer and len(frames) < SEND_CHUNK and size < PIPE_SIZE:
                deployment, frame = self._buffer.popleft()
                frames.append(frame)
                handed[deployment] += 1
                size += len(frame)
            with self._dropped_lock:
                dropped, self._dropped = self._dropped, {}
            if dropped:
                frames.append(_frame(dropped))
            if not frames:
                return
            records = len(frames) - (1 if dropped else 0)
            self._handed.setdefault(child.pid, collections.Counter()).update(handed)
            try:
                assert child.stdin is not None
                child.stdin.write(b"".join(frames))  # releases the GIL while the pipe takes the bytes
                child.stdin.flush()
                self.sent += records
            except (OSError, ValueError):
                self.sent += records  # handed over but not taken: the dead writer's accounting counts them lost
                if dropped:
                    self._merge_dropped(dropped)

    def _alive_child(self) -> subprocess.Popen[bytes] | None:
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if child is not None:
            log.warning("The inference log writer (pid %s) exited with %s; restarting it", child.pid, child.returncode)
            self._child = None
            self._account_lost(child)
        if time.monotonic() - self._started_at < RESTART_DELAY:
            return None
        self.restarts += 1
        return self._spawn()

    def _merge_dropped(self, counts: dict[str, int]) -> None:
        with self._dropped_lock:
            for deployment, n in counts.items():
                self._dropped[deployment] = self._dropped.get(deployment, 0) + n

    def _account_lost(self, child: subprocess.Popen[bytes]) -> int:
        """Count what a dead writer was handed but never reported written or failed: ``lost``, a warning with the
        count, and per-deployment ``dropped_records`` for the next writer to store. Returns the number lost."""
        progress = self._progress
        if progress is not None and progress.name.endswith(str(child.pid)):
            progress.join(2.0)  # its last progress lines, up to its end of output
        handed = self._handed.pop(child.pid, collections.Counter())
        done = self._done.pop(child.pid, collections.Counter())
        missing = {d: n - done.get(d, 0) for d, n in handed.items() if n > done.get(d, 0)}
        lost = sum(missing.values())
        if lost:
            self.lost += lost
            self._merge_dropped(missing)
            log.warning(
                "The inference log writer (pid %s) died with %d records not written (lost_records); they are counted "
                "as dropped_records of %s",
                child.pid, lost, ", ".join(sorted(missing)),
            )  # fmt: skip
        return lost

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        self._started_at = time.monotonic()
        env = {**os.environ, **(self.env or {}), "JUPYTER_MLOPS_STORE_URL": self.store_url}  # not in argv (ps)
        if not self.enabled:
            env["JUPYTER_MLOPS_INFERENCE_LOG_ENABLED"] = "False"
        env["JUPYTER_MLOPS_ALERT_INTERVAL"] = str(self.alert_interval)
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mlops.serving.log_writer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                close_fds=True,  # only this process holds the pipe's write end: the writer sees EOF when we die
            )
        except OSError as exc:
            log.error("Cannot start the inference log writer: %s", exc)
            return None
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            import fcntl

            fcntl.fcntl(child.stdin.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
        except (ImportError, OSError):
            pass  # the default 64 KiB pipe works; the writer only lags less gracefully
        self._progress = threading.Thread(
            target=self._read_progress, args=(child.stdout, child.pid), daemon=True,
            name=f"mlops-inference-log-progress-{child.pid}",
        )  # fmt: skip
        self._progress.start()
        self._child = child
        log.info("Inference log writer started (pid %s)", child.pid)
        return child

    def _read_progress(self, stdout: IO[bytes], pid: int) -> None:
        done = self._done.setdefault(pid, collections.Counter())
        for line in stdout:  # blocks in read (GIL released) between the writer's progress lines
            try:
                report = orjson.loads(line)
                written, failed = int(report["written"]), int(report["failed"])
                by_deployment = {str(k): int(v) for k, v in report.get("done", {}).items()}
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                continue
            self.written += written
            self.failed += failed
            done.update(by_deployment)


# --- the writer process ------------------------------------------------------------------------------------------


def main() -> int:
    """Write the records read from stdin until its end, in batches; run the alert scheduler meanwhile."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s log-writer %(levelname)s %(name)s: %(message)s")
    from ..config import MLOpsConfig
    from ..core.store import Store

    with contextlib.suppress(OSError):
        os.nice(WRITER_NICENESS)  # on a busy machine the serving process gets the CPU first
    config = MLOpsConfig()
    store = Store(config.store_url)
    scheduler = _Scheduler(config, store)
    try:
        _write_from(sys.stdin.buffer.fileno(), from_config(store.engine, config))
    finally:
        scheduler.stop()
        store.close()
    return 0


def _write_from(fd: int, writer: InferenceLog) -> None:
    """One thread, no queue: read what the pipe holds, write a batch when ``batch_size`` records are in or every
    ``flush_interval``, tell the daemon what was written. A queue between a reader and a writer thread cost
    ~150 us of CPU per record here (a GIL hand-over per record)."""
    parent = os.getppid()
    pending = bytearray()
    batch: list[RequestRecord] = []
    dropped: dict[str, int] = {}
    reported = (0, 0)
    done: collections.Counter[str] = collections.Counter()
    last_input = time.monotonic()
    deadline = last_input + writer.flush_interval
    reading = True
    while reading:
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if readable:
            chunk = os.read(fd, PIPE_SIZE)
            if chunk:
                pending += chunk
                last_input = time.monotonic()
                _parse(pending, batch, dropped)
            else:
                reading = False  # the daemon closed the pipe (close) or died (kill -9): write what we have
        elif os.getppid() != parent and time.monotonic() - last_input > ORPHAN_GRACE:
            # The daemon is gone but the pipe never ended (a process it forked holds it): nothing more will come.
            log.warning("The serving daemon (pid %s) is gone; writing what was received and exiting", parent)
            reading = False
        due = time.monotonic() >= deadline
        if (batch or dropped) and (due or not reading or len(batch) >= writer.batch_size):
            writer.write(batch, dropped)
            done.update(record.deployment for record in batch)
            batch, dropped = [], {}
            reported = _report(writer, reported, done)
            done.clear()
        if due:
            writer.purge_if_due()
            deadline = time.monotonic() + writer.flush_interval
    if pending:
        log.warning("Inference log input ended mid-record (%d bytes not written)", len(pending))


def _parse(pending: bytearray, batch: list[RequestRecord], dropped: dict[str, int]) -> None:
    """Move the complete frames of ``pending`` into ``batch`` (records) and ``dropped`` (counts)."""
    offset = 0
    while len(pending) - offset >= 4:
        size = int.from_bytes(pending[offset : offset + 4], "little")
        if len(pending) - offset - 4 < size:
            break
        item = pickle.loads(pending[offset + 4 : offset + 4 + size])  # noqa: S301 - our daemon's pipe only
        offset += 4 + size
        if isinstance(item, dict):
            for deployment, n in item.items():
                dropped[deployment] = dropped.get(deployment, 0) + int(n)
        else:
            batch.append(decode(item))
    del pending[:offset]


def _report(writer: InferenceLog, reported: tuple[int, int], done: dict[str, int]) -> tuple[int, int]:
    """Tell the daemon how many records were written or failed since the last report, and by deployment how
    many were dealt with (written or failed): one JSON line. What it was handed and never reported is lost."""
    now = (writer.written, writer.failed)
    if now != reported or done:
        line = {"written": now[0] - reported[0], "failed": now[1] - reported[1], "done": dict(done)}
        try:
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # the daemon is gone; its records are still written
    return now


class _Scheduler:
    """The alert scheduler of the writer process, built in the background after the first interval: importing
    MLflow takes seconds of CPU, which a daemon that lives shorter than an interval (tests, scripts) never pays."""

    def __init__(self, config: Any, store: Any) -> None:
        self.scheduler: Any = None
        self.mlops: Any = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        if config.alert_interval > 0:
            threading.Thread(target=self._build, args=(config, store), name="mlops-alert-setup", daemon=True).start()

    def _build(self, config: Any, store: Any) -> None:
        if self._stopped.wait(config.alert_interval):
            return
        from ..core.monitoring.service import AlertScheduler
        from ..core.service import MLOps

        try:
            mlops = MLOps(config, user="alert-scheduler", store=store)
            with self._lock:
                if self._stopped.is_set():
                    return
                self.mlops = mlops
                self.scheduler = AlertScheduler(mlops.monitoring, config.alert_interval).start()
            log.info("Alert scheduler: every deployment's rules every %g s", config.alert_interval)
        except Exception:
            log.exception("The alert scheduler did not start; alerts are evaluated on read only")

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            if self.scheduler is not None:
                self.scheduler.stop()


if __name__ == "__main__":
    raise SystemExit(main())
