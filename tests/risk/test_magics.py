"""``%mlops risk`` in a real IPython shell: inventory, validation refusal, summary, reports, mistakes."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from ..shell import ipython_shell


@pytest.fixture(scope="module")
def shell(risk_mlops):
    from jupyter_mlops.core import api

    ip = ipython_shell()
    api.reset_client(risk_mlops)
    yield ip
    api._default = None  # the package fixture closes the facade


def test_risk_magics(shell, risk_mlops, scoring, tmp_path) -> None:
    table = shell.run_line_magic("mlops", f"risk set {scoring.name} risk_tier=medium lifecycle_status=validation")
    assert "medium" in repr(table) and risk_mlops.inventory(scoring.name).risk_tier == "medium"
    assert "validation" in shell.run_line_magic("mlops", f"risk show {scoring.name}")._repr_html_()
    with pytest.raises(UsageError, match="high, medium, low"):
        shell.run_line_magic("mlops", f"risk set {scoring.name} risk_tier=severe")
    with pytest.raises(UsageError, match="registered it"):  # the notebook's user registered it
        shell.run_line_magic("mlops", f"risk validate {scoring.name}/1 approved --finding low:fine")
    assert "review_overdue" in repr(shell.run_line_magic("mlops", "risk summary"))
    doc = shell.run_line_magic("mlops", f"risk doc {scoring.name}/1")
    assert "Annex IV" in doc._repr_markdown_()
    out = tmp_path / "inventory.pdf"
    shell.run_line_magic("mlops", f"risk inventory --format pdf --out {out}")
    assert out.read_bytes().startswith(b"%PDF")
    for line in ("risk", "risk frobnicate", "risk validate credit approved", "risk set credit nothing"):
        with pytest.raises(UsageError):
            shell.run_line_magic("mlops", line)
