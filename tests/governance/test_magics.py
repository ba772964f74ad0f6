"""``%mlops`` in a real IPython shell: audit, verify, served, card, approvals, and mistakes as UsageError."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from ..shell import ipython_shell


@pytest.fixture(scope="module")
def shell(gov_mlops):
    from jupyter_mlops.core import api

    ip = ipython_shell()
    api.reset_client(gov_mlops)
    yield ip
    api._default = None  # the session fixture closes the facade; do not close it twice


def test_audit_verify_served_and_card_magics(shell, gov_mlops, gov_iris) -> None:
    entry = gov_mlops.audit.record(
        "deploy", "tester", "tester", "deployment/magic-dep", None, {"model_name": "iris", "model_version": "1"}
    )

    table = shell.run_line_magic("mlops", "audit deployment/magic-dep")
    assert "deploy" in repr(table) and "magic-dep" in table._repr_html_()
    assert "intact" in repr(shell.run_line_magic("mlops", "audit verify"))
    served = shell.run_line_magic("mlops", f"audit served magic-dep {entry.at.isoformat()}")
    assert "iris v1" in repr(served)
    assert "seq,at,action" in repr(shell.run_line_magic("mlops", "audit export csv deployment/magic-dep"))
    assert "# Model card: iris v1" in shell.run_line_magic("mlops", "card iris/1")._repr_markdown_()
    assert "**version**" in repr(shell.run_line_magic("mlops", "lineage iris/1"))


def test_approve_and_user_mistakes_are_one_line_usage_errors(shell, gov_mlops, gov_iris) -> None:
    request = gov_mlops.governance.create_request(
        "set_alias", "model/iris@magic", {"version": "1"}, {}, "alice", "tester"
    )
    # the session facade's user (tester) has the default deployer role: refused, recorded, shown as one line
    with pytest.raises(UsageError, match="only approvers"):
        shell.run_line_magic("mlops", f"approve {request.id}")
    assert str(request.id) in repr(shell.run_line_magic("mlops", "approvals pending"))
    for line in ("", "frobnicate", "approve x", "card", "audit served only-one", "audit export xml"):
        with pytest.raises(UsageError):
            shell.run_line_magic("mlops", line)
    with pytest.raises(UsageError, match="No approval request"):
        shell.run_line_magic("mlops", "reject 999999")


def test_request_asks_for_a_protected_change_from_the_notebook(shell, gov_mlops, gov_iris) -> None:
    made = shell.run_line_magic("mlops", "request set_alias model/iris@magic-req version=1")
    request = gov_mlops.approvals("pending")[0]
    assert (request.action, request.target, request.payload["version"]) == ("set_alias", "model/iris@magic-req", "1")
    assert f"Request #{request.id}" in repr(made) and f"%mlops approve {request.id}" in repr(made)
    assert "magic-req" in repr(shell.run_line_magic("mlops", "approvals pending"))
    for line in ("request promote", "request set_traffic deployment/x primary=half", "request promote deployment/x k"):
        with pytest.raises(UsageError, match="Usage"):
            shell.run_line_magic("mlops", line)
    with pytest.raises(UsageError, match="No deployment named 'magic-nope'"):  # weights reach the service
        shell.run_line_magic("mlops", "request set_traffic deployment/magic-nope primary=50 canary=50")
