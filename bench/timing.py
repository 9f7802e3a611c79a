"""Timing helpers and the result row every benchmark returns (the same keys as the feature benchmarks'
`run(scale)` rows: name, scale, median, min, max, baseline_median, ratio; seconds unless `unit` says)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def timings(make: Callable[[], object], repeats: int, warm_up: int = 2) -> list[float]:
    for _ in range(warm_up):
        make()
    found = []
    for _ in range(repeats):
        started = time.perf_counter()
        make()
        found.append(time.perf_counter() - started)
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def result_row(name: str, scale: str, values: list[float], baseline: list[float], *, unit: str = "s",
               **extra) -> dict:
    median, base = statistics.median(values), statistics.median(baseline)
    return {"name": name, "scale": scale, "median": median, "min": min(values), "max": max(values),
            "baseline_median": base, "ratio": median / base if base else math.inf, "unit": unit,
            "samples": len(values), **extra}
