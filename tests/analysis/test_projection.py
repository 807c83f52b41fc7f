"""The projection at scale: PCA basis, UMAP fitted on a sample with the rest placed, progress,
and the reproducibility the result records."""

from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.analysis.base import MissingEmbeddingsError
from erroranalysis.analysis.projection import Projection, pca_basis, umap_layout


def clustered(n: int = 3000, k: int = 8, dim: int = 24, seed: int = 0):
    """``n`` points in ``k`` clusters on a 4-d latent space mapped non-linearly to ``dim``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    latent = rng.normal(0, 4, (k, 4))[labels] + rng.standard_normal((n, 4))
    mixing = rng.normal(0, 0.5, (4, dim))
    x = np.tanh(latent @ mixing) + 0.02 * rng.standard_normal((n, dim))
    return x.astype(np.float32), labels


def label_agreement(layout: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of points whose ``k`` nearest neighbours in the layout are mostly of their class."""
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(layout).kneighbors(layout)[1][:, 1:]
    return float((np.mean(labels[neighbours] == labels[:, None], axis=1) > 0.5).mean())


def test_pca_basis_matches_sklearn_and_names_bad_rows():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = (rng.normal(0, 1, (4000, 30)) * np.geomspace(10, 0.1, 30) + 3).astype(np.float32)
    full = PCA(n_components=3, svd_solver="full").fit(x)
    basis = pca_basis(x, 3, fit_rows=10_000)
    assert np.allclose(np.abs(basis.axes.T), np.abs(full.components_), atol=1e-3)
    assert np.allclose(basis.variance, full.explained_variance_, rtol=1e-3)
    assert np.allclose(np.abs(basis.project(x, 2)), np.abs(full.transform(x)[:, :2]), atol=1e-2)
    # uncentred: the mean's offset stays
    offset = basis.project(x, 2, center=False) - basis.project(x, 2)
    assert np.allclose(offset, basis.mean @ basis.axes[:, :2], atol=1e-3)
    # fitted on 1,000 random rows: the same leading axes
    sub = pca_basis(x, 2, fit_rows=1000)
    assert abs(float(sub.axes[:, 0] @ basis.axes[:, 0])) > 0.98
    bad = x.copy()
    bad[11, 4] = np.inf
    with pytest.raises(MissingEmbeddingsError, match="11"):
        basis.project(bad, 2)


@pytest.mark.slow
def test_sampled_fit_and_placement_keep_neighbourhoods():
    from sklearn.manifold import trustworthiness

    x, labels = clustered()
    calls: list[tuple[float, str]] = []
    layout = umap_layout(
        x, fit_samples=800, random_state=0, progress=lambda f, s: calls.append((f, s))
    )
    assert layout.shape == (3000, 2) and layout.dtype == np.float32
    assert np.isfinite(layout).all()
    assert any(stage == "placing the rest" for _, stage in calls)  # the sampled path ran
    random = np.random.default_rng(1).normal(size=layout.shape)
    rows = np.random.default_rng(2).choice(len(x), 1500, replace=False)
    ours = trustworthiness(x[rows], layout[rows], n_neighbors=10)
    chance = trustworthiness(x[rows], random[rows], n_neighbors=10)
    assert ours > 0.9, ours
    assert chance < 0.6, chance  # the threshold tells a layout from noise
    # the placed points (not in the fitted sample) sit in their own cluster
    fitted = np.zeros(len(x), dtype=bool)
    fitted[np.random.default_rng(0).choice(len(x), 800, replace=False)] = True
    placed = ~fitted
    assert label_agreement(layout[placed], labels[placed]) > 0.9
    assert label_agreement(random[placed], labels[placed]) < 0.3


@pytest.mark.slow
def test_progress_is_reported_from_start_to_end():
    x, _ = clustered(n=1500)
    calls: list[tuple[float, str]] = []
    umap_layout(x, fit_samples=500, n_epochs=50, progress=lambda f, s: calls.append((f, s)))
    fractions = [f for f, _ in calls]
    assert len(calls) > 10
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    stages = {s for _, s in calls}
    assert {"kNN", "UMAP", "kNN of the rest", "placing the rest"} <= stages


@pytest.mark.slow
def test_projection_records_that_the_parallel_layout_is_not_reproducible(planted, capsys):
    store, _ = planted
    run = store.run()
    calls: list[tuple[float, str]] = []
    fitted = Projection(n_epochs=30).fit(store, run, progress=lambda f, s: calls.append((f, s)))
    assert fitted.method_ == "umap" and fitted.reproducible_ is False
    assert calls[0] == (0.0, "PCA") and calls[-1][0] == 1.0
    fitted.save(store, run)
    assert run.result_info("projection")["parameters"]["reproducible"] is False
    artifact = run.load_artifact("projection")
    assert artifact["reproducible"] is False
    assert "not bit-reproducible" in artifact["reproducibility"]
    assert set(artifact["cpu_seconds"]) == {"pca", "umap"}

    seeded = Projection(n_epochs=30, random_state=0).fit(store, run, progress=True)
    assert "100%" in capsys.readouterr().err  # the tqdm bar ran to the end
    assert seeded.reproducible_ is True
    seeded.save(store, run)
    assert run.result_info("projection")["parameters"]["reproducible"] is True
    assert run.load_artifact("projection")["reproducibility"].startswith("bit-reproducible")


def test_pca_method_is_reproducible_and_reports_progress(planted):
    store, _ = planted
    calls: list[tuple[float, str]] = []
    a = Projection(method="pca").fit(store, store.run(), progress=lambda f, s: calls.append((f, s)))
    b = Projection(method="pca").fit(store, store.run())
    assert a.reproducible_ and np.array_equal(a.layout_, b.layout_)
    assert calls[-1] == (1.0, "PCA")
