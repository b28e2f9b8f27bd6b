"""Calibration of classifier scores: expected calibration error and temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest

from posebeam.models.metrics import expected_calibration_error, fit_temperature, with_temperature


def test_expected_calibration_error_golden_values() -> None:
    # Two bins: confidence 0.9 (4 clips, 3 right: gap 0.15) and 0.6 (2 clips, 2 right: gap 0.4).
    probabilities = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx((4 * 0.15 + 2 * 0.4) / 6)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == 0.0


def test_temperature_one_changes_nothing_and_others_keep_the_ranking() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert with_temperature(p, 1.0) is p
    hot, cold = with_temperature(p, 3.0), with_temperature(p, 0.5)
    np.testing.assert_allclose(hot.sum(axis=1), 1.0)
    assert (hot.argmax(axis=1) == p.argmax(axis=1)).all() and (cold.argmax(axis=1) == p.argmax(axis=1)).all()
    assert (hot.max(axis=1) < p.max(axis=1)).all() and (cold.max(axis=1) > p.max(axis=1)).all()
    np.testing.assert_allclose(with_temperature(with_temperature(p, 2.0), 0.5), p, atol=1e-9)


def test_fitting_the_temperature_undoes_overconfidence() -> None:
    """Labels drawn from calibrated scores, shown sharpened as by T = 1/3: the fit finds T ≈ 3 and
    the calibration error falls."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (4000, 5))
    calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in calibrated])
    overconfident = with_temperature(calibrated, 1 / 3)
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(overconfident, labels)
    after = expected_calibration_error(with_temperature(overconfident, temperature), labels)
    assert before > 0.2 and after < 0.04
