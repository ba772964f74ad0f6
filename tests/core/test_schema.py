"""The store's schema comes from Alembic migrations: new stores, pre-migration stores, concurrent openers."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store, schema


def _url(tmp_path: Path, name: str = "store.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_a_new_store_is_created_at_the_head_revision(tmp_path: Path) -> None:
    store = Store(_url(tmp_path))
    with store.engine.connect() as connection:
        assert schema.current(connection) == schema.head()
    names = set(inspect(store.engine).get_table_names())
    assert {"mlops_deployments", "mlops_variants", "mlops_audit", "mlops_inference_requests"} <= names
    assert "alembic_version" not in names  # MLflow's version table name stays free
    store.close()


def test_the_migrations_match_the_tables_the_code_declares(tmp_path: Path) -> None:
    """A table or column added without a migration shows up here as a difference."""
    store = Store(_url(tmp_path))
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": schema.VERSION_TABLE}
        )
        assert compare_metadata(context, schema.metadata()) == []
    store.close()


def test_a_store_made_before_migrations_is_adopted_with_its_data(tmp_path: Path) -> None:
    url = _url(tmp_path)
    engine = create_engine(url)
    schema.metadata().create_all(engine)  # what releases before the migrations did
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mlops_deployments (name, owner, target, model_ref, generation, config, created_at,"
                " updated_at) VALUES ('old', 'alice', 'local', 'models:/m/1', 1, '{}', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    store = Store(url)
    assert store.get_deployment("old").owner == "alice"
    with store.engine.connect() as connection:
        assert schema.current(connection) == schema.head()
    store.close()


def test_concurrent_processes_opening_a_new_store_all_succeed(tmp_path: Path) -> None:
    url = _url(tmp_path)
    code = (
        "import sys; from jupyter_mlops.core.store import Store; "
        "s = Store(sys.argv[1]); print(len(s.list_deployments())); s.close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-500:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["0"] * 4
    store = Store(url)
    store.create_deployment(
        "d",
        owner=None,
        target="local",
        model_ref="models:/m/1",
        variants=[Variant(name="v1", model_name="m", model_version="1")],
    )
    assert [d.name for d in store.list_deployments()] == ["d"]
    store.close()


def test_threads_opening_different_new_stores_at_once_all_succeed(tmp_path: Path) -> None:
    """Alembic's ``op``/``context`` are process-global: without the process-wide lock, stores migrated by two threads
    at once ran each other's steps (``table ... already exists``, ``NoSuchTableError``, ``KeyError: 'config'``)."""
    for attempt in range(5):
        urls = [_url(tmp_path, f"s{attempt}-{i}.db") for i in range(3)]
        failures: list[str] = []

        def open_store(url: str) -> None:
            try:
                Store(url).close()
            except Exception as error:  # noqa: BLE001 - the test reports whatever a thread met
                failures.append(repr(error))

        threads = [threading.Thread(target=open_store, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        for url in urls:
            store = Store(url)
            with store.engine.connect() as connection:
                assert schema.current(connection) == schema.head()
            store.close()


def test_our_store_and_mlflows_opened_at_once_by_two_threads_both_succeed(tmp_path: Path) -> None:
    """MLflow migrates its store with Alembic too: a server's start-up thread creating MLflow's store while another
    thread opens ours ran MLflow's steps on our connection (``NoSuchTableError: mlops_approvals``) without the one
    migration lock both take."""
    from jupyter_mlops.core.registry import Registry

    for attempt in range(4):
        folder = tmp_path / f"install-{attempt}"
        folder.mkdir()
        failures: list[str] = []

        def guarded(what: str, open_store: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    open_store()
                except Exception as error:  # noqa: BLE001 - the test reports whatever a thread met
                    failures.append(f"{what}: {error!r}")

            return run

        ours = guarded("ours", lambda: Store(_url(folder, "mlops.db")).close())
        mlflow = guarded(
            "mlflow", lambda: Registry(_url(folder, "mlflow.db"), artifact_root=str(folder / "artifacts")).prepare()
        )
        threads = [threading.Thread(target=mlflow), threading.Thread(target=ours)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert failures == []
        store = Store(_url(folder, "mlops.db"))
        with store.engine.connect() as connection:
            assert schema.current(connection) == schema.head()
        store.close()
        assert Registry(_url(folder, "mlflow.db")).client.search_experiments() is not None


def test_a_new_sqlite_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New stores get 64 KiB pages (the inference log's blobs); a store made with SQLite's default 4 KiB pages
    opens, migrates and takes writes without a change of page size (that would need a VACUUM out of WAL)."""
    import sqlite3

    from jupyter_mlops.core.store.database import SQLITE_PAGE_SIZE

    new = Store(_url(tmp_path, "new.db"))
    with new.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE == 65536
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    new.close()

    old_path = tmp_path / "old.db"
    made = sqlite3.connect(old_path)
    made.execute("PRAGMA journal_mode=WAL")  # the file now exists with the default page size
    made.execute("CREATE TABLE unrelated (x INTEGER)")
    made.commit()
    made.close()
    old = Store(_url(tmp_path, "old.db"))
    old.create_deployment("kept", owner="alice", target="local", model_ref="m/1",
                          variants=[Variant(model_name="m", model_version="1")])  # fmt: skip
    with old.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert schema.current(connection) == schema.head()
    assert old.get_deployment("kept").owner == "alice"
    old.close()
