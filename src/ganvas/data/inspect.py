"""What is in an image folder, before training on it: counts, sizes, modes, duplicates, problems.

Uses the same scan and decoder checks as `load_folder`, so `images` here is the number of images
`load_folder(path, labels=...)` would keep, and `skipped` lists the same files with the same reasons.
Pixels are decoded (that is the only way to find truncated files) but not resized.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from collections import Counter, defaultdict

from ganvas.data.folder import (
    LABEL_MODES,
    NOT_IN_CLASS,
    decoder_warnings,
    describe_error,
    load_pixels,
    open_image,
    progress_bar,
    scan_folder,
)
from ganvas.errors import ConfigError

_ORIENTATION_TAG = 0x0112
_SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that turn the image by 90 degrees


def inspect_folder(path: str | os.PathLike, labels: str = "none", progress: bool = False) -> dict:
    """A JSON-ready summary of the images below `path`.

    Keys:
      path, labels_mode
      files_seen      every non-hidden file looked at
      image_files     those with an image extension; other_files {extension: count} were passed over
      run_folders     ganvas run folders inside it (relative paths), passed over: their images are samples
      images          usable images (what load_folder with the same `labels` keeps)
      skipped         [{path, reason}], same reasons as load_folder
      labels          {class: usable count}; empty unless labels="subdirs"
      subfolders      {first-level folder: usable count}, whatever `labels` is
      resolutions     {width: {min, median, max}, height: {...}, most_common: [{width, height, count}]},
                      sizes as displayed (after EXIF rotation)
      non_square, modes {PIL mode: count}, formats {format: count}
      duplicates      usable files that repeat another one byte for byte; duplicate_groups [[path, ...]]

    >>> report = inspect_folder("~/art", labels="subdirs")   # doctest: +SKIP
    >>> report["images"], report["labels"]                     # doctest: +SKIP
    (118, {'cats': 60, 'dogs': 58})
    """
    if labels not in LABEL_MODES:
        raise ConfigError(f"unknown labels mode {labels!r}; choose one of: {', '.join(LABEL_MODES)}")
    path = os.path.expanduser(os.fspath(path))
    scan = scan_folder(path)

    skipped: list[dict] = []
    sizes: list[tuple[int, int]] = []
    modes: Counter = Counter()
    formats: Counter = Counter()
    by_hash: dict[str, list[str]] = defaultdict(list)
    subfolders: Counter = Counter({c.subfolder: 0 for c in scan.candidates if c.subfolder and not c.problem})
    with decoder_warnings(), progress_bar(len(scan.candidates), f"inspecting {path}", progress) as bar:
        for c in scan.candidates:
            bar.update(1)
            if c.problem:
                skipped.append({"path": c.path, "reason": c.problem})
                continue
            if labels == "subdirs" and c.subfolder is None:
                skipped.append({"path": c.path, "reason": NOT_IN_CLASS})
                continue
            try:
                info = _probe(c.path)
            except Exception as e:  # same rule as load_folder: a file never raises, it is reported
                skipped.append({"path": c.path, "reason": describe_error(e)})
                continue
            sizes.append(info["size"])
            modes[info["mode"]] += 1
            formats[info["format"]] += 1
            by_hash[info["sha256"]].append(c.path)
            if c.subfolder:
                subfolders[c.subfolder] += 1

    groups = sorted(g for g in by_hash.values() if len(g) > 1)
    return {
        "path": path,
        "labels_mode": labels,
        "files_seen": scan.files_seen,
        "image_files": len(scan.candidates),
        "other_files": scan.ignored,
        "run_folders": scan.run_folders,
        "images": len(sizes),
        "skipped": skipped,
        "labels": {k: v for k, v in sorted(subfolders.items()) if v} if labels == "subdirs" else {},
        "subfolders": dict(sorted(subfolders.items())),
        "resolutions": _size_summary(sizes),
        "non_square": sum(1 for w, h in sizes if w != h),
        "modes": dict(modes.most_common()),
        "formats": dict(formats.most_common()),
        "duplicates": sum(len(g) - 1 for g in groups),
        "duplicate_groups": groups,
    }


def _probe(path: str) -> dict:
    """Size (as displayed), mode, format and content hash of one file; decoder errors propagate."""
    with open(path, "rb") as f:
        digest = hashlib.sha256()
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        with open_image(f) as im:  # open_image rewinds the file
            mode, fmt, (w, h) = im.mode, im.format, im.size
            try:
                if im.getexif().get(_ORIENTATION_TAG) in _SWAPPED_ORIENTATIONS:
                    w, h = h, w
            except Exception:  # unreadable EXIF is ignored by load_folder too
                pass
            load_pixels(im, min_size=64)  # decode every byte to catch truncation (JPEG at reduced scale)
    return {"size": (w, h), "mode": mode, "format": fmt, "sha256": digest.hexdigest()}


def _size_summary(sizes: list[tuple[int, int]]) -> dict:
    if not sizes:
        return {"width": None, "height": None, "most_common": []}

    def stats(values: list[int]) -> dict:
        med = statistics.median(values)
        return {"min": min(values), "median": int(med) if med == int(med) else med, "max": max(values)}

    common = Counter(sizes).most_common(5)
    return {
        "width": stats([w for w, _ in sizes]),
        "height": stats([h for _, h in sizes]),
        "most_common": [{"width": w, "height": h, "count": n} for (w, h), n in common],
    }
