"""The analysis contract and the registry of analyses by name.

Every analysis follows the scikit-learn contract: its parameters are stored unchanged in
``__init__``, the work happens in ``fit(store, run)``, results live in attributes whose names end
in ``_`` and randomness comes from ``random_state``. Each analysis also knows

- its registry ``name``,
- whether it is ``label_dependent`` (then a relabel makes its cached results stale),
- the other analyses it ``requires`` (run first by :func:`erroranalysis.analysis.scan.scan`),
- and how to ``save`` its results into the run's cache (``run.save_result`` for per-sample
  columns, ``run.save_artifact`` for tables).

- and the ``issue_types`` it flags (name, display name, flag and score columns, which end of
  the score is severe), which every view, export, the report and the CLI pick up.

Adding an analysis means adding a module with a class decorated by :func:`register`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from erroranalysis.errors import ErrorAnalysisError

if TYPE_CHECKING:
    from erroranalysis.analysis.issue_types import IssueType
    from erroranalysis.store import Run, Store

__all__ = [
    "REGISTRY",
    "Analysis",
    "AnalysisError",
    "MissingEmbeddingsError",
    "as_float32",
    "get_analysis",
    "iter_float32_chunks",
    "register",
]

#: Analyses by name, in the order :func:`~erroranalysis.analysis.scan.scan` runs them.
REGISTRY: dict[str, type[Analysis]] = {}

#: Elements per block when streaming a probability matrix (16 MB of float32).
CHUNK_ELEMENTS = 4_000_000


class AnalysisError(ErrorAnalysisError):
    """An analysis cannot run on this store or run (the message says why and what to do)."""


class MissingEmbeddingsError(AnalysisError):
    """The analysis needs embeddings and the run has none."""


def register(cls: type[Analysis]) -> type[Analysis]:
    """Class decorator adding an analysis to :data:`REGISTRY` under ``cls.name``."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} must define a class attribute 'name'")
    REGISTRY[cls.name] = cls
    return cls


def get_analysis(name: str) -> type[Analysis]:
    """Return the analysis class registered as ``name``.

    Raises
    ------
    AnalysisError
        When no analysis has that name (the message lists the known ones).
    """
    from erroranalysis.analysis import _load_all

    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise AnalysisError(
            f"unknown analysis {name!r}; known analyses: {', '.join(REGISTRY)}"
        ) from None


def _check_param_type(analysis: Analysis, key: str, value: Any) -> None:
    """Refuse a value whose type differs from the default's (a string for an int, …)."""
    default = inspect.signature(type(analysis).__init__).parameters[key].default
    if default is inspect.Parameter.empty or default is None or value is None:
        return
    if isinstance(default, bool):
        expected: tuple[type, ...] = (bool,)
    elif isinstance(default, (int, float)):
        expected = (int, float) if isinstance(default, float) else (int,)
    elif isinstance(default, str):
        expected = (str,)
    else:
        return
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise AnalysisError(
            f"parameter {analysis.name}.{key} must be {' or '.join(t.__name__ for t in expected)} "
            f"like its default {default!r}; got {value!r}"
        )


class Analysis:
    """Base class of the analyses (scikit-learn style).

    Subclasses set the class attributes below, store their parameters in ``__init__`` under the
    same names, and implement :meth:`fit`, :meth:`save` and, optionally, :meth:`summary`.
    """

    #: Registry name, also the name of the cached result / artifact.
    name: ClassVar[str] = ""
    #: Whether results depend on the current labels (stale after a relabel).
    label_dependent: ClassVar[bool] = False
    #: Names of analyses whose cached results this one reads.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Whether the run must have embeddings.
    needs_embeddings: ClassVar[bool] = False
    #: Name of the per-sample result this analysis saves (``None`` when it saves only artifacts).
    result_name: ClassVar[str | None] = None
    #: Names of the artifacts this analysis saves.
    artifact_names: ClassVar[tuple[str, ...]] = ()
    #: The issue types it flags per sample (see :mod:`erroranalysis.analysis.issue_types`):
    #: views, exports, the report and the CLI show every declared type.
    issue_types: ClassVar[tuple[IssueType, ...]] = ()

    # -- scikit-learn style parameters ---------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """Return the parameters given to ``__init__`` (JSON-able values)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Analysis:
        """Set parameters by name; unknown names raise :class:`AnalysisError`."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise AnalysisError(
                    f"analysis {self.name!r} has no parameter {key!r}; "
                    f"its parameters are: {', '.join(sorted(valid)) or '(none)'}"
                )
            _check_param_type(self, key, value)
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- the work ------------------------------------------------------------------------------

    def fit(self, store: Store, run: Run) -> Analysis:  # pragma: no cover - abstract
        """Compute the results from ``store`` and ``run``; returns ``self``."""
        raise NotImplementedError

    def save(self, store: Store, run: Run) -> None:  # pragma: no cover - abstract
        """Write the fitted results into the run's cache."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """A few headline numbers of the fitted results (for the scan summary)."""
        return {}

    # -- cache bookkeeping ---------------------------------------------------------------------

    def _stamp(self, store: Store) -> None:
        """Remember the label version the inputs were read at (call at the start of ``fit``)."""
        self.label_version_ = int(store.label_version)
        self.fitted_at_ = time.time()

    def _result_kwargs(self) -> dict[str, Any]:
        return {
            "label_dependent": self.label_dependent,
            "parameters": self.get_params(),
            "label_version": getattr(self, "label_version_", None),
        }

    def _artifact_kwargs(self) -> dict[str, Any]:
        return {
            "label_dependent": self.label_dependent,
            "label_version": getattr(self, "label_version_", None),
        }

    @classmethod
    def cached_info(cls, run: Run) -> dict[str, Any] | None:
        """The cache metadata of this analysis in ``run`` (``None`` when never saved)."""
        record = run.load_artifact(f"_scan_{cls.name}")
        return record if isinstance(record, dict) else None

    def _record(self, run: Run) -> None:
        """Write the bookkeeping record :func:`scan` uses to decide whether to recompute."""
        run.save_artifact(
            f"_scan_{self.name}",
            {
                "parameters": self.get_params(),
                "label_version": getattr(self, "label_version_", None),
                "label_dependent": self.label_dependent,
                "created": time.time(),
                "summary": self.summary(),
            },
        )

    @classmethod
    def is_cached(cls, store: Store, run: Run, parameters: dict[str, Any] | None = None) -> bool:
        """Whether up-to-date results of this analysis are cached in ``run``.

        Results are out of date when missing, computed with other parameters, or (for
        label-dependent analyses) computed before the store's latest label change.
        """
        record = cls.cached_info(run)
        if record is None:
            return False
        if parameters is not None and _jsonable(record.get("parameters")) != _jsonable(parameters):
            return False
        if cls.result_name is not None and run.result_info(cls.result_name) is None:
            return False
        for artifact in cls.artifact_names:
            if run.artifact_info(artifact) is None:
                return False
        if cls.label_dependent:
            version = record.get("label_version")
            if version is None or int(version) < int(store.label_version):
                return False
        return True


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


_FLOAT16_TO_FLOAT32 = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)


def as_float32(block: np.ndarray, copy: bool = False) -> np.ndarray:
    """``block`` as float32, bit-identical to ``block.astype(np.float32)``.

    float16 input is converted through a 65,536-entry lookup table: numpy's own float16 cast
    is slow on subnormal values (tiny probabilities are float16 subnormals), about 17 ns per
    element against 3 for the table. Other dtypes are cast (or, when already float32 and
    ``copy`` is False, viewed).
    """
    array = np.asarray(block)
    if array.dtype == np.float16:
        return np.take(_FLOAT16_TO_FLOAT32, np.ascontiguousarray(array).view(np.uint16))
    if copy:
        return np.array(array, dtype=np.float32, copy=True)
    return np.asarray(array, dtype=np.float32)


def iter_float32_chunks(
    array: np.ndarray, rows: int | None = None, copy: bool = False
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, float32 block)`` over the rows of a (memory-mapped) 2-D array.

    Only one block is held in memory at a time, so a float16 memmap of 1.28M × 1,000 is streamed
    in about 16 MB pieces instead of being converted to a 5 GB float32 copy. With ``copy=True``
    each block is a private copy that may be modified (otherwise a float32 input is viewed).
    """
    n, k = array.shape
    if rows is None:
        rows = max(1, CHUNK_ELEMENTS // max(k, 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        yield start, stop, as_float32(array[start:stop], copy=copy)
