"""Resource: the one reader and writer of the ledger's and approvals' target strings."""

from __future__ import annotations

import pytest

from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.resource import Resource


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        (Resource.deployment("churn"), "deployment/churn"),
        (Resource.deployment("churn").with_alert(7), "deployment/churn/alert/7"),
        (Resource.model("iris"), "model/iris"),
        (Resource.model("iris", version=3), "model/iris/3"),
        (Resource.model("iris", alias="champion"), "model/iris@champion"),
        (Resource.approval(12), "approval/12"),
    ],
)
def test_every_form_round_trips(resource: Resource, text: str) -> None:
    assert str(resource) == text
    assert Resource.parse(text) == resource


@pytest.mark.parametrize("text", ["", "deployment/", "model/a/1@x", "approval/x", "registry/iris", None])
def test_bad_text_is_an_invalid_request_naming_the_forms(text: str | None) -> None:
    with pytest.raises(InvalidRequest, match="deployment/NAME, model/NAME"):
        Resource.parse(text)


def test_parse_checks_the_kind_it_expects() -> None:
    assert Resource.parse("deployment/x", expect="deployment").name == "x"
    with pytest.raises(InvalidRequest, match="expected a deployment"):
        Resource.parse("model/x@prod", expect="deployment")
    with pytest.raises(ValueError, match="not both"):
        Resource.model("x", version=1, alias="prod")
