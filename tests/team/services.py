"""Team services for tests: Debian's PostgreSQL (run as the postgres user) and a remote ``mlflow server``.

CI runs as root and PostgreSQL refuses to: every server command runs through ``runuser -u postgres``. The data
folder is short-named under /tmp because unix-socket paths have a length limit. Everything started here is
stopped by the caller (``stop()``); processes are ended by the PIDs we started, never by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.waiting import wait_until


def _pg_bin() -> Path:
    """PostgreSQL server binaries of the installed major version (newest first), or $JUPYTER_MLOPS_PG_BIN."""
    if given := os.environ.get("JUPYTER_MLOPS_PG_BIN"):
        return Path(given)
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    except (OSError, subprocess.CalledProcessError):
        pass
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
        reverse=True,
    )
    return installed[0].parent if installed else Path("/usr/lib/postgresql/bin")


PG_BIN = _pg_bin()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> str | None:
    """None when PostgreSQL can run here, else why not (the Makefile's `services` step installs it)."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN}: run `make services` (apt-get install postgresql)."
    if shutil.which("runuser") is None:
        return "runuser is missing: cannot start PostgreSQL as the postgres user."
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e '.[test]'."
    return None


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1; ``url(db)`` gives SQLAlchemy URLs (psycopg 3)."""

    folder: Path
    port: int
    superuser_password: str = ""

    @classmethod
    @contextlib.contextmanager
    def running(cls, passwords: bool = False) -> Iterator[Postgres]:
        """A cluster; with ``passwords`` every login (TCP and socket, the superuser's too) needs a password, so
        a process that only knows the host and port cannot get in."""
        folder = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        data = folder / "d"
        auth = ["--auth=trust"]
        password = ""
        if passwords:
            import secrets

            password = secrets.token_hex(16)
            pwfile = folder / "pw"
            pwfile.write_text(password + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        subprocess.run(
            _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", *auth, "-E", "UTF8"),
            check=True,
            capture_output=True,
        )
        if passwords:
            (folder / "pw").unlink()
        port = free_port()
        options = f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        server = cls(folder, port, password)
        try:
            yield server
        finally:
            subprocess.run(
                _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"), capture_output=True
            )
            shutil.rmtree(folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def superuser_dsn(self) -> str:
        """libpq DSN of the superuser (with its password when the cluster requires passwords)."""
        secret = f" password={self.superuser_password}" if self.superuser_password else ""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres{secret}"

    def create_database(self, name: str, owner: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.superuser_dsn, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        return self.url(name)

    def create_role(self, name: str, password: str) -> None:
        """A login role with a password (the MLOps service's store account)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.superuser_dsn, autocommit=True) as c:
            c.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))


@dataclass
class MlflowServer:
    """``mlflow server`` with a PostgreSQL backend and proxied artifacts (--serve-artifacts), one worker."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    @contextlib.contextmanager
    def running(
        cls, backend_uri: str, folder: Path, timeout: float = 90.0, *, app_name: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Iterator[MlflowServer]:  # fmt: skip
        """Start it (``app_name``: e.g. ``basic-auth``, configured by ``extra_env``), yield it, stop it."""
        port = free_port()
        artifacts = folder / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        log_path = folder / "mlflow-server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "MLFLOW_REGISTRY"))}
        # Without this the server starts a job runner: about 15 processes and 3.4 GB instead of 2 and 560 MB.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        env.update(extra_env or {})
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend_uri,
            "--serve-artifacts", "--artifacts-destination", str(artifacts),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            *(["--app-name", app_name] if app_name else []),
        ]  # fmt: skip
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        server = cls(f"http://127.0.0.1:{port}", process, log_path)
        try:
            server._wait_up(timeout)
            yield server
        finally:
            server.stop()

    def _wait_up(self, timeout: float) -> None:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({self.process.returncode}):\n{self.log_path.read_text()}")
            return httpx.get(f"{self.url}/health", timeout=2.0, trust_env=False).status_code == 200

        wait_until(
            healthy, timeout, lambda: f"mlflow server up:\n{self.log_path.read_text()[-3000:]}", 0.2,
            ignore=(httpx.HTTPError,),
        )  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its own session: the gunicorn/uvicorn worker goes with the group we started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
