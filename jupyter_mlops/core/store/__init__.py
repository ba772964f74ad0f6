"""Our own persistent state (deployments, later audit and inference logs): SQLAlchemy, SQLite by default."""

from .database import Store

__all__ = ["Store"]
