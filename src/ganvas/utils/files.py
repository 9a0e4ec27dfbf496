"""Atomic file writes and the cache folder.

A file ganvas writes either has its complete new content or its previous content: never half of it,
even when the process is killed mid-write (write to a temp file in the same folder, fsync, rename).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on a clean exit it replaces `path` atomically.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_open(p, "w") as f:
    ...     _ = f.write("hello")
    >>> p.read_text()
    'hello'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file asked for, not the folder or the temp file that failed
        why = "a file is in the way of its folder" if isinstance(e, (FileExistsError, NotADirectoryError)) else \
            f"cannot create files in {path.parent} ({e.strerror or e})"
        raise OSError(e.errno, f"cannot write it: {why}", str(path)) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder entry is on disk too.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def cache_dir() -> Path:
    """Where ganvas keeps prepared datasets and other caches.

    `$GANVAS_CACHE` if set, else `$XDG_CACHE_HOME/ganvas`, else `~/.cache/ganvas`.
    """
    if os.environ.get("GANVAS_CACHE"):
        return Path(os.environ["GANVAS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganvas"


def is_run_folder(path: str | os.PathLike) -> bool:
    """Whether `path` is a `ganvas train` run folder, finished or not: an exported generator, a checkpoint,
    or the config and grids a run writes first. Its grids are samples, never images to train on or score."""
    path = Path(path)
    return path.is_dir() and ((path / "generator.json").is_file() or any((path / "checkpoints").glob("ckpt-*.pt"))
                              or ((path / "config.json").is_file() and (path / "grids").is_dir()))
