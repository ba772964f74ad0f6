"""The discovery file ``{data_dir}/serving/daemon.json``: re-exported from the core-owned ``daemon_state``.

Core reads the daemon's files (``LocalTarget``); the format lives in ``core/targets/daemon_state.py`` so that core
imports nothing from ``serving``. The daemon writes through these names.
"""

from __future__ import annotations

from ..core.targets.daemon_state import (
    FILE_NAME,
    LOCK_NAME,
    LOG_NAME,
    DaemonInfo,
    path_in,
    port_path,
    read,
    read_port,
    remove_if_owned,
    serving_dir,
    write,
    write_port,
)

__all__ = [
    "FILE_NAME",
    "LOCK_NAME",
    "LOG_NAME",
    "DaemonInfo",
    "path_in",
    "port_path",
    "read",
    "read_port",
    "remove_if_owned",
    "serving_dir",
    "write",
    "write_port",
]
