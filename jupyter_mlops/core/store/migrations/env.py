"""Alembic environment for our store: runs on the connection ``schema.upgrade`` hands over (never a URL from an
ini file), with our own version table so a store sharing MLflow's database never touches MLflow's migrations."""

from __future__ import annotations

from alembic import context

from jupyter_mlops.core.store.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata(),
    version_table=VERSION_TABLE,
    # SQLite alters tables by copying them; the baseline is generated without batches to stay portable.
    render_as_batch=context.config.attributes.get("render_as_batch", connection.dialect.name == "sqlite"),
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
