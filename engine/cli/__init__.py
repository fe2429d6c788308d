"""The `trainyard` command line (CONTRACT.md): a thin layer over engine.api."""
