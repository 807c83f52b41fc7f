"""``erroranalysis scan STORE``: run the analyses and cache their results in the run."""

from __future__ import annotations

import argparse
import json

HELP = "run the analyses (confusion, scores, label issues, outliers, projection, …) on a run"
DESCRIPTION = (
    "Run all (or the named) analyses on a run of the store and cache their results in it. "
    "Up-to-date cached results are reused; label-dependent ones are recomputed after relabels."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("--run", default=None, help="run name (default: the latest run)")
    parser.add_argument(
        "--analyses",
        default=None,
        help="comma-separated analyses to run (default: all); e.g. scores,label_issues",
    )
    parser.add_argument("--force", action="store_true", help="recompute cached results too")
    parser.add_argument(
        "--projection",
        choices=["umap", "pca"],
        default=None,
        help="projection method (default: umap; pca is instant)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="ANALYSIS.NAME=VALUE",
        help="an analysis parameter, e.g. outliers.k=20 (VALUE is JSON, or a plain string)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _parse_params(items: list[str]) -> dict[str, dict]:
    from erroranalysis.analysis.base import AnalysisError

    params: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        analysis, dot, name = key.partition(".")
        if not sep or not dot or not analysis or not name:
            raise AnalysisError(f"--param must look like ANALYSIS.NAME=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        params.setdefault(analysis, {})[name] = parsed
    return params


def run(args: argparse.Namespace) -> int:
    from erroranalysis.analysis.scan import scan
    from erroranalysis.store import Store

    store = Store.open(args.store)
    params = _parse_params(args.param)
    if args.projection:
        params.setdefault("projection", {})["method"] = args.projection
    summary = scan(
        store,
        run=args.run,
        analyses=args.analyses,
        progress=not args.no_progress,
        force=args.force,
        params=params,
    )
    print(summary)
    return 0
