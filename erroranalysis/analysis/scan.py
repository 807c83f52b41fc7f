"""``ea.scan``: run the analyses on a run and cache their results in it.

Cached results are reused unless they are missing, were computed with other parameters, are
label-dependent and older than the store's latest label change (``store.label_version``), read
an analysis that was recomputed in this scan, or ``force=True``. So after a relabel, ``scan``
recomputes exactly the label-dependent analyses (confusion, scores, label issues, slices,
evaluation) and reuses the rest (projection, outliers, near-duplicates, image properties).

>>> import erroranalysis as ea
>>> summary = ea.scan(store)                      # doctest: +SKIP
>>> print(summary)                                # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import time
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd

from erroranalysis.analysis import analysis_names
from erroranalysis.analysis.base import Analysis, AnalysisError, get_analysis
from erroranalysis.analysis.label_issues import InSampleWarning

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = ["ScanSummary", "scan"]


class ScanSummary(dict):
    """What :func:`scan` returns: a dict with a readable ``str`` and a :meth:`table`.

    Keys: ``run`` (name), ``analyses`` (list of dicts with ``analysis, status, seconds,
    summary, reason``; status is ``computed``, ``cached`` or ``skipped``), ``in_sample`` (True
    when label issues come from in-sample probabilities — a warning was also issued),
    ``warnings`` (messages) and ``seconds``.
    """

    def table(self) -> pd.DataFrame:
        """One row per analysis."""
        rows = []
        for item in self["analyses"]:
            details = ", ".join(f"{k}={v}" for k, v in (item.get("summary") or {}).items())
            rows.append(
                {
                    "analysis": item["analysis"],
                    "status": item["status"],
                    "seconds": round(item["seconds"], 2),
                    "details": item.get("reason") or details,
                }
            )
        return pd.DataFrame(rows, columns=["analysis", "status", "seconds", "details"])

    def status(self, name: str) -> str | None:
        """Status of one analysis (``None`` when it was not part of the scan)."""
        for item in self["analyses"]:
            if item["analysis"] == name:
                return item["status"]
        return None

    def __str__(self) -> str:
        lines = [f"scan of run {self['run']!r} ({self['seconds']:.1f} s)"]
        table = self.table()
        if len(table):
            lines.append(table.to_string(index=False))
        if self.get("in_sample"):
            lines.append(
                "WARNING: label issues use in-sample predictions (out_of_sample=False); "
                "use ea.cross_val_predict for reliable label issues"
            )
        for message in self.get("warnings", []):
            if "in-sample" not in message:
                lines.append(f"warning: {message}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


def _fit_kwargs(analysis: Analysis, progress: bool) -> dict[str, Any]:
    parameters = inspect.signature(analysis.fit).parameters
    return {"progress": progress} if "progress" in parameters else {}


def _parse_names(analyses: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    if analyses is None:
        return None
    if isinstance(analyses, str):
        analyses = [part.strip() for part in analyses.split(",") if part.strip()]
    names = list(dict.fromkeys(analyses))
    known = analysis_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise AnalysisError(
            f"unknown analyses {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    if not names:
        raise AnalysisError(f"no analysis named; name at least one of {', '.join(known)}")
    return [name for name in known if name in names]


def scan(
    store: Store,
    run: str | Run | None = None,
    analyses: str | list[str] | None = None,
    progress: bool = True,
    force: bool = False,
    params: dict[str, dict[str, Any]] | None = None,
) -> ScanSummary:
    """Run all (or the named) analyses on a run, reusing up-to-date cached results.

    Parameters
    ----------
    store : Store
    run : str or Run, optional
        The run (default: the latest run).
    analyses : list of str or comma-separated str, optional
        Analyses to run (default: all of :func:`erroranalysis.analysis.analysis_names`).
        Analyses that cannot apply (no embeddings, no image paths) are skipped with a reason
        when running the default set, and raise when named explicitly.
    progress : bool
        Show tqdm progress bars.
    force : bool
        Recompute even when cached results are up to date.
    params : dict, optional
        Parameters per analysis, e.g. ``{"projection": {"method": "pca"}}``.

    Returns
    -------
    ScanSummary

    Warns
    -----
    InSampleWarning
        When label issues are computed from in-sample probabilities.
    """
    started = time.perf_counter()
    if run is None or isinstance(run, str):
        run = store.run(run)
    store.refresh()
    explicit = _parse_names(analyses)
    names = explicit if explicit is not None else analysis_names()
    params = dict(params or {})
    for name in params:
        get_analysis(name)
    summary = ScanSummary(run=run.name, analyses=[], in_sample=False, warnings=[], seconds=0.0)
    recomputed: set[str] = set()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(names), desc="scan", unit="analysis")
    try:
        for name in names:
            if bar is not None:
                bar.set_postfix_str(name)
            item = _run_one(
                store, run, name, params.get(name, {}), force, recomputed, explicit, progress
            )
            summary["analyses"].append(item)
            summary["warnings"].extend(item.pop("warnings", []))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    health = run.load_artifact("label_health")
    if isinstance(health, dict) and health.get("in_sample") and "label_issues" in names:
        summary["in_sample"] = True
        if not any(InSampleWarning.__name__ in m or "in-sample" in m for m in summary["warnings"]):
            message = (
                f"run {run.name!r} has in-sample predictions (out_of_sample=False): cached label "
                "issues are unreliable; use ea.cross_val_predict for out-of-sample probabilities"
            )
            warnings.warn(message, InSampleWarning, stacklevel=2)
            summary["warnings"].append(message)
    summary["seconds"] = time.perf_counter() - started
    return summary


def _run_one(
    store: Store,
    run: Run,
    name: str,
    parameters: dict[str, Any],
    force: bool,
    recomputed: set[str],
    explicit: list[str] | None,
    progress: bool,
) -> dict[str, Any]:
    cls = get_analysis(name)
    analysis = cls().set_params(**parameters)
    item: dict[str, Any] = {"analysis": name, "status": "cached", "seconds": 0.0, "warnings": []}
    upstream_changed = any(required in recomputed for required in cls.requires)
    if not force and not upstream_changed and cls.is_cached(store, run, analysis.get_params()):
        record = cls.cached_info(run) or {}
        item["summary"] = record.get("summary", {})
        return item
    if cls.needs_embeddings and run.embeddings is None and explicit is None:
        item.update(status="skipped", reason="the run has no embeddings")
        return item
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if name == "projection":
                analysis.fit(
                    store, run, on_pca=lambda fitted: fitted.save(store, run), progress=progress
                )
            else:
                analysis.fit(store, run, **_fit_kwargs(analysis, progress))
        except AnalysisError as error:
            if explicit is not None:
                raise
            item.update(status="skipped", reason=str(error), seconds=time.perf_counter() - started)
            return item
        except (ValueError, TypeError, AssertionError) as error:  # cleanlab asserts some
            if not parameters:
                raise
            # a value the analysis (or the library under it) refuses: bad input, said in one line
            shown = ", ".join(f"{name}.{key}={value!r}" for key, value in parameters.items())
            raise AnalysisError(f"analysis {name!r} failed with {shown}: {error}") from error
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, InSampleWarning) or not issubclass(
            warning.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
        ):
            item["warnings"].append(message)
            # Re-issue so the user sees it (outside the recording context).
            warnings.warn(message, warning.category, stacklevel=4)
    analysis.save(store, run)
    analysis._record(run)
    recomputed.add(name)
    item.update(status="computed", seconds=time.perf_counter() - started)
    item["summary"] = analysis.summary()
    return item
