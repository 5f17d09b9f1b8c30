import numpy as np
import pytest

from sitewatch.change.metrics import score_binary


def test_scores_from_known_confusion() -> None:
    truth = np.array([[1, 1, 0, 0], [0, 0, 0, 255]], np.uint8)
    pred = np.array([[1, 0, 1, 0], [0, 0, 0, 1]], np.uint8)
    s = score_binary(pred, truth)
    assert (s.tp, s.fp, s.fn, s.tn) == (1, 1, 1, 4)  # the 255 truth pixel is not scored
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.5)
    assert s.f1 == pytest.approx(0.5)
    assert s.iou == pytest.approx(1 / 3)
    # kappa: po = 5/7, pe = (2*2 + 5*5) / 49
    assert s.kappa == pytest.approx((5 / 7 - 29 / 49) / (1 - 29 / 49))


def test_calling_everything_change_has_zero_kappa() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((50, 50)) < 0.2).astype(np.uint8)
    s = score_binary(np.ones_like(truth), truth)
    assert s.recall == 1.0
    assert s.kappa == pytest.approx(0.0)


def test_not_judged_counts_as_not_flagged() -> None:
    truth = np.array([[1, 0]], np.uint8)
    s = score_binary(np.array([[255, 255]], np.uint8), truth)
    assert (s.tp, s.fn, s.tn) == (0, 1, 1)


def test_no_change_anywhere_predicted_nowhere_is_perfect() -> None:
    z = np.zeros((4, 4), np.uint8)
    s = score_binary(z, z)
    assert s.f1 == 1.0 and s.kappa == 1.0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        score_binary(np.zeros((2, 2), np.uint8), np.zeros((3, 2), np.uint8))
