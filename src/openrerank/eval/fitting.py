"""Fitting a score calibration on judged pairs and measuring how well probabilities match.

``openrerank calibrate`` scores judged candidate lists, splits the queries into fit and
held-out sets (:func:`split_queries`), picks Platt or isotonic on the fit queries by grouped
cross-validation (:func:`choose_calibration`), and reports :func:`reliability` and a
:func:`threshold_table` on the held-out queries, before and after calibration. The fitted
map is a :class:`~openrerank.engine.model.calibration.Calibration`.

Conventions:

* Every pair is one ``(raw logit, 0/1 label, query id)`` entry (:class:`Judged`).
* Log-loss clips probabilities to ``[1e-6, 1 - 1e-6]`` (:data:`PROBABILITY_CLIP`), so an
  isotonic 0 or 1 on a wrong pair costs ``-log(1e-6) ≈ 13.8`` instead of infinity.
* Query-level splits and folds rank the distinct query ids by SHA-256 of ``"{seed}:{id}"``:
  the same ids and seed give the same split on every run, platform and numpy version.

Example:
    >>> import numpy as np
    >>> p, y = np.array([0.1, 0.8, 0.95]), np.array([0, 1, 1])
    >>> reliability(p, y, bins=2).ece  # |0.1 - 0| / 3 + 2 * |0.875 - 1| / 3
    0.11666666666666665
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

from openrerank.engine.model.calibration import Calibration, CalibrationMethod
from openrerank.types import IntArray

logger = logging.getLogger(__name__)

FloatArray64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

PROBABILITY_CLIP = 1e-6
"""Log-loss clips probabilities to ``[PROBABILITY_CLIP, 1 - PROBABILITY_CLIP]``."""

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(k / 10 for k in range(1, 10))

_PLATT_C = 1e4
"""Inverse ridge strength on the standardized logit: negligible next to any real data set,
but it keeps the fit finite and unique when positives and negatives are separable."""


@dataclass(frozen=True, eq=False)
class Judged:
    """Judged (query, candidate) pairs: one array entry per pair.

    Any array-like is accepted and copied into read-only arrays, so the caller's inputs
    are never shared or mutated.

    Attributes:
        raw: the model's raw logit per pair, float64, finite.
        label: 1 when the candidate is relevant, else 0 (int64).
        query: the query id per pair (a numpy ``str_`` array); ids are compared as strings.

    Raises:
        ValueError: arrays that are not 1-D or differ in length, non-finite logits, or
            labels other than 0 and 1.
    """

    raw: FloatArray64
    label: IntArray
    query: StrArray

    def __post_init__(self) -> None:
        raw = _finite_vector(self.raw, "raw logits")
        label = _label_vector(self.label)
        query = _query_vector(self.query)
        _check_lengths(raw=raw, label=label, query=query)
        for name, array in (("raw", raw), ("label", label), ("query", query)):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def positives(self) -> int:
        """The number of relevant pairs."""
        return int(self.label.sum())

    @property
    def n_queries(self) -> int:
        """The number of distinct query ids."""
        return len(np.unique(self.query))

    def subset(self, mask: BoolArray) -> Judged:
        """The pairs where ``mask`` (one bool per pair) is true."""
        return Judged(self.raw[mask], self.label[mask], self.query[mask])

    def for_queries(self, query_ids: Collection[str]) -> Judged:
        """The pairs whose query id is in ``query_ids``."""
        return self.subset(np.isin(self.query, np.array(sorted(query_ids), dtype=np.str_)))


def split_queries(
    query_ids: Iterable[str], *, held_out: float = 0.3, seed: int = 0
) -> tuple[frozenset[str], frozenset[str]]:
    """Split the distinct query ids into a fit set and a held-out set.

    The ids are ranked by SHA-256 of ``"{seed}:{id}"`` and the first ``held_out * n``,
    rounded half up and kept within ``[1, n - 1]``, are held out, so the split depends
    only on the ids and the seed.

    Args:
        query_ids: query ids, repeats allowed (e.g. ``Judged.query``, one per pair).
        held_out: the fraction of distinct queries to hold out, strictly between 0 and 1.
        seed: changes the split.

    Returns:
        ``(fit, held_out)``: disjoint, both non-empty, together all distinct ids.

    Raises:
        ValueError: ``held_out`` outside (0, 1), or fewer than 2 distinct queries.
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held_out must be strictly between 0 and 1, got {held_out}")
    ranked = _hash_order(query_ids, seed)
    if len(ranked) < 2:
        raise ValueError(f"need at least 2 distinct queries to split, got {len(ranked)}")
    count = min(max(math.floor(held_out * len(ranked) + 0.5), 1), len(ranked) - 1)
    return frozenset(ranked[count:]), frozenset(ranked[:count])


def fit_platt(raw: npt.ArrayLike, label: npt.ArrayLike) -> Calibration:
    """Fit ``P(relevant) = sigmoid(slope * raw + intercept)`` by logistic regression.

    The logit is standardized before the fit (only a negligible ridge, C = 1e4, which
    keeps separable data finite) and the coefficients are mapped back. A negative slope
    (scores anti-correlated with relevance: usually a wrong positive class) is clamped
    to the constrained optimum ``slope = 0``, ``intercept = log(positives / negatives)``,
    with a logged warning. Constant logits give the same constant map.

    Raises:
        ValueError: malformed inputs (see :class:`Judged`), no positives or no negatives.
    """
    x, y = _fit_inputs(raw, label)
    std = float(x.std())
    if std == 0.0:
        return _constant_platt(y)
    mean = float(x.mean())
    model = LogisticRegression(C=_PLATT_C, tol=1e-8, max_iter=1000)
    model.fit(((x - mean) / std)[:, None], y)
    slope = float(model.coef_[0, 0]) / std
    if slope < 0.0:
        logger.warning("Platt fit gave a negative slope %.4g; using a constant map", slope)
        return _constant_platt(y)
    return Calibration("platt", slope=slope, intercept=float(model.intercept_[0]) - slope * mean)


def fit_isotonic(raw: npt.ArrayLike, label: npt.ArrayLike) -> Calibration:
    """Fit a non-decreasing piecewise-linear map by isotonic regression.

    The knots are scikit-learn's ``X_thresholds_``/``y_thresholds_``: ties in ``raw`` are
    merged into one point carrying their mean label, and interior points on a flat stretch
    are dropped, so there are at most two knots per level (a few hundred for 10^5 pairs).
    Beyond the first and last knot the map is constant.

    Raises:
        ValueError: malformed inputs (see :class:`Judged`), no positives or no negatives.
    """
    x, y = _fit_inputs(raw, label)
    model = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(x, y)
    xs = np.asarray(model.X_thresholds_, dtype=np.float64)
    ys = np.clip(np.maximum.accumulate(np.asarray(model.y_thresholds_, dtype=np.float64)), 0, 1)
    return Calibration("isotonic", knots_x=tuple(xs.tolist()), knots_y=tuple(ys.tolist()))


_FITTERS: Mapping[CalibrationMethod, Callable[[npt.ArrayLike, npt.ArrayLike], Calibration]] = (
    MappingProxyType({"platt": fit_platt, "isotonic": fit_isotonic})
)


@dataclass(frozen=True)
class Choice:
    """The calibration picked by cross-validation.

    Attributes:
        calibration: the chosen method refitted on all the pairs it was given.
        cv_log_loss: method to its out-of-fold log-loss, the mean over every pair of the
            loss of the map fitted without that pair's fold.
        folds: the number of folds used.
    """

    calibration: Calibration
    cv_log_loss: Mapping[str, float]
    folds: int

    def to_dict(self) -> dict[str, Any]:
        """``method``, ``folds`` and ``cv_log_loss`` as plain JSON values."""
        method = self.calibration.method
        return {"method": method, "folds": self.folds, "cv_log_loss": dict(self.cv_log_loss)}


def choose_calibration(judged: Judged, *, folds: int = 5, seed: int = 0) -> Choice:
    """Pick Platt or isotonic by grouped K-fold out-of-fold log-loss, and refit on all.

    Queries are dealt round-robin into folds in SHA-256 order (see :func:`split_queries`),
    so all pairs of a query share a fold. Isotonic must be strictly better to win; on a tie
    the smoother Platt map is kept.

    Args:
        judged: the fit pairs (held-out queries excluded).
        folds: at least 2; reduced to the number of queries when there are fewer.
        seed: changes the assignment of queries to folds.

    Raises:
        ValueError: ``folds < 2``, fewer than 2 queries, no positives or no negatives, or
            all positives (negatives) in one fold, which leaves a training split without any.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    _require_both_classes(judged.label, "the judged pairs")
    if judged.n_queries < 2:
        raise ValueError("cross-validation needs judged pairs from at least 2 queries")
    folds = min(folds, judged.n_queries)
    fold_of = _fold_per_pair(judged.query, folds, seed)
    losses: dict[str, float] = {
        method: _log_loss(judged.label, _out_of_fold(judged, fold_of, folds, fit))
        for method, fit in _FITTERS.items()
    }
    best: CalibrationMethod = "isotonic" if losses["isotonic"] < losses["platt"] else "platt"
    chosen = _FITTERS[best](judged.raw, judged.label)
    return Choice(chosen, MappingProxyType(losses), folds)


@dataclass(frozen=True)
class ReliabilityBin:
    """One non-empty bin of a reliability diagram: pairs with ``lower <= p < upper``."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float

    def to_dict(self) -> dict[str, Any]:
        """The bin as plain JSON values."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Reliability:
    """How well probabilities match observed relevance.

    Attributes:
        pairs: the number of pairs.
        positives: the number of relevant pairs.
        ece: expected calibration error, ``sum(count / pairs * |mean_predicted -
            observed_rate|)`` over the bins.
        brier: mean squared error of the probabilities against the labels.
        log_loss: mean negative log-likelihood, probabilities clipped to
            :data:`PROBABILITY_CLIP`.
        bins: the non-empty bins, lowest first.
    """

    pairs: int
    positives: int
    ece: float
    brier: float
    log_loss: float
    bins: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON values (bins as a list of objects)."""
        data = {name: getattr(self, name) for name in ("pairs", "positives", "ece", "brier")}
        return {**data, "log_loss": self.log_loss, "bins": [b.to_dict() for b in self.bins]}


def reliability(probability: npt.ArrayLike, label: npt.ArrayLike, *, bins: int = 10) -> Reliability:
    """Reliability of probabilities against 0/1 labels: ECE, Brier, log-loss and bins.

    Bins are ``bins`` equal-width intervals of [0, 1]: pair ``p`` falls in bin
    ``min(floor(p * bins), bins - 1)``, so bin ``k`` is ``[k / bins, (k + 1) / bins)``
    and ``p == 1`` joins the last bin. ``floor`` acts on the float ``p * bins``, so a
    ``p`` on an edge (0.1, 0.5 ...) goes to the bin above it.

    Args:
        probability: one probability in [0, 1] per pair.
        label: one 0/1 label per pair.
        bins: the number of bins, at least 1.

    Raises:
        ValueError: empty or mismatched inputs, probabilities outside [0, 1] or NaN,
            labels other than 0/1, ``bins < 1``.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    p, y = _probability_inputs(probability, label)
    index = np.minimum(np.floor(p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    rows = tuple(
        ReliabilityBin(
            lower=k / bins,
            upper=(k + 1) / bins,
            count=int(counts[k]),
            mean_predicted=float(sum_p[k] / counts[k]),
            observed_rate=float(sum_y[k] / counts[k]),
        )
        for k in np.flatnonzero(counts).tolist()
    )
    return Reliability(
        pairs=len(p),
        positives=int(y.sum()),
        ece=float(np.abs(sum_p - sum_y).sum() / len(p)),
        brier=float(brier_score_loss(y, p, pos_label=1)),
        log_loss=_log_loss(y, p),
        bins=rows,
    )


@dataclass(frozen=True)
class ThresholdRow:
    """What keeping only the pairs with ``p >= threshold`` does.

    Attributes:
        threshold: the probability cut-off.
        kept: the fraction of pairs kept.
        precision: the fraction of kept pairs that are relevant; None when none is kept.
        recall: the fraction of relevant pairs kept; None when there are no relevant pairs.
        queries_with_none_kept: the fraction of queries left with no pair at all.
    """

    threshold: float
    kept: float
    precision: float | None
    recall: float | None
    queries_with_none_kept: float

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON values (None for undefined ratios)."""
        return dataclasses.asdict(self)


def threshold_table(
    probability: npt.ArrayLike,
    label: npt.ArrayLike,
    query: npt.ArrayLike,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[ThresholdRow]:
    """One :class:`ThresholdRow` per threshold, in the order given.

    Raises:
        ValueError: malformed inputs (as for :func:`reliability`, plus a query id per
            pair), or a threshold outside [0, 1].
    """
    p, y = _probability_inputs(probability, label)
    queries = _query_vector(query)
    _check_lengths(probability=p, query=queries)
    group = np.unique(queries, return_inverse=True)[1]
    for threshold in thresholds:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"thresholds must lie in [0, 1], got {threshold}")
    return [_threshold_row(p, y, group, float(t)) for t in thresholds]


def _threshold_row(p: FloatArray64, y: IntArray, group: IntArray, threshold: float) -> ThresholdRow:
    kept = p >= threshold
    n_kept, hits, positives = int(kept.sum()), int((kept & (y == 1)).sum()), int(y.sum())
    kept_per_query = np.bincount(group, weights=kept.astype(np.float64))
    return ThresholdRow(
        threshold=threshold,
        kept=n_kept / len(p),
        precision=hits / n_kept if n_kept else None,
        recall=hits / positives if positives else None,
        queries_with_none_kept=float(np.mean(kept_per_query == 0)),
    )


def _out_of_fold(
    judged: Judged,
    fold_of: IntArray,
    folds: int,
    fit: Callable[[npt.ArrayLike, npt.ArrayLike], Calibration],
) -> FloatArray64:
    """Each pair's probability under the map fitted on the other folds."""
    predicted = np.empty(len(judged), dtype=np.float64)
    for fold in range(folds):
        test = fold_of == fold
        train = judged.subset(~test)
        _require_both_classes(train.label, f"the pairs outside fold {fold + 1} of {folds}")
        predicted[test] = _predict(fit(train.raw, train.label), judged.raw[test])
    return predicted


def _predict(calibration: Calibration, raw: FloatArray64) -> FloatArray64:
    """The probabilities a service would return: the map applied to float32 logits."""
    return calibration.apply(raw.astype(np.float32)).astype(np.float64)


def _log_loss(label: IntArray, probability: FloatArray64) -> float:
    clipped = np.clip(probability, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
    return float(log_loss(label, clipped, labels=[0, 1]))


def _constant_platt(label: IntArray) -> Calibration:
    positives = int(label.sum())
    return Calibration("platt", slope=0.0, intercept=math.log(positives / (len(label) - positives)))


def _hash_order(query_ids: Iterable[str], seed: int) -> list[str]:
    """The distinct ids ranked by SHA-256 of ``"{seed}:{id}"`` (ties by id)."""

    def key(query_id: str) -> tuple[bytes, str]:
        return hashlib.sha256(f"{seed}:{query_id}".encode()).digest(), query_id

    return sorted({str(q) for q in query_ids}, key=key)


def _fold_per_pair(query: StrArray, folds: int, seed: int) -> IntArray:
    distinct, pair_query = np.unique(query, return_inverse=True)
    fold_of_query = {q: rank % folds for rank, q in enumerate(_hash_order(distinct, seed))}
    folds_by_index = np.array([fold_of_query[str(q)] for q in distinct], dtype=np.int64)
    result: IntArray = folds_by_index[pair_query]
    return result


def _fit_inputs(raw: npt.ArrayLike, label: npt.ArrayLike) -> tuple[FloatArray64, IntArray]:
    x, y = _finite_vector(raw, "raw logits"), _label_vector(label)
    _check_lengths(raw=x, label=y)
    _require_both_classes(y, "the pairs to fit")
    return x, y


def _probability_inputs(
    probability: npt.ArrayLike, label: npt.ArrayLike
) -> tuple[FloatArray64, IntArray]:
    p, y = _finite_vector(probability, "probabilities"), _label_vector(label)
    _check_lengths(probability=p, label=y)
    if len(p) == 0:
        raise ValueError("need at least one pair")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(f"probabilities must lie in [0, 1], got [{p.min()}, {p.max()}]")
    return p, y


def _finite_vector(values: npt.ArrayLike, what: str) -> FloatArray64:
    array = np.array(values, dtype=np.float64, copy=True)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array, got shape {array.shape}")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(f"{what} must be finite; {bad} of {len(array)} are NaN or infinite")
    return array


def _label_vector(values: npt.ArrayLike) -> IntArray:
    array = np.array(values, copy=True)
    if array.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError("labels must be 0 (not relevant) or 1 (relevant)")
    return array.astype(np.int64)


def _query_vector(values: npt.ArrayLike) -> StrArray:
    array = np.array(values, dtype=np.str_, copy=True)
    if array.ndim != 1:
        raise ValueError(f"query ids must be a 1-D array, got shape {array.shape}")
    return array


def _check_lengths(**arrays: npt.NDArray[Any]) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"one entry per pair is needed, got lengths {lengths}")


def _require_both_classes(label: IntArray, where: str) -> None:
    positives = int(label.sum())
    if positives == 0:
        raise ValueError(f"calibration needs relevant pairs, but {where} have no positives")
    if positives == len(label):
        raise ValueError(f"calibration needs non-relevant pairs, but {where} have no negatives")
