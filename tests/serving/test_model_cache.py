"""The serving workers' shared model cache: several workers loading one version at once all get the model."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops.serving.loader import MLflowLoader


def load_at_once(loaders: list[MLflowLoader], uri: str) -> tuple[list[object], list[BaseException]]:
    """Every loader loads ``uri`` in a thread of its own, all released at once; the models and the errors."""
    start = threading.Barrier(len(loaders))
    results: list[object] = []
    errors: list[BaseException] = []

    def load(loader: MLflowLoader) -> None:
        start.wait()
        try:
            results.append(loader(uri))
        except BaseException as exc:  # reported by the caller with the others
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(loader,)) for loader in loaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_workers_loading_one_version_at_once_all_get_it_and_leave_one_copy(
    mlops: object,
    iris_version: object,
    iris: tuple[pd.DataFrame, pd.Series],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each serving worker downloads into its own staging directory and renames it into the cache; the second
    rename finds the first one's copy there. That must not fail the deploy (it once did: ENOTEMPTY).

    The race needs two workers between "not cached yet" and the rename at once, which a real run hits rarely; the
    rename of a downloaded directory is held at a barrier (the standard library's os.replace, wrapped) so every
    loader gets there before any renames: the interleaving is forced, the code under test is untouched."""
    real_replace = os.replace
    arrived = threading.Barrier(4, timeout=60)

    def replace_together(src: str, dst: str) -> None:
        if os.path.isdir(src):
            arrived.wait()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_together)
    config = mlops.config  # type: ignore[attr-defined]
    uri = f"models:/iris/{iris_version.version}"  # type: ignore[attr-defined]
    X, _ = iris
    for attempt in range(3):
        cache = tmp_path / f"cache-{attempt}"
        loaders = [MLflowLoader(config.tracking_uri, config.registry_uri, str(cache)) for _ in range(4)]
        for loader in loaders:
            loader.prepare()
        arrived.reset()
        results, errors = load_at_once(loaders, uri)
        assert errors == []
        assert len(results) == len(loaders)
        assert all(list(model.predict(X.head(3))) == list(results[0].predict(X.head(3))) for model in results)  # type: ignore[attr-defined]
        copies = [entry for entry in os.listdir(cache) if not entry.endswith(".pyfunc")]
        assert len(copies) == 1, copies  # one complete copy, no staging directories left behind
        assert (cache / copies[0] / "MLmodel").is_file()


def test_models_are_deserialised_one_at_a_time_in_a_process(
    mlops: object, iris_version: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy parses each saved array's header with ``ast``, and CPython 3.11 builds ``ast`` objects with
    interpreter-wide state: two load threads parsing at once once failed a deploy with "SystemError: AST
    constructor recursion depth mismatch". Every ``ast.parse`` a load makes is held open until another parse
    begins (or 2 ms pass, letting the other loaders run), so any overlap between loads shows; none may."""
    import ast

    real_parse = ast.parse
    guard = threading.Lock()
    inside = 0
    most = 0
    calls = 0

    overlapped = threading.Event()

    def parse_slowly(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most, calls
        with guard:
            inside += 1
            calls += 1
            most = max(most, inside)
            if inside > 1:
                overlapped.set()
        try:
            overlapped.wait(0.002)  # until a second parse begins, at most 2 ms
            return real_parse(*args, **kwargs)
        finally:
            with guard:
                inside -= 1

    config = mlops.config  # type: ignore[attr-defined]
    uri = f"models:/iris/{iris_version.version}"  # type: ignore[attr-defined]
    loaders = [MLflowLoader(config.tracking_uri, config.registry_uri, str(tmp_path / f"cache-{i}")) for i in range(4)]
    for loader in loaders:
        loader.prepare()
        loader.local_copy(uri)  # downloaded beforehand: what runs at once below is the deserialising
    monkeypatch.setattr(ast, "parse", parse_slowly)
    _, errors = load_at_once(loaders, uri)
    assert errors == []
    assert calls > 0, "the model's load parsed nothing with ast: this test no longer sees what it checks"
    assert most == 1
