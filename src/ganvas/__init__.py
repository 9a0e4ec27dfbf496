"""ganvas: train GANs on your art and create new works, offline.

>>> import ganvas
>>> G = ganvas.load("runs/emoji")                # doctest: +SKIP
>>> images = G.generate(seeds=[1, 2, 3])          # doctest: +SKIP

Importing ganvas is cheap: torch and everything else load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "__version__"]


def load(run_dir, device: str = "cpu", precision: str = "fp32"):
    """Load the exported generator of a run folder (or a `generator.safetensors` path).

    Returns a `ganvas.generate.GeneratorHandle` with `.generate(seeds=[...])` returning PIL images.
    `precision="bf16"` (or "auto") generates about twice as fast on CPUs with AVX512-BF16/AMX.
    On Linux, `ganvas.utils.malloc.reuse_freed_memory()` (what the `ganvas` command does at start-up)
    makes CPU generation about 1.2x as fast; it changes the whole process's allocator, so loading does
    not call it for you.
    """
    from ganvas.generate.api import load as _load

    return _load(run_dir, device=device, precision=precision)
