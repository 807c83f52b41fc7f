"""Wall time of ``erroranalysis demo --no-lab`` (generate, train k-fold, predict, scan).

Runs the demo command in a child process into a temporary folder and reports its wall time
against the design target (``make demo ARGS=--no-lab`` in ≤ 3 minutes on 2 cores; starting
JupyterLab is not included), plus one row per demo stage read from the demo's ``demo.json``: when
the stage's run was published (the quick stage's must leave JupyterLab time to open the dashboard
within 90 s), its training's wall and CPU seconds, and its detection scores against the planted
truth (issue 10). Full mode uses the demo's default settings; ``--quick`` passes the
smallest configuration the command offers, found by reading ``erroranalysis demo --help``.

    python -m bench.demo_time [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import format_table, row
from bench.harness import run_process_group

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 180.0
#: The quick stage must be published this soon for the dashboard to be up within 90 s of
#: ``make demo`` (JupyterLab and the kernel take the rest).
QUICK_READY_SECONDS = 70.0
TIMEOUT = {True: 240, False: 840}

#: Flags tried (in order) to make the demo tiny in quick mode; only those the command's
#: ``--help`` lists are passed. A ``--quick``/``--tiny``/``--small`` switch wins on its own.
QUICK_SWITCHES = ("--quick", "--tiny", "--small", "--smoke")
QUICK_OPTIONS: tuple[tuple[str, str | None], ...] = (
    ("--samples", "120"),
    ("--n-samples", "120"),
    ("--num-samples", "120"),
    ("--images", "120"),
    ("--image-size", "32"),
    ("--epochs", "1"),
    ("--folds", "2"),
    ("--k-folds", "2"),
    ("--quiet", None),
)


def _command() -> list[str]:
    return [sys.executable, "-m", "erroranalysis", "demo"]


def demo_help() -> str:
    """The text of ``erroranalysis demo --help``.

    Raises
    ------
    RuntimeError
        When the demo command does not exist or fails to print its help.
    """
    completed = subprocess.run(
        [*_command(), "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        message = (completed.stderr or completed.stdout).strip().splitlines()[-1:]
        raise RuntimeError(
            "`erroranalysis demo --help` failed (exit "
            f"{completed.returncode}): {' '.join(message)}; is erroranalysis/commands/demo.py there?"
        )
    return completed.stdout


def quick_arguments(help_text: str) -> list[str]:
    """The flags that make the demo tiny, chosen from what ``help_text`` lists.

    Examples
    --------
    >>> quick_arguments("  --epochs N  --folds K  --no-lab --quiet")
    ['--epochs', '1', '--folds', '2', '--quiet']
    >>> quick_arguments("  --quick  --epochs N")
    ['--quick']
    """
    listed = set(re.findall(r"(--[a-z][a-z0-9-]*)", help_text))
    for switch in QUICK_SWITCHES:
        if switch in listed:
            return [switch]
    arguments: list[str] = []
    for flag, value in QUICK_OPTIONS:
        if flag in listed:
            arguments += [flag] if value is None else [flag, value]
    return arguments


def run(quick: bool = False) -> list[dict]:
    """Time one ``erroranalysis demo --no-lab --out <tmp>`` run; result rows.

    Parameters
    ----------
    quick : bool
        Pass the demo's smallest configuration (see :func:`quick_arguments`); no target then.

    Raises
    ------
    RuntimeError
        When the demo command is missing or fails (the harness reports it as an error row).
    """
    help_text = demo_help()
    for flag in ("--no-lab", "--out"):
        if flag not in help_text:
            raise RuntimeError(f"`erroranalysis demo --help` does not list {flag}")
    extra = quick_arguments(help_text) if quick else []
    with tempfile.TemporaryDirectory(prefix="ea-bench-demo-") as temporary:
        out = Path(temporary) / "demo-store"
        command = [*_command(), "--no-lab", "--out", str(out), *extra]
        environment = dict(os.environ, PYTHONUNBUFFERED="1")
        log = Path(temporary) / "demo.log"
        start = time.perf_counter()
        with open(log, "w") as handle:
            returncode = run_process_group(
                command,
                cwd=Path(temporary),
                timeout=TIMEOUT[quick],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        seconds = time.perf_counter() - start
        output = log.read_text(errors="replace")
        if returncode is None:
            last = " / ".join(output.strip().splitlines()[-2:])
            return [
                row(
                    "demo wall time (generate, train, scan)",
                    "tiny (quick flags)" if quick else "default demo",
                    seconds,
                    None,
                    "≤ 3 min" if not quick else "— (quick)",
                    None if quick else False,
                    note=f"did not finish: killed after {TIMEOUT[quick]} s (a lower bound); "
                    f"last output: {last}",
                )
            ]
        if returncode != 0:
            tail = output.strip().splitlines()[-3:]
            raise RuntimeError(f"`erroranalysis demo` exited {returncode}: {' / '.join(tail)}")
        produced = out.exists()
        stages = _stage_rows(out, quick) if produced else []
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    found = [
        line
        for line in lines
        if re.match(r"(time:|label noise:|outliers:|near-duplicates:)", line)
        or re.search(r"accuracy", line)
    ]
    note = "wall time of `erroranalysis demo --no-lab --out <tmp>`" + (
        f" {' '.join(extra)}" if extra else " (default settings)"
    )
    note += "; JupyterLab start not included"
    if found:
        note += "; demo says: " + " | ".join(found[-6:])
    if not produced:
        note += f"; warning: no store at {out.name} after the run"
    return [
        row(
            "demo wall time (generate, train, scan)",
            "tiny (quick flags)" if quick else "default demo",
            seconds,
            None,
            "≤ 3 min" if not quick else "— (quick)",
            None if quick else seconds <= TARGET_SECONDS,
            note=note,
        ),
        *stages,
    ]


def _stage_rows(out: Path, quick: bool) -> list[dict]:
    """One row per stage recorded in ``out/demo.json``: published after how many seconds."""
    import json

    file = out / "demo.json"
    if not file.is_file():
        return []
    record = json.loads(file.read_text())
    rows = []
    for stage in record.get("stages", []):
        parameters = stage.get("parameters", {})
        seconds = stage.get("seconds", {})
        noise = (stage.get("detection") or {}).get("label_noise") or {}
        accuracy = (stage.get("accuracy") or {}).get("common")
        first = stage.get("name") == "quick"
        target = f"≤ {QUICK_READY_SECONDS:.0f} s" if first and not quick else "—"
        passed = None if quick or not first else stage.get("ready", 0) <= QUICK_READY_SECONDS
        rows.append(
            row(
                f"demo stage {stage.get('name')}: run {stage.get('run')!r} published",
                f"{parameters.get('folds')}-fold {parameters.get('model_name')}, "
                f"{parameters.get('epochs')} epochs",
                float(stage.get("ready", 0.0)),
                None,
                target,
                passed,
                note=f"train {seconds.get('train', 0):.0f} s wall / {seconds.get('cpu', 0):.0f} s "
                f"CPU, scan {seconds.get('scan', 0):.0f} s; accuracy on clean common samples "
                f"{_pct(accuracy)}; label noise recall {_pct(noise.get('recall'))} at precision "
                f"{_pct(noise.get('precision'))}",
            )
        )
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the demo's smallest configuration")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
