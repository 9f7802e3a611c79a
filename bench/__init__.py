"""Benchmarks (issue 8): `python -m bench` measures the product against baselines run in the same process.

Every figure is a ratio against its baseline plus the absolute median for context; nothing here is a
timed assertion in a test. Data comes from bench/generate.py."""
