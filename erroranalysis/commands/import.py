"""``erroranalysis import STORE PATH --format F``: apply annotators' answers to the store."""

from __future__ import annotations

import argparse

HELP = "import annotations from Label Studio (JSON, JSON_MIN, CSV), CVAT XML or CSV"

FORMATS = ["label-studio", "label-studio-min", "label-studio-csv", "cvat", "imagenet-txt", "csv"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("path", help="the annotation tool's export file")
    parser.add_argument(
        "--format", default="label-studio", choices=FORMATS, help="default: label-studio"
    )
    parser.add_argument("--force", action="store_true", help="apply conflicting answers too")
    parser.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    parser.add_argument("--author", default=None, help="author for answers that name no annotator")
    parser.add_argument(
        "--export-id", default=None, help="the export the file answers (CVAT files lose it)"
    )
    parser.add_argument("--show", type=int, default=20, help="conflicts listed (default 20)")
    parser.add_argument(
        "--consensus",
        default="auto",
        choices=["auto", "crowdlab", "majority", "off"],
        help="how answers of several annotators per sample combine (default auto: CROWDLAB "
        "with the run's predictions; off: every disagreement is a conflict)",
    )
    parser.add_argument(
        "--min-consensus-quality",
        type=float,
        default=0.5,
        help="disagreements whose consensus quality is below this go to a person (default 0.5)",
    )
    parser.add_argument(
        "--run", default=None, help="run whose predictions the consensus weighs in (default latest)"
    )
    parser.add_argument(
        "--no-mark-reviewed",
        dest="mark_reviewed",
        action="store_false",
        help="do not flag answered samples reviewed",
    )


def run(args: argparse.Namespace) -> int:
    from erroranalysis.export.annotations import import_annotations
    from erroranalysis.store import Store

    store = Store.open(args.store)
    summary = import_annotations(
        store,
        args.path,
        format=args.format,
        force=args.force,
        author=args.author,
        dry_run=args.dry_run,
        export_id=args.export_id,
        mark_reviewed=args.mark_reviewed,
        consensus=None if args.consensus == "off" else args.consensus,
        min_consensus_quality=args.min_consensus_quality,
        run=args.run,
    )
    print(summary)
    if summary.annotators is not None:
        print(summary.annotator_report())
    conflicts = summary.conflict_rows
    for row in conflicts.head(args.show).itertuples(index=False):
        print(
            f"  conflict {row.sample_id}: {row.reason}; the file says {row.label} "
            f"({row.row}, {row.annotator or 'unknown annotator'})"
        )
    if len(conflicts) > args.show:
        print(f"  … and {len(conflicts) - args.show} more conflicts")
    return 0
