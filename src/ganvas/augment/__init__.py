"""Differentiable augmentations applied to everything D sees (real and fake), registered by name."""

from ganvas.augment.diffaugment import AUGMENTS, DiffAugment, augment_policy

__all__ = ["AUGMENTS", "DiffAugment", "augment_policy"]
