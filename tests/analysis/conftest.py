from __future__ import annotations

import pytest

from tests.analysis.helpers import planted_store


@pytest.fixture
def planted(tmp_path):
    """A 600-sample store (4 classes, embeddings) with planted problems, and its truth table."""
    return planted_store(tmp_path / "planted")
