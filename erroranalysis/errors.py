"""Errors raised on bad input.

Every error names what was expected, what was got (the first few offending rows and their count)
and what to do next. All are ``ValueError`` subclasses, so callers that already catch ``ValueError``
keep working.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BadImageError",
    "DuplicateSampleIdError",
    "EngineError",
    "ErrorAnalysisError",
    "ImportRefusedError",
    "InvalidArgumentError",
    "InvalidProbabilitiesError",
    "InvalidSamplesError",
    "MissingResultError",
    "NothingToUndoError",
    "PathOutsideRootError",
    "RunNotFoundError",
    "ShapeMismatchError",
    "StalePlanError",
    "StoreExistsError",
    "StoreFormatError",
    "StoreReadOnlyError",
    "UnknownEventError",
    "UnknownLabelError",
    "UnknownSampleError",
    "describe",
]


def describe(items: Iterable[object], limit: int = 5) -> str:
    """Name the first ``limit`` items and say how many there are in all.

    Parameters
    ----------
    items : iterable
        The offending values (sample ids, labels, paths, row numbers).
    limit : int
        How many to spell out.

    Returns
    -------
    str
        For example ``"'a', 'b', 'c' … and 7 more (10 in all)"``.
    """
    items = list(items)
    shown = ", ".join(repr(item) if isinstance(item, str) else str(item) for item in items[:limit])
    if len(items) > limit:
        return f"{shown} … and {len(items) - limit} more ({len(items)} in all)"
    return shown


class ErrorAnalysisError(ValueError):
    """Base class of every error erroranalysis raises on bad input."""


class DuplicateSampleIdError(ErrorAnalysisError):
    """Two or more samples share a sample id."""


class UnknownLabelError(ErrorAnalysisError):
    """A label is not one of the store's classes."""


class UnknownSampleError(ErrorAnalysisError):
    """A sample id is not in the store."""


class InvalidProbabilitiesError(ErrorAnalysisError):
    """Predicted probabilities are not a valid probability matrix."""


class ShapeMismatchError(ErrorAnalysisError):
    """An array has the wrong number of rows or columns."""


class PathOutsideRootError(ErrorAnalysisError):
    """An image path escapes the store's image root."""


class StoreFormatError(ErrorAnalysisError):
    """The folder is not a store, or was written by an incompatible version."""


class StoreNotFoundError(StoreFormatError):
    """The path given as a store does not exist (or is not a folder)."""


class StoreExistsError(ErrorAnalysisError):
    """A store already exists where a new one was to be created."""


class RunNotFoundError(ErrorAnalysisError):
    """A run name is not in the store."""


class BadImageError(ErrorAnalysisError):
    """One or more images could not be read safely."""


class ImportRefusedError(ErrorAnalysisError):
    """An annotation import was refused whole; nothing was applied."""


class StoreReadOnlyError(ErrorAnalysisError):
    """A write was attempted on a store opened read-only."""


class NothingToUndoError(ErrorAnalysisError):
    """There is no event left to undo (for that author or session), or the event id is unknown."""


class InvalidSamplesError(ErrorAnalysisError):
    """A samples table cannot make a store (missing columns, empty ids, fewer than 2 classes…)."""


class InvalidArgumentError(ErrorAnalysisError):
    """An argument has a value outside those accepted (a run name, an event kind, an option)."""


class MissingResultError(ErrorAnalysisError, KeyError):
    """A run has no cached result (column) of that name; also a ``KeyError``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ValueError.__str__(self)


class UnknownEventError(ErrorAnalysisError):
    """An event id is not in the journal."""


class StalePlanError(ErrorAnalysisError):
    """A plan (pseudo-labels) was made before the store's labels last changed; make it again."""


class EngineError(ErrorAnalysisError):
    """The distributed engine (Ray) is missing, cannot be reached, or lost part of a run."""
