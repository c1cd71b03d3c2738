"""The service-hall load test (issue 8): ``bench/load/run.py``."""
