"""Issue types in one place: what each analysis flags, under which name, scored how.

Each analysis declares the issue types it produces in its ``issue_types`` class attribute (a
tuple of :class:`IssueType`), the way cleanlab's Datalab issue managers do: the issue's name, its
display name, the boolean flag column and the score column it saves, and which end of that score
is severe. The views (gallery badges, inspector, issue table, scatter colouring), the candidates
export, the static report and the CLI all loop over :func:`issue_types`, so a new analysis file
that declares an issue type appears everywhere without touching them.

Scores keep their natural direction (``label_quality``: low = probably mislabeled;
``outlier_score``: high = outlying); :attr:`IssueType.severe` says which end is bad, and
:meth:`IssueType.severity` turns any score into one where **low = severe, everywhere**, which
is what the views sort by (worst first).

>>> from erroranalysis.analysis.issue_types import issue_types, get_issue_type
>>> [t.name for t in issue_types()]
['label_issue', 'outlier', 'near_duplicate']
>>> get_issue_type("near-duplicates").flag_column
'is_near_duplicate'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from erroranalysis.errors import ErrorAnalysisError

__all__ = [
    "IssueType",
    "UnknownIssueTypeError",
    "get_issue_type",
    "issue_types",
    "present_issue_types",
    "register_issue_type",
]


class UnknownIssueTypeError(ErrorAnalysisError):
    """An issue type name that no analysis declares (the message lists the known ones)."""


@dataclass(frozen=True)
class IssueType:
    """One kind of issue an analysis flags per sample.

    Parameters
    ----------
    name : str
        Identifier (``snake_case``), used in APIs, the CLI and CSS classes (``ea-badge-<name>``).
    display_name : str
        Singular, for people (``"near-duplicate"``).
    flag_column : str
        Boolean per-sample column of ``store.frame(run)`` (``True`` = has the issue).
    score_column : str or None
        Per-sample score that ranks the flagged samples (``None`` when the analysis has none).
    severe : {"low", "high"}
        Which end of ``score_column`` is severe.
    plural : str, optional
        Plural display name (default: ``display_name + "s"``).
    colour : str
        Colour of the issue in the scatter and the badges (colour-blind-safe palette).
    analysis : str
        Name of the analysis that produces it (filled in by the registry).
    aliases : tuple of str
        Other spellings accepted on input.
    """

    name: str
    display_name: str
    flag_column: str
    score_column: str | None = None
    severe: str = "low"
    plural: str = ""
    colour: str = "#999999"
    analysis: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.severe not in ("low", "high"):
            raise ValueError(
                f"issue type {self.name!r}: severe must be 'low' or 'high', got {self.severe!r}"
            )
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"issue type name must be snake_case, got {self.name!r}")
        if not self.plural:
            object.__setattr__(self, "plural", f"{self.display_name}s")

    @property
    def ascending(self) -> bool:
        """Whether sorting ``score_column`` ascending puts the severe samples first."""
        return self.severe == "low"

    def spellings(self) -> set[str]:
        """Every accepted spelling, normalised (see :func:`get_issue_type`)."""
        words = {self.name, self.display_name, self.plural, self.flag_column, *self.aliases}
        return {_normalise(word) for word in words}

    def present(self, columns: Iterable[str]) -> bool:
        """Whether a frame with ``columns`` holds this issue's flag column."""
        return self.flag_column in set(columns)

    def mask(self, frame: Any) -> np.ndarray:
        """Boolean flags of ``frame`` (all ``False`` when the column is missing)."""
        if self.flag_column not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        return frame[self.flag_column].fillna(False).to_numpy(dtype=bool)

    def severity(self, frame: Any) -> np.ndarray | None:
        """The score as float64 with **low = severe** (NaN where missing); ``None`` without one."""
        if self.score_column is None or self.score_column not in frame.columns:
            return None
        import pandas as pd

        values = pd.to_numeric(frame[self.score_column], errors="coerce").to_numpy(
            np.float64, na_value=np.nan
        )
        return values if self.severe == "low" else -values


def _normalise(word: str) -> str:
    return re.sub(r"[\s_-]+", "_", str(word).strip().lower())


#: Issue types registered without an analysis (see :func:`register_issue_type`).
_EXTRA: dict[str, IssueType] = {}


def register_issue_type(issue_type: IssueType) -> IssueType:
    """Add an issue type that no analysis class declares (e.g. from a user's own column).

    Returns it, so it can be used as ``MY_ISSUE = register_issue_type(IssueType(...))``.
    """
    _EXTRA[issue_type.name] = issue_type
    return issue_type


def issue_types() -> list[IssueType]:
    """Every declared issue type, in scan order of the analyses that declare them.

    The order is also the precedence where one colour must stand for a sample with several
    issues (the scatter's "issue" colouring): earlier wins.
    """
    from erroranalysis.analysis import analysis_names
    from erroranalysis.analysis.base import REGISTRY

    out: dict[str, IssueType] = {}
    for analysis in analysis_names():
        for issue in getattr(REGISTRY[analysis], "issue_types", ()):
            if issue.name in out:
                raise ErrorAnalysisError(
                    f"issue type {issue.name!r} is declared by both {out[issue.name].analysis!r} "
                    f"and {analysis!r}; give one of them another name"
                )
            if not issue.analysis:
                issue = _with_analysis(issue, analysis)
            out[issue.name] = issue
    for name, issue in _EXTRA.items():
        out.setdefault(name, issue)
    return list(out.values())


def _with_analysis(issue: IssueType, analysis: str) -> IssueType:
    from dataclasses import replace

    return replace(issue, analysis=analysis)


def get_issue_type(name: str | IssueType) -> IssueType:
    """The issue type called ``name`` (any spelling: ``near-duplicates``, ``is_outlier``, …).

    Raises
    ------
    UnknownIssueTypeError
        Listing the known names.
    """
    if isinstance(name, IssueType):
        return name
    key = _normalise(name)
    known = issue_types()
    for issue in known:
        if key in issue.spellings():
            return issue
    raise UnknownIssueTypeError(
        f"unknown issue type {name!r}; choose from {', '.join(t.name for t in known)} or 'all'"
    )


def present_issue_types(columns: Iterable[str]) -> list[IssueType]:
    """The issue types whose flag column is among ``columns`` (a scanned frame's columns)."""
    columns = set(columns)
    return [issue for issue in issue_types() if issue.flag_column in columns]
