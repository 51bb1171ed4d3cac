"""Pose metrics: MAE per angle, and by band of true |yaw|."""

from __future__ import annotations

import numpy as np
import pytest

from headpose.training.engine.evaluate import score
from headpose.training.engine.metrics import YAW_BANDS, mae_by_yaw_band

ANGLES = ("yaw", "pitch", "roll")


def test_mae_by_yaw_band_groups_rows_by_true_yaw() -> None:
    target = np.array([[10, 0, 0], [-20, 0, 0], [45, 0, 0], [-80, 5, np.nan], [120, 0, 0]], float)
    pred = target + np.array([[1, 0, 0], [3, 0, 0], [-5, 2, 2], [4, 1, 0], [9, 9, 9]], float)
    bands = mae_by_yaw_band(pred, np.nan_to_num(target, nan=np.nan), ANGLES)
    assert list(bands) == ["0-30", "30-60", "75-99"]  # 60-75 empty; |yaw| 120 in no band
    assert bands["0-30"]["n"] == 2 and bands["0-30"]["yaw"] == 2.0
    assert bands["30-60"]["yaw"] == 5.0 and bands["30-60"]["pitch"] == 2.0
    assert bands["75-99"]["roll"] != bands["75-99"]["roll"]  # NaN: no roll label there
    assert YAW_BANDS[0] == (0.0, 30.0)


def test_evaluation_reports_the_bands() -> None:
    target = np.array([[10.0, 0, 0], [50.0, 0, 0]])
    result = score(target + 1.0, target)
    out = result.to_json()
    assert out["by_yaw"]["0-30"]["mean"] == 1.0 and out["by_yaw"]["30-60"]["n"] == 1
    assert "true |yaw| 30-60" in result.table()


def test_geodesic_error_is_the_rotation_between_poses() -> None:
    from headpose.training.engine.metrics import geodesic_error

    target = np.array(
        [[0.0, 0.0, 0.0], [30.0, 10.0, -5.0], [89.0, 40.0, 10.0], [10.0, np.nan, 0.0]]
    )
    pred = target + np.array([[20.0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    err = geodesic_error(pred, target)
    assert err[0] == pytest.approx(20.0) and err[1] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(err[3])  # a missing angle: no rotation to compare
    # at yaw 90 only roll - pitch is defined: (90, 40, 10) and (90, 30, 0) are one pose, 6.7 deg
    # apart in Euler MAE and 0 as a rotation
    assert geodesic_error(np.array([[90.0, 30.0, 0.0]]), np.array([[90.0, 40.0, 10.0]]))[
        0
    ] == pytest.approx(0.0, abs=1e-4)
    result = score(pred, target)
    assert result.geodesic["all"] == pytest.approx(20.0 / 3, abs=1e-6)
    assert "geodesic error" in result.table() and "geodesic" in result.to_json()
