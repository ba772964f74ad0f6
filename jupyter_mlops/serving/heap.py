"""Keeping Python's cyclic garbage collector off the request path.

A serving process holds about 400,000 objects once MLflow, pandas and scikit-learn are imported; a full collection
walks all of them (about 0.2 s on this machine, measured) while every request in flight waits for the GIL. Under
load one ran every few seconds, and it was the p99. Objects that live as long as the process (modules, loaded
models) are moved out of the collector's reach with ``gc.freeze`` after imports and after each load, so a full
collection only walks what requests left behind.

A model that leaves the process (evicted, replaced, undeployed) may leave reference cycles that only the collector
frees, and frozen objects are never collected: its leaving gives every frozen object back (``gc.unfreeze``), and the
heap is frozen again right after the next full collection has run.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

_lock = threading.Lock()
_thawed = False  # a model left: freeze again only after a full collection
_watching = False  # _refreeze is in gc.callbacks


def settle() -> None:
    """After imports or a model load: freeze every object alive now (unless a thaw awaits its full collection).

    A collection first, so garbage the imports or the load left in cycles is freed rather than frozen for good; it
    walks only what is not frozen yet (everything once, at start-up; a load's few thousand objects after that)."""
    with _lock:
        if not _thawed:
            gc.collect()
            gc.freeze()


def thaw() -> None:
    """After a model left the process: give every frozen object back to the collector until its next full run."""
    global _thawed, _watching
    with _lock:
        gc.unfreeze()
        _thawed = True
        if not _watching:
            gc.callbacks.append(_refreeze)
            _watching = True


def frozen() -> int:
    """How many objects are out of the collector's reach (a metric)."""
    return gc.get_freeze_count()


def _refreeze(phase: str, info: dict[str, Any]) -> None:
    """A gc callback: once a full collection has freed what the departed model left, freeze the survivors."""
    global _thawed
    if phase != "stop" or info.get("generation") != 2 or not _thawed:
        return
    if not _lock.acquire(blocking=False):  # a collection inside settle or thaw: the next full one will do
        return
    try:
        _thawed = False
        gc.freeze()
    finally:
        _lock.release()
