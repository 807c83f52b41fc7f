"""The annotation loop (issue 13): consensus of several annotators, and the queue's order.

1. Consensus: three simulated annotators (90 / 75 / 60 % accurate, each answering 80 % of the
   samples; tests/analysis/test_consensus.py) and a model about 70 % accurate. CROWDLAB
   (``ea.import_annotations``'s consensus) against a majority vote (ties broken by the model, as
   cleanlab's ``get_majority_vote_label``) and the best single annotator; with
   ``min_consensus_quality=0.5``, how many samples go to a person and how accurate the rest is.
2. Queue order: an active-learning loop with known truth. Gaussian classes in 20 dimensions, a
   logistic regression trained on the labelled samples scores the pool; each round the queue's
   first 100 samples are labelled (oracle) and the model retrained. Test accuracy after the
   rounds, per score: ActiveLab (our default), margin, entropy, and a random order.

    python bench/annotation.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def consensus(seeds=(0, 1, 2), minimum: float = 0.5) -> dict:
    import numpy as np
    from cleanlab.multiannotator import get_majority_vote_label

    from erroranalysis.analysis.consensus import _matrix, crowdlab_consensus
    from tests.analysis.test_consensus import ACCURACY, CLASSES, make

    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            store, truth, answers = make(Path(folder), seed=seed)
            result = crowdlab_consensus(answers, store)
            labels = result.labels
            right = labels["consensus_label"].to_numpy() == truth[labels["sample_id"]].to_numpy()
            matrix, order = _matrix(answers, CLASSES)
            probs = np.asarray(store.run().probs[store.positions(order)], dtype=np.float64)
            probs /= probs.sum(axis=1, keepdims=True)
            vote = get_majority_vote_label(matrix.to_numpy(dtype=float), probs, verbose=False)
            vote_right = np.asarray(CLASSES)[vote] == truth[order].to_numpy()
            single = {
                name: float(
                    (group["label"].to_numpy() == truth[group["sample_id"]].to_numpy()).mean()
                )
                for name, group in answers.groupby("annotator")
            }
            doubtful = (labels["consensus_quality"].to_numpy() < minimum) & ~labels[
                "unanimous"
            ].to_numpy()
            rows.append(
                {
                    "crowdlab": right.mean(),
                    "majority": vote_right.mean(),
                    "best_single": max(single.values()),
                    "ranked_right": result.annotators["annotator"].tolist() == list(ACCURACY),
                    "to_people": doubtful.mean(),
                    "applied_accuracy": right[~doubtful].mean(),
                    "doubtful_accuracy": right[doubtful].mean(),
                    "n": len(labels),
                }
            )
    return {key: [row[key] for row in rows] for key in rows[0]}


def _draw(rng, centres, spread, n):
    """``n`` points of Gaussian classes around ``centres`` with per-class ``spread``."""
    y = rng.integers(0, len(centres), n)
    return centres[y] + rng.normal(0, 1, (n, centres.shape[1])) * spread[y, None], y


def queue_order(seeds=(0, 1, 2), rounds: int = 10, batch: int = 100) -> dict:
    import warnings

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from erroranalysis.analysis.annotation_queue import active_learning_scores

    methods = ["activelab", "margin", "entropy", "random"]
    results = {method: [] for method in methods}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        k, d = 5, 20
        centres = rng.normal(0, 1.0, (k, d))
        spread = rng.uniform(0.8, 2.0, k)  # classes of unequal difficulty

        x_pool, y_pool = _draw(rng, centres, spread, 6000)
        x_test, y_test = _draw(rng, centres, spread, 3000)
        start = rng.choice(len(x_pool), 200, replace=False)
        for method in methods:
            labelled = np.zeros(len(x_pool), dtype=bool)
            labelled[start] = True
            local = np.random.default_rng(seed + 100)
            for _ in range(rounds):
                model = LogisticRegression(max_iter=500).fit(x_pool[labelled], y_pool[labelled])
                pool = np.flatnonzero(~labelled)
                if method == "random":
                    picked = local.choice(pool, batch, replace=False)
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        scores = active_learning_scores(model.predict_proba(x_pool[pool]), method)
                    picked = pool[np.argsort(scores, kind="stable")[:batch]]
                labelled[picked] = True
            model = LogisticRegression(max_iter=500).fit(x_pool[labelled], y_pool[labelled])
            results[method].append(float((model.predict(x_test) == y_test).mean()))
    return results


if __name__ == "__main__":
    import numpy as np

    from erroranalysis.machine import machine_description

    print(machine_description())
    c = consensus()
    print("consensus over 3 seeds x", c["n"][0], "samples:")
    for key in (
        "crowdlab",
        "majority",
        "best_single",
        "to_people",
        "applied_accuracy",
        "doubtful_accuracy",
    ):
        print(f"  {key:<18} {np.mean(c[key]):.3f}  ({', '.join(f'{v:.3f}' for v in c[key])})")
    print("  annotators ranked right:", c["ranked_right"])
    q = queue_order()
    print("queue order: test accuracy after 10 rounds of 100 labels (200 to start), 3 seeds:")
    for method, values in q.items():
        print(f"  {method:<10} {np.mean(values):.4f}  ({', '.join(f'{v:.4f}' for v in values)})")
