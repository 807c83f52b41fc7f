"""Small helpers shared by the benchmarks: timing, rows, the printed table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(function: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median wall time in seconds over ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(
    measurement: str,
    size: str,
    ours: float,
    baseline: float | None,
    target: str,
    passed: bool | None,
    unit: str = "s",
    note: str = "",
) -> dict[str, Any]:
    """One result row; ratio = ours / baseline (lower is better for times)."""
    return {
        "measurement": measurement,
        "size": size,
        "ours": ours,
        "baseline": baseline,
        "ratio": None if not baseline else ours / baseline,
        "target": target,
        "passed": passed,
        "unit": unit,
        "note": note,
    }


def _format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        if value < 0.001:
            return f"{value * 1e6:.0f} µs"
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of result rows."""
    lines = [
        "| measurement | size | ours | baseline | ratio | target | pass |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in rows:
        ratio = "—" if entry["ratio"] is None else f"{entry['ratio']:.2f}×"
        verdict = {True: "pass", False: "**miss**", None: "—"}[entry["passed"]]
        lines.append(
            f"| {entry['measurement']} | {entry['size']} | {_format_value(entry['ours'], entry['unit'])}"
            f" | {_format_value(entry['baseline'], entry['unit'])} | {ratio} | {entry['target']}"
            f" | {verdict} |"
        )
    return "\n".join(lines)


def machine_description() -> str:
    """The CPU, its AVX-512/AMX flags and torch's CPU capability, for beside every time."""
    import torch  # noqa: F401  (imported so the line names torch's kernels and threads)

    from erroranalysis.machine import machine_description as describe

    return describe()
