"""The static report compares runs when the store has two or more (issue 14)."""

from __future__ import annotations

import re

import numpy as np


def test_report_compares_the_run_with_the_latest_other(tmp_path):
    from erroranalysis.export import report
    from tests.stores import make_store

    store = make_store(tmp_path / "store", n=60)
    text = report(store, tmp_path / "one.html").read_text()
    assert "Comparing runs" not in text  # a single run: nothing to compare
    rng = np.random.default_rng(1)
    store.add_run("other", rng.dirichlet(np.ones(3), size=60).astype(np.float32))
    text = report(store, tmp_path / "two.html", run="other").read_text()
    assert "<h2>Comparing runs</h2>" in text
    labels = store.labels().astype(str).to_numpy()
    names = np.asarray(store.classes, dtype=object)
    right = {r: names[np.asarray(store.run(r).probs).argmax(1)] == labels for r in store.runs()}
    only_b = int((~right["fixture"] & right["other"]).sum())
    both = int((right["fixture"] & right["other"]).sum())
    section = text[text.index("<h2>Comparing runs</h2>") :]
    first_row = re.search(r"<tr><td>fixture right</td><td>(\d+)</td>", section)
    assert int(first_row.group(1)) == both
    second_row = re.search(r"<tr><td>fixture wrong</td><td>(\d+)</td>", section)
    assert int(second_row.group(1)) == only_b
    assert "Per-class accuracy" in section and "Ranking of all runs" in section
    assert "rank_uncorrected" in section
