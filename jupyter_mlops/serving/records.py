"""What the serving path knows about one completed request, handed to observers (inference log, monitoring).

``ServingContext.on_request`` holds the observers; each gets a ``RequestRecord`` once per answered scoring request
(successful or not), on the event loop, after the response is ready. Observers must be cheap and must not raise:
anything slow (a database write) belongs behind a bounded queue of the observer's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One scoring request as answered: who answered, how fast, with what status, on which data."""

    request_id: str
    deployment: str
    variant: str
    model_version: str
    time: float  # epoch seconds when the request arrived
    latency_ms: float
    status: int
    inputs: Any  # the parsed input (a pandas DataFrame for tabular models), or None when parsing failed
    outputs: Any  # the raw predictions, or None when the request failed
    shadow: bool = False  # True for the mirrored copy a shadow variant answered (never returned to the client)
