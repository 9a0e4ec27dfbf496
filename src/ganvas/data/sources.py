"""One entry point from a DataConfig to a dataset: a folder, the built-in emoji set, or a 2-D toy set."""

from __future__ import annotations

from ganvas.config import DataConfig, POINT_SOURCES
from ganvas.data.dataset import ImageDataset
from ganvas.data.toy import PointDistribution, load_toy
from ganvas.errors import ConfigError

_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128)}


def parse_colour(text: str) -> tuple[int, int, int]:
    """'white' | 'black' | 'grey' | '#rrggbb' -> an RGB triple."""
    t = text.strip().lower()
    if t in _COLOURS:
        return _COLOURS[t]
    h = t.lstrip("#")
    if len(h) == 6:
        try:
            return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
        except ValueError:
            pass
    raise ConfigError(f"background {text!r} is not a colour: use white, black, grey or #rrggbb")


def load_data(cfg: DataConfig, progress: bool = True) -> ImageDataset | PointDistribution:
    if cfg.source in POINT_SOURCES:
        return load_toy(cfg.source)
    if cfg.source == "emoji":
        from ganvas.data.emoji import load_emoji

        return load_emoji(cfg.resolution)
    from ganvas.data.folder import load_folder

    return load_folder(cfg.source, resolution=cfg.resolution, fit=cfg.fit,
                       background=parse_colour(cfg.background), labels=cfg.labels, progress=progress)
