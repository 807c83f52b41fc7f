"""cleanlab's private names live in one module and fail with a message naming the versions.

Issue 15.7: ``analysis/_cleanlab.py`` is the only importer of cleanlab's private modules; a name
missing from the installed cleanlab raises ``CleanlabVersionError`` (an erroranalysis error)
naming the installed and the verified version; public API replaces the private scorer.
"""

from __future__ import annotations

import re
from pathlib import Path

import cleanlab
import cleanlab.rank
import numpy as np
import pytest
import tomllib
from packaging.requirements import Requirement

from erroranalysis.analysis import _cleanlab
from erroranalysis.analysis.label_issues import find_label_issues_lean
from erroranalysis.analysis.near_duplicates import near_duplicate_sets
from erroranalysis.analysis.scores import compute_scores
from erroranalysis.errors import ErrorAnalysisError

PACKAGE = Path(__file__).resolve().parents[2] / "erroranalysis"
PYPROJECT = PACKAGE.parent / "pyproject.toml"
PRIVATE_IMPORT = re.compile(
    r"^\s*(from\s+cleanlab[\w.]*\s+import\s+\(?\s*_\w+|from\s+cleanlab[\w.]*\.internal[\w.]*\s+import"
    r"|import\s+cleanlab[\w.]*\.internal)",
    re.MULTILINE,
)


def _labels_probs(n=200, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    probs = rng.dirichlet(np.ones(k) * 0.5, size=n).astype(np.float32)
    return labels, probs


def test_only_the_cleanlab_module_imports_private_names():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {match.group(0).strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_cleanlab.py"
        for match in PRIVATE_IMPORT.finditer(path.read_text())
    ]
    assert offenders == []


def test_every_private_name_exists_in_the_installed_cleanlab():
    for name in _cleanlab.PRIVATE_NAMES:
        assert _cleanlab.private(name) is not None


@pytest.mark.parametrize(
    ("module", "attribute", "call"),
    [
        (
            "cleanlab.filter",
            "_keep_at_least_n_per_class",
            lambda: find_label_issues_lean(*_labels_probs()),
        ),
        (
            "cleanlab.internal.neighbor.knn_graph",
            "create_knn_graph_and_index",
            lambda: near_duplicate_sets(np.random.default_rng(0).normal(size=(30, 4)), k=5),
        ),
    ],
)
def test_a_missing_private_name_names_the_installed_and_verified_versions(
    monkeypatch, module, attribute, call
):
    import importlib

    monkeypatch.delattr(importlib.import_module(module), attribute)
    with pytest.raises(_cleanlab.CleanlabVersionError) as caught:
        call()
    message = str(caught.value)
    assert f"cleanlab {cleanlab.__version__}" in message
    assert f"verified with cleanlab {_cleanlab.VERIFIED_VERSION}" in message
    assert f"{module}.{attribute}" in message
    assert isinstance(caught.value, ErrorAnalysisError)  # the CLI prints it in one line


def test_the_dataset_checks_managers_fail_the_same_way(monkeypatch):
    import cleanlab.datalab.internal.issue_manager.noniid as noniid

    from erroranalysis.analysis.dataset_checks import _managers

    monkeypatch.delattr(noniid, "NonIIDIssueManager")
    with pytest.raises(_cleanlab.CleanlabVersionError, match="NonIIDIssueManager"):
        _managers()


def test_the_verified_version_is_inside_the_pyproject_range():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (line,) = [d for d in dependencies if re.match(r"cleanlab\b", d)]
    assert Requirement(line).specifier.contains(_cleanlab.VERIFIED_VERSION), line


@pytest.mark.parametrize(
    "method", ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
)
def test_public_scorer_equals_cleanlabs_private_one(method):
    labels, probs = _labels_probs(500, 4, seed=3)
    ours = _cleanlab.compute_label_quality_scores(labels, probs, method=method)
    theirs = cleanlab.rank.get_label_quality_scores(labels, probs, method=method)
    np.testing.assert_array_equal(ours, theirs)


def test_scores_do_not_need_the_private_scorer(monkeypatch):
    labels, probs = _labels_probs(60, 3)
    expected = compute_scores(probs, labels, ["a", "b", "c"], "confidence_weighted_entropy")
    monkeypatch.delattr(cleanlab.rank, "_compute_label_quality_scores")
    again = compute_scores(probs, labels, ["a", "b", "c"], "confidence_weighted_entropy")
    assert again.equals(expected)
