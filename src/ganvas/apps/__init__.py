"""Applications built on the engines: benchmarks, and later inversion, inpainting, super-resolution."""
