"""Lineage's notebook and commit links, and registering a ``models:/`` URI, on real MLflow and a real git repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_lineage_links_the_notebook_and_the_commit_it_ran_at(gov_mlops, trained_model, iris, tmp_path) -> None:
    # Given a notebook in a git work tree with one commit
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    notebook = repo / "train.ipynb"
    notebook.write_text("{}")
    _git(repo, "add", "train.ipynb")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "train")
    head = _git(repo, "rev-parse", "HEAD")
    X, y = iris

    # When a model is registered from it
    clean = gov_mlops.register(trained_model, "lineage-links", X, y, notebook=str(notebook))
    nodes = {n.kind: n for n in gov_mlops.lineage(f"lineage-links/{clean.version}").nodes}
    # Then the chain names that notebook and that commit, on its branch, without uncommitted changes
    assert nodes["notebook"].id == str(notebook)
    assert nodes["commit"].id == head and nodes["commit"].label == f"commit {head[:10]}"
    assert nodes["commit"].detail == {"dirty": "false", "branch": "main"}

    # When the notebook is edited and registered again without a commit
    notebook.write_text('{"cells": []}')
    dirty = gov_mlops.register(trained_model, "lineage-links", X, y, notebook=str(notebook))
    commit = next(n for n in gov_mlops.lineage(f"lineage-links/{dirty.version}").nodes if n.kind == "commit")
    # Then the same commit is named, marked as having uncommitted changes
    assert commit.id == head and commit.detail["dirty"] == "true" and "(uncommitted changes)" in commit.label
    card = gov_mlops.card("lineage-links", dirty.version)
    assert card.lineage["notebook"] == str(notebook) and card.lineage["git.commit"] == head


def test_registering_a_models_uri_makes_a_version_that_serves_the_same_model(gov_mlops, gov_iris, iris) -> None:
    # Given a registered version, When its models:/ URI is registered under another name
    copy = gov_mlops.register(f"models:/iris/{gov_iris.version}", "iris-released")
    # Then it is a new version of that name whose source is that model, with its signature
    assert copy.name == "iris-released" and copy.version == "1"
    assert copy.source == f"models:/iris/{gov_iris.version}" and copy.signature == gov_iris.signature
    assert [v.version for v in gov_mlops.versions("iris-released")] == ["1"]
    # ... which deploys and answers as the original does
    gov_mlops.deploy("iris-released/1", "iris-released")
    try:
        rows = iris[0].head(7)
        gov_mlops.deploy(f"iris/{gov_iris.version}", "iris-original")
        try:
            assert np.array_equal(
                np.asarray(gov_mlops.predict("iris-released", rows)),
                np.asarray(gov_mlops.predict("iris-original", rows)),
            )
        finally:
            gov_mlops.undeploy("iris-original")
    finally:
        gov_mlops.undeploy("iris-released")
