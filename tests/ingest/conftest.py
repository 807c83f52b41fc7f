"""A generated corpus of awkward and bad images (design.md §8), and small image trees."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` RGB pixels, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def noisy_rgb(width: int = 48, height: int = 32, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_good(path: Path, seed: int = 0, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    noisy_rgb(seed=seed).save(path, format=fmt)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    noisy_rgb(64, 64).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def write_exif_rotated(path: Path) -> Path:
    """40 wide × 20 high, left half red, right half blue, EXIF orientation 6 (rotate 90° CW)."""
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


@pytest.fixture
def corpus(tmp_path) -> dict[str, Path]:
    """Files inside ``root`` (the image root) plus an ``outside`` image next to it."""
    root = tmp_path / "root"
    root.mkdir()
    files: dict[str, Path] = {"root": root}
    files["good"] = write_good(root / "good.png")
    files["truncated"] = write_truncated_jpeg(root / "truncated.jpg")
    corrupt = root / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    files["corrupt"] = corrupt
    text = root / "notes.jpg"
    text.write_text("this is not an image\n")
    files["not_image"] = text

    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(root / "cmyk.jpg", format="JPEG", quality=95)
    files["cmyk"] = root / "cmyk.jpg"

    ramp = np.linspace(0, 65535, 256, dtype=np.float64).round().astype(np.uint16)
    deep = Image.fromarray(np.tile(ramp, (4, 1)))
    deep.save(root / "deep16.png", format="PNG")
    files["deep16"] = root / "deep16.png"

    files["exif"] = write_exif_rotated(root / "exif6.jpg")

    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 255, 0] + [255, 0, 0] + [0, 0, 0] * 254)  # 0 green (transparent), 1 red
    palette.paste(1, (0, 0, 5, 10))
    palette.info["transparency"] = 0
    palette.save(root / "palette_alpha.png", format="PNG", transparency=0)
    files["palette_alpha"] = root / "palette_alpha.png"

    la = Image.new("LA", (8, 8), (0, 0))  # black, fully transparent
    la.paste((0, 255), (0, 0, 4, 8))  # left half black, opaque
    la.save(root / "grey_alpha.png", format="PNG")
    files["grey_alpha"] = root / "grey_alpha.png"

    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 8, 4))
    rgba.save(root / "rgba.png", format="PNG")
    files["rgba"] = root / "rgba.png"

    Image.new("L", (8, 8), 77).save(root / "grey.png")
    files["grey"] = root / "grey.png"

    (root / "bomb.png").write_bytes(bomb_png(100_000, 100_000))
    files["bomb"] = root / "bomb.png"

    outside = write_good(tmp_path / "outside.png", seed=3)
    files["outside"] = outside
    link = root / "escape.png"
    link.symlink_to(outside)
    files["escape_link"] = link
    inside_link = root / "inside_link.png"
    inside_link.symlink_to(root / "good.png")
    files["inside_link"] = inside_link
    return files


@pytest.fixture
def class_tree(tmp_path) -> Path:
    """``tree/<class>/<n>.png``: 3 classes × 4 good images (one nested folder)."""
    tree = tmp_path / "tree"
    for c, name in enumerate(["cat", "dog", "fox"]):
        for i in range(4):
            sub = tree / name / ("nested" if i == 3 else "")
            write_good(sub / f"{i}.png", seed=10 * c + i)
    return tree
