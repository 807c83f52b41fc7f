"""``erroranalysis info STORE``: what a store holds."""

from __future__ import annotations

import argparse

HELP = "print a store's samples, classes, runs and journal events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")


def run(args: argparse.Namespace) -> int:
    from erroranalysis.store import Store

    store = Store.open(args.store, read_only=True)  # info only reads
    events = store.events()
    print(f"store:    {store.path}")
    print(f"samples:  {store.num_samples}")
    print(
        f"classes:  {store.num_classes} ({', '.join(store.classes[:12])}"
        f"{', …' if store.num_classes > 12 else ''})"
    )
    print(f"images:   {store.image_root or '(paths are absolute or URLs)'}")
    runs = store.runs()
    print(f"runs:     {len(runs)}")
    for name in runs:
        info = store.run(name).info
        print(
            f"  - {name}: model={info.get('model')}, out_of_sample={info.get('out_of_sample')}, "
            f"probs={info.get('probs_dtype')}, embeddings={info.get('embedding_dim')}, "
            f"results={', '.join(info.get('results', [])) or 'none (run `erroranalysis scan`)'}"
        )
        if info.get("results"):
            print(f"    {_scan_line(store, name)}")
    counts = events["kind"].value_counts().to_dict() if len(events) else {}
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "none"
    print(f"events:   {len(events)} ({summary})")
    changed = int((store.label_codes() != store.given_codes).sum())
    print(f"relabelled samples: {changed}")
    return 0


def _scan_line(store, run: str) -> str:
    """Accuracy and the count of each issue type (from the registry) of a scanned run."""
    from erroranalysis.analysis.issue_types import present_issue_types

    frame = store.frame(run)
    parts = []
    if "predicted_label" in frame.columns:
        labelled = frame["label"].notna().to_numpy()  # unlabelled samples have no accuracy
        if labelled.any():
            chosen = frame[labelled]
            correct = (chosen["predicted_label"].astype(str) == chosen["label"].astype(str)).mean()
            of = "" if labelled.all() else f" of {int(labelled.sum()):,} labelled"
            parts.append(f"accuracy {correct:.1%}{of}")
    for issue in present_issue_types(frame.columns):
        parts.append(f"{issue.plural} {int(issue.mask(frame).sum())}")
    return ", ".join(parts) or "no scan results yet (run `erroranalysis scan`)"
