import json

import numpy as np
import pytest

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export import (
    export_weak_spots,
    find_look_alikes,
    flag_weak_spot,
    import_annotations,
    weak_spots,
)
from erroranalysis.export._common import load_record

from .helpers import fill_csv


def test_flag_and_list(store):
    event = flag_weak_spot(store, "s05", "dark background")
    assert isinstance(event, int)
    spots = weak_spots(store)
    assert spots[["sample_id", "reason"]].values.tolist() == [["s05", "dark background"]]


def test_look_alikes_are_nearest_in_embedding_space(store):
    flag_weak_spot(store, "s05", "dark")
    flag_weak_spot(store, "s07", "tiny")
    store.flag("s01", "reviewed")
    table = find_look_alikes(store, per_spot=4, n_components=5)
    assert not set(table["sample_id"]) & {"s05", "s07", "s01"}  # flagged samples are not proposed
    assert table["sample_id"].is_unique
    # brute force in the same PCA space agrees on the nearest neighbour of each weak spot
    from sklearn.decomposition import PCA

    features = PCA(n_components=5, random_state=0).fit_transform(np.asarray(store.run().embeddings))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    pool = [i for i in range(store.num_samples) if i not in (1, 5, 7)]
    for seed, position in (("s05", 5), ("s07", 7)):
        distances = np.linalg.norm(features[pool] - features[position], axis=1)
        nearest = store.sample_ids[pool[int(np.argmin(distances))]]
        first = table[table["seed"] == seed].sort_values("rank")
        if nearest in set(first["sample_id"]):
            assert first.iloc[0]["sample_id"] == nearest
        else:  # it was listed under the other seed, to which it is even closer
            assert nearest in set(table["sample_id"])


def test_look_alikes_need_embeddings(tmp_path):
    import pandas as pd

    import erroranalysis as ea

    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": ["x", "y"]})
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples)
    store.add_run("r", np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    store.flag("a", "weak_spot")
    with pytest.raises(ErrorAnalysisError, match="no embeddings"):
        find_look_alikes(store)
    with pytest.raises(ErrorAnalysisError, match="at least 1"):
        find_look_alikes(store, per_spot=0)


def test_export_weak_spots_and_look_alikes(store, tmp_path):
    with pytest.raises(ErrorAnalysisError, match="no sample is flagged"):
        export_weak_spots(store, tmp_path / "w.csv")
    flag_weak_spot(store, "s05", "dark")
    result = export_weak_spots(store, tmp_path / "w.csv")
    text = result.path.read_text()
    assert "s05" in text and "weak spot: dark" in text
    assert load_record(store, result.export_id).kind == "weak_spots"
    alikes = export_weak_spots(
        store, tmp_path / "l.json", format="label-studio", look_alikes=True, per_spot=3
    )
    tasks = json.loads(alikes.path.read_text())
    assert len(tasks) == 3
    assert {task["data"]["seed"] for task in tasks} == {"s05"}
    assert all(task["data"]["reasons"] == "looks like weak spot s05 (dark)" for task in tasks)
    distances = [task["data"]["distance"] for task in tasks]
    assert distances == sorted(distances)
    # look-alikes exported as CSV can be answered and imported like candidates
    csv_result = export_weak_spots(store, tmp_path / "l.csv", look_alikes=True, per_spot=2)
    first = csv_result.sample_ids[0]
    current = store.labels()[first]
    other = next(name for name in store.classes if name != current)
    filled = fill_csv(csv_result.path, {first: other}, tmp_path / "filled.csv")
    assert import_annotations(store, filled, format="csv").applied == 1
