"""The benchmark harness: rows, error handling, output files, and a quick run that cannot rot.

No timing asserts: the numbers are checked for shape and sanity only (positive, ratio =
ours / baseline). This folder has no ``__init__.py`` on purpose: a ``tests/bench`` package would
shadow the top-level ``bench`` package under pytest's default import mode.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np
import pytest

import bench.harness as harness
import bench.memory as memory
from bench import browser_latency, demo_time

REQUIRED = ("measurement", "size", "ours", "baseline", "ratio", "target", "passed", "unit", "note")


@pytest.fixture
def stores_dir(tmp_path, monkeypatch):
    """Synthetic stores go to a temporary cache, not bench/_stores/."""
    folder = tmp_path / "stores"
    monkeypatch.setattr(harness, "STORES_DIR", folder)
    return folder


def _check_sane(rows: list[dict]) -> None:
    assert rows
    for entry in rows:
        for field in REQUIRED:
            assert field in entry, (field, entry)
        assert "error" not in entry, entry
        assert isinstance(entry["measurement"], str) and entry["measurement"]
        assert isinstance(entry["size"], str) and entry["size"]
        assert entry["passed"] in (True, False, None)
        for field in ("ours", "baseline"):
            value = entry[field]
            assert value is None or (math.isfinite(value) and value > 0), (field, entry)
        assert entry["ours"] is not None, entry
        if entry["baseline"]:
            assert entry["ratio"] == pytest.approx(entry["ours"] / entry["baseline"])
        else:
            assert entry["ratio"] is None


# -- cheap unit tests ------------------------------------------------------------------------------


def test_check_rows_fills_ratio_and_rejects_missing_fields():
    rows = harness.check_rows(
        "x",
        [{"measurement": "m", "size": "N=1", "ours": 2.0, "baseline": 4.0, "target": "—",
          "passed": None}],
    )  # fmt: skip
    assert rows[0]["ratio"] == pytest.approx(0.5)
    assert rows[0]["unit"] == "s" and rows[0]["module"] == "x"
    with pytest.raises(TypeError, match="lacks fields"):
        harness.check_rows("x", [{"measurement": "m", "ours": 1.0}])
    with pytest.raises(TypeError, match="list of dicts"):
        harness.check_rows("x", {"measurement": "m"})


def test_missing_and_failing_modules_become_rows_and_fail_quick_mode(tmp_path, monkeypatch):
    (tmp_path / "ea_bench_broken.py").write_text(
        "def run(quick=False):\n    raise RuntimeError('synthetic failure')\n"
    )
    (tmp_path / "ea_bench_good.py").write_text(
        "def run(quick=False):\n"
        "    return [{'measurement': 'm', 'size': 'N=1', 'ours': 1.0, 'baseline': 2.0,\n"
        "             'target': '—', 'passed': None}]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        harness,
        "REGISTRY",
        {"missing": "ea_bench_not_there", "broken": "ea_bench_broken", "good": "ea_bench_good"},
    )
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    rows = harness.run_benchmarks(quick=True, isolate=False)
    by_module = {entry["module"]: entry for entry in rows}
    assert by_module["missing"]["error"] == "not measured: module missing"
    assert by_module["missing"]["passed"] is None
    assert "synthetic failure" in by_module["broken"]["error"]
    assert "error" not in by_module["good"]
    output = tmp_path / "out.json"
    assert harness.main(["--quick", "--in-process", "--output", str(output)]) == 1
    assert len(json.loads(output.read_text())["rows"]) == 3
    # full mode reports the errors but does not fail; only the good module: success
    assert harness.main(["--in-process", "--only", "good"]) == 0
    assert harness.main(["--quick", "--in-process", "--only", "good"]) == 0
    with pytest.raises(SystemExit):
        harness.main(["--only", "nonsense"])


def test_a_timed_out_process_group_is_killed_whole(tmp_path):
    marker = tmp_path / "survivor"
    script = f"(sleep 2; touch {marker}) & sleep 30"
    assert harness.run_process_group(["sh", "-c", script], cwd=tmp_path, timeout=0.5) is None
    time.sleep(2.5)
    assert not marker.exists()  # the grandchild died with its group
    assert harness.run_process_group(["sh", "-c", "exit 3"], cwd=tmp_path, timeout=10) == 3


def test_results_merge_module_by_module(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")

    def rows(module, value):
        entry = dict(measurement=f"{module} m", size="N=1", ours=value, baseline=None,
                     target="—", passed=None)  # fmt: skip
        return harness.check_rows(module, [entry])

    harness.write_json(rows("store", 1.0) + rows("scan", 2.0), tmp_path / "a.json")
    harness.write_json(rows("scan", 3.0), tmp_path / "b.json", quick=True)
    merged, quick = harness.merge_results([tmp_path / "a.json", tmp_path / "b.json"])
    assert [(entry["module"], entry["ours"]) for entry in merged] == [("store", 1.0), ("scan", 3.0)]
    assert quick
    output = tmp_path / "out.md"
    assert harness.main(["--from-json", str(tmp_path / "a.json"), "--output", str(output)]) == 0
    assert "| scan m | N=1 | 2.00 s |" in output.read_text()


def test_markdown_keeps_hand_written_text(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    rows = [harness.check_rows("x", [dict(
        measurement="m", size="N=1", ours=0.002, baseline=0.004, target="≤ 1 s", passed=True
    )])[0]]  # fmt: skip
    harness.write_markdown(rows, path, quick=True)
    text = path.read_text()
    assert "| m | N=1 | 2.0 ms | 4.0 ms | 0.50× | ≤ 1 s | pass |" in text
    path.write_text("# Benchmarks\n\nintro\n" + text.split("\n", 2)[2] + "\n## Reading\n\nmine\n")
    rows[0]["ours"] = 0.003
    harness.write_markdown(rows, path)
    text = path.read_text()
    assert "intro" in text and "## Reading\n\nmine" in text
    assert "3.0 ms" in text and "2.0 ms" not in text
    assert text.count(harness._BEGIN) == 1


def test_synthetic_store_is_cached_and_copies_are_private(stores_dir, tmp_path):
    store = harness.synthetic_store(500, 4, dim=8)
    assert store.num_samples == 500 and store.num_classes == 4
    run = store.run("bench")
    assert run.probs.dtype == np.float16 and run.probs.shape == (500, 4)
    assert run.embeddings.shape == (500, 8)
    np.testing.assert_allclose(np.asarray(run.probs, dtype=np.float32).sum(axis=1), 1, atol=5e-3)
    frame = store.frame()
    assert {"label_quality", "predicted_label", "x", "y", "is_label_issue"} <= set(frame.columns)
    marker = harness.synthetic_store_path(500, 4, dim=8) / "complete.json"
    built = marker.stat().st_mtime_ns
    again = harness.synthetic_store(500, 4, dim=8)
    assert marker.stat().st_mtime_ns == built and again.path == store.path
    copy = harness.synthetic_store(500, 4, dim=8, workdir=tmp_path / "copy")
    copy.relabel(copy.sample_ids[0], copy.classes[(copy.given_codes[0] + 1) % 4])
    assert copy.label_version > 0
    assert harness.synthetic_store(500, 4, dim=8).label_version == 0
    with pytest.raises(ValueError, match="classes >= 2"):
        harness.synthetic_store(10, 1)


def test_browser_latency_reads_the_file_or_says_to_run_the_test(tmp_path):
    rows = browser_latency.run(path=tmp_path / "latency.json")
    assert rows[0]["passed"] is None and "run the browser test first" in rows[0]["note"]
    (tmp_path / "latency.json").write_text(
        json.dumps({"n_samples": 10000, "clicks_sent": 4, "clicks_arrived": 4, "p50_ms": 80.0,
                    "p95_ms": 150.0, "max_ms": 160.0, "target_p95_ms": 200.0,
                    "samples_ms": [70, 80, 90, 160]})
    )  # fmt: skip
    rows = browser_latency.run(path=tmp_path / "latency.json")
    assert rows[0]["ours"] == pytest.approx(0.150) and rows[0]["passed"] is True
    assert rows[1]["ours"] == pytest.approx(0.080)


def test_demo_quick_arguments_follow_the_help_text():
    assert demo_time.quick_arguments("--epochs E --folds F --no-lab --out DIR") == [
        "--epochs", "1", "--folds", "2"
    ]  # fmt: skip
    assert demo_time.quick_arguments("--quick --epochs E") == ["--quick"]
    assert demo_time.quick_arguments("--no-lab") == []


# -- the quick harness on the cheap modules (store, memory at tiny N) ------------------------------


@pytest.mark.slow
def test_quick_harness_on_cheap_modules(stores_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(memory.SIZES, True, (2_000, 6_000))
    monkeypatch.setattr(memory, "PLOT_PATHS", (tmp_path / "memory.png",))
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    output = tmp_path / "BENCHMARKS.md"
    status = harness.main(
        ["--quick", "--in-process", "--only", "store,memory", "--output", str(output)]
    )
    assert status == 0
    rows = json.loads((tmp_path / "results" / "latest-quick.json").read_text())["rows"]
    _check_sane(rows)
    measured = {entry["measurement"] for entry in rows}
    assert "store open" in measured
    assert {"peak RSS: open", "peak RSS: frame", "peak RSS: scan"} <= measured
    memory_rows = [entry for entry in rows if entry["module"] == "memory"]
    assert len(memory_rows) == 6 and all(entry["unit"] == "MiB" for entry in memory_rows)
    assert (tmp_path / "memory.png").stat().st_size > 1000
    assert "| store open |" in output.read_text()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
