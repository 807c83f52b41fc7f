"""cleanlab's private modules are imported, so pyproject caps cleanlab at the version verified."""

from __future__ import annotations

import re
from pathlib import Path

import cleanlab
import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_cleanlab_is_capped_and_the_installed_version_is_inside_the_range():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (line,) = [d for d in dependencies if re.match(r"cleanlab\b", d)]
    requirement = Requirement(line)
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in requirement.specifier), line
    assert requirement.specifier.contains(cleanlab.__version__), (line, cleanlab.__version__)
