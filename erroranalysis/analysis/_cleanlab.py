"""The one place where cleanlab's private names are imported.

Most of what the analyses take from cleanlab is public API (``cleanlab.filter.find_label_issues``,
``cleanlab.count.calibrate_confident_joint``, ``cleanlab.rank.get_*_for_each_label``,
``cleanlab.outlier.OutOfDistribution``, ``cleanlab.multiannotator``). A few pieces have no public
equivalent: the streaming label-issue search reuses cleanlab's own constants and per-class
pruning so that its result equals ``find_label_issues`` exactly; near-duplicates use cleanlab's
kNN graph builder; the dataset checks run two of Datalab's issue managers on their own. They are
imported here, by name, lazily (``from erroranalysis.analysis._cleanlab import NAME``), and a
name missing from the installed cleanlab raises :class:`CleanlabVersionError`, which names the
installed version and the one verified (:data:`VERIFIED_VERSION`, also the cap in
``pyproject.toml``), instead of an ``ImportError`` deep inside an analysis.

:func:`compute_label_quality_scores` replaces ``cleanlab.rank._compute_label_quality_scores``
with the public per-method scoring functions it dispatches to (same values, no input checks).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from erroranalysis.errors import ErrorAnalysisError

__all__ = [
    "PRIVATE_NAMES",
    "VERIFIED_VERSION",
    "CleanlabVersionError",
    "compute_label_quality_scores",
    "private",
]

#: The cleanlab release the private names below were checked against (pyproject caps below 2.10).
VERIFIED_VERSION = "2.9.0"

#: Our name -> (cleanlab module, private name). Nothing else in the package imports these.
PRIVATE_NAMES: dict[str, tuple[str, str]] = {
    # label_issues: the streaming search reproduces find_label_issues exactly
    "keep_at_least_n_per_class": ("cleanlab.filter", "_keep_at_least_n_per_class"),
    "CONFIDENT_THRESHOLDS_LOWER_BOUND": (
        "cleanlab.internal.constants",
        "CONFIDENT_THRESHOLDS_LOWER_BOUND",
    ),
    "FLOATING_POINT_COMPARISON": ("cleanlab.internal.constants", "FLOATING_POINT_COMPARISON"),
    # near_duplicates: cleanlab's kNN graph (the one Datalab's near-duplicate check builds)
    "EPSILON": ("cleanlab.internal.constants", "EPSILON"),
    "create_knn_graph_and_index": (
        "cleanlab.internal.neighbor.knn_graph",
        "create_knn_graph_and_index",
    ),
    # dataset_checks: two Datalab issue managers, run without a Datalab
    "NonIIDIssueManager": ("cleanlab.datalab.internal.issue_manager.noniid", "NonIIDIssueManager"),
    "UnderperformingGroupIssueManager": (
        "cleanlab.datalab.internal.issue_manager.underperforming_group",
        "UnderperformingGroupIssueManager",
    ),
}


class CleanlabVersionError(ErrorAnalysisError):
    """The installed cleanlab lacks a private name erroranalysis uses (a version we did not verify)."""


def _installed_version() -> str:
    try:
        from importlib.metadata import version

        return version("cleanlab")
    except Exception:
        return "(not installed)"


def private(name: str) -> Any:
    """Import one of :data:`PRIVATE_NAMES` from the installed cleanlab.

    Parameters
    ----------
    name : str
        A key of :data:`PRIVATE_NAMES`.

    Returns
    -------
    object
        The cleanlab object.

    Raises
    ------
    CleanlabVersionError
        When the installed cleanlab has no such module or name; the message names the installed
        version, the verified one and the pip command that installs it.
    """
    module_name, attribute = PRIVATE_NAMES[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise CleanlabVersionError(
            f"cleanlab {_installed_version()} has no {module_name}.{attribute}, a private name "
            f"erroranalysis uses (verified with cleanlab {VERIFIED_VERSION}); install that "
            f"version: pip install 'cleanlab=={VERIFIED_VERSION}' ({error})"
        ) from None


def __getattr__(name: str) -> Any:
    """``from erroranalysis.analysis._cleanlab import NAME`` imports cleanlab only then."""
    if name in PRIVATE_NAMES:
        return private(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compute_label_quality_scores(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """cleanlab's label-quality score per row, through its public per-method functions.

    What ``cleanlab.rank._compute_label_quality_scores`` computes (without the input checks of
    ``get_label_quality_scores``, which would scan every row again), for
    ``adjust_pred_probs=False``.

    Parameters
    ----------
    labels : array (N,) of int
    pred_probs : array (N, K)
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
    adjust_pred_probs : bool
        Only ``False``: the analyses never adjust.

    Returns
    -------
    ndarray (N,)
        Scores in [0, 1]; low = likely a label error.
    """
    from cleanlab import rank

    functions = {
        "self_confidence": rank.get_self_confidence_for_each_label,
        "normalized_margin": rank.get_normalized_margin_for_each_label,
        "confidence_weighted_entropy": rank.get_confidence_weighted_entropy_for_each_label,
    }
    if adjust_pred_probs:
        raise ErrorAnalysisError("adjust_pred_probs=True is not supported here")
    if method not in functions:
        raise ErrorAnalysisError(
            f"unknown label-quality method {method!r}; choose one of {', '.join(functions)}"
        )
    return functions[method](labels=labels, pred_probs=pred_probs)
