"""What the magics show, in a real IPython shell on the session's real stores and serving daemon.

Stored text renders inert, rollouts show their variants and what changed, snippets answer 200 when pasted,
library chatter stays out of the output, and every %mlops subcommand parses its own arguments.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import mistune
import pytest
from IPython.core.error import UsageError

from jupyter_mlops.magics.display import ChangeView, DeploymentView, Notice

from ..shell import ipython_shell

MODEL = "magic-iris"
ATTACK = '<img src=x onerror="alert(1)">'
LINK = "[click](javascript:alert(2))"


@pytest.fixture(scope="module")
def shell(mlops: Any) -> Iterator[Any]:
    """An IPython shell with the extension loaded, whose magics use the session's facade."""
    from jupyter_mlops.core import api

    ip = ipython_shell()
    previous, api._default = api._default, mlops
    yield ip
    api._default = previous  # the session fixture closes the facade


@pytest.fixture(scope="module")
def versions(mlops: Any, trained_model: Any, iris: Any) -> list[Any]:
    """Two versions of ``magic-iris`` whose description and card text carry HTML and a javascript: link."""
    X, y = iris
    first = mlops.register(trained_model, MODEL, X, y, alias="champion", description=f"{ATTACK} {LINK}")
    second = mlops.register(trained_model, MODEL, X, y, description=ATTACK)
    mlops.update_card(MODEL, "1", {"intended_use": f"{ATTACK} then {LINK}", "limitations": "<script>x()</script>"})
    return [first, second]


def _rendered(markdown: str) -> str:
    """Markdown rendered to HTML as a notebook front end would, raw HTML allowed."""
    return str(mistune.create_markdown(escape=False)(markdown))


def _outputs(obj: Any) -> list[str]:
    texts = []
    for name in ("_repr_html_", "_repr_markdown_"):
        method = getattr(obj, name, None)
        if method is not None:
            text = method()
            texts.append(_rendered(text) if name == "_repr_markdown_" else text)
    return texts


def test_stored_text_renders_inert_in_every_rich_output(shell: Any, mlops: Any, versions: list[Any]) -> None:
    card = shell.run_line_magic("mlops", f"card {MODEL}/1")
    lineage = shell.run_line_magic("mlops", f"lineage {MODEL}/1")
    registered = shell.run_line_magic("models", MODEL)
    audit = shell.run_line_magic("mlops", f"audit model/{MODEL}")
    for obj in (card, lineage, registered, audit):
        for html in _outputs(obj):
            assert "<img" not in html and "<script" not in html and 'href="javascript' not in html, html
    card_html = _rendered(card._repr_markdown_())
    assert "&lt;img src=x" in card_html and "<h1>" in card_html and "<h2>" in card_html  # text shown, structure kept
    assert "javascript:alert(2)" in card_html  # shown as text, not a link


def test_rollout_magics_show_variants_and_what_changed(shell: Any, mlops: Any, versions: list[Any]) -> None:
    shell.run_line_magic("deploy", f"{MODEL}@champion --as magic-roll")
    try:
        shell.run_line_magic("deploy", f"{MODEL}/2 --as magic-roll --canary 20")
        listed = shell.run_line_magic("deployments", "")
        assert "primary v1 80% · canary v2 20%" in listed._repr_html_()
        traffic = shell.run_line_magic("traffic", "magic-roll primary=60 canary=40")
        assert isinstance(traffic, ChangeView)
        assert repr(traffic) == "traffic magic-roll: primary v1 80% · canary v2 20% -> primary v1 60% · canary v2 40%"
        promoted = shell.run_line_magic("promote", "magic-roll")
        assert repr(promoted).endswith("-> primary v2 100%") and "&rarr;" in promoted._repr_html_()
        rolled = shell.run_line_magic("rollback", "magic-roll")
        assert repr(rolled) == "rollback magic-roll: primary v2 100% -> primary v1 100%"
        assert f"<code>{MODEL}@champion</code>" in shell.run_line_magic("deployments", "")._repr_html_()
        moved = shell.run_line_magic("mlops", f"alias set {MODEL} champion 2")
        assert repr(moved) == f"{MODEL}@champion: v1 -> v2"
        # %deployments never claims an alias that now points at another version than the one served
        stale = shell.run_line_magic("deployments", "")._repr_html_()
        assert f"<code>{MODEL}/1 (@champion now v2, %mlops sync magic-roll)</code>" in stale, stale
        synced = shell.run_line_magic("mlops", "sync magic-roll")
        assert repr(synced) == "sync magic-roll: primary v1 100% -> primary v2 100%"
        assert f"<code>{MODEL}@champion</code>" in shell.run_line_magic("deployments", "")._repr_html_()
        shell.run_line_magic("mlops", f"alias set {MODEL} champion 1")
        with pytest.raises(UsageError, match="between 1 and 99"):
            shell.run_line_magic("deploy", f"{MODEL}/2 --as magic-roll --canary 120")
    finally:
        gone = shell.run_line_magic("undeploy", "magic-roll")
    assert isinstance(gone, Notice) and repr(gone) == "Undeployed magic-roll."


def test_snippets_work_when_pasted(shell: Any, mlops: Any, versions: list[Any]) -> None:
    """The curl, requests and jupyter_mlops snippets of a ready deployment answer with predictions."""
    from jupyter_mlops.magics.commands import deployment_snippets

    deployment = mlops.deploy(f"{MODEL}/1", "magic-snip")
    try:
        snippets = DeploymentView(deployment, deployment_snippets(mlops, deployment)).snippets
        assert set(snippets) == {"curl", "Python requests", "jupyter_mlops"}
        assert '"x1"' not in snippets["curl"] and "sepal_length" in snippets["curl"]
        curl = subprocess.run(["bash", "-c", snippets["curl"]], capture_output=True, text=True, timeout=60)
        assert "predictions" in json.loads(curl.stdout), curl.stdout
        requests_run = subprocess.run(
            [sys.executable, "-c", snippets["Python requests"]], capture_output=True, text=True, timeout=120
        )
        assert requests_run.returncode == 0 and "predictions" in requests_run.stdout, requests_run.stderr
        namespace: dict[str, Any] = {}
        exec(snippets["jupyter_mlops"].replace("print(", "result = ("), namespace)  # the shared facade
        assert isinstance(namespace["result"], list) and namespace["result"]
    finally:
        mlops.undeploy("magic-snip")


def test_mlops_subcommands_parse_their_own_arguments(shell: Any, mlops: Any, versions: list[Any]) -> None:
    help_text = repr(shell.run_line_magic("mlops", "rules --help"))
    assert "--set NAME METRIC OP THRESHOLD" in help_text
    for line, message in [
        ("alias set", "the following arguments are required"),
        ("alias move m a", "invalid choice"),
        ("alias set m champion", "VERSION"),
        ("ack not-a-number", "invalid int value"),
        ("feedback nope --ids ids --labels labels", "No variable named 'ids'"),
        ("audit export xml", "invalid choice"),
        ("rules", "required"),
    ]:
        with pytest.raises(UsageError, match=message):
            shell.run_line_magic("mlops", line)


def test_alert_rules_alerts_and_feedback_magics(shell: Any, mlops: Any, versions: list[Any], iris: Any) -> None:
    deployment = mlops.deploy(f"{MODEL}/1", "magic-alerts")
    try:
        table = shell.run_line_magic("mlops", "rules magic-alerts --set slow p95_ms > 250 --window 5m")
        assert "slow" in repr(table) and "error-rate" in repr(table)
        with pytest.raises(UsageError, match="metric"):
            shell.run_line_magic("mlops", "rules magic-alerts --set bad nope > 1")
        assert "slow" not in repr(shell.run_line_magic("mlops", "rules magic-alerts --remove slow"))
        assert "Alerts (" in repr(shell.run_line_magic("mlops", "alerts magic-alerts"))
        shell.user_ns.update(ids=["no-such-request"], labels=[1])
        with pytest.raises(UsageError, match="not in the inference log"):
            shell.run_line_magic("mlops", "feedback magic-alerts --ids ids --labels labels")
        body = {"dataframe_split": iris[0].head(1).to_dict(orient="split", index=False)}
        answered = httpx.post(deployment.url, json=body, timeout=30)
        shell.user_ns.update(ids=[answered.headers["X-MLOps-Request-Id"]], labels=[0])
        deadline = time.monotonic() + 60  # the inference log is written in batches, within about a second
        while True:
            try:
                shown = repr(shell.run_line_magic("mlops", "feedback magic-alerts --ids ids --labels labels"))
                break
            except UsageError:
                assert time.monotonic() < deadline
        assert shown == "1 labels recorded for magic-alerts."
    finally:
        mlops.undeploy("magic-alerts")


def test_audit_shows_whole_json_and_library_chatter_is_kept_for_log(
    shell: Any, mlops: Any, versions: list[Any]
) -> None:
    long_before = {"note": "x" * 300 + " end"}
    mlops.audit.record("update_card", "tester", "tester", f"model/{MODEL}/9", long_before, None)
    table = shell.run_line_magic("mlops", f"audit model/{MODEL}/9")
    cell = [row for row in table.rows if row[5] == f"model/{MODEL}/9"][0][7]
    assert json.loads(cell) == long_before  # never cut mid-string
    import warnings

    from jupyter_mlops.magics.quiet import captured

    with captured():
        warnings.warn("a noisy library warning", UserWarning, stacklevel=1)
        print("Successfully registered model 'x'.")
    log = repr(shell.run_line_magic("mlops", "log 5"))
    assert "a noisy library warning" in log and "Successfully registered" in log


def test_alerts_fired_in_a_notebook_are_notices_not_stderr(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Our monitoring logs "Alert fired" as a warning; with the extension loaded it is a notice, not red stderr."""
    import logging

    from jupyter_mlops.magics.quiet import CAPTURED

    logging.getLogger("jupyter_mlops.core.monitoring.service").warning("Alert fired: %s", "magic p95 over 250 ms")
    shown = capsys.readouterr()
    assert "Alert fired: magic p95 over 250 ms" in shown.out and shown.err == ""
    assert any("magic p95 over 250 ms" in line for line in CAPTURED)


def test_deployment_settings_magics_take_effect(shell: Any, mlops: Any, versions: list[Any], iris: Any) -> None:
    # Given a deployment deployed by %deploy with a 3-row limit and other settings
    shell.run_line_magic(
        "deploy", f"{MODEL}/1 --as magic-limits --max-rows 3 --timeout-ms 4000 --auto-rollback off "
        "--set monitoring.drift_share=0.3",
    )  # fmt: skip
    try:
        shown = repr(shell.run_line_magic("mlops", "settings magic-limits"))
        assert "max_rows | 3" in shown and "timeout_ms | 4000" in shown and "monitoring.drift_share | 0.3" in shown
        assert "auto_rollback.enabled | False" in shown
        five = {"dataframe_split": iris[0].head(5).to_dict(orient="split", index=False)}
        url = mlops.deployment("magic-limits").url
        # Then the daemon refuses five rows
        assert httpx.post(url, json=five, timeout=30).status_code == 400
        # When %mlops settings raises the limit, the same request answers
        changed = repr(shell.run_line_magic("mlops", "settings magic-limits max_rows=10 batching.max_wait_ms=2"))
        assert "max_rows | 3 | 10" in changed and "batching.max_wait_ms | 1.0 | 2" in changed
        answered = httpx.post(url, json=five, timeout=30)
        assert answered.status_code == 200 and len(answered.json()["predictions"]) == 5
        # Bad values are UsageErrors with the facade's message naming the field; nothing changes
        for line, field in (
            ("max_rows=0", "max_rows"),
            ("timeout_ms=9999999", "timeout_ms"),
            ("monitoring.drift_share=2", "drift_share"),
            ("isolated=true", "isolated"),
            ("max_rows", "KEY=VALUE"),
        ):
            with pytest.raises(UsageError, match=field):
                shell.run_line_magic("mlops", f"settings magic-limits {line}")
        with pytest.raises(UsageError, match="max_rows"):
            shell.run_line_magic("deploy", f"{MODEL}/1 --as magic-bad --max-rows -1")
        assert mlops.configure("magic-limits").max_rows == 10
    finally:
        shell.run_line_magic("undeploy", "magic-limits")
