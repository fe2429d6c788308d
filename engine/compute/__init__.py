"""Compute targets a run's process can be placed on (beyond a plain local process).

- ``engine.compute.targets``: the targets a job can name (built-in ``local``/``docker`` and those
  created in the workspace), and the settings of a run on one (type, network, GPUs, default image).
- ``engine.compute.docker``: ``ContainerRun``, a run's script in a local Docker container.
"""
