"""Every YAML front end of the engine, and the only package that imports pydantic and PyYAML.

- ``engine.specs.jobs``: command and sweep job YAML -> JobSpec / SweepSpec; a sweep's
  ``search_space:`` and ``early_termination:`` are read by ``engine.specs.search_space`` and
  ``engine.specs.early_termination`` (their errors worded by ``engine.specs.sweep_wording``).
- ``engine.specs.environment``: environment YAML, conda and requirements files -> EnvironmentSpec,
  and an EnvironmentSpec back to those files.
- ``engine.specs.compute``: compute target YAML (and ``compute create`` options) -> ComputeTarget.
- ``engine.specs.schema``: the pydantic models of all of them; ``engine.specs.explain.explain``
  turns their validation errors into one message with file:line and the key.
- ``engine.specs.yamlfile``: YAML with the line of every value; ``load``/``dump`` for everyone else.
- ``engine.specs.gpus``: a GPU request, normalised (plain Python, for run supervisors too).

This ``__init__`` imports nothing, so that the plain-Python modules stay cheap to import.
"""
