"""Crash-safe file writes: write to a temporary name, fsync, rename, fsync the folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Make a rename inside ``path`` durable (POSIX needs the folder itself fsynced)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_tree(path: Path) -> None:
    """fsync every file and folder under ``path`` (used before a folder is published by rename)."""
    for folder, _, files in os.walk(path):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_directory(Path(folder))


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Write ``path`` whole or not at all.

    ``writer`` receives a temporary path in the same folder and writes the content there; the
    temporary file is then fsynced and renamed over ``path``.
    """
    path = Path(path)
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        writer(temporary)
        fsync_file(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    fsync_directory(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
