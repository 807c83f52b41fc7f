"""Near-duplicates confirmed by perceptual hashes, beyond the Datalab radius of the embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from erroranalysis.analysis.base import AnalysisError
from erroranalysis.analysis.near_duplicates import (
    DEFAULT_HASH_BITS,
    hash_codes,
    hash_distance,
    near_duplicate_sets,
)


def _cloud(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 1, (n, 3)).astype(np.float32)  # 3 dims: cleanlab uses Euclidean
    hashes = [f"{int(v):016x}" for v in rng.integers(0, 2**63, n, dtype=np.int64)]
    return rng, features, hashes


def test_a_hash_confirms_a_pair_the_datalab_radius_misses():
    rng, features, hashes = _cloud()
    _, _, info = near_duplicate_sets(features, k=10, threshold=0.13)
    median = info["median_nn_distance"]
    # 1 <- 0: a copy at 0.2 × the median distance, hash 3 bits off (a shifted, re-exposed copy)
    # 3 <- 2: as close, but its hash is unrelated (another picture that happens to embed near)
    # 5 <- 4: almost on it in the embedding, hash unrelated (two different very dark images)
    for original, copy, bits, gap in ((0, 1, 3, 0.2), (2, 3, None, 0.2), (4, 5, None, 0.01)):
        direction = rng.normal(0, 1, 3)
        features[copy] = features[original] + gap * median * direction / np.linalg.norm(direction)
        code = int(hashes[original], 16)
        hashes[copy] = f"{code ^ 0b10101:016x}" if bits else f"{code ^ (2**40 - 1):016x}"
    plain, _, _ = near_duplicate_sets(features, k=10, threshold=0.13)
    assert plain[0] == -1 and plain[2] == -1  # beyond Datalab's radius
    assert plain[4] >= 0 and plain[4] == plain[5]  # inside it
    with_hashes, _, info = near_duplicate_sets(features, k=10, threshold=0.13, hashes=hashes)
    assert with_hashes[0] >= 0 and with_hashes[0] == with_hashes[1]
    assert with_hashes[2] == -1 and with_hashes[3] == -1
    assert with_hashes[4] == -1 and with_hashes[5] == -1  # vetoed by the hashes
    assert info["hash_pairs"] >= 1
    assert info["nearest_hash_distance"][1] == 3
    # a copy must keep its brightness and contrast: 20 % brighter and it is another picture
    statistics = np.ones((len(features), 2))
    assert near_duplicate_sets(features, 10, 0.13, hashes, statistics=statistics)[0][0] >= 0
    statistics[1, 0] = 1.2
    vetoed = near_duplicate_sets(features, 10, 0.13, hashes, statistics=statistics)[0]
    assert vetoed[0] == -1 and vetoed[1] == -1
    statistics[1, 0] = np.nan  # unknown: no check
    assert near_duplicate_sets(features, 10, 0.13, hashes, statistics=statistics)[0][0] >= 0
    # a tighter hash rule or radius drops it again
    assert near_duplicate_sets(features, 10, 0.13, hashes, hash_bits=2)[0][0] == -1
    assert near_duplicate_sets(features, 10, 0.13, hashes, hash_threshold=0.15)[0][0] == -1


def test_unknown_hashes_never_confirm():
    _, features, hashes = _cloud(1)
    features[1] = features[0] + 1e-3
    hashes[0] = hashes[1] = None
    set_id, _, info = near_duplicate_sets(features, k=10, threshold=0.13, hashes=hashes)
    assert set_id[0] == set_id[1] >= 0  # still found by the embedding radius
    assert info["nearest_hash_distance"][0] == -1
    with pytest.raises(AnalysisError, match="hashes for"):
        near_duplicate_sets(features, hashes=hashes[:-1])
    with pytest.raises(AnalysisError, match="hash_bits"):
        near_duplicate_sets(features, hashes=hashes, hash_bits=65)


def test_hash_codes_and_distance():
    codes, known = hash_codes(["ffffffffffffffff", "0", float("nan"), "zz"])
    assert known.tolist() == [True, True, False, False]
    assert hash_distance(codes[:1], codes[1:2]).tolist() == [64]


def test_planted_copies_of_generated_images_keep_their_hash(tmp_path):
    """On real generated images, planted copies differ by few hash bits, other pairs by many."""
    from erroranalysis.analysis.image_properties import ImageProperties
    from erroranalysis.datasets.synthetic import make_synthetic

    data = make_synthetic(tmp_path / "data", n_samples=200, seed=5, progress=False)
    store = data.create_store(tmp_path / "store")
    store.add_run("r", np.full((200, len(store.classes)), 1 / len(store.classes), np.float32))
    properties = ImageProperties().fit(store, store.run("r")).properties_
    codes, known = hash_codes(properties["phash"])
    assert known.all()
    position = pd.Series(np.arange(200), index=store.sample_ids)
    pairs = data.truth.dropna(subset=["near_duplicate_of"])
    a = position[pairs["sample_id"]].to_numpy()
    b = position[pairs["near_duplicate_of"]].to_numpy()
    planted = hash_distance(codes[a], codes[b])
    others = hash_distance(codes[:, None], codes[None, :])[np.triu_indices(200, 1)]
    assert (planted <= DEFAULT_HASH_BITS).mean() >= 0.7  # 3 of the 4 planted pairs here
    assert (others <= DEFAULT_HASH_BITS).mean() <= 0.01


def test_each_statistic_has_its_own_tolerance():
    """A copy keeps its exposure within 5 %, its entropy within 10 %, its sharpness within 30 %;
    another picture of one shape on a flat background that shares the hash differs in one."""
    from erroranalysis.analysis.near_duplicates import DEFAULT_TOLERANCES

    _, features, hashes = _cloud(2)
    _, _, info = near_duplicate_sets(features, k=10, threshold=0.13)
    features[1] = features[0] + 0.3 * info["median_nn_distance"] / np.sqrt(3)
    hashes[1] = f"{int(hashes[0], 16) ^ 0b111:016x}"
    columns = ["brightness", "contrast", "pixel_entropy", "blur"]
    limits = [DEFAULT_TOLERANCES[c] for c in columns]
    statistics = np.tile([0.5, 0.2, 5.0, 600.0], (len(features), 1))
    statistics[1] = [0.52, 0.191, 5.3, 700.0]  # 4 %, 4.5 %, 6 %, 14 % apart

    def paired(stats, tolerance=limits):
        set_id = near_duplicate_sets(
            features, 10, 0.13, hashes, statistics=stats, tolerance=tolerance
        )[0]
        return bool(set_id[0] >= 0 and set_id[0] == set_id[1])

    assert paired(statistics)
    sharper = statistics.copy()
    sharper[1, 3] = 1200.0  # twice as sharp: 50 % apart
    assert not paired(sharper)
    assert paired(sharper, [0.05, 0.05, 0.10, 0.6])
    busier = statistics.copy()
    busier[1, 2] = 6.0  # entropy 17 % apart
    assert not paired(busier)
    assert not paired(statistics, 0.05)  # one tolerance for all: the sharpness is 14 % apart
    with pytest.raises(AnalysisError, match="tolerances must be non-negative"):
        paired(statistics, [0.05, 0.05, -0.1, 0.3])
    with pytest.raises(ValueError):
        paired(statistics, [0.05, 0.05])  # one per column
