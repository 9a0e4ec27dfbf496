"""Datasets: image folders, the built-in emoji set, 2-D toy sets, and deterministic samplers."""
