"""What the serving path knows about one completed request, handed to observers (inference log, monitoring).

``ServingContext.on_request`` holds the observers; each gets a ``RequestRecord`` once per answered scoring request
(successful or not), on the event loop, after the response is ready. Observers must be cheap and must not raise:
anything slow (a database write) belongs behind a bounded queue of the observer's own.

There is one record type from the serving path to the store: the monitoring store's ``LoggedRequest`` (core). The
writer samples and redacts a record's payload with ``dataclasses.replace``; nothing copies it field by field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.monitoring.storage import LoggedRequest

# One scoring request as answered: who answered, how fast, with what status, on which data (``inputs``: the parsed
# input, or None when parsing failed; ``outputs``: the raw predictions, or None when the request failed; ``shadow``:
# the mirrored copy a shadow variant answered, never returned to the client).
RequestRecord = LoggedRequest

__all__ = ["MAX_LOGGED_ROWS", "RequestRecord", "capped"]

# The most input rows (and their outputs) logged per request: a large request is still counted and timed, but its
# payload is logged only up to this many rows, so one request cannot grow the writer's memory or the store by more.
MAX_LOGGED_ROWS = 1_000


def _head(value: Any, rows: int) -> Any:
    """The first ``rows`` rows of a frame, array, series or list (anything else unchanged)."""
    iloc = getattr(value, "iloc", None)
    if iloc is not None:
        return iloc[:rows]
    if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        return value[:rows]
    return value


def capped(record: RequestRecord, max_rows: int = MAX_LOGGED_ROWS) -> RequestRecord:
    """``record`` with its payload cut to ``max_rows`` rows when it has more (the same record otherwise)."""
    inputs = record.inputs
    try:
        rows = len(inputs) if inputs is not None and not isinstance(inputs, (str, bytes, dict)) else 0  # type: ignore[arg-type]
    except TypeError:
        rows = 0
    if rows <= max_rows:
        return record
    return dataclasses.replace(record, inputs=_head(inputs, max_rows), outputs=_head(record.outputs, max_rows))
