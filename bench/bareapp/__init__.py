"""A bench-only Django app: the baseline endpoint for bench/sign_bench.py. Never installed
outside the benchmark's settings (``bench.settings``)."""
