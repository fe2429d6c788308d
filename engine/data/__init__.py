"""Job data: inputs resolved at submit (local paths, registered assets and models, http(s)
downloads), data assets snapshotted into the workspace's content store, outputs registered when
a run completes, and the lineage records of both (docs/data.md)."""
