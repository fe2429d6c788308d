"""The workspace store over SQLAlchemy (engine.store.protocol.Store): SQLite (WAL) by default, any
SQLAlchemy URL through the same code. One module per aggregate, one class each, all sharing the
engine and sessions of `SqlBase`; `SqlStore` is all of them. Public methods open a managed session
and return frozen entities (engine.entities, EnvironmentSpec): ORM rows never leave this package.
"""

from engine.store.sql.base import make_engine
from engine.store.sql.compute import ComputeTargets
from engine.store.sql.environments import Environments
from engine.store.sql.metrics import Metrics
from engine.store.sql.pipelines import Pipelines
from engine.store.sql.registry import Registry
from engine.store.sql.runs import Runs

__all__ = ["SqlStore", "make_engine"]


class SqlStore(Runs, Metrics, Registry, Environments, ComputeTargets, Pipelines):
    """Runs, experiments, metrics, snapshots, models, data assets, environments, compute targets,
    components and the pipeline step cache of one workspace."""
