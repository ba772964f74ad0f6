"""The ``jupyter mlops`` command line on a fresh data dir: its entry function in-process, the installed console
script (and ``jupyter mlops``) in subprocesses.

One registered model and one serving daemon are shared by the module; the daemon is stopped at the end. Every
subcommand runs at least once, with its bad-input cases: exit code 2 and one line on stderr for usage errors,
1 for failed operations, never a traceback.

Most calls run ``jupyter_mlops.cli.main(argv)`` in this process (the console script is ``sys.exit(main())``), with
the environment, working directory and standard streams a fresh process would have and a facade of its own: the
same code path without importing MLflow again for each of some eighty calls (3-6 s each on 2 cores). A few calls
(``spawn=True``, and the ``jupyter mlops`` and terminal tests) run the installed script itself, so that its
exit codes, one-line stderr and terminal output are checked as a shell sees them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent
SCRIPT = str(BIN / "jupyter-mlops")
MODEL = "iris-cli"


@dataclass
class Result:
    """What one command gave: its exit code and its output (as ``subprocess.CompletedProcess`` names them)."""

    returncode: int
    stdout: str
    stderr: str


class CLI:
    """Runs ``jupyter mlops`` commands with the module's data dir, each as a fresh invocation.

    In-process by default (the entry function, see the module docstring); ``spawn=True`` or ``cmd`` runs the
    installed console script in a new process.
    """

    def __init__(self, data_dir: Path, cwd: Path) -> None:
        self.data_dir, self.cwd = data_dir, cwd
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "MLFLOW_"))},
            "JUPYTER_MLOPS_DATA_DIR": str(data_dir),
        }

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        code: int | None = 0,
        cmd: list[str] | None = None,
        spawn: bool = False,
    ) -> Result:
        if spawn or cmd:
            proc = subprocess.run(
                (cmd or [SCRIPT]) + list(args), input=stdin, capture_output=True, text=True, env=self.env,
                cwd=self.cwd, timeout=300,
            )  # fmt: skip
            result = Result(proc.returncode, proc.stdout, proc.stderr)
        else:
            result = self._in_process(list(args), stdin)
        detail = (args, result.returncode, result.stdout[-2000:], result.stderr[-2000:])
        assert code is None or result.returncode == code, detail
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, whatever the failure
        return result

    def _in_process(self, argv: list[str], stdin: str | None) -> Result:
        """``main(argv)`` as the console script runs it, with a fresh process's environment, cwd and streams."""
        from jupyter_mlops.cli import main
        from jupyter_mlops.core import api

        out, err = io.StringIO(), io.StringIO()
        outer_client = api._default  # another test's facade: the command builds its own, as a new process would
        api._default = None
        try:
            with pytest.MonkeyPatch.context() as patch:
                for key in [k for k in os.environ if k not in self.env]:
                    patch.delenv(key)
                for key, value in self.env.items():
                    patch.setenv(key, value)
                patch.chdir(self.cwd)
                patch.setattr(sys, "stdin", io.StringIO(stdin or ""))
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    try:
                        returncode = main(argv)
                    except SystemExit as exc:  # argparse's usage errors, as sys.exit() ends the script
                        returncode = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        finally:
            api.reset_client(None)  # what the command left open, as its process exit would
            api._default = outer_client
        return Result(returncode, out.getvalue(), err.getvalue())

    def json(self, *args: str, stdin: str | None = None) -> object:
        return json.loads(self.run(*args, "--json", stdin=stdin).stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, trained_model, iris) -> Iterator[CLI]:
    """A fresh installation with ``iris-cli`` v1 (signature, input example, alias champion) registered in-process."""
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    root = tmp_path_factory.mktemp("cli")
    config = MLOpsConfig(data_dir=str(root / "mlops"))
    mlops = MLOps(config)
    X, y = iris
    try:
        mlops.register(trained_model, MODEL, X, y, alias="champion")
    finally:
        mlops.close()
    runner = CLI(root / "mlops", root)
    try:
        yield runner
    finally:
        from jupyter_mlops.core.store import Store
        from jupyter_mlops.core.targets.local import LocalTarget

        target = LocalTarget(config, Store(config.store_url))
        target.stop_daemon()


def test_reads_as_json_and_tables(cli: CLI) -> None:
    models = cli.json("models")
    assert [m["name"] for m in models] == [MODEL]
    assert set(models[0]) >= {"name", "latest_version", "aliases", "versions", "description", "updated_at"}
    assert models[0]["aliases"] == {"champion": "1"}
    table = cli.run("models").stdout
    assert table.splitlines()[0].split()[:3] == ["MODEL", "LATEST", "ALIASES"] and "champion->v1" in table
    versions = cli.json("versions", MODEL)
    assert versions[0]["version"] == "1" and versions[0]["uri"] == f"models:/{MODEL}/1"
    assert "No deployments." in cli.run("deployments").stdout


def test_register_from_run_and_model_uris_and_aliases(cli: CLI) -> None:
    run_id = cli.json("versions", MODEL)[0]["run_id"]
    from_run = cli.json("register", f"runs:/{run_id}/model", "--name", MODEL)
    assert from_run["version"] == "2"
    copied = cli.json("register", f"models:/{MODEL}/1", "--name", "iris-copy", "--alias", "staging")
    assert (copied["name"], copied["version"], copied["aliases"]) == ("iris-copy", "1", ["staging"])
    assert "iris-copy@staging -> v1" in cli.run("alias", "set", "iris-copy", "staging", "1").stdout
    cli.run("alias", "rm", "iris-copy", "staging")
    assert cli.json("versions", "iris-copy")[0]["aliases"] == []
    cli.run("register", "/tmp/model.pkl", "--name", "x", code=2)
    cli.run("register", f"models:/{MODEL}/1", code=2)  # --name missing
    cli.run("alias", "set", MODEL, "champion", "99", code=2)  # no version 99
    cli.run("versions", "no-such-model", code=2)


def test_deploy_predict_rollout_and_undeploy(cli: CLI, iris, tmp_path: Path) -> None:
    deployed = cli.json("deploy", f"{MODEL}@champion", "--as", "iris-cli")
    assert deployed["state"] == "ready" and deployed["url"].endswith("/deployments/iris-cli/invocations")
    assert [(v["role"], v["model_version"], v["weight"]) for v in deployed["variants"]] == [("primary", "1", 100)]
    assert cli.json("status", "iris-cli")["url"] == deployed["url"]
    assert "primary v1 100%" in cli.run("deployments").stdout

    X, _ = iris
    rows = X.head(3)
    body = {"dataframe_split": rows.to_dict(orient="split", index=False)}
    as_json = json.loads(cli.run("predict", "iris-cli", stdin=json.dumps(body)).stdout)
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    as_csv = json.loads(cli.run("predict", "iris-cli", "-I", str(path)).stdout)
    assert as_json == as_csv and len(as_json["predictions"]) == 3
    cli.run("predict", "iris-cli", stdin="{not json", code=2)
    cli.run("predict", "iris-cli", "-I", str(tmp_path / "missing.json"), code=2)
    refused = cli.run(
        "predict", "iris-cli", stdin=json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1]]}}), code=1
    )
    assert "iris-cli" not in refused.stdout and refused.stderr.startswith("jupyter mlops predict: ")

    canary = cli.json("deploy", f"{MODEL}/2", "--as", "iris-cli", "--canary", "20")
    assert [(v["role"], v["model_version"], v["weight"]) for v in canary["variants"]] == [
        ("primary", "1", 80), ("canary", "2", 20)
    ]  # fmt: skip
    changed = cli.run("traffic", "iris-cli", "primary=60", "canary=40").stdout
    assert "primary v1 80% · canary v2 20% -> primary v1 60% · canary v2 40%" in changed
    cli.run("traffic", "iris-cli", "canary", code=2)
    cli.run("traffic", "iris-cli", "primary=50", code=2)  # weights must sum to 100
    assert "-> primary v2 100%" in cli.run("promote", "iris-cli").stdout
    assert "primary v2 100% -> primary v1 100%" in cli.run("rollback", "iris-cli").stdout
    assert "primary v1 100% -> primary v1 100%" in cli.run("sync", "iris-cli").stdout  # alias unmoved
    cli.run("alias", "set", MODEL, "champion", "2")
    assert "-> primary v2 100%" in cli.run("sync", "iris-cli").stdout
    cli.run("deploy", f"{MODEL}/1", "--canary", "150", "--as", "iris-cli", code=2)
    cli.run("deploy", "no-such-model", code=2)
    cli.run("deploy", f"{MODEL}/1", "--as", "Bad_Name", code=2)
    cli.run("status", "nope", code=2)

    report = cli.json("monitor", "iris-cli", "--window", "1h")
    assert report["deployment"] == "iris-cli"
    cli.run("monitor", "iris-cli", "--window", "2s", code=2)
    assert isinstance(cli.json("alerts", "iris-cli"), list)
    cli.run("feedback", "iris-cli", stdin='{"ids": []}', code=2)
    unknown = cli.run("feedback", "iris-cli", stdin=json.dumps({"request_ids": ["nope"], "labels": [0]}), code=2)
    assert "not in the inference log" in unknown.stderr
    answered = httpx.post(deployed["url"], json=body, timeout=30)
    request_id = answered.headers["X-MLOps-Request-Id"]
    labels = {"request_ids": [request_id], "labels": [0]}
    deadline = time.monotonic() + 60  # the inference log is written in batches, within about a second
    while (fb := cli.run("feedback", "iris-cli", "--json", stdin=json.dumps(labels), code=None)).returncode:
        assert time.monotonic() < deadline, fb.stderr
    assert json.loads(fb.stdout)["accepted"] == 1

    card = cli.json("card", f"{MODEL}/2")  # the deployment serves v2 since the sync
    assert card["name"] == MODEL and "iris-cli" in card["deployments"]
    assert cli.run("card", f"{MODEL}/1").stdout.startswith(f"# Model card: {MODEL} v1")

    assert cli.run("undeploy", "iris-cli").stdout.strip() == "Undeployed iris-cli."
    assert "nothing to do" in cli.run("undeploy", "iris-cli").stdout


def test_audit_served_verify_and_tampering(cli: CLI) -> None:
    entries = json.loads(cli.run("audit", "--target", f"model/{MODEL}").stdout)
    assert entries and all(e["target"].startswith(f"model/{MODEL}") for e in entries)
    rows = list(csv.DictReader(io.StringIO(cli.run("audit", "--format", "csv").stdout)))
    assert {"seq", "action", "target"} <= set(rows[0])
    assert cli.json("audit", "verify")["ok"] is True
    deploys = [e for e in json.loads(cli.run("audit").stdout) if e["action"] == "deploy"]
    if deploys:
        served = cli.json("audit", "served", "iris-cli", deploys[0]["at"])
        assert served["serving"] is True and served["model_version"] == "1"
    cli.run("audit", "served", "iris-cli", "not-a-time", code=2)
    cli.run("audit", "--format", "xml", code=2)

    db = sqlite3.connect(cli.data_dir / "mlops.db")
    with db:
        db.execute("UPDATE mlops_audit SET actor = 'mallory' WHERE seq = 1")
    db.close()
    broken = cli.run("audit", "verify", code=1, spawn=True)  # the script's exit code 1 and one line, as a shell sees
    assert broken.stderr.startswith("jupyter mlops audit: Entry 1 ") and "modified" in broken.stderr
    report = json.loads(cli.run("audit", "verify", "--json", code=1).stdout)
    assert (report["ok"], report["first_broken"]) == (False, 1)


def test_approvals_request_list_and_refused_grant(cli: CLI) -> None:
    made = cli.json("approvals", "request", "set_alias", f"model/{MODEL}@prod", "version=1")
    assert made["status"] == "pending" and made["action"] == "set_alias"
    listed = cli.json("approvals", "list", "pending")
    assert made["id"] in [a["id"] for a in listed]
    assert str(made["id"]) in cli.run("approvals", "list").stdout
    refused = cli.run("approvals", "grant", str(made["id"]), code=1)  # the requester has no approver role
    assert "approver" in refused.stderr
    cli.run("approvals", "grant", "x", code=2)
    cli.run("approvals", "request", "set_traffic", "deployment/x", "primary=half", code=2)
    cli.run("approvals", "reject", "999999", code=2)


def test_usage_errors_are_one_line_with_exit_code_2(cli: CLI) -> None:
    for args in ([], ["frobnicate"], ["deploy"], ["traffic", "x"], ["card"], ["alias", "mv", "a", "b"]):
        proc = cli.run(*args, code=2)
        assert proc.stderr.startswith("jupyter mlops"), proc.stderr
    # The installed script itself exits 2 with the same one line
    spawned = cli.run("frobnicate", code=2, spawn=True)
    assert spawned.stderr == cli.run("frobnicate", code=2).stderr


def test_jupyter_mlops_subcommand_and_deploy_steps_on_a_tty(cli: CLI) -> None:
    """``jupyter mlops`` finds the console script; on a terminal, deploy shows its steps as they happen."""
    assert MODEL in cli.run("models", cmd=[str(BIN / "jupyter"), "mlops"]).stdout

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [SCRIPT, "deploy", f"{MODEL}/1", "--as", "iris-tty"], stdout=subprocess.PIPE, stderr=follower,
            env=cli.env, cwd=cli.cwd, timeout=300, text=True,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        shown = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode == 0, proc.stdout
    assert b"ready" in shown or b"done" in shown, shown
    assert "iris-tty: ready" in proc.stdout
    cli.run("undeploy", "iris-tty")


def test_deployment_settings_at_deploy_and_later_take_effect(cli: CLI, iris) -> None:
    # Given a deployment deployed with a 3-row limit and settings given as flags and --set words
    X, _ = iris
    body = json.dumps({"dataframe_split": X.head(5).to_dict(orient="split", index=False)})
    cli.run("deploy", f"{MODEL}/1", "--as", "iris-limits", "--max-rows", "3", "--timeout-ms", "4000",
            "--set", "monitoring.drift_share=0.3", "--auto-rollback", "off", "--json")  # fmt: skip
    try:
        settings = cli.json("settings", "iris-limits")
        assert (settings["max_rows"], settings["timeout_ms"], settings["max_queue"]) == (3, 4000, 256)
        assert settings["monitoring"]["drift_share"] == 0.3 and settings["auto_rollback"]["enabled"] is False
        # Then the daemon refuses five rows (the operation failed: exit 1, the limit named)
        refused = cli.run("predict", "iris-limits", stdin=body, code=1)
        assert "3" in refused.stderr
        # When the limit is raised through `settings --set`, the same request answers
        changed = cli.json("settings", "iris-limits", "--set", "max_rows=10", "--max-queue", "50")
        assert (changed["max_rows"], changed["max_queue"], changed["timeout_ms"]) == (10, 50, 4000)
        assert len(json.loads(cli.run("predict", "iris-limits", stdin=body).stdout)["predictions"]) == 5
        table = cli.run("settings", "iris-limits").stdout
        assert "monitoring.drift_share" in table and "max_rows" in table
        # Bad values: exit 2 with the facade's message naming the field; nothing changed
        for args, field in (
            (["--max-rows", "0"], "max_rows"),
            (["--set", "timeout_ms=9999999"], "timeout_ms"),
            (["--set", "monitoring.drift_share=2"], "drift_share"),
            (["--set", "isolated=true"], "isolated"),
            (["--set", "no_such=1"], "no_such"),
            (["--set", "max_rows"], "KEY=VALUE"),
        ):
            assert field in cli.run("settings", "iris-limits", *args, code=2).stderr, args
        assert "max_rows" in cli.run("deploy", f"{MODEL}/1", "--as", "iris-bad", "--max-rows", "-1", code=2).stderr
        assert cli.json("settings", "iris-limits")["max_rows"] == 10
        cli.run("settings", "no-such-deployment", code=2)
    finally:
        cli.run("undeploy", "iris-limits")
