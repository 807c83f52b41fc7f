"""When are label-issue flags trustworthy? Cohen's κ of predictions vs labels >= 0.6."""

from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.analysis.label_trust import MIN_KAPPA, label_issue_trust


def _codes(n_per_class, accuracy, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), n_per_class)
    preds = labels.copy()
    wrong = rng.permutation(len(labels))[: round(len(labels) * (1 - accuracy))]
    preds[wrong] = (labels[wrong] + rng.integers(1, k, len(wrong))) % k
    return labels, preds


def test_the_bring_your_own_model_notebook_model_is_not_trusted():
    # its pixel model: 59 of 120 right on three balanced classes, 53 flagged
    labels, preds = _codes(40, 59 / 120)
    trust = label_issue_trust(labels, preds, 3, num_flagged=53)
    assert not trust.trusted and trust.warn
    assert trust.accuracy == pytest.approx(59 / 120)
    assert trust.chance == pytest.approx(1 / 3, abs=0.01)
    assert trust.kappa == pytest.approx(0.24, abs=0.02)
    assert "49.2% of 120 labelled samples" in trust.message
    assert "53 flagged samples" in trust.message


def test_a_good_model_is_trusted_and_says_nothing():
    labels, preds = _codes(40, 0.9)
    trust = label_issue_trust(labels, preds, 3, num_flagged=8)
    assert trust.trusted and not trust.warn and trust.message == ""
    assert trust.kappa == pytest.approx((0.9 - 1 / 3) / (2 / 3), abs=0.02)


def test_high_accuracy_from_the_majority_class_alone_is_not_trusted():
    # 90 % of the samples are one class; predicting it always is 90 % accurate, κ = 0
    labels = np.array([0] * 90 + [1] * 10)
    trust = label_issue_trust(labels, np.zeros(100, dtype=int), 2)
    assert trust.accuracy == pytest.approx(0.9) and trust.kappa == pytest.approx(0.0)
    assert not trust.trusted


@pytest.mark.parametrize(("k", "edge"), [(2, 0.8), (3, 0.6 + 0.4 / 3), (10, 0.64)])
def test_the_bar_in_accuracy_on_balanced_classes(k, edge):
    """κ = 0.6 on K balanced classes is an accuracy of 0.6 + 0.4 / K (chance 1 / K)."""
    assert MIN_KAPPA == 0.6
    labels, above = _codes(300, edge + 0.03, k=k)
    assert label_issue_trust(labels, above, k).trusted
    labels, below = _codes(300, edge - 0.03, k=k)
    assert not label_issue_trust(labels, below, k).trusted


def test_unlabelled_samples_are_left_out_and_provenance_is_a_caution():
    labels, preds = _codes(40, 0.9)
    labels[:30] = -1  # unlabelled
    trust = label_issue_trust(labels, preds, 3, out_of_sample=False)
    assert trust.num_labelled == 90 and trust.trusted
    assert trust.warn and "in-sample" in trust.message
    unknown = label_issue_trust(labels, preds, 3, out_of_sample=None)
    assert "does not record whether" in unknown.message
    nothing = label_issue_trust(np.full(5, -1), np.zeros(5, dtype=int), 3)
    assert not nothing.trusted and "no labelled sample" in nothing.message
