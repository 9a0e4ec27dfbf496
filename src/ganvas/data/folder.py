"""Image folders -> a prepared `ImageDataset` (uint8 [N, 3, R, R]), cached on disk.

A user's folder is hostile input: empty files, half-copied JPEGs, text saved as `.jpg`, decompression
bombs, symlink loops, 16-bit scans, CMYK prints, palette GIFs with transparency, phone photos stored
sideways with an EXIF orientation tag. Every such file either becomes a correct RGB image or is skipped
with a reason in plain words (`ImageDataset.skipped`); no input file can raise out of `load_folder`.

Rules (the same for `inspect_folder`, which shares the scan and the decoder checks):

- The folder is scanned recursively in sorted order, following symlinked folders but never visiting a
  real folder twice (so a link to a parent cannot loop). Names starting with "." (`.DS_Store`, macOS
  `._photo.jpg` resource forks, `.git/`) are passed over silently, as are files without an image
  extension (`notes.txt`, `meta.json`). A `ganvas train` run folder inside the folder (`--out` under
  the data) is passed over too: its grids are samples, not data (listed by `inspect_folder`).
- Image extensions (case-insensitive): .jpg .jpeg .png .webp .bmp .gif .tif .tiff. The content decides
  the decoder, restricted to those formats (Pillow never runs e.g. Ghostscript on a renamed EPS).
- `labels="subdirs"`: the first-level subfolder is the class. Images directly in the root are skipped
  with the reason "not in a class subfolder ..."; label_names are the sorted classes that hold at least
  one usable image.
- The prepared arrays are cached in `cache_dir()/datasets/<fingerprint>.npz`; the fingerprint covers the
  file list (relative path, size, mtime_ns) and the preparation settings, so any change rebuilds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import os
import re
import stat
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ganvas.data.dataset import ImageDataset, SkippedFile
from ganvas.errors import ConfigError, DataError
from ganvas.utils.files import atomic_open, cache_dir, is_run_folder

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
# Pillow format names allowed to decode; MPO is how Pillow names many camera JPEGs, DIB is a BMP.
PIL_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "GIF", "TIFF")
FITS = ("crop", "pad", "stretch")
LABEL_MODES = ("none", "subdirs")
CACHE_VERSION = 1  # bump when the preparation changes what a given file turns into
PROGRESS_MIN_FILES = 64  # no progress bar for a handful of files
MIN_RESOLUTION, MAX_RESOLUTION = 4, 4096

# Skip reasons (a decoder message may follow in parentheses).
EMPTY_FILE = "empty file (0 bytes)"
BROKEN_LINK = "broken symbolic link"
NOT_REGULAR = "not a regular file (a pipe, socket or device)"
PERMISSION_DENIED = "unreadable (permission denied)"
NOT_IN_CLASS = "not in a class subfolder (labels='subdirs' takes classes from first-level folders)"
TRUNCATED = "truncated or corrupt image data"
TOO_MANY_PIXELS = "too many pixels, possible decompression bomb"
OUT_OF_MEMORY = "out of memory while decoding"
NOT_AN_IMAGE = "not an image"

_ACCEPTED = "JPEG, PNG, WebP, BMP, GIF, TIFF (" + " ".join(IMAGE_EXTENSIONS) + ")"
_MAGIC = (  # leading bytes of the accepted formats, to tell "damaged image" from "not an image"
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


# Section. Scanning.


@dataclass(frozen=True)
class Candidate:
    """A file with an image extension found by the scan."""

    rel: str  # "/"-separated path below the root, e.g. "cats/tom.jpg"
    path: str  # the path shown to the user: the folder as given joined with `rel`
    size: int
    mtime_ns: int
    problem: str | None = None  # a skip reason known without decoding (broken link, unreadable)

    @property
    def subfolder(self) -> str | None:
        """The first-level subfolder, or None for a file directly in the root."""
        head, sep, _ = self.rel.partition("/")
        return head if sep else None


@dataclass
class FolderScan:
    root: Path
    candidates: list[Candidate]  # sorted by relative path
    files_seen: int  # every non-hidden file looked at, image or not
    ignored: dict[str, int]  # extension ("" for none) -> count of non-hidden files without an image extension
    run_folders: list[str] = dataclasses.field(default_factory=list)  # relative paths of run folders passed over


def _run_data_hint(run: Path) -> str:
    """', such as the data this run trained on (DATA)', read from its config.json where it can be."""
    try:
        source = json.loads((run / "config.json").read_text())["data"]["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f", such as the data this run trained on ({source})" if isinstance(source, str) and source else ""


def scan_folder(path: str | os.PathLike) -> FolderScan:
    """List the image files below `path` (see the module docstring for the rules).

    Raises DataError when `path` does not exist or is not a folder.
    """
    root = Path(path)
    if not root.exists():
        hint = " (it is a broken symbolic link)" if root.is_symlink() else ""
        raise DataError(f"dataset folder {str(path)!r} does not exist{hint}; give a folder of images")
    if not root.is_dir():
        raise DataError(f"{str(path)!r} is a file, not a folder; give the folder that holds the images")
    if is_run_folder(root):
        raise DataError(f"{str(path)!r} is a ganvas run folder (its images are samples, not data); give a "
                        f"folder of images{_run_data_hint(root)}")

    candidates: list[Candidate] = []
    files_seen = 0
    ignored: Counter = Counter()
    run_folders: list[str] = []
    visited = {os.path.realpath(root)}
    stack: list[tuple[str, str]] = [(str(root), "")]  # (folder on disk, its relative prefix)
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            # An unreadable subfolder is reported once, like a file; the root itself was readable enough
            # to be a folder, so an error there is reported too rather than looking like "empty".
            rel = prefix.rstrip("/") or "."
            problem = f"unreadable folder ({_strerror(e)})"
            candidates.append(Candidate(rel, os.path.join(str(path), rel), -1, 0, problem))
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            if _is_dir(entry):
                if is_run_folder(entry.path):  # e.g. --out under the data folder: samples, not data
                    run_folders.append(rel)
                    continue
                real = os.path.realpath(entry.path)
                if real not in visited:  # a second way into a folder (or a loop) is not followed
                    visited.add(real)
                    subdirs.append((entry.path, rel + "/"))
                continue
            files_seen += 1
            ext = os.path.splitext(entry.name)[1].lower()
            if ext not in IMAGE_EXTENSIONS:
                ignored[ext] += 1
                continue
            shown = os.path.join(str(path), *rel.split("/"))
            try:
                st = os.stat(entry.path)  # follows a symlink to its target
                # Opening a FIFO would block forever and reading a device may never end.
                problem = None if stat.S_ISREG(st.st_mode) else NOT_REGULAR
                candidates.append(Candidate(rel, shown, st.st_size, st.st_mtime_ns, problem))
            except OSError as e:
                problem = BROKEN_LINK if entry.is_symlink() else f"unreadable ({_strerror(e)})"
                candidates.append(Candidate(rel, shown, -1, 0, problem))
        stack.extend(reversed(subdirs))  # pop in sorted order: deterministic "first way in" wins
    candidates.sort(key=lambda c: c.rel.split("/"))
    return FolderScan(root, candidates, files_seen, dict(sorted(ignored.items())), run_folders)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; False for a dangling one
    except OSError:
        return False


def _strerror(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied"
    return (e.strerror or str(e)).lower()


# Section. Opening and decoding one file.


class SkipFile(Exception):
    """Raised by the decoding helpers for a file that cannot be used; the message is the reason."""


@contextlib.contextmanager
def decoder_warnings() -> Iterator[None]:
    """Pillow's decompression-bomb warning becomes an error; its other warnings (odd EXIF, palette
    transparency notes) are silenced, since the file is either used correctly or skipped with a reason."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@contextlib.contextmanager
def open_image(f: IO[bytes]) -> Iterator[Image.Image]:
    """Open an image from a binary file object (header only), or raise SkipFile / a decoder error.

    Use inside `decoder_warnings()`; turn any other exception into a reason with `describe_error`.
    """
    if f.seek(0, os.SEEK_END) == 0:
        raise SkipFile(EMPTY_FILE)
    f.seek(0)
    try:
        im = Image.open(f, formats=_decoders())
    except UnidentifiedImageError:
        raise SkipFile(_unidentified_reason(f)) from None
    with im:
        limit = Image.MAX_IMAGE_PIXELS  # read now, so a lowered limit applies
        w, h = im.size
        if limit and w * h > limit:
            raise SkipFile(f"{TOO_MANY_PIXELS} ({w}x{h} = {w * h:,} pixels; the limit is {limit:,})")
        yield im


@functools.cache
def _decoders() -> tuple[str, ...]:
    # Pillow registers a format when its plugin is imported; open(formats=...) needs them registered.
    for plugin in ("Bmp", "Gif", "Jpeg", "Mpo", "Png", "Tiff", "WebP"):
        try:
            importlib.import_module(f"PIL.{plugin}ImagePlugin")
        except ImportError:  # e.g. a Pillow built without WebP: those files are reported, not decoded
            pass
    return tuple(f for f in PIL_FORMATS if f in Image.OPEN)


def _unidentified_reason(f: IO[bytes]) -> str:
    f.seek(0)
    head = f.read(512)
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return f"{TRUNCATED} ({fmt} header is incomplete or damaged)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return f"{TRUNCATED} (WebP header is incomplete or damaged)"
    if head[4:8] == b"ftyp":
        return f"{NOT_AN_IMAGE} in an accepted format (looks like HEIC/AVIF or video; convert it to JPEG or PNG)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a character cut by the 512-byte window is still text
        text = head[: e.start].decode("utf-8") if e.start >= len(head) - 3 else ""
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return f"{NOT_AN_IMAGE} (the file contains text)"
    return f"{NOT_AN_IMAGE} (unrecognised content; accepted formats: {_ACCEPTED})"


def describe_error(e: BaseException) -> str:
    """A skip reason for an exception raised while reading or decoding one file."""
    if isinstance(e, SkipFile):
        return str(e)
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        m = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(e))
        detail = f"{int(m[1]):,} pixels; the limit is {int(m[2]):,}" if m else str(e)
        return f"{TOO_MANY_PIXELS} ({detail})"
    if isinstance(e, MemoryError):
        return OUT_OF_MEMORY
    if isinstance(e, PermissionError):
        return PERMISSION_DENIED
    if isinstance(e, OSError) and e.errno is not None:  # the OS failed, not the decoder
        return f"unreadable ({_strerror(e)})"
    if isinstance(e, (OSError, EOFError, SyntaxError)):  # Pillow's "truncated", "broken PNG", ...
        return f"{TRUNCATED} ({e})"
    return f"cannot decode ({type(e).__name__}: {e})"


def load_pixels(im: Image.Image, min_size: int | None = None) -> Image.Image:
    """Decode the pixels (errors propagate), then apply the EXIF orientation.

    `min_size`: for JPEG, let libjpeg decode at a reduced scale (DCT scaling) as long as both sides stay
    at least `min_size`; a 24-megapixel photo then decodes in a fraction of the time.
    """
    if min_size and im.format in ("JPEG", "MPO") and min(im.size) >= 2 * min_size:
        im.draft(im.mode, (min_size, min_size))
    im.load()
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # unreadable EXIF: keep the stored orientation rather than drop the image
        return im


def to_rgb(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited over `background`."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 16-bit samples: scale 0..65535 to 0..255 (Pillow's convert("L") would clip them to white).
        a = np.asarray(im).astype(np.float32)
        im = Image.fromarray(np.rint(np.clip(a, 0, 65535) / 257.0).astype(np.uint8), "L")
    elif mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if a.size and a.min() >= 0.0 and a.max() <= 1.0:
            a = a * 255.0  # float images in [0, 1]
        im = Image.fromarray(np.rint(np.clip(a, 0, 255)).astype(np.uint8), "L")
    elif mode in ("RGBA", "LA", "La", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] == 255:
            return rgba.convert("RGB")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)  # "over" in sRGB, before any resizing
        return canvas.convert("RGB")
    if im.mode == "RGB":
        return im
    try:
        return im.convert("RGB")
    except ValueError:
        raise SkipFile(f"unsupported colour mode {mode}") from None


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if size == im.size:
        return im
    shrinking = size[0] < im.width or size[1] < im.height
    # LANCZOS is antialiased when shrinking; reducing_gap first box-reduces by an integer factor, which
    # is much faster on big photos and indistinguishable at gap 3. BICUBIC when enlarging (no ringing).
    return im.resize(size, Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC, reducing_gap=3.0)


def fit_square(im: Image.Image, resolution: int, fit: str, background: tuple[int, int, int]) -> Image.Image:
    """RGB image -> RGB `resolution` x `resolution`: centre crop, pad with `background`, or stretch."""
    w, h = im.size
    if fit == "crop":
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        # Crop first: resize(box=...) would let the filter reach pixels outside the square.
        return _resize(im.crop((left, top, left + s, top + s)), (resolution, resolution))
    if fit == "stretch":
        return _resize(im, (resolution, resolution))
    scale = resolution / max(w, h)  # pad: fit the long side, centre, fill the rest
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = Image.new("RGB", (resolution, resolution), background)
    canvas.paste(_resize(im, (nw, nh)), ((resolution - nw) // 2, (resolution - nh) // 2))
    return canvas


def _decode(path: str, resolution: int, fit: str, background: tuple[int, int, int]) -> np.ndarray:
    """One file -> uint8 [3, R, R]; raises SkipFile or a decoder error."""
    with open(path, "rb") as f:
        return _decode_stream(f, resolution, fit, background)


def _decode_stream(f: IO[bytes], resolution: int, fit: str, background: tuple[int, int, int]) -> np.ndarray:
    with open_image(f) as im:
        rgb = to_rgb(load_pixels(im, min_size=2 * resolution), background)
        out = np.asarray(fit_square(rgb, resolution, fit, background), dtype=np.uint8)  # [R, R, 3]
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def _decode_or_reason(path: str, resolution: int, fit: str,
                      background: tuple[int, int, int]) -> tuple[np.ndarray | None, str | None]:
    try:
        return _decode(path, resolution, fit, background), None
    except Exception as e:  # any file, however broken, becomes a reason and never a traceback
        return None, describe_error(e)


# Section. Loading with a cache.


def load_folder(
    path: str | os.PathLike,
    resolution: int,
    fit: str = "crop",
    background: Sequence[int] = (255, 255, 255),
    labels: str = "none",
    cache: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """Prepare every usable image below `path` as square RGB uint8 at `resolution`.

    fit: "crop" (centre square), "pad" (whole image, bars of `background`) or "stretch".
    background: RGB that transparent pixels and pad bars become.
    labels: "none", or "subdirs" (first-level subfolder = class; root-level images are skipped).
    Unusable files are listed in `.skipped` with a reason; DataError if nothing is usable.

    >>> ds = load_folder("~/art", resolution=64, fit="pad")        # doctest: +SKIP
    >>> ds.images.shape, [s.reason for s in ds.skipped][:1]        # doctest: +SKIP
    ((120, 3, 64, 64), ['empty file (0 bytes)'])
    """
    settings = _check_settings(resolution, fit, background, labels)
    path = os.path.expanduser(os.fspath(path))
    scan = scan_folder(path)
    fingerprint = _fingerprint(scan, settings)
    cache_file = cache_dir() / "datasets" / f"{fingerprint}.npz"
    if cache:
        ds = _read_cache(cache_file, fingerprint, path, resolution)
        if ds is not None:
            return ds
    ds = _prepare(scan, path, fingerprint, progress, **settings)
    if cache:
        _write_cache(cache_file, ds, scan)
    return ds


def _check_settings(resolution, fit, background, labels) -> dict:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"resolution must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION}, "
                          f"got {resolution!r}")
    if fit not in FITS:
        raise ConfigError(f"unknown fit {fit!r}; choose one of: {', '.join(FITS)}")
    if labels not in LABEL_MODES:
        raise ConfigError(f"unknown labels mode {labels!r}; choose one of: {', '.join(LABEL_MODES)}")
    try:
        bg = tuple(int(v) for v in background)
        ok = len(bg) == 3 and all(0 <= v <= 255 for v in bg)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"background must be three integers 0..255 (R, G, B), got {background!r}")
    return {"resolution": int(resolution), "fit": fit, "background": bg, "labels": labels}


def _fingerprint(scan: FolderScan, settings: dict) -> str:
    files = [[c.rel, c.size, c.mtime_ns, c.problem] for c in scan.candidates]
    blob = json.dumps({"version": CACHE_VERSION, **settings, "files": files}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _prepare(scan: FolderScan, path: str, fingerprint: str, progress: bool, *,
             resolution: int, fit: str, background: tuple[int, int, int], labels: str) -> ImageDataset:
    reasons: dict[str, str] = {}  # rel -> reason, for every skipped candidate
    todo: list[Candidate] = []
    for c in scan.candidates:
        if c.problem:
            reasons[c.rel] = c.problem
        elif labels == "subdirs" and c.subfolder is None:
            reasons[c.rel] = NOT_IN_CLASS
        elif c.size == 0:
            reasons[c.rel] = EMPTY_FILE
        else:
            todo.append(c)

    images = np.empty((len(todo), 3, resolution, resolution), dtype=np.uint8)  # [N, 3, R, R]
    kept: list[Candidate] = []
    # Serial on purpose: a thread pool (Pillow releases the GIL) measured no faster on the 2-vCPU
    # machines we test on, and preparation runs once per folder and settings thanks to the cache.
    with decoder_warnings(), progress_bar(len(todo), f"preparing {path}", progress) as bar:
        for c in todo:
            img, reason = _decode_or_reason(c.path, resolution, fit, background)
            if img is None:
                reasons[c.rel] = reason or "cannot decode"
            else:
                images[len(kept)] = img
                kept.append(c)
            bar.update(1)
    if len(kept) < len(todo):
        images = images[: len(kept)].copy()  # do not keep the unused tail alive

    skipped = [SkippedFile(c.path, reasons[c.rel]) for c in scan.candidates if c.rel in reasons]
    if not kept:
        raise DataError(_nothing_usable_message(path, scan, skipped, labels))

    label_arr, label_names = None, []
    if labels == "subdirs":
        label_names = sorted({c.subfolder for c in kept})
        index = {name: i for i, name in enumerate(label_names)}
        label_arr = np.array([index[c.subfolder] for c in kept], dtype=np.int64)
    return ImageDataset(images, label_arr, label_names, path, fingerprint, skipped)


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar on stderr when `enabled` and there are enough items to wait for; else a no-op."""
    if not enabled or total < PROGRESS_MIN_FILES:
        yield _NoBar()
        return
    from tqdm import tqdm  # imported only when a bar is shown

    with tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True) as bar:
        yield bar


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


def _nothing_usable_message(path: str, scan: FolderScan, skipped: list[SkippedFile], labels: str) -> str:
    n = len(scan.candidates)
    if n == 0:
        found = ", ".join(f"{ext or '(no extension)'}: {k}" for ext, k in
                          sorted(scan.ignored.items(), key=lambda kv: -kv[1])[:5])
        return (f"no image files in {path!r}: looked at {scan.files_seen} file(s), none with an image "
                f"extension{f' (found {found})' if found else ''}. Accepted formats: {_ACCEPTED}.")
    kinds = Counter(s.reason.split(" (")[0] for s in skipped)
    summary = ", ".join(f"{k}: {v}" for k, v in kinds.most_common(4))
    if len(kinds) > 4:
        summary += ", ..."
    msg = (f"no usable image in {path!r}: looked at {scan.files_seen} file(s); all {n} image file(s) were "
           f"skipped ({summary}). Accepted formats: {_ACCEPTED}.")
    if labels == "subdirs" and kinds.get(NOT_IN_CLASS.split(" (")[0]):
        msg += (" With labels='subdirs' each class needs its own subfolder (e.g. cats/, dogs/); "
                "use labels='none' for an unlabelled folder.")
    return msg


def _write_cache(cache_file: Path, ds: ImageDataset, scan: FolderScan) -> None:
    rel_of = {c.path: c.rel for c in scan.candidates}
    try:
        with atomic_open(cache_file, "wb") as f:
            np.savez(
                f,
                version=np.array(CACHE_VERSION),
                fingerprint=np.array(ds.fingerprint),
                images=ds.images,
                labels=ds.labels if ds.labels is not None else np.zeros(0, np.int64),
                has_labels=np.array(ds.labels is not None),
                label_names=np.array(ds.label_names, dtype=str),
                skipped_rel=np.array([rel_of[s.path] for s in ds.skipped], dtype=str),
                skipped_reason=np.array([s.reason for s in ds.skipped], dtype=str),
            )
    except OSError as e:  # a read-only or full cache disk costs time next run, not this run
        warnings.warn(f"could not write the dataset cache {cache_file}: {e}", stacklevel=3)


def _read_cache(cache_file: Path, fingerprint: str, path: str, resolution: int) -> ImageDataset | None:
    """The cached dataset, or None when missing, stale or unreadable (then it is rebuilt)."""
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION or str(z["fingerprint"]) != fingerprint:
                return None
            images = z["images"]
            if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (3, resolution, resolution):
                return None
            labels = z["labels"].astype(np.int64) if bool(z["has_labels"]) else None
            skipped = [SkippedFile(os.path.join(path, *rel.split("/")), str(reason))
                       for rel, reason in zip(z["skipped_rel"].tolist(), z["skipped_reason"].tolist())]
            return ImageDataset(images, labels, [str(n) for n in z["label_names"].tolist()], path,
                                fingerprint, skipped)
    except FileNotFoundError:
        return None
    except Exception:  # truncated, garbage or foreign file: rebuild silently
        return None


def decode_bytes(data: bytes, resolution: int, fit: str = "crop",
                 background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Prepare one in-memory image file exactly as `load_folder` would: uint8 [3, R, R].

    Raises DataError with the skip reason when the bytes are not a usable image.
    """
    settings = _check_settings(resolution, fit, background, "none")
    try:
        with decoder_warnings():
            return _decode_stream(io.BytesIO(data), resolution, fit, settings["background"])
    except Exception as e:
        raise DataError(f"cannot use this image: {describe_error(e)}") from None
