"""The serving process keeps long-lived objects out of the collector's full runs (serving/heap.py)."""

from __future__ import annotations

import gc
import re
import weakref
from collections.abc import Iterator

import httpx
import orjson
import pandas as pd
import pytest

from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import heap

from ..waiting import wait_until
from .conftest import Deploy, daemon_url, metrics_text


@pytest.fixture
def clean_heap() -> Iterator[None]:
    """Each test starts and ends with nothing frozen and no thaw pending (the test process is not a serving process,
    but an in-process ModelHost another test ran may have thawed the heap: settle would then freeze nothing)."""
    heap._thawed = False
    gc.unfreeze()
    yield
    heap._thawed = False
    gc.unfreeze()


def test_settling_moves_what_is_alive_out_of_full_collections(clean_heap: None) -> None:
    assert gc.get_freeze_count() == 0
    heap.settle()
    assert heap.frozen() > 10_000  # every module this process imported (a background thread may freeze more)


def test_a_departed_models_cycles_are_collected_before_the_heap_is_frozen_again(clean_heap: None) -> None:
    """A model's reference cycle frozen with it would never be freed; after ``thaw`` nothing is frozen again until
    a full collection has run, and that collection frees the cycle."""

    class Model:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the collector frees it

    model = Model()
    heap.settle()
    assert gc.get_freeze_count() > 0
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is not None, "a frozen cycle should survive a full collection (else this test sees nothing)"

    heap.thaw()
    assert gc.get_freeze_count() == 0
    heap.settle()  # a load finishing before any full collection ran: must not freeze the cycle again
    assert gc.get_freeze_count() == 0
    gc.collect()  # the next full collection frees the cycle, then the survivors are frozen again
    assert gone() is None
    assert gc.get_freeze_count() > 10_000
    heap.settle()
    assert gc.get_freeze_count() > 10_000


def test_a_serving_daemon_keeps_its_imports_and_models_out_of_full_collections(
    deploy: Deploy,
    http: httpx.Client,
    local_target: LocalTarget,
    registered_model: object,
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    """In the real daemon: its workers keep their long-lived objects frozen (each has MLflow, pandas and
    scikit-learn imported: hundreds of thousands of objects a full collection would walk).

    The session's daemon may be thawed when this runs (an earlier test undeployed a model): then it freezes again
    after its next full collection, which requests bring about, so requests are sent until the metric shows it."""
    deploy("frozen-heap")
    url = f"{daemon_url(local_target)}/deployments/frozen-heap/invocations"
    body = orjson.dumps({"dataframe_split": iris[0].head(2).to_dict(orient="split")})

    def frozen_after_traffic() -> float | None:
        match = re.search(r"^mlops_gc_frozen_objects (\S+)$", metrics_text(http, local_target), re.M)
        assert match, "mlops_gc_frozen_objects missing from /metrics"
        if float(match.group(1)) > 100_000:
            return float(match.group(1))
        for _ in range(100):
            response = http.post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text
        return None

    wait_until(frozen_after_traffic, 120, "the daemon's long-lived objects frozen")


def test_garbage_left_in_cycles_is_freed_before_freezing(clean_heap: None) -> None:
    """What a load leaves behind in reference cycles (no longer reachable, not yet collected) is collected by
    ``settle``, not frozen with the live objects."""

    class Leftover:
        def __init__(self) -> None:
            self.me = self

    gc.disable()  # so that nothing but settle collects it
    try:
        leftover = Leftover()
        gone = weakref.ref(leftover)
        del leftover
        assert gone() is not None
        heap.settle()
        assert gone() is None
    finally:
        gc.enable()
