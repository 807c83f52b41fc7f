"""``erroranalysis demo``: build the embedded demo and open the quickstart notebook.

Nothing is downloaded: the images are generated, the model is trained from scratch on the CPU.
With ``--no-lab`` everything but JupyterLab runs (for scripts and CI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from erroranalysis.errors import ErrorAnalysisError, StoreExistsError

HELP = "build the embedded demo (generated images, k-fold model, scan) and open it in JupyterLab"
DESCRIPTION = (
    "Generate the synthetic shapes dataset with planted problems, create a store, train timm "
    "models from scratch with k-fold cross-validation for out-of-sample predictions, scan, print "
    "how many planted problems were found, and open notebooks/quickstart.ipynb in JupyterLab. "
    "The demo is staged: a quick first run (demo-quick) is published first and JupyterLab starts "
    "on it while the full k-fold run (demo) trains in the background; the open dashboard offers "
    "to switch to it when it lands. With --no-lab there is no dashboard to open early, so only "
    "the full run is built (pass --stages quick,full for both). "
    "An existing demo at --out is reused, and a stage it lacks is built (pass --overwrite to "
    "rebuild it)."
)

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]

# Options whose value, when given, must match an existing demo for it to be reused.
_BUILD_OPTIONS = {
    "samples": "n_samples",
    "epochs": "epochs",
    "folds": "folds",
    "seed": "seed",
    "model": "model_name",
    "image_size": "image_size",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``demo`` verb's arguments."""
    parser.add_argument(
        "--out", default="demo-store", help="the store folder to create (default: ./demo-store)"
    )
    parser.add_argument(
        "--no-lab", action="store_true", help="build everything but do not start JupyterLab"
    )
    parser.add_argument("--samples", type=int, default=None, help="number of images (2000)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs per fold")
    parser.add_argument("--folds", type=int, default=None, help="cross-validation folds (5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of data and training")
    parser.add_argument("--model", default=None, help="timm model name (trained from scratch)")
    parser.add_argument(
        "--image-size", type=int, default=None, help="training image size in pixels"
    )
    parser.add_argument(
        "--stages",
        default=None,
        help="comma-separated stages to build, in order (default quick,full; with --no-lab "
        "full: the k-fold run only)",
    )
    parser.add_argument("--no-scan", action="store_true", help="skip the scan")
    parser.add_argument(
        "--overwrite", action="store_true", help="rebuild a demo that exists at --out"
    )
    parser.add_argument("--port", type=int, default=None, help="port for JupyterLab")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    # the background process of `erroranalysis demo` that builds the pending stages
    parser.add_argument("--finish", action="store_true", help=argparse.SUPPRESS)


def _check_positive(args: argparse.Namespace) -> None:
    for name in ("samples", "epochs", "folds", "image_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise ErrorAnalysisError(f"{flag} must be a positive number; got {value}")
    if args.samples is not None and args.samples < 60:
        raise ErrorAnalysisError(f"--samples must be at least 60; got {args.samples}")
    if args.folds is not None and args.folds < 2:
        raise ErrorAnalysisError(f"--folds must be at least 2; got {args.folds}")
    if args.port is not None and not 0 < args.port < 65536:
        raise ErrorAnalysisError(f"--port must be between 1 and 65535; got {args.port}")
    from erroranalysis.datasets.demo import STAGES

    if args.stages is None:
        args.stages = "full" if args.no_lab else "quick,full"
    stages = [name.strip() for name in str(args.stages).split(",") if name.strip()]
    unknown = [name for name in stages if name not in STAGES]
    if unknown or not stages or len(set(stages)) != len(stages):
        raise ErrorAnalysisError(
            f"--stages takes distinct names from {', '.join(STAGES)}; got {args.stages!r}"
        )
    args.stages = stages


def _reuse(args: argparse.Namespace, out: Path):
    """The recorded result of a complete demo at ``out`` matching the options, or None."""
    from erroranalysis.datasets.demo import is_demo_store, load_demo_result

    if not out.exists() or args.overwrite:
        return None
    result = load_demo_result(out)
    if result is None:
        if is_demo_store(out):
            raise StoreExistsError(
                f"{out} holds an unfinished demo; rebuild it with --overwrite (or open the store "
                "as it is with `erroranalysis lab`)"
            )
        raise StoreExistsError(
            f"{out} already exists and is not a demo; choose another folder with --out"
        )
    differing = [
        f"--{option.replace('_', '-')} {getattr(args, option)} (built with {result.parameters.get(key)})"
        for option, key in _BUILD_OPTIONS.items()
        if getattr(args, option) is not None
        and str(getattr(args, option)) != str(result.parameters.get(key))
    ]
    if differing:
        raise StoreExistsError(
            f"the demo at {out} was built differently: {'; '.join(differing)}. Pass --overwrite "
            "to rebuild it (relabels recorded in it are lost), or choose another --out"
        )
    return result


def _quickstart() -> Path | None:
    """The repository's quickstart notebook, when running from a checkout."""
    import erroranalysis

    candidate = Path(erroranalysis.__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
    return candidate if candidate.is_file() else None


def _lab_command(args: argparse.Namespace, notebook: Path, root: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        notebook.relative_to(root).as_posix(),
        f"--ServerApp.root_dir={root}",
    ]
    if args.port is not None:
        command += [f"--port={args.port}", "--port-retries=0"]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers often run as root
    return command


FINISH_LOG = "demo-finish.log"


def _start_finisher(out: Path) -> subprocess.Popen:
    """Build the demo's pending stages in a background process, at a lower CPU priority.

    Its output goes to ``<out>/demo-finish.log``; JupyterLab and the notebook's kernel keep the
    CPU first (``nice`` 10 where the system has it).
    """
    log = open(out / FINISH_LOG, "w")  # noqa: SIM115 - the child owns it
    command = [sys.executable, "-m", "erroranalysis", "demo", "--out", str(out), "--finish"]
    command.append("--quiet")
    lower = getattr(os, "nice", None)
    try:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=(lambda: lower(10)) if lower is not None else None,
        )
    finally:
        log.close()


def _stop_finisher(finisher: subprocess.Popen | None, out: Path) -> None:
    """Stop a background build that is still running when JupyterLab stops."""
    if finisher is None or finisher.poll() is not None:
        return
    finisher.terminate()
    try:
        finisher.wait(timeout=10)
    except subprocess.TimeoutExpired:
        finisher.kill()
        finisher.wait()
    print(f"stopped training the demo's pending stage; `erroranalysis demo --out {out}` builds it")


def run(args: argparse.Namespace) -> int:
    """Build (or reuse) the demo, print what was found, then start JupyterLab unless --no-lab.

    In JupyterLab mode the stages after the first are built by a background process while
    JupyterLab runs (see :func:`_start_finisher`); with ``--no-lab`` every stage is built here.
    """
    from erroranalysis.datasets.demo import build_demo, finish_demo

    _check_positive(args)
    out = Path(args.out)
    if args.finish:
        finish_demo(out, progress=not args.quiet, verbose=True)
        return 0
    result = _reuse(args, out)
    if result is not None:
        print(f"using the existing demo at {out} (pass --overwrite to rebuild it)")
        if result.pending and args.no_lab:
            print(f"building its pending stage(s): {', '.join(result.pending)}")
            result = finish_demo(out, progress=not args.quiet, verbose=False)
        print(result.summary())
    else:
        staged = not args.no_lab and len(args.stages) > 1
        result = build_demo(
            out,
            n_samples=args.samples,
            folds=args.folds,
            epochs=args.epochs,
            model_name=args.model,
            seed=0 if args.seed is None else args.seed,
            scan=not args.no_scan,
            progress=not args.quiet,
            image_size=args.image_size,
            overwrite=args.overwrite,
            verbose=True,
            stages=args.stages,
            until=args.stages[0] if staged else None,
        )
    store = out.resolve()
    notebook = _quickstart()
    if notebook is not None:
        root = notebook.parents[1]
    else:
        from erroranalysis.commands.lab import write_notebook

        notebook = write_notebook(store)
        root = notebook.parent
    env = {**os.environ, "ERRORANALYSIS_STORE": str(store)}
    command = _lab_command(args, notebook, root)
    if args.no_lab:
        print(f"store ready: {store}")
        print(f"open it with:  cd {root} && ERRORANALYSIS_STORE={store} jupyter lab {command[4]}")
        print(f"           or:  erroranalysis lab {store}")
        return 0
    finisher = None
    if result.pending:
        finisher = _start_finisher(store)
        print(
            f"training the {', '.join(result.pending)} stage in the background "
            f"(log: {store / FINISH_LOG}); the open dashboard offers to switch to its run when "
            "it lands"
        )
    print(f"starting JupyterLab on {notebook} (ERRORANALYSIS_STORE={store}); Ctrl-C to stop")
    process = subprocess.Popen(command, cwd=root, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # JupyterLab got the Ctrl-C too and shuts down; wait for it to finish.
        try:
            process.wait(timeout=30)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            process.terminate()
            process.wait()
        return 0
    finally:
        _stop_finisher(finisher, out)
