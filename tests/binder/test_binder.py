"""Binder's steps, run here in a fresh virtual environment (repo2docker itself needs Docker, absent here).

What repo2docker does with binder/: install requirements.txt, run postBuild from the repository root, then
launch through `start`. This test does the same in a new venv and executes the demo notebook in it.

Only the harness's own step is sped up: requirements.txt (and the packages jupyter_mlops depends on, which
postBuild's ``pip install .`` would otherwise download again with ``--no-cache-dir``) go in with the project's uv
and its warm cache when ``make env`` installed it. postBuild itself runs unchanged, with pip, as Binder runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BINDER = ROOT / "binder"
UV = Path(sys.executable).parent / "uv"  # installed into the project's venv by `make env`


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("binder-home")
    prefix = home / "venv"
    venv.create(prefix, with_pip=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "MLFLOW_", "VIRTUAL_ENV"))},
        "HOME": str(home),
        "PATH": f"{prefix / 'bin'}:{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
    }
    python = str(prefix / "bin" / "python")
    requirements = ["-r", str(BINDER / "requirements.txt"), "ipykernel", "nbclient"]
    if UV.exists():
        uv = [str(UV), "pip", "install", "-q", "--python", python, "--link-mode", "copy"]
        uv_env = {**env, "HOME": os.environ["HOME"]}  # uv's cache, warm from `make env`, is in the real home
        subprocess.run([*uv, *requirements, "-r", str(ROOT / "pyproject.toml")], check=True, env=uv_env)
    else:
        subprocess.run([python, "-m", "pip", "install", "-q", *requirements], check=True, env=env)
    subprocess.run([str(BINDER / "postBuild")], cwd=ROOT, check=True, env=env)
    return env


def test_postbuild_installs_both_halves_enabled(binder_env: dict[str, str]) -> None:
    listing = subprocess.run(
        ["jupyter", "labextension", "list"], capture_output=True, text=True, env=binder_env, check=True
    )
    assert "jupyter_mlops" in listing.stdout + listing.stderr
    # The installed copy is the wheel, not this source tree, and it needs no Node at run time.
    where = subprocess.run(
        ["python", "-c", "import jupyter_mlops, sys; print(jupyter_mlops.__file__)"],
        capture_output=True,
        text=True,
        env={**binder_env, "PATH": binder_env["PATH"].split(":", 1)[0]},
        cwd=binder_env["HOME"],
        check=True,
    )
    assert "site-packages" in where.stdout


def test_demo_notebook_runs_through_start(binder_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo-out.ipynb"
    script = tmp_path / "run_demo.py"
    script.write_text(
        "import sys, nbformat\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "client = NotebookClient(nb, kernel_name='python3', timeout=600)\n"
        "client.execute(cwd=sys.argv[3])\n"
        "nbformat.write(nb, sys.argv[2])\n"
    )
    command = ["python", str(script), str(ROOT / "examples" / "demo.ipynb"), str(out), str(tmp_path)]
    # Run time needs no Node: only the venv and a shell are on PATH.
    shell_only = tmp_path / "bin"
    shell_only.mkdir()
    (shell_only / "bash").symlink_to("/bin/bash")
    no_node = {**binder_env, "PATH": f"{binder_env['PATH'].split(':', 1)[0]}:{shell_only}"}
    try:
        subprocess.run([str(BINDER / "start"), *command], check=True, env=no_node, cwd=tmp_path)
    finally:
        stop = (
            "from jupyter_mlops.config import MLOpsConfig\n"
            "from jupyter_mlops.core.store import Store\n"
            "from jupyter_mlops.core.targets.local import LocalTarget\n"
            "c = MLOpsConfig(); LocalTarget(c, Store(c.store_url)).stop_daemon()\n"
        )
        subprocess.run([str(BINDER / "start"), "python", "-c", stop], env=binder_env, cwd=tmp_path, check=False)
    assert out.exists()
    assert (Path(binder_env["HOME"]) / ".mlops" / "mlflow.db").exists(), "the demo did not use the embedded store"
