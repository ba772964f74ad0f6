"""What a registration records about where a model came from: notebook, git commit, environment, data.

Everything here is best effort: lineage must never make a registration fail.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

TAG_PREFIX = "mlops."
KEY_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "xgboost", "lightgbm", "torch")


def current_user() -> str:
    """The person acting: the JupyterHub user when under a hub, else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def notebook_path() -> str | None:
    """The notebook a kernel runs for. jupyter_server passes it to kernels as JPY_SESSION_NAME."""
    return os.environ.get("JPY_SESSION_NAME") or None


def git_info(folder: str | Path) -> dict[str, str]:
    """The commit, dirtiness, branch and remote of the git work tree holding ``folder`` (empty outside one)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {"git.commit": commit}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["git.dirty"] = "true" if git("status", "--porcelain", "--untracked-files=no") else "false"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["git.branch"] = git("rev-parse", "--abbrev-ref", "HEAD")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        remote = git("config", "--get", "remote.origin.url")
        if remote and "@" not in remote:  # never record credentials embedded in a URL
            info["git.remote"] = remote
    return info


def environment() -> dict[str, str]:
    """Python version, platform and the versions of the key ML packages."""
    packages = {}
    for name in KEY_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    return {"python": platform.python_version(), "packages": json.dumps(packages, sort_keys=True)}


def data_fingerprint(X: Any) -> dict[str, str]:
    """A content hash of the training data, so two registrations can be told apart by their data."""
    if X is None:
        return {}
    try:
        import pandas as pd

        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
        return {
            "data.fingerprint": f"sha256:{digest[:32]}",
            "data.rows": str(len(frame)),
            "data.columns": str(frame.shape[1]),
        }
    except Exception:  # unhashable content: lineage stays best effort
        return {}


def capture(X: Any = None, notebook: str | None = None, user: str | None = None) -> dict[str, str]:
    """Lineage tags (prefixed ``mlops.``) for a model version registered now."""
    nb = notebook or notebook_path()
    folder = Path(nb).parent if nb and Path(nb).parent.is_dir() else Path.cwd()
    tags: dict[str, str] = {"registered_by": user or current_user()}
    if nb:
        tags["notebook"] = nb
    tags.update(git_info(folder))
    tags.update(environment())
    tags.update(data_fingerprint(X))
    return {TAG_PREFIX + key: value for key, value in tags.items()}
