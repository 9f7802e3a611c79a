"""The results as a plain-text table (stdout) and as Markdown (the README's Performance section)."""

from __future__ import annotations

import unicodedata

HEADERS = ["#", "measurement", "scale", "median", "min", "max", "p95", "baseline median", "ratio", "target", "met"]


def amount(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "MB":
        return f"{value:.0f} MB"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def cells(row: dict) -> list[str]:
    if row.get("error"):
        return [str(row["item"]), row["name"], row["scale"]] + [""] * 7 + ["error"]
    unit = row.get("unit", "s")
    met = row.get("met")
    return [str(row["item"]), row["name"], row["scale"], amount(row["median"], unit), amount(row["min"], unit),
            amount(row["max"], unit), amount(row.get("p95"), unit), amount(row["baseline_median"], unit),
            f"{row['ratio']:.2f}×" if row["ratio"] < 100 else f"{row['ratio']:.0f}×", row.get("target", ""),
            "" if met is None else "yes" if met else "**no**"]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(result: dict) -> str:
    rows = [HEADERS] + [[c.replace("**", "") for c in cells(row)] for row in result["results"]]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(result: dict) -> str:
    machine = result.get("machine", {})
    load = ", ".join(map(str, machine.get("load_average_at_start", [])))
    lines = [f"`{result['command'].strip()}` — {result['measured_at']}, {result['total_seconds'] / 60:.1f} min in all, "
             f"{machine.get('cpus')} CPUs (load average at start {load}), Python {machine.get('python')}", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |" for row in result["results"]]
    return "\n".join(lines)
