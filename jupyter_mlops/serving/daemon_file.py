"""The discovery file ``{data_dir}/serving/daemon.json``: how clients find the running daemon and its admin token.

Written atomically (temporary file + ``os.replace``) with mode 0600, because it holds the admin token; removed on
clean shutdown only by the process it names. Shared by the daemon (writer) and ``LocalTarget`` (reader), so it
imports nothing else from the serving package.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

FILE_NAME = "daemon.json"
LOG_NAME = "daemon.log"
LOCK_NAME = "daemon.lock"


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


def serving_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "serving"


def path_in(data_dir: str | Path) -> Path:
    return serving_dir(data_dir) / FILE_NAME


def write(path: Path, info: BaseModel) -> None:
    """Replace ``path`` with ``info`` atomically; readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(info.model_dump_json(indent=2))
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
