"""Jobs: what to run (JobSpec), and the Azure ML CLI v2 YAML that describes one."""
