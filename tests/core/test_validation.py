"""Names and references are checked at the boundary with actionable messages."""

import pytest

from jupyter_mlops.core import validation
from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.models import ModelRef
from jupyter_mlops.core.service import deployment_name_for


@pytest.mark.parametrize("bad", ["", "a/b", "..", "a..b", "a\\b", "bad\x00name", "x" * 64, "spaces here", "-lead", "é"])
def test_bad_model_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        validation.model_name(bad)


@pytest.mark.parametrize("bad", ["Churn", "churn_prod", "-churn", "churn-", "a" * 64, "a.b", "a/b"])
def test_deployment_names_are_dns_labels(bad: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        validation.deployment_name(bad)
    assert "deployment name" in err.value.message


def test_bad_deployment_name_suggests_a_valid_one() -> None:
    with pytest.raises(InvalidRequest) as err:
        validation.deployment_name("Churn_Prod")
    assert "'churn-prod'" in err.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelRef(name="churn")),
        ("churn/3", ModelRef(name="churn", version="3")),
        ("churn@champion", ModelRef(name="churn", alias="champion")),
        ("models:/churn/2", ModelRef(name="churn", version="2")),
    ],
)
def test_model_references_parse(text: str, expected: ModelRef) -> None:
    assert ModelRef.parse(text) == expected


@pytest.mark.parametrize(
    "bad", ["s3://bucket/model", "file:///etc/passwd", "/etc/passwd", "runs:/abc/model", "churn/x", "a/b/c", "m@latest"]
)
def test_unsupported_references_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        ModelRef.parse(bad)


def test_deployment_name_derived_from_model_name() -> None:
    assert deployment_name_for("Churn_Model.v2") == "churn-model-v2"
    validation.deployment_name(deployment_name_for("X" * 80))
