"""What core reads of the local serving daemon: its discovery file, its supervisor's status, its persisted port.

``{data_dir}/serving/daemon.json`` tells clients where the running daemon listens and the token its admin API
requires; ``supervisor.json`` what the supervisor last did (restarts, crash loop); ``port`` the port the daemon
bound first, so a restarted daemon serves on the same URL. Files holding secrets are written atomically
(temporary file + ``os.replace``) with mode 0600. Core owns these formats; the serving package imports them from
here, so core imports nothing from ``serving``. Standard library and pydantic only: the supervisor process imports
this module and must stay small.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

FILE_NAME = "daemon.json"
LOG_NAME = "daemon.log"
LOCK_NAME = "daemon.lock"
STATUS_NAME = "supervisor.json"
PORT_NAME = "port"
SUPERVISOR_MODULE = "jupyter_mlops.serving.supervisor"


class DaemonInfo(BaseModel):
    """Where a running daemon listens and the token its admin API requires."""

    model_config = ConfigDict(extra="ignore")

    pid: int
    host: str
    port: int
    url: str
    token: str
    version: str
    started_at: str


SupervisorState = Literal["running", "restarting", "crash_loop", "stopped"]


class SupervisorStatus(BaseModel):
    """What ``{data_dir}/serving/supervisor.json`` says about the daemon's supervisor."""

    model_config = ConfigDict(extra="ignore")

    supervisor_pid: int
    child_pid: int | None = None
    state: SupervisorState
    restarts: int = 0
    last_exit_code: int | None = None
    message: str | None = None
    updated_at: str


def serving_dir(data_dir: str | Path) -> Path:
    """The daemon's folder under the data dir (discovery file, log, lock, supervisor status, port)."""
    return Path(data_dir) / "serving"


def path_in(data_dir: str | Path) -> Path:
    """The discovery file of the daemon serving ``data_dir``."""
    return serving_dir(data_dir) / FILE_NAME


def status_path(data_dir: str | Path) -> Path:
    """The supervisor's status file for ``data_dir``."""
    return serving_dir(data_dir) / STATUS_NAME


def port_path(data_dir: str | Path) -> Path:
    """The file holding the port the daemon of ``data_dir`` binds on every start (its URLs stay valid)."""
    return serving_dir(data_dir) / PORT_NAME


def write(path: Path, info: BaseModel) -> None:
    """Replace ``path`` with ``info`` atomically; readers see the old file or the new one, never a partial one."""
    _write_text(path, info.model_dump_json(indent=2))


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def read(path: Path) -> DaemonInfo | None:
    """The daemon described by ``path``, or None when there is no (valid) file. Does not check it is alive."""
    try:
        return DaemonInfo.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def remove_if_owned(path: Path, pid: int) -> bool:
    """Delete ``path`` if it still names ``pid``: a newer daemon may have replaced it meanwhile."""
    info = read(path)
    if info is None or info.pid != pid:
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def read_status(path: Path) -> SupervisorStatus | None:
    """The supervisor status in ``path``, or None when there is no (valid) file."""
    try:
        return SupervisorStatus.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_supervisor(pid: int) -> bool:
    """Whether ``pid`` runs the supervisor module (guards signals against a recycled pid)."""
    try:
        return SUPERVISOR_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def read_port(data_dir: str | Path) -> int | None:
    """The port persisted for the daemon of ``data_dir``, or None before its first start."""
    try:
        port = int(port_path(data_dir).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def write_port(data_dir: str | Path, port: int) -> None:
    """Remember ``port`` for the next starts of the daemon of ``data_dir``."""
    _write_text(port_path(data_dir), f"{port}\n")
