"""Metrics and files logged by training scripts: the in-run client (``inject/``, put on the
run's PYTHONPATH) and the reader of the record files it writes (``records``)."""
