"""Evaluation: feature extractors and metrics on feature arrays (FID, KID, precision/recall,
density/coverage, mode coverage). Layer L3: may import models, data, utils; never train or generate."""
