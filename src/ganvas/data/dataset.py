"""In-memory datasets and their contract with the rest of ganvas.

Images are uint8 [N, 3, H, W] (see STYLE: pixels). Labels are int64 [N] indices into `label_names`,
or None for an unlabelled set.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SkippedFile:
    """A file that looked like an image but could not be used, with the reason in plain words."""

    path: str
    reason: str


@dataclass
class ImageDataset:
    """A prepared image set: square RGB uint8 images at one resolution."""

    images: np.ndarray  # [N, 3, H, W] uint8
    labels: np.ndarray | None  # [N] int64, or None
    label_names: list[str]
    name: str  # "emoji", or the folder path
    fingerprint: str  # identifies source files + preparation settings
    skipped: list[SkippedFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 [N, 3, H, W], got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")

    def __len__(self) -> int:
        return len(self.images)

    def skipped_note(self, shown: int = 3) -> str | None:
        """What was left out of this set and why, for the user (None when nothing was)."""
        return skipped_note(self.name, self.skipped, shown)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.label_names) if self.labels is not None else 0


def skipped_note(name: str, skipped: list[SkippedFile], shown: int = 3) -> str | None:
    """A few lines naming the first `shown` skipped files of the folder `name` with their reasons, and
    the command that lists the rest; None when no file was skipped."""
    if not skipped:
        return None
    n = len(skipped)
    lines = [f"skipped {n} unusable file{'s' if n != 1 else ''} in {name}:"]
    lines += [f"  {s.path}: {s.reason}" for s in skipped[:shown]]
    if n > shown:
        lines.append(f"  ... and {n - shown} more: `ganvas data inspect {shlex.quote(name)}` lists every file "
                     f"and its reason")
    return "\n".join(lines)
