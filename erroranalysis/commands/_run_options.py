"""Options shared by the verbs that produce a run (``predict``, ``cross-val``).

Both verbs can run locally or on a Ray cluster and write a named run; declaring those options in
one place keeps their spelling, help and validation identical.
"""

from __future__ import annotations

import argparse


def add_run_output_arguments(parser: argparse.ArgumentParser, *, engine_help: str) -> None:
    """Declare ``--engine``, ``--address``, ``--overwrite`` and ``--no-progress``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The verb's parser.
    engine_help : str
        What the engine runs for this verb ("where the inference runs", ...).
    """
    parser.add_argument("--engine", choices=["local", "ray"], default="local", help=engine_help)
    parser.add_argument(
        "--address", help="with --engine ray: the cluster, host:6379 or ray://host:10001"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a run of that name")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def check_run_output_arguments(args: argparse.Namespace) -> None:
    """Refuse ``--address`` without ``--engine ray`` (it would be silently ignored)."""
    from erroranalysis.errors import ErrorAnalysisError

    if args.address and args.engine != "ray":
        raise ErrorAnalysisError("--address needs --engine ray")
