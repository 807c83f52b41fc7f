"""Options shared by the verbs that produce a run (``predict``, ``cross-val``).

Both verbs can run locally or on a Ray cluster and write a named run; declaring those options in
one place keeps their spelling, help and validation identical. ``cross-val`` can also train its
folds side by side in local worker processes (``--engine processes --workers N``).
"""

from __future__ import annotations

import argparse


def add_run_output_arguments(
    parser: argparse.ArgumentParser, *, engine_help: str, processes: bool = False
) -> None:
    """Declare ``--engine``, ``--address``, ``--overwrite`` and ``--no-progress``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The verb's parser.
    engine_help : str
        What the engine runs for this verb ("where the inference runs", ...).
    processes : bool
        The verb also offers ``--engine processes`` (local worker processes, one torch thread
        each) and its ``--workers N``.
    """
    choices = ["local", "processes", "ray"] if processes else ["local", "ray"]
    parser.add_argument("--engine", choices=choices, default="local", help=engine_help)
    parser.add_argument(
        "--address", help="with --engine ray: the cluster, host:6379 or ray://host:10001"
    )
    if processes:
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="with --engine processes: worker processes (default: one per fold, at most "
            "one per core)",
        )
    parser.add_argument("--overwrite", action="store_true", help="replace a run of that name")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def check_run_output_arguments(args: argparse.Namespace) -> None:
    """Refuse options that the chosen engine would silently ignore, and bad worker counts.

    ``--address`` needs ``--engine ray``; ``--workers`` needs ``--engine processes`` and must be
    at least 1.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of a verb declared with :func:`add_run_output_arguments`.

    Raises
    ------
    ErrorAnalysisError
        Naming the offending option (the CLI prints it as one line and exits with 2).
    """
    from erroranalysis.errors import ErrorAnalysisError

    if args.address and args.engine != "ray":
        raise ErrorAnalysisError("--address needs --engine ray")
    workers = getattr(args, "workers", None)
    if workers is not None:
        if args.engine != "processes":
            raise ErrorAnalysisError("--workers needs --engine processes")
        if workers < 1:
            raise ErrorAnalysisError(f"--workers must be at least 1; got {workers}")
