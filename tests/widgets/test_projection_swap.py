"""The dashboard shows the PCA layout first and swaps UMAP's in when it lands (issue 11): a
projection saved after the views were built (by another process, or ea.project's child) reaches
the scatter on the next refresh (the poller's call)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from erroranalysis.widgets.scatter import normalize_positions


def test_a_projection_saved_later_is_swapped_into_the_scatter(dashboard):
    run = dashboard.data.run
    n = dashboard.data.num_samples
    before = dashboard.scatter.canvas.positions
    assert dashboard.refresh() is False  # nothing new: nothing resent
    assert dashboard.scatter.canvas.positions is before
    landed = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    run.save_result("projection", pd.DataFrame({"x": landed[:, 0], "y": landed[:, 1]}))
    assert dashboard.refresh() is True
    np.testing.assert_array_equal(dashboard.scatter.xy, landed)
    sent = np.frombuffer(dashboard.scatter.canvas.positions, dtype=np.float32)
    np.testing.assert_array_equal(sent[:n], normalize_positions(landed)[:, 0])
    # the selection still shows on the new layout
    dashboard.selection.select(list(dashboard.data.sample_ids[:3]), source="test")
    assert dashboard.refresh() is False


def test_set_positions_refuses_a_wrong_shape(dashboard):
    with pytest.raises(ValueError, match="positions must be"):
        dashboard.scatter.set_positions(np.zeros((3, 2)))


@pytest.mark.slow
def test_ea_project_in_the_background_lands_in_the_dashboard(dashboard):
    from erroranalysis.analysis.projection import project

    job = project(dashboard.store, n_epochs=30, progress=False)
    assert job.wait(timeout=600).done() and job.returncode == 0, job.error
    assert job.fraction == 1.0 and job.summary["method"] == "umap"
    assert job.summary["reproducible"] is False
    assert dashboard.refresh() is True
    saved = dashboard.data.run.load_result("projection")[["x", "y"]].to_numpy(np.float32)
    np.testing.assert_array_equal(dashboard.scatter.xy, saved)
    assert dashboard.data.run.load_artifact("projection")["method"] == "umap"
