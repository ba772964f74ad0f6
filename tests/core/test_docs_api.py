"""The Python API that README and docs/governance.md show exists, with the keywords they show (issue #15).

README imports the package as ``mlops`` (``import jupyter_mlops as mlops``), so ``mlops.X`` and
``jupyter_mlops.X`` both name the module-level API; ``client().X`` names a facade method. Every such name in a
code span or block must resolve, and every ``keyword=`` shown in a one-line call must be a parameter of it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlops
from jupyter_mlops.core.facade import MLOpsAPI

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/governance.md"]
# Strings that look like API names but are a file name and MLflow tag keys.
NOT_API = {
    "mlops.db",
    "mlops.data.parity_sample",
    "mlops.monitoring_run",
    "mlops.registered_by",
    "mlops.lineage.source",
    "mlops.reference",
}
REFERENCE = re.compile(r"\b(jupyter_mlops|mlops|client\(\))\.([A-Za-z_][\w.]*)(\([^()`]*\))?")


def _code(text: str) -> list[str]:
    """The fenced blocks and inline code spans of a Markdown text."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


def _references() -> list[tuple[str, str, str, str]]:
    found = []
    for doc in DOCS:
        for code in _code((ROOT / doc).read_text()):
            for prefix, dotted, call in REFERENCE.findall(code):
                name = f"{prefix}.{dotted}".rstrip(".")
                if name.replace("jupyter_mlops.", "mlops.", 1) in NOT_API or name in NOT_API:
                    continue
                found.append((doc, prefix, dotted.rstrip("."), call))
    return found


def _resolve(prefix: str, dotted: str) -> Any:
    if prefix == "client()":
        return getattr(MLOpsAPI, dotted)
    obj: Any = jupyter_mlops
    path = "jupyter_mlops"
    for part in dotted.split("."):
        path = f"{path}.{part}"
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(path)  # a submodule named in the docs (jupyter_mlops.serving, ...)
    return obj


REFERENCES = _references()


def test_the_docs_mention_the_api_at_all() -> None:
    assert len(REFERENCES) > 20 and {d for d, *_ in REFERENCES} == set(DOCS)


@pytest.mark.parametrize(("doc", "prefix", "dotted", "call"), REFERENCES)
def test_every_name_the_docs_mention_resolves(doc: str, prefix: str, dotted: str, call: str) -> None:
    try:
        obj = _resolve(prefix, dotted)
    except (AttributeError, ImportError):
        pytest.fail(f"{doc} mentions {prefix}.{dotted}, which the package does not export")
    keywords = re.findall(r"(?:^|[(,\s])([A-Za-z_]\w*)=", call.strip("()"))
    if keywords and callable(obj):
        parameters = inspect.signature(obj).parameters
        unknown = [k for k in keywords if k not in parameters]
        assert not unknown, f"{doc}: {prefix}.{dotted} has no parameter(s) {unknown}; it takes {list(parameters)}"
