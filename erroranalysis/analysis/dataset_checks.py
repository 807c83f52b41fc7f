"""Dataset-level checks of cleanlab Datalab: non-IID ordering and underperforming groups.

Runs cleanlab's own Datalab issue managers (``NonIIDIssueManager`` and
``UnderperformingGroupIssueManager``) on the PCA-reduced embeddings and the run's probabilities,
so the results are exactly Datalab's. (They are called directly, with a minimal stand-in for the
``Datalab`` object, because ``Datalab`` itself needs the optional ``datasets`` package.) Columns saved (result ``dataset_checks``):
``non_iid_score``, ``is_non_iid``, ``underperforming_group_score``, ``is_underperforming_group``
(cleanlab's scores: low = more of an issue). The ``dataset_checks`` artifact keeps Datalab's
summary (including the non-IID p-value: a small p-value means the sample order is not i.i.d.,
e.g. the data are sorted by class or by source).

Datalab holds the probabilities in float32 in memory, so the check is skipped (with a note in the
summary) above ``max_samples`` samples.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from erroranalysis.analysis._common import current_codes, reduce_features, run_features
from erroranalysis.analysis.base import Analysis, AnalysisError, register

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["DatasetChecks"]


class _LabStandIn:
    """The two things the issue managers read from a ``Datalab``: labels and info dicts."""

    def __init__(self, labels: np.ndarray):
        self.labels = labels
        self._info: dict[str, dict[str, Any]] = {"statistics": {}}

    def get_info(self, name: str) -> dict[str, Any]:
        return self._info.setdefault(name, {})


_DATALAB_NEIGHBOURS = 10  # cleanlab Datalab's default k for its kNN graph


def _managers() -> dict[str, type]:
    from erroranalysis.analysis._cleanlab import (
        NonIIDIssueManager,
        UnderperformingGroupIssueManager,
    )

    return {
        "non_iid": NonIIDIssueManager,
        "underperforming_group": UnderperformingGroupIssueManager,
    }


@register
class DatasetChecks(Analysis):
    """cleanlab Datalab's non-IID and underperforming-group checks.

    Parameters
    ----------
    n_components : int or None
        PCA dimensions of the embeddings given to Datalab.
    max_samples : int
        Larger stores are skipped (Datalab keeps dense float copies).
    random_state : int
        Seed of the PCA.

    Attributes
    ----------
    issues_ : DataFrame
        Per-sample scores and flags.
    summary_ : DataFrame
        Datalab's issue summary for the two checks.
    non_iid_p_value_ : float or None
    """

    name: ClassVar[str] = "dataset_checks"
    label_dependent: ClassVar[bool] = True
    needs_embeddings: ClassVar[bool] = True
    result_name: ClassVar[str | None] = "dataset_checks"
    artifact_names: ClassVar[tuple[str, ...]] = ("dataset_checks",)

    def __init__(self, n_components: int | None = 32, max_samples: int = 200_000, random_state=0):
        self.n_components = n_components
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, store: Store, run: Run) -> DatasetChecks:
        self._stamp(store)
        n = store.num_samples
        if n > self.max_samples:
            raise AnalysisError(
                f"dataset_checks is skipped above max_samples={self.max_samples} samples "
                f"(this store has {n}); raise max_samples to force it"
            )
        features = reduce_features(
            run_features(run, self.name), self.n_components, self.random_state
        )
        labels = current_codes(store)
        probs = np.asarray(run.probs, dtype=np.float32)
        # Datalab's checks use the labels: run them on the labelled samples only
        labelled = labels >= 0
        if not labelled.all():
            labels, probs, features = labels[labelled], probs[labelled], features[labelled]
        if len(labels) <= _DATALAB_NEIGHBOURS:
            # cleanlab's non-IID check builds a k-nearest-neighbour graph (k = 10) and raises
            # a bare ValueError when there are not more samples than neighbours
            raise AnalysisError(
                f"dataset_checks needs more than {_DATALAB_NEIGHBOURS} labelled samples "
                f"(this store has {len(labels)}); it runs once the store holds more"
            )
        columns: dict[str, np.ndarray] = {}
        summaries = []
        self.info_ = {}
        for issue, manager_class in _managers().items():
            manager = manager_class(_LabStandIn(labels))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    manager.find_issues(features=features, pred_probs=probs)
            except ValueError as error:
                if "no meaningful clusters" not in str(error).lower():
                    raise
                # cleanlab's underperforming-group check clusters the features and refuses a
                # small store (tens of samples) where no cluster is big enough: that one check
                # has no finding then, the other checks still count
                columns[f"{issue}_score"] = np.full(len(labelled), np.nan, dtype=np.float32)
                columns[f"is_{issue}"] = np.zeros(len(labelled), dtype=bool)
                summaries.append(
                    pd.DataFrame({"issue_type": [issue], "score": [None], "num_issues": [0]})
                )
                self.info_[issue] = {"skipped": f"{error} ({len(labels)} labelled samples)"}
                continue
            score = np.full(len(labelled), np.nan, dtype=np.float32)
            score[labelled] = manager.issues[f"{issue}_score"].to_numpy(np.float32)
            flagged = np.zeros(len(labelled), dtype=bool)
            flagged[labelled] = manager.issues[f"is_{issue}_issue"].to_numpy(bool)
            columns[f"{issue}_score"], columns[f"is_{issue}"] = score, flagged
            summaries.append(manager.summary)
            self.info_[issue] = {
                key: value
                for key, value in manager.info.items()
                if isinstance(value, (int, float, str, bool)) or value is None
            }
        self.issues_ = pd.DataFrame(
            columns,
            columns=[
                "non_iid_score",
                "is_non_iid",
                "underperforming_group_score",
                "is_underperforming_group",
            ],
        )
        self.summary_ = pd.concat(summaries, ignore_index=True)
        p_value = self.info_["non_iid"].get("p-value")
        self.non_iid_p_value_ = None if p_value is None else float(p_value)
        return self

    def save(self, store: Store, run: Run) -> None:
        run.save_result("dataset_checks", self.issues_, **self._result_kwargs())
        run.save_artifact(
            "dataset_checks",
            {
                "summary": self.summary_.to_dict(orient="records"),
                "non_iid_p_value": self.non_iid_p_value_,
                "info": self.info_,
            },
            **self._artifact_kwargs(),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "non_iid_p_value": None
            if self.non_iid_p_value_ is None
            else round(self.non_iid_p_value_, 4),
            "underperforming": int(self.issues_["is_underperforming_group"].sum()),
        }
