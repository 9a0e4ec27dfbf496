"""Training statistics: running means, `stats.jsonl`, TensorBoard scalars, and the loss plot.

Names follow `Group/Net/what` (e.g. `Loss/D/adv`, `Timing/sec_per_kimg`). Each line of stats.jsonl is
one JSON object with `nimg` and `kimg`; events (a skipped non-finite step) carry an `event` field.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import torch

from ganvas.utils.files import atomic_write_text
from ganvas.utils.provenance import new_figure, provenance, save_figure


class StepLog:
    """What the training steps report (applied or skipped, loss and score means), held on the device
    until `drain`.

    Reading a GPU value makes the host wait for every kernel queued before it, which empties the GPU's
    queue: a loop that read its losses after every step would leave the GPU idle while the host launches
    the next one. The loop drains this log every few steps, and before anything that needs the figures (a
    stats line, a checkpoint, the end of the run), with one read for all of them.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[int, str, list[str | None], dict[str, float], torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, nimg: int, net: str, applied: torch.Tensor, values: torch.Tensor, names: list[str | None],
            host: dict[str, float] | None = None) -> None:
        """One step of `net` at stream position nimg: `applied` (0-d bool) and the 1-d `values`, named by
        `names` (None: not logged); `host` holds figures the host knows already."""
        vec = torch.cat([applied.reshape(1).to(values.dtype), values])  # (no indexing: that would copy an index)
        self._rows.append((nimg, net, list(names), dict(host or {}), vec))

    def drain(self) -> list[tuple[int, str, bool, dict[str, float]]]:
        """The steps logged since the last drain, in order: (nimg, net, applied, {name: value})."""
        if not self._rows:
            return []
        flat = torch.cat([row[-1].to(torch.float64) for row in self._rows]).tolist()  # the one wait for the device
        out, i = [], 0
        for nimg, net, names, host, _ in self._rows:
            values = {n: v for n, v in zip(names, flat[i + 1: i + 1 + len(names)]) if n is not None}
            out.append((nimg, net, flat[i] == 1.0, {**values, **host}))
            i += 1 + len(names)
        self._rows.clear()
        return out


class Stats:
    """Accumulates scalars between flushes and writes them out."""

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True, enabled: bool = True):
        self.path = Path(run_dir) / "stats.jsonl"
        self.enabled = enabled  # False on all but the main process of a multi-process run: nothing is written
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self._tb = None
        if tensorboard and enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # optional: the run goes on without it
                self._tb = None

    def add(self, name: str, value: float) -> None:
        self._sums[name] += float(value)
        self._counts[name] += 1

    def means(self) -> dict[str, float]:
        return {k: self._sums[k] / self._counts[k] for k in self._sums if self._counts[k]}

    def flush(self, nimg: int, extra: dict[str, float] | None = None) -> dict[str, float]:
        row = {**self.means(), **(extra or {})}
        self._write({"nimg": nimg, "kimg": round(nimg / 1000, 3), **row})
        if self._tb is not None:
            for k, v in row.items():
                if math.isfinite(v):
                    self._tb.add_scalar(k, v, global_step=nimg)
            self._tb.flush()
        self._sums.clear()
        self._counts.clear()
        return row

    def event(self, nimg: int, event: str, **fields: object) -> None:
        self._write({"nimg": nimg, "kimg": round(nimg / 1000, 3), "event": event, **fields})

    def _write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def truncate_after(self, nimg: int) -> None:
        """On resume, drop lines written after the checkpoint we resume from (they will be redone)."""
        if not self.enabled:
            return
        truncate_jsonl(self.path, nimg)
        truncate_jsonl(self.path.with_name("metrics.jsonl"), nimg)

    def scalars(self, nimg: int, values: dict[str, float]) -> None:
        """Extra TensorBoard scalars (e.g. metrics), outside the running means."""
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, global_step=nimg)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def truncate_jsonl(path: Path, nimg: int) -> None:
    rows = read_stats(path)
    kept = [r for r in rows if r.get("nimg", 0) <= nimg]
    if len(kept) != len(rows):
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def plot_series(path: str | os.PathLike, out_path: str | os.PathLike, keys: list[str], title: str,
                ylabel: str = "", markers: bool = True, kind: str = "metrics plot") -> Path | None:
    """Plot the given keys of a jsonl file against kimg into a stamped PNG; None when there is nothing."""
    rows = [r for r in read_stats(path) if "event" not in r]
    series = {k: [(r["kimg"], r[k]) for r in rows if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
              for k in keys}
    series = {k: pts for k, pts in series.items() if pts}
    if not series:
        return None
    fig, ax = new_figure(7, 4)
    for key, pts in series.items():
        ax.plot(*zip(*pts), marker="o" if markers else None, label=key, linewidth=1.2)
    ax.set_xlabel("kimg (thousands of real images shown to D)")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    return save_figure(fig, out_path, provenance(kind=kind))


def read_stats(path: str | os.PathLike) -> list[dict]:
    """Rows of a stats.jsonl; a torn last line (killed mid-write) is ignored."""
    rows = []
    p = Path(path)
    if not p.exists():
        return rows
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def plot_losses(stats_path: str | os.PathLike, out_path: str | os.PathLike) -> Path | None:
    """Plot every Loss/* series against kimg into a PNG; None when there is nothing to plot."""
    names = sorted({k for r in read_stats(stats_path) for k in r if k.startswith("Loss/")})
    return plot_series(stats_path, out_path, names, "ganvas training losses", ylabel="loss", markers=False,
                       kind="loss plot")
