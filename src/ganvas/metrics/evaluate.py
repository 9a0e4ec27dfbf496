"""Score a generator (or a folder of images) against a data set: one implementation for the CLI, the
trainer and the studio.

Real-image features are cached in `cache_dir()/features/`, keyed by the data set's fingerprint, the
extractor, the resolution and the count, so re-evaluating never touches the real images again.
Generated images come from seeds 0 .. num-1 (class = seed % classes for conditional models).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ganvas.checkpoint import load_generator
from ganvas.config import DataConfig
from ganvas.data.dataset import ImageDataset, SkippedFile
from ganvas.data.sources import load_data
from ganvas.errors import ConfigError, DataError
from ganvas.metrics.features import DEFAULT_EXTRACTOR, FeatureExtractor, build_extractor, extract
from ganvas.metrics.registry import METRICS
from ganvas.models.base import Generator, synthesize
from ganvas.utils.files import atomic_open, cache_dir, is_run_folder
from ganvas.utils.image import float_to_uint8
from ganvas.utils.dist import World, all_gather_object
from ganvas.utils.seeding import latents_from_seeds

RESIZE_NOTE = "bicubic with antialiasing on float values to the extractor's input size, no re-quantisation"


def default_metrics(num: int) -> list[str]:
    """KID is the default under 2,000 images, where FID's covariance is too rank-deficient to trust."""
    return ["kid"] if num < 2000 else ["fid", "kid"]


def evaluate(source: str | os.PathLike, ref: str, metrics: list[str] | None = None, num: int = 1000,
             extractor: str = DEFAULT_EXTRACTOR, weights: str | None = None, resolution: int | None = None,
             seed: int = 0, batch_size: int = 64, progress: bool = True) -> dict:
    """Score `source` (a run folder or an image folder) against the data set `ref` (a folder or built-in)."""
    if num < 2:
        raise ConfigError("--num must be at least 2")
    metrics = metrics or default_metrics(num)
    fns = {m: METRICS.get(m) for m in metrics}  # unknown names fail before any work
    ext = build_extractor(extractor, weights=weights)
    source = Path(source)
    # A run folder is scored by its generator, or refused with how to finish it: its grids are not samples.
    is_run = is_run_folder(source) or source.suffix in (".safetensors", ".json")
    if is_run:
        G, record = load_generator(source)
        if record.get("kind") != "image":
            raise ConfigError(f"{source} makes 2-D points; use `ganvas bench modes` for those")
        res = int(record["resolution"])
    else:
        res = resolution or 64
    # The reference first: a wrong --ref fails at once, not after minutes of generating.
    real, n_real_total, ref_skipped = real_features(ref, res, ext, num, seed=seed, batch_size=batch_size,
                                                    progress=progress)
    source_skipped: list = []
    if is_run:
        gen = extract(ext, _generated_batches(G, num, batch_size), batch_size=batch_size, progress=progress)
        gen_name = f"generator {record['fingerprint']}"
    else:
        gen_data = load_data(DataConfig(source=str(source), resolution=res), progress=progress)
        source_skipped = gen_data.skipped
        gen = extract(ext, _subset(gen_data, num, seed), batch_size=batch_size, progress=progress)
        gen_name = str(source)
    result: dict = {}
    for name, fn in fns.items():
        result.update(fn(real, gen, seed=seed))
    result.update({"extractor": ext.name, "label": ext.label, "num": len(gen), "num_real": len(real),
                   "real_available": n_real_total, "resolution": res, "ref": ref, "source": gen_name,
                   "resize": RESIZE_NOTE,
                   # Unusable files left out of either set (each with the reason), so a score is never
                   # silently computed on fewer images than the folder holds.
                   "ref_skipped": [dataclasses.asdict(s) for s in ref_skipped],
                   "source_skipped": [dataclasses.asdict(s) for s in source_skipped]})
    return result


LEAK_SPACES = "pixels,effnet-lite0"


def check_leak(run: str | os.PathLike, ref: str, num: int = 500, extractor: str = LEAK_SPACES,
               weights: str | None = None, seed: int = 0, batch_size: int = 64, progress: bool = True) -> dict:
    """Augmentation leak check (`ganvas.metrics.leak`) of a run's generator against the data set `ref`, in
    each feature space of the comma list `extractor`, combined into one verdict (`combine_leak_reports`).
    Cutout is tested on pixels, once."""
    from ganvas.metrics.leak import LEAK_TRANSFORMS, combine_leak_reports, leak_check

    if num < 4:
        raise ConfigError("--num must be at least 4")
    names = [e.strip() for e in str(extractor).split(",") if e.strip()]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--extractor {extractor!r}: give one or more different feature extractors, e.g. "
                          f"{LEAK_SPACES}")
    extractors = [build_extractor(n, weights=None if n == "pixels" else weights) for n in names]  # bad names first
    G, record = load_generator(run)
    if record.get("kind") != "image":
        raise ConfigError(f"{run} makes 2-D points; the leak check is for images")
    res = int(record["resolution"])
    data = load_data(DataConfig(source=ref, resolution=res), progress=progress)  # a wrong --ref fails first
    if not isinstance(data, ImageDataset):
        raise DataError(f"--ref {ref} is 2-D point data, not images")
    gen = np.concatenate([b.numpy() for b in _generated_batches(G, num, batch_size)])
    real = _subset(data, max(num, 4), seed)
    reports = {}
    for i, fx in enumerate(extractors):
        transforms = [t for t in LEAK_TRANSFORMS if i == 0 or t != "cutout"]
        reports[fx.feature_name or fx.name] = leak_check(real, gen, fx, transforms=transforms, seed=seed,
                                                         batch_size=batch_size, progress=progress)
    return {**combine_leak_reports(reports), "source": f"generator {record['fingerprint']}", "ref": ref,
            "resolution": res}


class TrainingEvaluator:
    """Scores the EMA generator during training against the training data; the loop owns the cadence.

    The extractor is built and the real features are computed (or read from the cache) on first use.
    Evaluation draws nothing from the training RNG streams, so resumed runs stay bit-identical.
    """

    def __init__(self, data_cfg: DataConfig, metrics: list[str], num: int, extractor: str, world: World = World()):
        self.data_cfg, self.num, self.extractor_name, self.world = data_cfg, num, extractor, world
        self.fns = {m: METRICS.get(m) for m in metrics}
        self._ext: FeatureExtractor | None = None
        self._real: np.ndarray | None = None

    def __call__(self, G: Generator) -> dict:
        """Scores of G. In a multi-process run every process calls this: process r renders and extracts
        seeds r, r + W, ..., and the features are gathered, so the work is split W ways."""
        if self._ext is None:
            self._ext = build_extractor(self.extractor_name, device=next(G.parameters()).device)
            self._real, _, _ = real_features(self.data_cfg, self.data_cfg.resolution, self._ext, self.num,
                                             progress=False)
        seeds = list(range(self.world.rank, self.num, self.world.size))
        gen = extract(self._ext, _generated_batches(G, self.num, 64, seeds), batch_size=64, progress=False)
        if self.world.size > 1:
            parts = all_gather_object(gen, self.world)  # part r holds seeds r, r + W, ...
            gen = np.empty((self.num, parts[0].shape[1]), dtype=parts[0].dtype)
            for r, part in enumerate(parts):
                gen[r::self.world.size] = part
        out: dict = {}
        for fn in self.fns.values():
            out.update(fn(self._real, gen))
        return out

    @property
    def label(self) -> str:
        return self._ext.label if self._ext is not None else self.extractor_name


def _subset(data: ImageDataset, num: int, seed: int) -> np.ndarray:
    """The first `num` images of a seeded permutation (all of them when there are fewer)."""
    if len(data) <= num:
        return data.images
    idx = np.sort(np.random.default_rng(seed).permutation(len(data))[:num])
    return data.images[idx]


def _generated_batches(G: Generator, num: int, batch_size: int,
                       all_seeds: list[int] | None = None) -> Iterator[torch.Tensor]:
    """uint8 images of seeds 0 .. num-1 (or of `all_seeds`); seed s gets class s % c_dim."""
    all_seeds = list(range(num)) if all_seeds is None else all_seeds
    for i in range(0, len(all_seeds), batch_size):
        seeds = all_seeds[i: i + batch_size]
        c = None
        if G.c_dim:
            c = torch.nn.functional.one_hot(torch.tensor(seeds) % G.c_dim, G.c_dim).float()
        yield float_to_uint8(synthesize(G, latents_from_seeds(seeds, G.z_dim), c, batch_size=batch_size))


def real_features(ref: str | DataConfig, resolution: int, ext: FeatureExtractor, num: int, seed: int = 0,
                  batch_size: int = 64, progress: bool = True) -> tuple[np.ndarray, int, list[SkippedFile]]:
    """Features of up to `num` real images of `ref` (a data source, or a training run's DataConfig, whose
    fit and background then apply) at `resolution`, from the cache when possible; with the number of
    usable images and the files skipped as unusable."""
    data_cfg = ref if isinstance(ref, DataConfig) else DataConfig(source=ref)
    data_cfg = dataclasses.replace(data_cfg, resolution=resolution, labels="none")
    ref = data_cfg.source
    data = load_data(data_cfg, progress=progress)
    if not isinstance(data, ImageDataset):
        raise DataError(f"--ref {ref} is 2-D point data, not images")
    key = hashlib.sha256(json.dumps({"data": data.fingerprint, "extractor": ext.name, "label": ext.label,
                                     "resolution": resolution, "num": num, "seed": seed, "v": 1},
                                    sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir() / "features" / f"{key}.npy"
    if path.is_file():
        try:
            feats = np.load(path, allow_pickle=False)
            if feats.ndim == 2 and feats.shape[1] == ext.dim:
                return feats, len(data), data.skipped
        except (OSError, ValueError):
            pass  # a damaged cache file: recompute
    feats = extract(ext, _subset(data, num, seed), batch_size=batch_size, progress=progress)
    try:
        with atomic_open(path, "wb") as f:
            np.save(f, feats, allow_pickle=False)
    except OSError:
        pass  # a read-only cache only costs time
    return feats, len(data), data.skipped
