"""Locks around opening a store: a file lock between processes, one lock for migrations within a process.

The lock file is shared by the processes that open one store (Jupyter, kernels, the serving daemon).
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Alembic's ``op`` and ``context`` are module-level proxies to the migration running now, so two migrations at
# once in one process (ours of two stores, or ours and MLflow's, which also migrates with Alembic: a server's
# start-up thread opening both while a request opens our store) run each other's steps on the wrong connection.
# Ours (core/store/schema.py) and MLflow's store creation (Registry) hold it; re-entrant, taken before any file lock.
MIGRATION_LOCK = threading.RLock()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created with its folder) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
