"""The only module that knows file formats.

Training state: `RUN_DIR/checkpoints/ckpt-<nimg>.pt`, a torch file of tensors and plain values only
(loaded with weights_only=True: never pickled code), written atomically and rotated. It holds
everything needed to continue bit-for-bit: G, D, G_ema, both optimizers, nimg, RNG states, counters
and the config.

Exported generator: `generator.safetensors` (the EMA weights) + `generator.json` (format version,
registered model name, constructor arguments, training facts). Small, safe, and rebuildable without
the training code.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import torch

from ganvas.errors import GanvasError, first_sentence
from ganvas.models import Generator, build_generator
from ganvas.utils.files import atomic_write_bytes, atomic_write_text
from ganvas.utils.provenance import fingerprint_bytes

STATE_FORMAT = 1
GENERATOR_FORMAT = 1
_CKPT = re.compile(r"^ckpt-(\d{10})\.pt$")


# Section: training state.

def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT.match(p.name))]
    return [p for _, p in sorted(found)]


def save_state(run_dir: str | os.PathLike, state: dict[str, Any], keep: int = 3) -> Path:
    """Write `state` (must hold 'nimg') atomically, then drop all but the newest `keep` checkpoints."""
    state = {**state, "format_version": STATE_FORMAT}
    path = checkpoint_dir(run_dir) / f"ckpt-{int(state['nimg']):010d}.pt"
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_latest_state(run_dir: str | os.PathLike, log: Callable[[str], None] | None = None,
                      set_aside: bool = False) -> dict[str, Any] | None:
    """The newest readable checkpoint, or None when the run has none.

    A damaged one (a disk fault, a copy cut short) falls back to the one before, and `log` says so; with
    `set_aside` (the process that owns the run folder) it is renamed to `*.pt.damaged`, kept for a look
    but out of the resume path. When every checkpoint is damaged, GanvasError and nothing is changed:
    silently starting over would overwrite the run's generator and history.
    """
    damaged: list[tuple[Path, str]] = []
    for path in reversed(list_checkpoints(run_dir)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a damaged file: try the one before
            damaged.append((path, first_sentence(e, 160)))
            continue
        if state.get("format_version") != STATE_FORMAT:
            raise GanvasError(f"{path} was written by another ganvas version (format "
                              f"{state.get('format_version')}); start a new run folder with --out")
        for bad, reason in damaged:
            aside = bad.with_name(bad.name + ".damaged")
            if set_aside:
                try:
                    bad.replace(aside)
                except OSError:
                    aside = bad  # (a read-only folder: it stays, and is tried and passed over again)
            if log is not None:
                log(f"checkpoint {bad.name} cannot be read ({reason}); it is kept as {aside.name}, and the run "
                    f"goes on from {path.name}")
        state["path"] = str(path)
        return state
    if damaged:
        names = ", ".join(p.name for p, _ in damaged)
        raise GanvasError(f"no checkpoint in {checkpoint_dir(run_dir)} can be read ({names}; the newest: "
                          f"{damaged[0][1]}). Nothing was changed. To start over, train into a new --out "
                          f"folder; to keep trying, restore the files from a backup")
    return None


# Section: exported generator.

def export_generator(run_dir: str | os.PathLike, G: Generator, model: str, facts: dict[str, Any]) -> dict:
    """Write generator.safetensors + generator.json; returns the JSON record."""
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in G.state_dict().items()}
    # One metadata key only: safetensors orders several keys differently from run to run, and the file
    # must be bit-identical for identical weights.
    blob = save(tensors, metadata={"format": f"ganvas-generator/{GENERATOR_FORMAT}"})
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / "generator.safetensors", blob)
    record = {
        "format": "ganvas-generator",
        "format_version": GENERATOR_FORMAT,
        "model": model,
        "kwargs": G.init_kwargs,
        "fingerprint": fingerprint_bytes(blob),
        **facts,
    }
    atomic_write_text(run_dir / "generator.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def _generator_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        return p / "generator.safetensors", p / "generator.json"
    if p.suffix == ".safetensors":
        return p, p.with_suffix(".json")
    if p.suffix == ".json":
        return p.with_suffix(".safetensors"), p
    raise GanvasError(f"{p} is not a run folder or a generator.safetensors file")


def load_generator(path: str | os.PathLike) -> tuple[Generator, dict[str, Any]]:
    """Rebuild an exported generator (eval mode, CPU, float32) and return it with its JSON record."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    if not Path(path).exists():
        raise GanvasError(f"{path} does not exist; pass a run folder made by `ganvas train`")
    weights, meta_path = _generator_paths(path)
    if not weights.is_file() or not meta_path.is_file():
        ckpts = list_checkpoints(weights.parent)
        hint = (" Training has not finished yet: rerun the same `ganvas train` command to resume it."
                if ckpts else " Train one with `ganvas train --data ... --out RUN_DIR`.")
        raise GanvasError(f"no exported generator in {weights.parent} (generator.safetensors + "
                          f"generator.json).{hint}")
    try:
        record = json.loads(meta_path.read_text())
        blob = weights.read_bytes()
        tensors = load(blob)
    except (ValueError, SafetensorError, OSError) as e:
        raise GanvasError(f"cannot read the generator in {weights.parent}: {e}") from None
    if record.get("format") != "ganvas-generator" or record.get("format_version") != GENERATOR_FORMAT:
        raise GanvasError(f"{meta_path} is not a ganvas generator of format {GENERATOR_FORMAT}")
    G = build_generator(record["model"], record["kwargs"])
    try:
        G.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise GanvasError(f"the weights in {weights} do not fit model {record['model']!r}: {e}") from None
    record["fingerprint"] = fingerprint_bytes(blob)  # of the bytes actually loaded
    # channels_last, as training runs: oneDNN's convolutions and torch's bilinear upsampling are much faster
    # in it on CPUs (the style-based 64 px preset generated 2x to 2.7x as fast), and GPUs prefer it too.
    return G.to(memory_format=torch.channels_last).eval().requires_grad_(False), record
