"""Benchmark harness for vpitracker: synthetic data, HTTP vs raw-SQL timings, chain cost.

Run ``python -m bench run --size S --db sqlite`` (see ``bench/README.md``).
"""
