"""Training engine: the loop, the generator EMA, stats and snapshots. Never imports ganvas.generate."""

from ganvas.train.loop import TrainResult, train

__all__ = ["train", "TrainResult"]
