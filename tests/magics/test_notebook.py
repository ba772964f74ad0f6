"""A real notebook, run by a real kernel: train, %register, %deploy, call the endpoint every way, %undeploy.

The Jupyter proxy route is called on a real `jupyter server` process started by the `jupyter_server_process`
fixture, with its token, as a user behind JupyterHub or Binder would reach the endpoint.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from ..waiting import wait_until

CELLS = [
    "%load_ext jupyter_mlops",
    """
import json, os, requests
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
data = load_breast_cancer(as_frame=True)
X = data.data.iloc[:, :8]
X.columns = [c.replace(' ', '_') for c in X.columns]
y = data.target
model = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X, y)
expected = model.predict(X.head(7)).tolist()
""",
    "%register model --name cancer --X X --y y --alias champion",
    "%deploy cancer@champion --as cancer-prod",
    """
import jupyter_mlops
dep = jupyter_mlops.deployment('cancer-prod')
assert dep.state.value == 'ready', dep
rows = X.head(7)
bodies = {
    'dataframe_split': {'dataframe_split': rows.to_dict(orient='split', index=False)},
    'dataframe_records': {'dataframe_records': rows.to_dict(orient='records')},
    'instances': {'instances': rows.to_dict(orient='records')},
    'inputs': {'inputs': {c: rows[c].tolist() for c in rows.columns}},
}
results = {}
for fmt, body in bodies.items():
    r = requests.post(dep.url, json=body, timeout=30)
    assert r.status_code == 200, (fmt, r.status_code, r.text)
    results[fmt] = r.json()['predictions']
assert all(v == expected for v in results.values()), results
""",
    """
proxy = os.environ['TEST_JUPYTER_URL'] + 'mlops/api/deployments/cancer-prod/predict'
r = requests.post(proxy, json=bodies['dataframe_split'],
                  headers={'Authorization': 'token ' + os.environ['TEST_JUPYTER_TOKEN']}, timeout=30)
assert r.status_code == 200, r.text
assert r.json()['predictions'] == expected
assert jupyter_mlops.predict('cancer-prod', rows) == expected
""",
    "%deployments",
    "%models cancer",
    "%undeploy cancer-prod",
    "assert [d.name for d in jupyter_mlops.deployments()] == []",
]

MISTAKES = [
    ("%register nothing --name x", "No variable named 'nothing'"),
    ("%deploy no-such-model", "not found"),
    ("%deploy cancer/1 --as Bad_Name", "Invalid deployment name"),
    ("%register model", "--name"),
    ("%undeploy ../etc", "must not contain"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def notebook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir for the kernels, and nothing else of ours or MLflow's that another test left set."""
    for name in [n for n in os.environ if n.startswith("JUPYTER_MLOPS_")]:
        monkeypatch.delenv(name)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "mlops"
    monkeypatch.setenv("JUPYTER_MLOPS_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture
def jupyter_server_process(notebook_env: Path, tmp_path: Path, monkeypatch) -> Iterator[tuple[str, str]]:
    port, token = _free_port(), secrets.token_hex(16)
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}/"
    try:

        def serving() -> bool:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            return httpx.get(url + "mlops/api/version", headers={"Authorization": f"token {token}"}).status_code == 200

        wait_until(
            serving,
            60,
            lambda: "jupyter server did not serve /mlops/api: " + (tmp_path / "server.log").read_text()[-3000:],
            0.2,
            ignore=(httpx.TransportError,),
        )
        monkeypatch.setenv("TEST_JUPYTER_URL", url)
        monkeypatch.setenv("TEST_JUPYTER_TOKEN", token)
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run(sources: list[str], cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src.strip()) for src in sources]
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _stop_daemon(data_dir: Path) -> None:
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.store import Store
    from jupyter_mlops.core.targets.local import LocalTarget

    config = MLOpsConfig(data_dir=str(data_dir))
    LocalTarget(config, Store(config.store_url)).stop_daemon()


def test_notebook_register_deploy_call_undeploy(notebook_env, jupyter_server_process, tmp_path) -> None:
    try:
        nb = _run(CELLS, tmp_path)
    finally:
        _stop_daemon(notebook_env)

    def shown(index: int, mime: str) -> str:
        return "".join(o.get("data", {}).get(mime, "") for o in nb.cells[index].outputs)

    assert "cancer" in shown(2, "text/html") and "champion" in shown(2, "text/html")
    # quiet: neither MLflow's "Successfully registered" lines nor library warnings reach the cell
    assert [o for o in nb.cells[2].outputs if o.output_type == "stream"] == [], nb.cells[2].outputs
    deploy_html = shown(3, "text/html")
    assert "ready" in deploy_html and "curl" in deploy_html and "/deployments/cancer-prod/invocations" in deploy_html
    assert "mean_radius" in deploy_html and "x1" not in deploy_html  # the snippet sends the model's own columns
    assert "primary v1 100%" in deploy_html
    assert "cancer-prod" in shown(6, "text/html")
    assert shown(8, "text/plain") == "Undeployed cancer-prod."  # not a Python string repr


def test_magic_mistakes_are_one_line_usage_errors(notebook_env, tmp_path) -> None:
    setup = [CELLS[0], CELLS[1], "%register model --name cancer --X X"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s.strip()) for s in setup + [m for m, _ in MISTAKES]]
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    finally:
        if (notebook_env / "serving" / "daemon.json").exists():
            _stop_daemon(notebook_env)
    for cell, (_, fragment) in zip(nb.cells[len(setup) :], MISTAKES, strict=True):
        # IPython shows a UsageError as one stderr line, "UsageError: <message>", with no traceback.
        shown = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert shown.startswith("UsageError: "), (cell.source, cell.outputs)
        assert fragment in shown, (cell.source, shown)
        assert "Traceback" not in shown and not [o for o in cell.outputs if o.output_type == "error"]
        # a failed %deploy leaves no stale "pending" card above its error
        cards = "".join(str(o.get("data", {})) for o in cell.outputs if o.output_type == "display_data")
        assert "pending" not in cards and "Deployment" not in cards, (cell.source, cell.outputs)


def test_demo_notebook_runs_end_to_end(notebook_env, tmp_path) -> None:
    """examples/demo.ipynb, exactly as shipped (outputs stripped in git), runs without an error."""
    path = Path(__file__).parents[2] / "examples" / "demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs before committing"
    try:
        NotebookClient(
            nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        if (notebook_env / "serving" / "daemon.json").exists():
            _stop_daemon(notebook_env)
    texts = [o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])]
    assert any("400" in t and "mean_" in t for t in texts), "the bad request cell should show a 400 naming a column"
    # the story the demo narrates, asserted in its own cells: canary split, promote, drift alert, rollback
    assert "[('primary', '2', 100)]" in texts and "[('primary', '1', 100)]" in texts, texts
    assert any("data-drift" in t and "firing" in t for t in texts), "the drift alert should be shown firing"
