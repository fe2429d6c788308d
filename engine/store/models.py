"""SQLAlchemy ORM tables of the workspace store. Only engine/store/ touches these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ExperimentRow(Base):
    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class RunRow(Base):
    __tablename__ = "runs"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), nullable=False, index=True)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)
    start_time: Mapped[float | None] = mapped_column(Float)
    end_time: Mapped[float | None] = mapped_column(Float)
    run_dir: Mapped[str] = mapped_column(Text, nullable=False)
    command: Mapped[str | None] = mapped_column(Text)
    arguments: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    compute: Mapped[str] = mapped_column(String(255), nullable=False, default="local")
    environment: Mapped[str | None] = mapped_column(String(255))
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    git: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    max_run_duration_seconds: Mapped[float | None] = mapped_column(Float)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    supervisor_pid: Mapped[int | None] = mapped_column(Integer)
    supervisor_started: Mapped[float | None] = mapped_column(Float)
    archived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The run that submitted this one (`run.submit_child`, sweeps).
    parent_name: Mapped[str | None] = mapped_column(ForeignKey("runs.name"), index=True)
    # Counts the runs table's default view (top-level runs not archived) off the index alone.
    __table_args__ = (Index("ix_runs_top", "parent_name", "archived"),)


class RunStatusEventRow(Base):
    __tablename__ = "run_status_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    time: Mapped[float] = mapped_column(Float, nullable=False)


class MetricChunkRow(Base):
    """A batch of points of one scalar metric, stored as packed little-endian arrays.

    One row per (run, key, ingestion batch) instead of one row per point: ingestion and
    reading of millions of points then cost a few large writes/reads, not millions of rows.
    """

    __tablename__ = "metric_chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    steps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    values: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    timestamps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    __table_args__ = (Index("ix_metric_chunks_run_key", "run_name", "key", "id"),)


class MetricSummaryRow(Base):
    __tablename__ = "metric_summaries"
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    last_value: Mapped[Any] = mapped_column(JSON)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_timestamp: Mapped[float | None] = mapped_column(Float)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)


class MetricObjectRow(Base):
    """Lists, rows, tables and images: low volume, kept as JSON."""

    __tablename__ = "metric_objects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    payload: Mapped[Any] = mapped_column(JSON)
    step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    timestamp: Mapped[float] = mapped_column(Float, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_metric_objects_run_key", "run_name", "key", "id"),)


class IngestCursorRow(Base):
    """How far a record source (one writer's file) has been ingested.

    Updated in the same transaction as the data it covers, so a crash between the two is
    impossible and re-reading after a restart neither loses nor duplicates a point.
    """

    __tablename__ = "ingest_cursors"
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class SnapshotRow(Base):
    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    file_count: Mapped[int] = mapped_column(Integer, nullable=False)
    total_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    git: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class ModelRow(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    source_path: Mapped[str | None] = mapped_column(Text)
    run_name: Mapped[str | None] = mapped_column(ForeignKey("runs.name", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)


class DataAssetRow(Base):
    __tablename__ = "data_assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, default="uri_folder")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    file_count: Mapped[int | None] = mapped_column(Integer)
    # The producing run: no foreign key, so that adding it needs no table copy on SQLite.
    run_name: Mapped[str | None] = mapped_column(String(255))
    archived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    copied: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    source_path: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("name", "version", name="uq_data_assets_name_version"),)


class RunDataRow(Base):
    """Lineage: one input a run consumed or one output it produced (engine.entities.RunData)."""

    __tablename__ = "run_data"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), nullable=False, index=True)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    mode: Mapped[str] = mapped_column(String(32), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    asset_kind: Mapped[str | None] = mapped_column(String(8))
    asset_name: Mapped[str | None] = mapped_column(String(255), index=True)
    asset_version: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class EnvironmentRow(Base):
    """A registered environment version; `spec` is EnvironmentSpec.to_dict() (file contents inline)."""

    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("name", "version", name="uq_environments_name_version"),)


class ComputeTargetRow(Base):
    """A registered compute target; `config` holds its type's settings (see engine.compute.targets)."""

    __tablename__ = "compute_targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("name", name="uq_compute_targets_name"),)


class ComponentRow(Base):
    """A registered command component version; `spec` is ComponentSpec.to_dict() (its code a snapshot)."""

    __tablename__ = "components"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("name", "version", name="uq_components_name_version"),)


class StepCacheRow(Base):
    """A completed pipeline step that a later identical one may reuse: `key` hashes what the step
    ran (code, environment, command, parameters, input contents); `outputs` maps each output name
    to its path and content hash."""

    __tablename__ = "step_cache"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    run_name: Mapped[str] = mapped_column(ForeignKey("runs.name", ondelete="CASCADE"), nullable=False)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
