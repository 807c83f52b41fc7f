"""``erroranalysis export STORE -o PATH --format F``: hand relabel candidates to annotators."""

from __future__ import annotations

import argparse

HELP = (
    "export relabel candidates (or weak spots / look-alikes, or the annotator queue) for Label "
    "Studio, CVAT or CSV"
)

FORMATS = ["label-studio", "cvat", "imagenet-txt", "csv"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument(
        "-o", "--output", required=True, help="file to write (folder for imagenet-txt)"
    )
    parser.add_argument(
        "--format", default="label-studio", choices=FORMATS, help="default: label-studio"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output files if they exist (default: refuse and write nothing)",
    )
    parser.add_argument(
        "--run", default=None, help="run whose scan ranks the samples (default: latest)"
    )
    parser.add_argument(
        "--what",
        default="candidates",
        choices=["candidates", "weak-spots", "look-alikes", "queue"],
        help="relabel candidates (default), the weak spots, look-alikes of the weak spots, or "
        "the annotator queue (unlabelled samples below the pseudo-label thresholds, "
        "active-learning order, the model's suggestion pre-filled)",
    )
    parser.add_argument(
        "--issue-types",
        default=None,
        help="comma-separated: label_issue (default), outlier, near_duplicate, or all",
    )
    parser.add_argument(
        "--max-quality", type=float, default=None, help="keep label_quality <= this"
    )
    parser.add_argument(
        "--min-score", type=float, default=None, help="keep 1 - label_quality >= this"
    )
    parser.add_argument("--classes", default=None, help="comma-separated current labels to keep")
    parser.add_argument(
        "--slice",
        action="append",
        default=None,
        metavar="COLUMN=VALUE",
        help="metadata filter (repeatable)",
    )
    weak = parser.add_mutually_exclusive_group()
    weak.add_argument("--only-weak-spots", dest="weak_spots", action="store_const", const=True)
    weak.add_argument("--no-weak-spots", dest="weak_spots", action="store_const", const=False)
    parser.add_argument("--limit", type=int, default=None, help="at most N samples (the worst)")
    parser.add_argument(
        "--include-reviewed", action="store_true", help="keep samples already reviewed"
    )
    parser.add_argument(
        "--image-urls",
        default=None,
        help="local-files (Label Studio default), absolute (CSV default), relative, or a URL prefix",
    )
    parser.add_argument(
        "--document-root", default=None, help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT"
    )
    parser.add_argument(
        "--per-spot", type=int, default=50, help="look-alikes per weak spot (default 50)"
    )
    parser.add_argument(
        "--target-precision",
        type=float,
        default=0.98,
        help="queue: the pseudo-label plan's target precision (default 0.98)",
    )
    parser.add_argument(
        "--min-support",
        type=int,
        default=30,
        help="queue: fewest labelled samples a threshold may rest on (default 30)",
    )
    parser.add_argument(
        "--method",
        default="activelab",
        choices=["activelab", "least-confidence", "margin", "entropy"],
        help="queue: the active-learning score, low = label first (default activelab)",
    )


def run(args: argparse.Namespace) -> int:
    from erroranalysis.store import Store

    store = Store.open(args.store)
    if args.what == "candidates":
        from erroranalysis.export.candidates import export_candidates

        result = export_candidates(
            store,
            args.output,
            format=args.format,
            run=args.run,
            issue_types=args.issue_types,
            max_quality=args.max_quality,
            min_score=args.min_score,
            classes=args.classes.split(",") if args.classes else None,
            slice=args.slice,
            weak_spots=args.weak_spots,
            limit=args.limit,
            image_urls=args.image_urls,
            document_root=args.document_root,
            include_reviewed=args.include_reviewed,
            overwrite=args.overwrite,
        )
    elif args.what == "queue":
        import sys
        import warnings

        from erroranalysis.export.queue import export_queue

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = export_queue(
                store,
                args.output,
                format=args.format,
                run=args.run,
                target_precision=args.target_precision,
                min_support=args.min_support,
                method=args.method,
                limit=args.limit,
                image_urls=args.image_urls,
                document_root=args.document_root,
                overwrite=args.overwrite,
            )
        for warning in caught:
            print(f"warning: {warning.message}", file=sys.stderr)
    else:
        from erroranalysis.export.weak_spots import export_weak_spots

        result = export_weak_spots(
            store,
            args.output,
            format=args.format,
            run=args.run,
            look_alikes=args.what == "look-alikes",
            per_spot=args.per_spot,
            image_urls=args.image_urls,
            document_root=args.document_root,
            overwrite=args.overwrite,
        )
    print(result)
    return 0
