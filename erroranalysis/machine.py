"""What machine a time was measured on: CPU model, vector extensions, torch's kernels, threads.

Figures from different machines must never be confused: the same demo took 104 s on a 2-core
Xeon with AVX-512 and 803 s on a 2-core EPYC with AVX2 only. Every time the package or its
benchmarks print is printed beside :func:`machine_description`.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

__all__ = ["machine_description", "machine_info"]

# /proc/cpuinfo flag → the name people search for; the order is the order printed.
_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_bf16": "AVX512-BF16",
    "amx_tile": "AMX",
}


def _cpuinfo() -> tuple[str, set[str]]:
    model = platform.processor() or "unknown CPU"
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                if model != "unknown CPU" and flags:
                    break
    except OSError:
        # Not Linux (macOS, Windows): the model from platform is all there is.
        pass
    return model, flags


def machine_info() -> dict[str, Any]:
    """The facts that decide how fast training and inference run here.

    Returns
    -------
    dict
        ``cpu`` (model name), ``cores`` (logical CPUs), ``memory_gib``, ``extensions`` (which of
        AVX2, AVX-512, AVX512-BF16 and AMX the CPU reports), ``torch_capability`` (the kernels
        torch dispatches to, e.g. ``AVX512``; None when torch is not imported yet, so that this
        never pays torch's import), ``torch_threads`` and ``python``.
    """
    model, flags = _cpuinfo()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = float("nan")
    capability = threads = None
    torch = sys.modules.get("torch")
    if torch is not None:
        capability = torch.backends.cpu.get_cpu_capability()
        threads = torch.get_num_threads()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "extensions": [name for flag, name in _FLAGS.items() if flag in flags],
        "torch_capability": capability,
        "torch_threads": threads,
        "python": platform.python_version(),
    }


def machine_description(info: dict[str, Any] | None = None) -> str:
    """One line for beside a time, e.g. ``2 cores, 24 GiB, Intel Xeon …, AVX2 AVX-512 …``.

    Parameters
    ----------
    info : dict, optional
        A :func:`machine_info` record (for example one saved with a result); default: this
        machine, now.
    """
    info = machine_info() if info is None else info
    extensions = " ".join(info.get("extensions") or []) or "no AVX2/AVX-512/AMX"
    parts = [
        f"{info.get('cores')} cores",
        f"{info.get('memory_gib', float('nan')):.0f} GiB",
        str(info.get("cpu")),
        extensions,
    ]
    if info.get("torch_capability"):
        parts.append(
            f"torch CPU capability {info['torch_capability']}, {info['torch_threads']} threads"
        )
    parts.append(f"Python {info.get('python')}")
    return ", ".join(parts)
