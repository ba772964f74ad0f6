"""Catalog paging at scale: pages, tokens and filters stay correct when versions come in one batched query."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core import registry as registry_module
from jupyter_mlops.core.registry import Registry

MODELS = 45


def _versions_of(i: int) -> int:
    """1 to 3 versions, varying so a model's versions cannot be confused with its neighbour's."""
    return i % 3 + 1


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A real MLflow registry on SQLite with many models (dummy sources: registration does not read them)."""
    folder = Path(tmp_path_factory.mktemp("catalog"))
    # An explicit URI: MLflow's environment variables may point at another test's store.
    uri = f"sqlite:///{folder}/mlflow.db"
    config = MLOpsConfig(data_dir=str(folder / "data"), tracking_uri=uri, registry_uri=uri)
    registry = Registry(config.tracking_uri, config.registry_uri, artifact_root=config.artifact_root)
    registry.prepare()
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)
    for i in range(MODELS):
        name = f"{'churn' if i % 5 == 0 else 'fraud'}-{i:03d}"
        client.create_registered_model(name)
        for _ in range(_versions_of(i)):
            client.create_model_version(name, source=f"file:///nowhere/{name}")
        client.set_registered_model_alias(name, "champion", "1")
    # An apostrophe in a name must not break the batched `name IN (...)` query.
    client.create_registered_model("o'brien")
    client.create_model_version("o'brien", source="file:///nowhere/obrien")
    return registry


def _walk(registry: Registry, text: str | None, size: int) -> list[tuple[str, list[str]]]:
    seen: list[tuple[str, list[str]]] = []
    token = None
    for _ in range(100):
        page = registry.search(text, max_results=size, page_token=token)
        assert len(page.items) <= size
        seen.extend((m.name, [v.version for v in m.versions]) for m in page.items)
        token = page.next_page_token
        if not token:
            return seen
    raise AssertionError("paging never ended")


def _expected_versions(name: str) -> list[str]:
    if name == "o'brien":
        return ["1"]
    count = _versions_of(int(name.rsplit("-", 1)[1]))
    return [str(v) for v in range(count, 0, -1)]


def test_every_model_once_in_name_order_with_its_own_versions(
    catalog: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so one page needs several `name IN` queries, each paged through several version pages.
    monkeypatch.setattr(registry_module, "_NAMES_PER_QUERY", 7)
    monkeypatch.setattr(registry_module, "_VERSIONS_PER_QUERY", 5)
    seen = _walk(catalog, None, 20)
    names = [name for name, _ in seen]
    assert len(names) == MODELS + 1 == len(set(names))
    assert names == sorted(names)
    for name, versions in seen:
        assert versions == _expected_versions(name), name


def test_filter_pages_only_matching_models(catalog: Registry) -> None:
    seen = _walk(catalog, "CHURN", 4)
    assert [name for name, _ in seen] == [f"churn-{i:03d}" for i in range(0, MODELS, 5)]
    first = catalog.search("churn", max_results=4)
    assert first.items[0].aliases == {"champion": "1"}
    assert first.items[0].latest_version == first.items[0].versions[0].version


def test_quote_in_filter_and_name(catalog: Registry) -> None:
    page = catalog.search("o'b")
    assert [(m.name, [v.version for v in m.versions]) for m in page.items] == [("o'brien", ["1"])]
    assert catalog.search("no-such-model").items == []


def test_each_version_lists_its_aliases(catalog: Registry) -> None:
    """MLflow's version search returns no aliases: the catalog fills them from the model's alias map."""
    catalog.client.set_registered_model_alias("fraud-001", "challenger", "2")
    model = catalog.search("fraud-001").items[0]
    assert {v.version: v.aliases for v in model.versions} == {"2": ["challenger"], "1": ["champion"]}
    assert {v.version: v.aliases for v in catalog.model("fraud-001").versions} == {
        "2": ["challenger"],
        "1": ["champion"],
    }
