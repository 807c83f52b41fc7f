"""``erroranalysis report STORE -o report.html``: one self-contained static HTML report."""

from __future__ import annotations

import argparse

HELP = "write a self-contained HTML report (metrics, confusion, weak slices, candidates)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument(
        "-o", "--output", default="report.html", help="HTML file (default report.html)"
    )
    parser.add_argument("--run", default=None, help="run to report (default: latest)")
    parser.add_argument("--top", type=int, default=24, help="thumbnails of the top N candidates")
    parser.add_argument(
        "--saliency",
        type=int,
        default=0,
        metavar="N",
        help="compute Grad-CAM maps of the first N candidates (loads the run's model); cached "
        "maps are always shown",
    )


def run(args: argparse.Namespace) -> int:
    from erroranalysis.export.report import report
    from erroranalysis.store import Store

    store = Store.open(args.store)
    path = report(store, args.output, run=args.run, top=args.top, saliency=args.saliency)
    print(f"wrote {path}")
    return 0
