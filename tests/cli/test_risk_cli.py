"""``jupyter mlops risk ...`` in-process through the CLI's ``main(argv)`` (one case runs the console script).

An installation of its own: ``loan-cli`` v1 registered by ``tester``; the CLI acts as this process's user, an admin
by ``JUPYTER_MLOPS_ROLES`` (so neither the registrant nor an owner: it may validate), or a deployer where a case
says so. Every bad input ends with exit code 2 (or 1 for a refused operation) and one line on stderr.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.cli import main
from jupyter_mlops.core.lineage import current_user

MODEL = "loan-cli"
DEPLOYMENT = "loan-cli-prod"
ME = current_user()


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory, trained_model: Any, iris: Any) -> Path:
    """A data dir with ``loan-cli`` v1 (registered by ``tester``) and the desired state of ``loan-cli-prod``."""
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.api import reset_client
    from jupyter_mlops.core.models import Variant
    from jupyter_mlops.core.service import MLOps

    reset_client(None)
    root = tmp_path_factory.mktemp("risk-cli") / "mlops"
    mlops = MLOps(MLOpsConfig(data_dir=str(root)), user="tester")
    try:
        X, y = iris
        mlops.register(trained_model, MODEL, X, y)
        # A deployment's desired state only (no daemon): what set_retention and the evidence report read.
        mlops.store.create_deployment(
            DEPLOYMENT, owner=ME, target="local", model_ref=f"models:/{MODEL}/1",
            variants=[Variant(model_name=MODEL, model_version="1")],
        )  # fmt: skip
    finally:
        mlops.close()
    return root


class Run:
    """Calls ``main(argv)`` as the CLI's user with the installation's settings; checks the one-line error rule."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.monkeypatch, self.capsys = root, monkeypatch, capsys
        monkeypatch.setenv("JUPYTER_MLOPS_DATA_DIR", str(root))
        self.as_role("admin")

    def as_role(self, role: str) -> None:
        self.monkeypatch.setenv("JUPYTER_MLOPS_ROLES", json.dumps({ME: role}))

    def __call__(self, *argv: str, code: int = 0) -> tuple[str, str]:
        try:
            got = main(["risk", *argv])
        except SystemExit as exc:  # argparse's usage errors end the process, as for the console script
            got = exc.code  # type: ignore[assignment]
        out, err = self.capsys.readouterr()
        assert got == code, (argv, got, out[-2000:], err[-2000:])
        assert "Traceback" not in err
        if code:
            assert len(err.strip().splitlines()) == 1 and err.startswith("jupyter mlops risk"), err
        return out, err

    def json(self, *argv: str) -> Any:
        return json.loads(self(*argv, "--json")[0])


@pytest.fixture
def run(installation: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI of the installation, as an admin (see ``Run.as_role``)."""
    return Run(installation, monkeypatch, capsys)


def _ledger(root: Path, target: str, action: str) -> list[Any]:
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    mlops = MLOps(MLOpsConfig(data_dir=str(root)), user="tester")
    try:
        return [e for e in mlops.audit_events(target) if e.action == action]
    finally:
        mlops.close()


def test_inventory_fields_set_show_and_bad_input(run: Run, installation: Path) -> None:
    due = (date.today() + timedelta(days=90)).isoformat()
    entry = run.json("set", MODEL, "risk_tier=high", "lifecycle_status=production", f"next_review_due={due}",
                     "business_owner=Credit risk", "purpose=Default scoring")  # fmt: skip
    assert (entry["risk_tier"], entry["lifecycle_status"], entry["next_review_due"]) == ("high", "production", due)
    shown, _ = run("show", MODEL)
    assert "risk_tier" in shown and "high" in shown and "Credit risk" in shown
    assert run.json("show", MODEL)["updated_by"] == ME
    assert [e.outcome for e in _ledger(installation, f"model/{MODEL}", "set_inventory")][-1] == "ok"

    _, err = run("set", MODEL, "risk_tier=extreme", code=2)
    assert "high, medium, low" in err  # the allowed values
    _, err = run("set", MODEL, "lifecycle_status=live", code=2)
    assert "development, validation, production, retired" in err
    _, err = run("set", MODEL, f"next_review_due={(date.today() - timedelta(days=3)).isoformat()}", code=2)
    assert "in the past" in err
    _, err = run("set", MODEL, "risk_tier", code=2)
    assert "KEY=VALUE" in err
    run("show", "no-such-model-cli", code=2)  # 404: named something wrong
    assert run.json("show", MODEL)["risk_tier"] == "high"  # refused changes changed nothing


def test_validation_deployer_refused_validator_recorded(run: Run, installation: Path) -> None:
    run.as_role("deployer")
    _, err = run("validate", f"{MODEL}/1", "approved", code=1)  # 403: refused, audited
    assert "may not validate" in err and "validator" in err
    run.as_role("validator")
    out, _ = run("validate", f"{MODEL}/1", "approved_with_conditions", "--finding", "low:calibration on small segments",
                 "--comment", "recalibrate quarterly", "--evidence", "metrics")  # fmt: skip
    assert out.startswith("Validation #") and f"by {ME}" in out
    listed = run.json("validations", f"{MODEL}/1")
    assert listed[0]["outcome"] == "approved_with_conditions" and listed[0]["findings"][0]["severity"] == "low"
    assert run.json("show", f"{MODEL}/1")["validation_status"] == "approved_with_conditions"
    assert [e.outcome for e in _ledger(installation, f"model/{MODEL}/1", "validate")] == ["refused", "ok"]

    _, err = run("validate", f"{MODEL}/1", "approved", "--finding", "no-severity", code=2)
    assert "SEVERITY:TEXT" in err
    _, err = run("validate", MODEL, "approved", code=2)
    assert "NAME/VERSION" in err
    run("validate", f"{MODEL}/1", "fine", code=2)  # argparse lists the outcomes


def test_reviews_summary_and_reports(run: Run, installation: Path, tmp_path: Path) -> None:
    summary = run.json("summary")
    assert summary["models"] == 1 and summary["by_tier"] == {"high": 1}
    assert summary["by_lifecycle"] == {"production": 1} and summary["production_never_validated"] == 0
    listed = run.json("review", "list")
    assert [(e["model"], e["overdue"]) for e in listed] == [(MODEL, False)] and listed[0]["next_review_due"]
    assert run.json("review", "overdue") == []
    assert "No review is overdue." in run("review", "overdue")[0]

    text, _ = run("inventory")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["model"] for r in rows] == [MODEL] and rows[0]["risk_tier"] == "high"
    run("inventory", "--as-of", "not-a-date", code=2)
    _, err = run("inventory", "--format", "pdf", code=2)
    assert "-o FILE" in err
    doc, _ = run("techdoc", f"{MODEL}/1")
    assert "Annex IV" in doc and "Default scoring" in doc
    out, _ = run("techdoc", f"{MODEL}/1", "--format", "html", "-o", str(tmp_path / "doc.html"))
    assert out.startswith("Wrote ") and "<h2" in (tmp_path / "doc.html").read_text()

    start, end = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
    evidence = json.loads(run("evidence", DEPLOYMENT, "--start", start, "--end", end)[0])
    assert evidence["deployment"] == DEPLOYMENT and evidence["requests"] == 0 and evidence["chain_ok"] is True
    _, err = run("evidence", DEPLOYMENT, "--start", end, "--end", start, code=2)
    assert "before it starts" in err
    run("evidence", DEPLOYMENT, "--start", start, code=2)  # --end is required


def test_retention_guard_through_the_cli(run: Run, installation: Path) -> None:
    run.as_role("deployer")
    _, err = run("retention", DEPLOYMENT, "--inference-log-days", "30", code=1)  # high-risk: below six months
    assert "six months" in err
    _, err = run("retention", DEPLOYMENT, "--inference-log-days", "30", "--override", code=1)  # not an admin
    kept = run.json("retention", DEPLOYMENT, "--inference-log-days", "400", "--ledger-days", "0")
    assert (kept["inference_log_days"], kept["ledger_days"], kept["overridden"]) == (400.0, 0.0, False)
    run.as_role("admin")
    out, _ = run("retention", DEPLOYMENT, "--inference-log-days", "30", "--override")
    assert "admin override" in out
    assert [e.outcome for e in _ledger(installation, f"deployment/{DEPLOYMENT}", "set_retention")] == [
        "refused", "refused", "ok", "ok"
    ]  # fmt: skip
    _, err = run("retention", DEPLOYMENT, code=2)
    assert "--inference-log-days" in err
    run("retention", DEPLOYMENT, "--ledger-days", "-5", code=2)


def test_inventory_pdf_from_the_console_script(installation: Path, tmp_path: Path) -> None:
    """The one subprocess case: the installed script writes a real PDF, which pdftoppm renders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "MLFLOW_TRACKING", "MLFLOW_REG"))}
    env["JUPYTER_MLOPS_DATA_DIR"] = str(installation)
    pdf = tmp_path / "inventory.pdf"
    script = str(Path(sys.executable).parent / "jupyter-mlops")
    proc = subprocess.run([script, "risk", "inventory", "--format", "pdf", "-o", str(pdf)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)  # fmt: skip
    assert (tmp_path / "page-1.png").stat().st_size > 1000
