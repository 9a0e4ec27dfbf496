"""The metric registry: name -> function on feature arrays.

Every metric is `fn(real_feats [N, d], gen_feats [M, d], *, seed=0) -> dict[str, float]`: pure math in
float64, no model and no device, so the CLI, the trainer and the studio share one implementation.

>>> import numpy as np
>>> from ganvas.metrics.registry import METRICS
>>> METRICS.names()
['dc', 'fid', 'kid', 'pr']
>>> rng = np.random.default_rng(0)
>>> sorted(METRICS.get("pr")(rng.normal(size=(50, 4)), rng.normal(size=(50, 4))))
['precision', 'recall']
"""

from __future__ import annotations

from ganvas.metrics import fid, kid, prdc
from ganvas.registry import Registry

METRICS = Registry("metric")

METRICS.register("fid", help="Fréchet distance of Gaussian fits, N-1 covariance (Heusel et al. 2017)")(fid.fid)
METRICS.register("kid", help="unbiased MMD^2, cubic kernel, 100 subsets (Bińkowski et al. 2018)")(kid.kid)
METRICS.register("pr", help="improved precision/recall, k=3 (Kynkäänniemi et al. 2019)")(prdc.precision_recall)
METRICS.register("dc", help="density/coverage, k=5 (Naeem et al. 2020)")(prdc.density_coverage)
