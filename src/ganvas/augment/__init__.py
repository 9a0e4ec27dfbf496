"""Differentiable augmentations applied to everything D sees (real and fake), registered by name:
DiffAugment (fixed policy) and ADA (probability p tuned by a controller)."""

from ganvas.augment.ada import AdaptiveAugment, parse_ada_policy
from ganvas.augment.diffaugment import AUGMENTS, DiffAugment, augment_policy

__all__ = ["AUGMENTS", "AdaptiveAugment", "DiffAugment", "augment_policy", "parse_ada_policy"]
