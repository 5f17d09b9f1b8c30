"""Agreement of a change mask with ground truth: precision, recall, F1, IoU, kappa."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

IGNORE = 255


@dataclass(frozen=True)
class BinaryScores:
    """Confusion counts over scored pixels and the usual scores of the change class.

    F1, precision and recall follow the convention that a pair with no true and no
    predicted change scores 1 (a perfect "nothing happened"); kappa is 1 there too.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        d = self.tp + self.fp
        return self.tp / d if d else float(self.fn == 0)

    @property
    def recall(self) -> float:
        d = self.tp + self.fn
        return self.tp / d if d else float(self.fp == 0)

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 1.0

    @property
    def iou(self) -> float:
        d = self.tp + self.fp + self.fn
        return self.tp / d if d else 1.0

    @property
    def kappa(self) -> float:
        n = self.n
        if n == 0:
            return float("nan")
        po = (self.tp + self.tn) / n
        pe = (
            (self.tp + self.fp) * (self.tp + self.fn) + (self.fn + self.tn) * (self.fp + self.tn)
        ) / (n * n)
        return (po - pe) / (1 - pe) if pe < 1 else 1.0

    def as_dict(self) -> dict[str, float]:
        d: dict[str, float] = {k: float(v) for k, v in asdict(self).items()}
        for k in ("precision", "recall", "f1", "iou", "kappa"):
            d[k] = float(getattr(self, k))
        return d


def score_binary(predicted: np.ndarray, truth: np.ndarray) -> BinaryScores:
    """Score a predicted mask against truth.

    Parameters
    ----------
    predicted
        ``(h, w)``: 1 change, 0 no change, 255 not judged (counted as no change:
        an unjudged pixel is a pixel the method did not flag).
    truth
        ``(h, w)``: 1 change, 0 no change, 255 ignored.
    """
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted {predicted.shape} and truth {truth.shape} differ in shape")
    scored = truth != IGNORE
    p = (predicted == 1) & scored
    t = (truth == 1) & scored
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    tn = int(np.count_nonzero(scored)) - tp - fp - fn
    return BinaryScores(tp, fp, fn, tn)
