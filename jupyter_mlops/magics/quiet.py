"""Quiet magics: library warnings, MLflow's chatter and our own log lines are captured, not printed.

A magic's output is its result (or its one-line error). What MLflow, scikit-learn and our core say on the way
(warnings with venv paths, "Successfully registered ..." lines, log records) is kept in :data:`CAPTURED` and
shown on request with ``%mlops log``. Alerts that fire while a notebook is open are shown as notices, not as
red stderr text.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections import deque
from collections.abc import Iterator

# The last lines captured from magics, newest last; ``%mlops log`` shows them.
CAPTURED: deque[str] = deque(maxlen=500)
_LOGGERS = ("mlflow", "jupyter_mlops", "alembic", "urllib3", "httpx")
_lock = threading.Lock()


class _Collector(logging.Handler):
    """Keeps formatted log records in CAPTURED instead of printing them."""

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's text in CAPTURED."""
        try:
            CAPTURED.append(f"{record.levelname} {record.name}: {record.getMessage()}")
        except Exception:  # a broken record must not break the magic
            self.handleError(record)


_collector = _Collector(logging.DEBUG)


@contextlib.contextmanager
def captured() -> Iterator[None]:
    """Run a facade call with warnings, stdout/stderr chatter and library log records captured."""
    out, err = io.StringIO(), io.StringIO()
    with _lock:
        saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in _LOGGERS}
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers = [_collector]
            logger.propagate = False
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("always")
            yield
    finally:
        with _lock:
            for name, (handlers, propagate) in saved.items():
                logger = logging.getLogger(name)
                logger.handlers, logger.propagate = handlers, propagate
        for w in caught:
            CAPTURED.append(f"{w.category.__name__}: {w.message}")
        CAPTURED.extend(line for line in (out.getvalue() + err.getvalue()).splitlines() if line.strip())


class AlertNotices(logging.Handler):
    """Shows "Alert fired" records of our monitoring as notices in the notebook (not as stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record; show an alert firing as a notice."""
        message = record.getMessage()
        CAPTURED.append(f"{record.levelname} {record.name}: {message}")
        if "Alert fired" not in message:
            return
        try:
            from IPython.display import display

            from .display import Notice

            display(Notice(message, level="warning"))
        except Exception:  # no notebook to show it in: it stays in CAPTURED
            self.handleError(record)


def install_notices() -> None:
    """Route our library's log records to notices and CAPTURED, once per process (called by %load_ext)."""
    logger = logging.getLogger("jupyter_mlops")
    if not any(isinstance(h, AlertNotices) for h in logger.handlers):
        logger.addHandler(AlertNotices(logging.WARNING))
