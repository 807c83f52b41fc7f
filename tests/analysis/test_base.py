from __future__ import annotations

import numpy as np

from erroranalysis.analysis.base import as_float32, iter_float32_chunks


def test_float16_lookup_is_bit_identical_to_numpy_cast():
    every = np.arange(65536, dtype=np.uint16).view(np.float16).reshape(256, 256)
    ours = as_float32(every)
    theirs = every.astype(np.float32)
    assert ours.dtype == np.float32
    assert np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))  # NaNs, subnormals, ±0
    strided = every[:, ::3]
    assert np.array_equal(
        as_float32(strided).view(np.uint32), strided.astype(np.float32).view(np.uint32)
    )


def test_chunks_cover_every_row_and_copy_on_request():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    blocks = list(iter_float32_chunks(x, rows=4))
    assert [(a, b) for a, b, _ in blocks] == [(0, 4), (4, 8), (8, 10)]
    assert np.array_equal(np.concatenate([blk for _, _, blk in blocks]), x)
    _, _, first = next(iter_float32_chunks(x, rows=4, copy=True))
    first[:] = -1
    assert x[0, 0] == 0
