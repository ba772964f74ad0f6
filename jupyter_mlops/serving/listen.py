"""The daemon's listening socket: bound once, on the data dir's persisted port, by whoever holds it for the workers.

The supervisor binds it and keeps it open for its whole life; every serving worker (and the pre-started standby)
inherits the same socket and accepts on it. A killed worker therefore never closes the port: connections made
while it restarts wait in the socket's backlog (or are accepted by another worker) instead of being refused.
Standard library and daemon_file only, so the supervisor process stays small.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path

from . import daemon_file

LISTEN_FD_ENV = "JUPYTER_MLOPS_SERVING_LISTEN_FD"  # the inherited listening socket (set by the supervisor)
INDEX_ENV = "JUPYTER_MLOPS_SERVING_WORKER_INDEX"  # 0 = the primary worker (writes daemon.json)
TOKEN_ENV = "JUPYTER_MLOPS_SERVING_ADMIN_TOKEN"  # noqa: S105 - the name of the variable holding the shared token
SUPERVISOR_ENV = "JUPYTER_MLOPS_SERVING_SUPERVISOR_PID"
WORKERS_ENV = "JUPYTER_MLOPS_SERVING_WORKERS"  # MLOpsConfig.serving_workers (0 = one per core)

BIND_RETRY = 5.0  # seconds a persisted port is retried while its holder (e.g. a daemon shutting down) exits
BACKLOG = 1024


class DaemonError(Exception):
    """The daemon cannot start (non-loopback host without permission, port in use)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback interface (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback interface unless remote serving was allowed (the serving API is not authenticated)."""
    if not allow_remote and not is_loopback(host):
        raise DaemonError(
            f"Refusing to serve on {host!r}: the serving API is not authenticated. Bind a loopback "
            "address, or set MLOpsConfig.allow_remote_serving = True behind an authenticating proxy."
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; port 0 lets the OS choose a free port."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    return sock


def port_holder(port: int) -> str | None:
    """``pid N (command)`` of the process listening on TCP ``port`` here, when /proc says (None otherwise)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    return f"pid {proc.name} ({command[:120]})"
        except OSError:
            continue
    return None


def bind_persisted(host: str, data_dir: Path, port: int) -> socket.socket:
    """Bind the daemon's port: ``port`` when configured; else the port persisted in ``{data_dir}/serving/port`` (so
    every URL handed out stays valid across crashes and restarts), else a free one, which is then persisted. A
    persisted port held by another process is retried for ``BIND_RETRY`` s, then refused naming that process."""
    if port:
        return bind(host, port)
    remembered = daemon_file.read_port(data_dir)
    if remembered is None:
        sock = bind(host, 0)
        daemon_file.write_port(data_dir, sock.getsockname()[1])
        return sock
    deadline = time.monotonic() + BIND_RETRY
    while True:
        try:
            return bind(host, remembered)
        except DaemonError:
            if time.monotonic() >= deadline:
                holder = port_holder(remembered) or "another process"
                raise DaemonError(
                    f"Cannot serve on port {remembered}, the port of this data dir's endpoints "
                    f"({daemon_file.port_path(data_dir)}): it is held by {holder}. Stop that process, or delete "
                    "that file to let the daemon pick a new port (deployment URLs then change)."
                ) from None
            time.sleep(0.1)


def worker_count(value: int | str | None) -> int:
    """Workers to start: ``value`` when positive, else one per core this process may run on."""
    try:
        count = int(value or 0)
    except ValueError:
        count = 0
    if count > 0:
        return count
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
