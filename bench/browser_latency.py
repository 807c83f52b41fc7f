"""Click a scatter point → inspector image shown, in a real browser (read from the browser test).

The latency is measured by ``tests/browser/test_dashboard.py`` in headless Chromium driving real
JupyterLab at N = 10k (``pytest -m browser tests/browser``); it writes
``tests/browser/artifacts/latency.json``. This module reads that file (it does not start a
browser itself) and reports p50/p95 against the design target (≤ 200 ms p95), with the file's age.

    python -m bench.browser_latency
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench._common import format_table, row

REPO_ROOT = Path(__file__).resolve().parents[1]
LATENCY_FILE = REPO_ROOT / "tests" / "browser" / "artifacts" / "latency.json"
TARGET_P95_MS = 200.0


def run(quick: bool = False, path: Path = LATENCY_FILE) -> list[dict]:
    """Rows for the click → inspector latency from the browser test's ``latency.json``.

    Parameters
    ----------
    quick : bool
        Unused (the file is read either way); kept for the harness's signature.
    path : Path
        The latency file (default ``tests/browser/artifacts/latency.json``).

    Returns
    -------
    list of dict
        p95 (judged against ≤ 200 ms) and p50; one ``passed=None`` row saying to run the
        browser test first when the file does not exist.
    """
    if not path.exists():
        return [
            row(
                "click point → inspector image, p95 (browser)",
                "N=10,000",
                None,
                None,
                "≤ 200 ms p95",
                None,
                note=(
                    "not measured: run the browser test first "
                    "(pytest -m browser tests/browser/test_dashboard.py writes "
                    f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path})"
                ),
            )
        ]
    data = json.loads(path.read_text())
    age_hours = (time.time() - path.stat().st_mtime) / 3600
    size = f"N={int(data.get('n_samples', 0)):,}"
    sent, arrived = data.get("clicks_sent"), data.get("clicks_arrived")
    target = float(data.get("target_p95_ms") or TARGET_P95_MS)
    p50, p95 = data.get("p50_ms"), data.get("p95_ms")
    where = (
        f"from {path.name}, written {age_hours:.1f} h ago; {arrived}/{sent} clicks arrived; "
        f"{data.get('measured', '')}; {data.get('cpu_count', '?')} cores"
    )
    rows = [
        row(
            "click point → inspector image, p95 (browser)",
            size,
            None if p95 is None else p95 / 1000,
            None,
            f"≤ {target:.0f} ms p95",
            None if p95 is None else (p95 <= target and sent == arrived),
            note=where,
        ),
        row(
            "click point → inspector image, p50 (browser)",
            size,
            None if p50 is None else p50 / 1000,
            None,
            "100 ms feels instant",
            None,
            note=f"max {data.get('max_ms')} ms over {len(data.get('samples_ms', []))} clicks",
        ),
    ]
    breakdown = [entry for entry in data.get("breakdown_ms") or [] if entry]
    ids = sorted(entry["id"] for entry in breakdown if entry.get("id") is not None)
    if ids:
        middle = ids[len(ids) // 2]
        rows[1]["note"] += (
            f"; median mousedown → inspector has the new sample id {middle:.0f} ms "
            "(the rest is the image load)"
        )
    # other sizes (tests/browser/test_million_points.py writes sizes["1000000"])
    for n, entry in sorted((data.get("sizes") or {}).items(), key=lambda kv: int(kv[0])):
        p95, target = entry.get("p95_ms"), float(entry.get("target_p95_ms") or 250.0)
        sent, arrived = entry.get("clicks_sent"), entry.get("clicks_arrived")
        rows.append(
            row(
                "click point → inspector image, p95 (browser)",
                f"N={int(n):,}",
                None if p95 is None else p95 / 1000,
                None,
                f"≤ {target:.0f} ms p95",
                None if p95 is None else (p95 <= target and sent == arrived),
                note=(
                    f"p50 {entry.get('p50_ms')} ms, max {entry.get('max_ms')} ms; {arrived}/{sent}"
                    f" clicks arrived; load average {entry.get('load_average')}; "
                    f"{entry.get('measured', '')}"
                ),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="no effect (reads a file)")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
