"""``erroranalysis pseudo-label STORE``: per-class thresholds, then pseudo-labels (or a dry run)."""

from __future__ import annotations

import argparse

HELP = "label unlabelled samples whose prediction is confident enough to reach a target precision"
DESCRIPTION = (
    "For each class, find the lowest confidence threshold whose precision, estimated on the "
    "labelled out-of-sample predictions (Wilson lower bound), reaches --target-precision; print "
    "the per-class plan and write the pseudo-labels as one undoable batch (source 'pseudo'). "
    "--dry-run prints the plan only."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("--run", default=None, help="run name (default: the latest run)")
    parser.add_argument(
        "--target-precision",
        type=float,
        default=0.98,
        help="precision each class's pseudo-labels must reach, in (0, 1) (default: 0.98)",
    )
    parser.add_argument(
        "--min-support",
        type=int,
        default=30,
        help="fewest labelled samples an estimate may rest on (default: 30)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from erroranalysis.analysis.pseudo_label import pseudo_label
    from erroranalysis.store import Store

    store = Store.open(args.store, read_only=args.dry_run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = pseudo_label(
            store,
            run=args.run,
            target_precision=args.target_precision,
            min_support=args.min_support,
        )
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(plan.summary())
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    events = plan.accept(author=None)
    count = len(events) // 2
    if count:
        print(f"pseudo-labelled {count} samples (one batch; `store.undo()` reverts it)")
    else:
        print("nothing to pseudo-label")
    return 0
