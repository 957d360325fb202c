"""Benchmarks: `python -m bench [AREA...] [--quick]` prints one table of ratios.

Each `bench/bench_AREA.py` has `run(quick: bool) -> list[Row]`. Every figure is a
ratio against a baseline measured in the same run, because these machines are
shared and noisy: absolute times mean little, ratios travel.
"""
