"""``erroranalysis compare STORE RUN_A RUN_B``: two runs on the same samples and labels."""

from __future__ import annotations

import argparse

HELP = "compare two runs: who is right where (2×2), per-class accuracy deltas, ranking change"
DESCRIPTION = (
    "Compare two runs of a store on its labelled samples and current labels: how many samples "
    "both get right, only one gets right or both get wrong (a 2×2 table), the per-class accuracy "
    "of each run and the change B − A, and their accuracy on all samples, without suspected label "
    "issues and with suggested labels (ea.compare_runs; the reference run's flags define the "
    "sets), saying whether the ranking of the two runs changes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("run_a", help="first run (A)")
    parser.add_argument("run_b", help="second run (B)")
    parser.add_argument(
        "--reference",
        default=None,
        help="run whose label-issue flags and suggestions define the clean and relabelled sets "
        "(default: RUN_B)",
    )


def run(args: argparse.Namespace) -> int:
    from erroranalysis.errors import ErrorAnalysisError
    from erroranalysis.store import Store

    store = Store.open(args.store, read_only=True)  # compare only reads
    runs = store.runs()
    for name in dict.fromkeys([args.run_a, args.run_b, args.reference or args.run_b]):
        if name not in runs:
            raise ErrorAnalysisError(
                f"no run {name!r} in {store.path}; its runs are: {', '.join(runs) or 'none'}"
            )
    if args.run_a == args.run_b:
        raise ErrorAnalysisError("RUN_A and RUN_B are the same run; name two different runs")
    for line in compare_lines(store, args.run_a, args.run_b, args.reference):
        print(line)
    return 0


def compare_lines(store, run_a: str, run_b: str, reference: str | None = None) -> list[str]:
    """The report's lines (the 2×2 table, per-class deltas, ranking under each label version)."""
    import numpy as np

    from erroranalysis.analysis._common import current_codes, predicted_codes
    from erroranalysis.analysis.evaluation import RANKED_VERSIONS, compare_runs

    labels = current_codes(store)
    labelled = labels >= 0
    right_a = predicted_codes(store.run(run_a))[labelled] == labels[labelled]
    right_b = predicted_codes(store.run(run_b))[labelled] == labels[labelled]
    n = int(labelled.sum())
    width = max(len(run_a), len(run_b), 10)
    lines = [
        f"{n} labelled samples ({int((~labelled).sum())} unlabelled left out), current labels",
        "",
        f"{'':<{width + 9}}{run_b + ' right':>{width + 7}}{run_b + ' wrong':>{width + 7}}",
    ]
    for name, mask in (("right", right_a), ("wrong", ~right_a)):
        lines.append(
            f"{run_a + ' ' + name:<{width + 9}}{int((mask & right_b).sum()):>{width + 7}}"
            f"{int((mask & ~right_b).sum()):>{width + 7}}"
        )
    lines += ["", f"{'class':<20}{'n':>7}{run_a:>{width + 2}}{run_b:>{width + 2}}{'B − A':>9}"]
    codes = labels[labelled]
    for code, name in enumerate(store.classes):
        members = codes == code
        count = int(members.sum())
        if count == 0:
            lines.append(f"{name[:19]:<20}{0:>7}{'—':>{width + 2}}{'—':>{width + 2}}{'—':>9}")
            continue
        acc_a, acc_b = float(right_a[members].mean()), float(right_b[members].mean())
        lines.append(
            f"{name[:19]:<20}{count:>7}{acc_a:>{width + 2}.1%}{acc_b:>{width + 2}.1%}"
            f"{acc_b - acc_a:>+9.1%}"
        )
    table = compare_runs(store, [run_a, run_b], reference=reference or run_b).set_index("run")
    lines += [
        "",
        f"accuracy (label issues and suggestions of run {table.attrs['reference']!r}):",
        f"{'labels':<12}{run_a:>{width + 2}}{run_b:>{width + 2}}{'B − A':>9}  better",
    ]
    gaps = {}
    for version in RANKED_VERSIONS:
        a, b = (float(table.loc[r, f"accuracy_{version}"]) for r in (run_a, run_b))
        gaps[version] = b - a
        better = "tie" if np.isclose(a, b) else (run_a if a > b else run_b)
        lines.append(f"{version:<12}{a:>{width + 2}.1%}{b:>{width + 2}.1%}{b - a:>+9.1%}  {better}")
    where = {"all": "on all samples", "clean": "without label issues", "relabeled": "relabelled"}
    if table.attrs["ranking_changed"]:
        signed = ", ".join(f"{gaps[v] * 100:+.1f} {where[v]}" for v in where)
        lines.append(
            f"ranking changes once label issues are removed or relabelled (B − A in points: "
            f"{signed})"
        )
    elif np.isclose(gaps["all"], 0.0):
        lines.append("ranking unchanged without the label issues (a tie on all samples)")
    else:
        ahead = run_b if gaps["all"] > 0 else run_a
        size = {v: f"{abs(gaps[v]) * 100:.1f}" for v in where}
        lines.append(
            f"ranking unchanged without the label issues: {ahead} ahead by {size['all']} points "
            f"on all samples, {size['clean']} without label issues, {size['relabeled']} relabelled"
        )
    corrected = int(table["num_corrected"].iloc[0])
    lines.append(
        f"uncorrected: the samples whose label nobody corrected ({corrected} corrected left out)"
        + (
            "; the ranking changes without them"
            if table.attrs["ranking_changed_uncorrected"]
            else ""
        )
    )
    return lines
