"""Tests for openrerank.engine.model.calibration: the map, its file format and its errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrerank.engine.model.calibration import FORMAT, Calibration, load_calibration
from openrerank.errors import CalibrationError

PLATT: dict[str, Any] = {
    "format": FORMAT,
    "model": "org/reranker",
    "revision": "abc123",
    "method": "platt",
    "platt": {"slope": 1.7, "intercept": -3.2},
    "fitted_on": {"pairs": 10, "held_out": {"ece": 0.02}},
}
ISOTONIC: dict[str, Any] = {
    "format": FORMAT,
    "model": None,
    "revision": None,
    "method": "isotonic",
    "isotonic": {"x": [-2.0, 0.0, 0.0, 3.0], "y": [0.0, 0.25, 0.5, 1.0]},
    "fitted_on": {},
}

finite = st.floats(-50, 50, allow_nan=False)


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "calibration.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


@pytest.mark.parametrize("data", [PLATT, ISOTONIC], ids=["platt", "isotonic"])
def test_calibration_save_then_load_round_trips(tmp_path: Path, data: dict[str, Any]) -> None:
    original = Calibration.from_dict(data)
    original.save(tmp_path / "c.json")

    loaded = load_calibration(tmp_path / "c.json")

    assert loaded == original
    assert loaded.to_dict() == data
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8")) == data


def test_calibration_fitted_on_is_a_read_only_copy() -> None:
    facts = {"pairs": 3}
    calibration = Calibration("platt", fitted_on=facts)
    facts["pairs"] = 4

    assert calibration.fitted_on["pairs"] == 3
    with pytest.raises(TypeError):
        calibration.fitted_on["pairs"] = 5  # type: ignore[index]


def test_calibration_platt_applies_the_logistic_formula() -> None:
    calibration = Calibration("platt", slope=1.7, intercept=-3.2)
    raw = np.array([-100.0, -2.0, 0.0, 1.8823, 4.0, 100.0], dtype=np.float32)

    expected = [logistic(1.7 * float(r) - 3.2) for r in raw]
    result = calibration.apply(raw)

    assert result.dtype == np.float32 and result.shape == raw.shape
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-30)


def test_calibration_isotonic_interpolates_between_knots_and_clips_beyond_the_ends() -> None:
    calibration = Calibration("isotonic", knots_x=(-1.0, 1.0, 3.0), knots_y=(0.1, 0.5, 0.9))
    raw = np.array([-1e6, -1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 1e6], dtype=np.float32)

    # by hand: 0.1 + (x + 1) / 2 * 0.4 on [-1, 1], 0.5 + (x - 1) / 2 * 0.4 on [1, 3]
    expected = [0.1, 0.1, 0.3, 0.4, 0.5, 0.8, 0.9, 0.9]

    np.testing.assert_allclose(calibration.apply(raw), expected, rtol=1e-6)


def test_calibration_single_knot_is_a_constant_map() -> None:
    calibration = Calibration("isotonic", knots_x=(0.0,), knots_y=(0.3,))
    result = calibration.apply(np.array([-5.0, 0.0, 5.0], dtype=np.float32))
    np.testing.assert_allclose(result, [0.3, 0.3, 0.3], rtol=1e-6)


@given(
    slope=st.floats(0, 20, allow_nan=False),
    intercept=finite,
    raw=st.lists(finite, min_size=2, max_size=50),
)
def test_calibration_platt_is_monotonic_and_bounded(
    slope: float, intercept: float, raw: list[float]
) -> None:
    ordered = np.sort(np.array(raw, dtype=np.float32))
    result = Calibration("platt", slope=slope, intercept=intercept).apply(ordered)
    assert (np.diff(result) >= 0).all()
    assert ((result >= 0) & (result <= 1)).all()


@given(
    knots=st.lists(st.tuples(finite, st.floats(0, 1, allow_nan=False)), min_size=1, max_size=20),
    raw=st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=50),
)
def test_calibration_isotonic_is_monotonic_and_bounded(
    knots: list[tuple[float, float]], raw: list[float]
) -> None:
    xs = tuple(sorted(x for x, _ in knots))
    ys = tuple(sorted(y for _, y in knots))
    ordered = np.sort(np.array(raw, dtype=np.float32))
    result = Calibration("isotonic", knots_x=xs, knots_y=ys).apply(ordered)
    assert (np.diff(result) >= 0).all()
    assert ((result >= min(ys)) & (result <= max(ys))).all()


def test_calibration_check_revision_accepts_the_fitted_revision() -> None:
    Calibration.from_dict(PLATT).check_revision("abc123")


def test_calibration_check_revision_refuses_another_revision() -> None:
    with pytest.raises(CalibrationError, match=r"revision abc123 of org/reranker.*revision def"):
        Calibration.from_dict(PLATT).check_revision("def")


def test_calibration_without_a_revision_accepts_any() -> None:
    Calibration.from_dict(ISOTONIC).check_revision("anything")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "beta"}, "method must be one of"),
        ({"method": "platt", "slope": -0.1}, "slope must be >= 0"),
        ({"method": "platt", "slope": math.nan}, "must be finite"),
        ({"method": "platt", "intercept": math.inf}, "must be finite"),
        ({"method": "isotonic"}, "same, non-zero length"),
        ({"method": "isotonic", "knots_x": (0.0, 1.0), "knots_y": (0.5,)}, "same"),
        ({"method": "isotonic", "knots_x": (1.0, 0.0), "knots_y": (0.1, 0.2)}, "non-decreasing"),
        ({"method": "isotonic", "knots_x": (0.0, 1.0), "knots_y": (0.2, 0.1)}, "non-decreasing"),
        ({"method": "isotonic", "knots_x": (0.0, 1.0), "knots_y": (-0.1, 0.5)}, r"\[0, 1\]"),
        ({"method": "isotonic", "knots_x": (0.0, 1.0), "knots_y": (0.5, 1.5)}, r"\[0, 1\]"),
        ({"method": "isotonic", "knots_x": (0.0, math.inf), "knots_y": (0.1, 0.2)}, "finite"),
    ],
)
def test_calibration_constructor_rejects_invalid_maps(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        Calibration(**kwargs)


MALFORMED: list[tuple[dict[str, Any], str]] = [
    (with_changes(PLATT, format="openrerank-calibration/2"), "not a calibration file"),
    ({k: v for k, v in PLATT.items() if k != "format"}, "not a calibration file"),
    (with_changes(PLATT, method="beta"), "method must be one of"),
    ({k: v for k, v in PLATT.items() if k != "method"}, "method must be one of"),
    ({k: v for k, v in PLATT.items() if k != "platt"}, "missing object 'platt'"),
    (with_changes(PLATT, platt=[1.7, -3.2]), "missing object 'platt'"),
    (with_changes(PLATT, platt={"slope": "1.7", "intercept": 0}), "'slope' must be a number"),
    (with_changes(PLATT, platt={"slope": True, "intercept": 0}), "'slope' must be a number"),
    (with_changes(PLATT, platt={"slope": 1.0}), "'intercept' must be a number"),
    (with_changes(PLATT, platt={"slope": -1.0, "intercept": 0}), "slope must be >= 0"),
    (with_changes(PLATT, model=3), "'model' must be a string or null"),
    (with_changes(PLATT, revision=["abc"]), "'revision' must be a string or null"),
    (with_changes(PLATT, fitted_on="yesterday"), "'fitted_on' must be an object or null"),
    (with_changes(PLATT, fitted_on=[["pairs", 3]]), "'fitted_on' must be an object or null"),
    ({k: v for k, v in ISOTONIC.items() if k != "isotonic"}, "missing object 'isotonic'"),
    (with_changes(ISOTONIC, isotonic={"x": 1.0, "y": [0.5]}), "'x' must be a list of numbers"),
    (with_changes(ISOTONIC, isotonic={"x": [1.0], "y": ["a"]}), "'y' must be a number"),
    (with_changes(ISOTONIC, isotonic={"x": [], "y": []}), "non-zero length"),
    (with_changes(ISOTONIC, isotonic={"x": [0, 1], "y": [0.5]}), "same, non-zero length"),
    (with_changes(ISOTONIC, isotonic={"x": [1, 0], "y": [0, 1]}), "non-decreasing"),
    (with_changes(ISOTONIC, isotonic={"x": [0, 1], "y": [1, 0]}), "non-decreasing"),
    (with_changes(ISOTONIC, isotonic={"x": [0, 1], "y": [0, 2]}), r"\[0, 1\]"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED)
def test_load_calibration_reports_malformed_fields_with_the_path(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, json.dumps(data))
    with pytest.raises(CalibrationError, match=message) as caught:
        load_calibration(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_load_calibration_rejects_non_finite_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(PLATT).replace("1.7", "NaN"))
    with pytest.raises(CalibrationError, match="must be finite"):
        load_calibration(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "calibration file is not JSON"),
        (b"\xff\xfe\x00garbage", "calibration file is not JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ("null", "must hold a JSON object"),
    ],
)
def test_load_calibration_rejects_files_that_are_not_json_objects(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(CalibrationError, match=message) as caught:
        load_calibration(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_load_calibration_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(CalibrationError, match="cannot read calibration file") as caught:
        load_calibration(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_load_calibration_reports_a_directory(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="cannot read calibration file"):
        load_calibration(tmp_path)


def test_calibration_error_is_a_value_error() -> None:
    assert issubclass(CalibrationError, ValueError)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    knots=st.lists(
        st.tuples(st.integers(-400, 400), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=20
    ),
    raw=st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=50),
)
def test_calibration_isotonic_is_numpys_interpolation(
    knots: list[tuple[int, float]], raw: list[float]
) -> None:
    """On knots a normal distance apart (ties included), the curve is np.interp's."""
    xs = tuple(sorted(x / 8 for x, _ in knots))
    ys = tuple(sorted(y for _, y in knots))
    values = np.array(raw, dtype=np.float32)
    expected = np.interp(values.astype(np.float64), xs, ys)
    if len(set(xs)) < len(xs):  # np.interp's value exactly at a tied x is its own choice
        values = values[~np.isin(values.astype(np.float64), xs)]
        expected = np.interp(values.astype(np.float64), xs, ys)
    result = Calibration("isotonic", knots_x=xs, knots_y=ys).apply(values)
    np.testing.assert_allclose(result, expected.astype(np.float32), rtol=0, atol=1e-6)
