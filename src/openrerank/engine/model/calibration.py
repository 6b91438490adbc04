"""Calibrated scores: a fitted monotonic map from a model's raw logit to P(relevant).

``openrerank calibrate`` fits the map on judged candidate lists and writes it as a small
JSON file; an operator hands that file to the server (or the library) per model, and
``relevance_score`` becomes the calibrated probability. Applying it needs numpy only.

The file (``format`` ``openrerank-calibration/1``)::

    {"format": "openrerank-calibration/1",
     "model": "openrerank/minilm-l6-scifact-ce", "revision": "c2266605...",
     "method": "platt", "platt": {"slope": 1.7, "intercept": -3.2},
     "fitted_on": {...free-form facts about the fit...}}

    {..., "method": "isotonic", "isotonic": {"x": [-4.1, ..., 3.0], "y": [0.002, ..., 0.91]}}

The input is the model's raw score (:func:`~openrerank.engine.model.activation.raw_logit`:
the single logit, or the positive class's log-odds for two-logit models) after windows
are aggregated. Platt: ``sigmoid(slope * raw + intercept)``. Isotonic: linear
interpolation between the knots, constant beyond the first and last knot.

Example:
    >>> import numpy as np
    >>> c = Calibration("platt", slope=2.0, intercept=0.0)
    >>> c.apply(np.array([0.0], dtype=np.float32)).tolist()
    [0.5]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from openrerank.engine.model.activation import sigmoid
from openrerank.errors import CalibrationError
from openrerank.types import FloatArray

CalibrationMethod = Literal["platt", "isotonic"]
CALIBRATION_METHODS: tuple[CalibrationMethod, ...] = get_args(CalibrationMethod)
FORMAT = "openrerank-calibration/1"


@dataclass(frozen=True)
class Calibration:
    """A monotonic non-decreasing map from raw logit to a probability in [0, 1].

    Attributes:
        method: ``platt`` (logistic in the logit) or ``isotonic`` (piecewise linear).
        slope: Platt's slope; must be >= 0 so the map never reverses the ranking.
        intercept: Platt's intercept.
        knots_x: isotonic knots' logits, non-decreasing.
        knots_y: isotonic knots' probabilities, non-decreasing, in [0, 1].
        model: the model the map was fitted for (informational).
        revision: the model revision it was fitted on; a service refuses to apply the map
            to another revision.
        fitted_on: facts about the fit (data set, queries, pairs, held-out reliability).
    """

    method: CalibrationMethod
    slope: float = 1.0
    intercept: float = 0.0
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    model: str | None = None
    revision: str | None = None
    fitted_on: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise CalibrationError(
                f"method must be one of {CALIBRATION_METHODS}, got {self.method!r}"
            )
        if self.method == "platt":
            _check_platt(self.slope, self.intercept)
        else:
            _check_knots(self.knots_x, self.knots_y)
        object.__setattr__(self, "fitted_on", MappingProxyType(dict(self.fitted_on)))

    def apply(self, raw: FloatArray) -> FloatArray:
        """Map raw logits to calibrated probabilities (float32, same shape)."""
        wide = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            mapped = sigmoid(self.slope * wide + self.intercept)
        else:
            mapped = _interpolate(wide, self.knots_x, self.knots_y)
        result: FloatArray = np.clip(mapped, 0.0, 1.0).astype(np.float32)
        return result

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to a calibration file."""
        data: dict[str, Any] = {"format": FORMAT, "model": self.model, "revision": self.revision}
        data["method"] = self.method
        if self.method == "platt":
            data["platt"] = {"slope": self.slope, "intercept": self.intercept}
        else:
            data["isotonic"] = {"x": list(self.knots_x), "y": list(self.knots_y)}
        data["fitted_on"] = dict(self.fitted_on)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Read the JSON object of a calibration file.

        Raises:
            CalibrationError: a wrong format tag, a missing or malformed field.
        """
        if data.get("format") != FORMAT:
            raise CalibrationError(f"not a calibration file (format must be {FORMAT!r})")
        method = data.get("method")
        common: dict[str, Any] = {
            "model": _optional_str(data, "model"),
            "revision": _optional_str(data, "revision"),
            "fitted_on": _optional_object(data, "fitted_on"),
        }
        if method == "platt":
            params = _section(data, "platt")
            slope, intercept = _number(params, "slope"), _number(params, "intercept")
            return cls("platt", slope=slope, intercept=intercept, **common)
        if method == "isotonic":
            params = _section(data, "isotonic")
            xs, ys = _numbers(params, "x"), _numbers(params, "y")
            return cls("isotonic", knots_x=xs, knots_y=ys, **common)
        raise CalibrationError(f"method must be one of {CALIBRATION_METHODS}, got {method!r}")

    def save(self, path: Path) -> None:
        """Write the calibration as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def check_revision(self, revision: str) -> None:
        """Refuse a model revision other than the one the map was fitted on.

        Raises:
            CalibrationError: the recorded revision differs from ``revision``.
        """
        if self.revision is not None and self.revision != revision:
            raise CalibrationError(
                f"calibration was fitted on revision {self.revision} of {self.model}, "
                f"but the served model is revision {revision}; fit it again "
                "(openrerank calibrate)"
            )


def load_calibration(path: Path) -> Calibration:
    """Read a calibration file.

    Raises:
        CalibrationError: the file is missing, not JSON, or malformed; the message
            starts with the path.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read calibration file ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: calibration file is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: calibration file must hold a JSON object")
    try:
        return Calibration.from_dict(data)
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: calibration file rejected: {exc}") from exc


def _check_platt(slope: float, intercept: float) -> None:
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise CalibrationError("Platt slope and intercept must be finite")
    if slope < 0:
        raise CalibrationError(f"Platt slope must be >= 0 (a monotonic map), got {slope}")


def _check_knots(xs: tuple[float, ...], ys: tuple[float, ...]) -> None:
    if len(xs) < 1 or len(xs) != len(ys):
        raise CalibrationError("isotonic knots need x and y of the same, non-zero length")
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        raise CalibrationError("isotonic knots must be finite")
    if any(b < a for a, b in pairwise(xs)) or any(b < a for a, b in pairwise(ys)):
        raise CalibrationError("isotonic knots must be non-decreasing in x and y")
    if ys[0] < 0 or ys[-1] > 1:
        raise CalibrationError("isotonic probabilities must lie in [0, 1]")


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = data.get(key)
    if not isinstance(section, dict):
        raise CalibrationError(f"missing object {key!r}")
    return cast(Mapping[str, Any], section)


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalibrationError(f"{key!r} must be a number, got {value!r}")
    return float(value)


def _numbers(data: Mapping[str, Any], key: str) -> tuple[float, ...]:
    values = data.get(key)
    if not isinstance(values, list):
        raise CalibrationError(f"{key!r} must be a list of numbers")
    return tuple(_number({key: v}, key) for v in values)


def _optional_object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise CalibrationError(f"{key!r} must be an object or null")
    return cast(Mapping[str, Any], value or {})


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CalibrationError(f"{key!r} must be a string or null")
    return value


def _interpolate(
    values: npt.NDArray[np.float64], xs: tuple[float, ...], ys: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    """Piecewise-linear through the knots, constant beyond them (``np.interp``'s curve).

    Computed from each value's fraction of its segment, never from a slope, so knots
    closer than a float's range allows (``np.interp`` divides by their distance and
    overflows) still give a monotonic curve within the knots' probabilities.
    """
    knots_x, knots_y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if knots_x.shape[0] == 1:
        return np.full_like(values, knots_y[0])
    upper = np.clip(np.searchsorted(knots_x, values, side="right"), 1, knots_x.shape[0] - 1)
    lower = upper - 1
    span = knots_x[upper] - knots_x[lower]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a zero-width segment (knots with the same x) steps at its x, as np.interp does
        step = np.where(values >= knots_x[upper], 1.0, 0.0)
        fraction = np.where(span > 0, (values - knots_x[lower]) / span, step)
    fraction = np.clip(fraction, 0.0, 1.0)
    mapped: npt.NDArray[np.float64] = knots_y[lower] + fraction * (knots_y[upper] - knots_y[lower])
    return mapped
