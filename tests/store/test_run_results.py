"""Run results saved through several handles of the same run are all kept."""

from __future__ import annotations

import pandas as pd

import erroranalysis as ea
from tests.conftest import make_probs


def test_a_stale_run_handle_does_not_drop_results_saved_by_another(store):
    store.add_run("m1", make_probs(), out_of_sample=True)
    early = store.run("m1")  # opened before the other handle saves anything
    later = ea.Store.open(store.path).run("m1")
    n = int(early.info["num_samples"])
    later.save_result("scan", pd.DataFrame({"score": range(n)}))
    early.save_result("extra", pd.DataFrame({"value": range(n)}))

    fresh = ea.Store.open(store.path).run("m1")
    assert fresh.results() == ["scan", "extra"]
    assert fresh.load_result("scan")["score"].tolist() == list(range(n))


def test_saving_the_same_result_twice_lists_it_once(store):
    run = store.add_run("m1", make_probs(), out_of_sample=True)
    n = int(run.info["num_samples"])
    run.save_result("scan", pd.DataFrame({"score": range(n)}))
    run.save_result("scan", pd.DataFrame({"score": range(n)}))
    assert ea.Store.open(store.path).run("m1").results() == ["scan"]
