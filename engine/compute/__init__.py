"""Compute targets a run's process can be placed on (beyond a plain local process).

- ``engine.compute.docker``: ``ContainerRun``, a run's script in a local Docker container.
"""
