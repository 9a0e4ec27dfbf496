"""Build the built-in emoji set: src/ganvas/data/builtin/emoji.npz (+ NOTICE).

Source: the npm package emoji-datasource-twitter@16.0.0 (Twemoji 64 px PNGs + iamcal/emoji-data
metadata). Kept: each emoji's base image (no skin-tone variants), without the "Flags" and "Component"
(skin-tone swatches, hair parts) categories, only entries with a Twitter image present. Each RGBA
image is composited on white and packed, in emoji-data sort order, into one sprite sheet stored as
lossless WebP inside an .npz with the labels:

    atlas       uint8 [bytes]   lossless WebP, `cols` tiles per row, tile x tile px each
    labels      uint8 [N]       index into `categories`
    categories  str [C]         sorted category names
    names       uint8 [bytes]   UTF-8, "\\n"-separated short names, one per emoji
    tile, cols, count, version  int scalars

Usage (needs npm and the registry only when no --tarball is given):

    python scripts/build_emoji.py
    python scripts/build_emoji.py --tarball /tmp/emoji/emoji-datasource-twitter-16.0.0.tgz
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import math
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

PACKAGE = "emoji-datasource-twitter"
VERSION = "16.0.0"
# dist.integrity of the package on the npm registry: a --tarball must be this exact file.
INTEGRITY = "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="
TILE = 64
DROP_CATEGORIES = {"Flags", "Component"}
FORMAT_VERSION = 1
MAX_BYTES = 5 * 1024 * 1024

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "ganvas" / "data" / "builtin"

NOTICE = f"""\
emoji.npz: the built-in "emoji" dataset of ganvas

Twemoji graphics by Twitter, Inc. and other contributors, licensed under CC-BY 4.0
(https://creativecommons.org/licenses/by/4.0/). Project: https://github.com/twitter/twemoji
(continued at https://github.com/jdecked/twemoji).

Obtained via the npm package {PACKAGE} {VERSION} from iamcal/emoji-data
(https://github.com/iamcal/emoji-data); its data (emoji.json: names, categories) is
MIT-licensed, Copyright (c) 2013 Cal Henderson.

Changes: the 64x64 PNG images of the base emoji (no skin-tone variants, no flags, no
skin-tone/hair components) were composited on a white background, converted to RGB and
packed into one lossless WebP sprite sheet, stored with their category labels and short
names in emoji.npz by scripts/build_emoji.py.
"""


def fetch_tarball(workdir: Path) -> Path:
    print(f"npm pack {PACKAGE}@{VERSION} ...", file=sys.stderr)
    out = subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=workdir,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return workdir / out[-1]


def check_integrity(tarball: Path) -> None:
    algo, _, expected = INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        sys.exit(f"{tarball} is not {PACKAGE}@{VERSION} (integrity {algo}-{digest} != {INTEGRITY})")


def read_package(tarball: Path) -> tuple[list[dict], dict[str, bytes]]:
    """emoji.json entries and the 64 px PNG bytes by file name, read without extracting to disk."""
    prefix = f"package/img/twitter/{TILE}/"
    entries, pngs = None, {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if member.name == "package/emoji.json":
                entries = json.load(tar.extractfile(member))
            elif member.name.startswith(prefix) and member.name.endswith(".png"):
                pngs[member.name[len(prefix):]] = tar.extractfile(member).read()
    if entries is None:
        sys.exit(f"{tarball} has no package/emoji.json")
    return entries, pngs


def select(entries: list[dict], pngs: dict[str, bytes]) -> list[dict]:
    kept = [e for e in entries
            if e["category"] not in DROP_CATEGORIES and e.get("has_img_twitter") and e["image"] in pngs]
    return sorted(kept, key=lambda e: e["sort_order"])


def on_white(png: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(png)).convert("RGBA")
    if im.size != (TILE, TILE):
        im = im.resize((TILE, TILE), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
    canvas.alpha_composite(im)
    return np.asarray(canvas.convert("RGB"))  # [TILE, TILE, 3]


def pack_atlas(tiles: np.ndarray) -> tuple[bytes, int]:
    """[N, T, T, 3] -> lossless WebP sprite sheet (row-major tiles), and the number of columns."""
    n = len(tiles)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = np.full((rows * cols, TILE, TILE, 3), 255, np.uint8)
    sheet[:n] = tiles
    sheet = sheet.reshape(rows, cols, TILE, TILE, 3).transpose(0, 2, 1, 3, 4).reshape(rows * TILE, cols * TILE, 3)
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, "WEBP", lossless=True, quality=100, method=6, exact=True)
    data = buf.getvalue()
    back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    if not np.array_equal(back, sheet):
        sys.exit("lossless WebP round trip changed pixels")
    return data, cols


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz (stored, fixed timestamps) so that the same inputs give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"an already downloaded {PACKAGE}-{VERSION}.tgz")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        check_integrity(tarball)
        entries, pngs = read_package(tarball)
    kept = select(entries, pngs)
    categories = sorted({e["category"] for e in kept})
    index = {c: i for i, c in enumerate(categories)}

    tiles = np.stack([on_white(pngs[e["image"]]) for e in kept])  # [N, 64, 64, 3]
    atlas, cols = pack_atlas(tiles)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "emoji.npz"
    write_npz(out, {
        "atlas": np.frombuffer(atlas, np.uint8),
        "labels": np.array([index[e["category"]] for e in kept], np.uint8),
        "categories": np.array(categories, dtype=str),
        "names": np.frombuffer("\n".join(e["short_name"] for e in kept).encode("utf-8"), np.uint8),
        "tile": np.array(TILE), "cols": np.array(cols), "count": np.array(len(kept)),
        "version": np.array(FORMAT_VERSION),
    })
    (args.out / "NOTICE").write_text(NOTICE, encoding="utf-8")

    size = out.stat().st_size
    counts = np.bincount([index[e["category"]] for e in kept], minlength=len(categories))
    print(f"{out}: {len(kept)} emoji, {size:,} bytes ({size / 2**20:.2f} MiB), sha256 "
          f"{hashlib.sha256(out.read_bytes()).hexdigest()[:16]}")
    for c, k in zip(categories, counts):
        print(f"  {c}: {k}")
    if size > MAX_BYTES:
        sys.exit(f"{out} is larger than {MAX_BYTES:,} bytes")


if __name__ == "__main__":
    main()
