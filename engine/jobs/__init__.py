"""Jobs: what to run (JobSpec, SweepSpec) and its command line; the YAML that describes one is read by engine.specs.jobs."""
