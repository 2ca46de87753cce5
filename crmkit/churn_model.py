"""The churn classifier as an object (客户流失预测模型): :class:`ChurnModel` fits any feature
table — one row per customer, numeric and text columns, a 0/1 outcome — predicts P(churn) and
evaluates itself by stratified cross-validation (AUC, Brier score, lift at the top 10 %, each
with its spread over the folds).

The publish step's model is the same object fitted on the warehouse's features
(:func:`crmkit.churn.from_warehouse`); :func:`classification_metrics` scores any predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from crmkit import stats

#: Estimators :class:`ChurnModel` knows by name → their scikit-learn class (any scikit-learn
#: classifier object is also accepted).
ESTIMATORS = {
    "gradient_boosting": "HistGradientBoostingClassifier",
    "logistic": "LogisticRegression",
}
#: A text column with more distinct values than this is refused as a feature (an id or free
#: text one-hot encoded is thousands of columns that only memorise rows).
MAX_CATEGORIES = 50
_MISSING_CATEGORY = "(missing)"


def _gradient_boosting(random_state: int):  # noqa: ANN202
    """The production classifier: ``HistGradientBoostingClassifier``, early stopping off so a
    fit is deterministic."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.06,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
    )


def _check_y(y: Any, X: pd.DataFrame) -> np.ndarray:
    """``y`` as a 0/1 array of ``len(X)``, or a ``ValueError`` saying what is wrong with it."""
    if isinstance(y, pd.Series) and not y.index.equals(X.index):
        raise ValueError(
            "X and y have different row labels (index), so their rows may not match; "
            "align them (y = y.loc[X.index]) or pass y.to_numpy() to pair rows by position"
        )
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must hold one outcome per row (1-D); got shape {arr.shape}")
    if len(arr) != len(X):
        raise ValueError(
            f"X has {len(X):,} rows but y has {len(arr):,}; they must be the same customers "
            "in the same order"
        )
    missing = pd.isna(arr)
    if missing.any():
        raise ValueError(
            f"y is missing in {int(missing.sum()):,} of {len(arr):,} rows (first at row "
            f"{int(np.argmax(missing))}); every row needs an outcome, 1 = churned, 0 = stayed"
        )
    values = pd.unique(arr)
    binary = arr.dtype == bool or (
        np.issubdtype(arr.dtype, np.number) and set(values.tolist()) <= {0, 1}
    )
    if not binary:
        shown = ", ".join(repr(v) for v in sorted(values[:5].tolist(), key=str))
        raise ValueError(
            f"y must be binary, 1 (churned) / 0 (stayed) or True / False; got {len(values)} "
            f"distinct values ({shown}{', …' if len(values) > 5 else ''}); map it first, "
            "e.g. y = (df['Churn'] == 'Yes').astype(int)"
        )
    arr = arr.astype(int)
    if len(values) < 2:
        raise ValueError(
            f"y holds only {arr[0]} ({'churned' if arr[0] else 'stayed'}) in all {len(arr):,} "
            "rows; a churn model needs both churners (1) and stayers (0)"
        )
    return arr


def _kind(s: pd.Series) -> str:
    """``"numeric"`` (numbers and booleans), ``"categorical"`` (text and categories) or the
    ``ValueError`` for anything else."""
    if pd.api.types.is_bool_dtype(s) or (
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s)
    ):
        return "numeric"
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s):
        return "categorical"
    raise ValueError(
        f"column {s.name!r} has type {s.dtype}, which is not a feature the model can use; "
        "turn it into a number (e.g. days since a date) or drop it"
    )


def _as_float(s: pd.Series) -> pd.Series:
    try:
        return s.astype("float64")
    except (TypeError, ValueError):
        raise ValueError(
            f"column {s.name!r} was numeric when the model was fitted but holds text now"
        ) from None


def _as_category(s: pd.Series) -> pd.Series:
    """Text with missing values as their own category (company data has gaps)."""
    return s.astype(object).where(s.notna(), _MISSING_CATEGORY).astype(str)


class ChurnModel:
    """A churn classifier for any feature table: ``fit``, ``predict_proba``, ``evaluate``.

    The publish step's model is this object fitted on the warehouse's features
    (:func:`crmkit.churn.from_warehouse`); it fits any other table just as well (one row per
    customer, a 0/1 outcome).

    Parameters
    ----------
    estimator : {"gradient_boosting", "logistic"} or scikit-learn classifier
        ``"gradient_boosting"`` (default, the production model):
        ``HistGradientBoostingClassifier`` (200 trees of 15 leaves, learning rate 0.06, at
        least 40 rows a leaf); numeric columns go in as they are, missing values included
        (the trees route them; splits do not depend on scale). ``"logistic"``: logistic
        regression (L2, C = 1) on numeric columns imputed by their median plus a
        was-missing indicator, then standardised. A classifier object (with
        ``predict_proba``) gets the logistic preparation and is cloned at each fit.
        Text and category columns are one-hot encoded for every estimator, a missing value
        being its own category and a category unseen at fit all zeros.
    features : sequence of str, optional
        The columns of ``X`` to use; other columns (ids, the outcome) are ignored. Default:
        every column of ``X`` at fit.
    max_categories : int, default :data:`MAX_CATEGORIES`
        Most distinct values a text column may have (more is an id or free text: refused).
    random_state : int, default 0
        Seed of the named estimators (gradient boosting's binning sample; a fit is
        deterministic); a classifier object keeps its own.

    Attributes
    ----------
    feature_names_in_, numeric_features_, categorical_features_ : tuple of str
        Set by :meth:`fit`.
    empty_features_ : tuple of str
        Numeric features with no value at all at fit (a warehouse without tickets, feedback
        or regions); held at 0, so the model ignores them whatever they later hold.
    horizon_days, active_days, train_cutoffs, reference, training_frame_
        Set by :func:`crmkit.churn.from_warehouse` (None otherwise): the churn definition, the
        cut-offs trained on, typical feature values for the reason codes and the labelled
        rows fitted (``X_`` and ``y_`` are their features and ``churned``).

    Examples
    --------
    Six customers, a number and a text column with a gap; the three who churned had gone
    longest without an order, so the risk rises with ``days_since_order``:

    >>> X = pd.DataFrame({
    ...     "days_since_order": [5, 10, 20, 40, 80, 160],
    ...     "plan": ["monthly", "yearly", "monthly", "monthly", "yearly", None],
    ... })
    >>> m = ChurnModel("logistic").fit(X, [0, 0, 0, 1, 1, 1])
    >>> m.predict_proba(X).round(2)
    array([0.3 , 0.34, 0.36, 0.45, 0.65, 0.9 ])

    A plan never seen at fit ("weekly") counts as none of the known ones:

    >>> new = pd.DataFrame({"days_since_order": [30, 120], "plan": ["weekly", "yearly"]})
    >>> m.predict_proba(new).round(2)
    array([0.43, 0.8 ])
    """

    def __init__(
        self,
        estimator: Any = "gradient_boosting",
        *,
        features: Sequence[str] | None = None,
        max_categories: int = MAX_CATEGORIES,
        random_state: int = 0,
    ) -> None:
        if isinstance(estimator, str):
            if estimator not in ESTIMATORS:
                raise ValueError(
                    f"unknown estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)} "
                    "or a scikit-learn classifier"
                )
        elif not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
            raise TypeError(
                f"estimator must be a name ({', '.join(ESTIMATORS)}) or a classifier with fit "
                f"and predict_proba; got {type(estimator).__name__}"
            )
        self.estimator = estimator
        self.features = None if features is None else tuple(features)
        self.max_categories = max_categories
        self.random_state = random_state
        self.horizon_days: int | None = None
        self.active_days: int | None = None
        self.train_cutoffs: list[datetime] = []
        self.reference: dict[str, float] | None = None
        self.training_frame_: pd.DataFrame | None = None

    def __repr__(self) -> str:
        state = "fitted" if hasattr(self, "pipeline_") else "not fitted"
        return f"ChurnModel({self.estimator_name}, {state})"

    @property
    def estimator_name(self) -> str:
        """The classifier's class name, e.g. ``"HistGradientBoostingClassifier"``."""
        if isinstance(self.estimator, str):
            return ESTIMATORS[self.estimator]
        return type(self.estimator).__name__

    def _unfitted(self) -> ChurnModel:
        return ChurnModel(
            self.estimator,
            features=self.features,
            max_categories=self.max_categories,
            random_state=self.random_state,
        )

    def _columns(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a pandas DataFrame (its columns are the features); got "
                f"{type(X).__name__}: wrap it, e.g. pd.DataFrame(X)"
            )
        names = self.features if self.features is not None else tuple(X.columns)
        absent = [c for c in names if c not in X.columns]
        if absent:
            raise ValueError(f"X has no column {', '.join(map(repr, absent))}")
        if len(set(names)) != len(names) or X.columns[X.columns.isin(names)].duplicated().any():
            raise ValueError("X has duplicate column names; each feature must be one column")
        if not names or len(X) == 0:
            raise ValueError(f"X has {len(X)} rows and {len(names)} feature columns; need ≥ 1")
        return X[list(names)]

    def _check_categories(self, s: pd.Series) -> None:
        distinct = s.nunique(dropna=True)
        if distinct <= self.max_categories:
            return
        numbers = int(pd.to_numeric(s, errors="coerce").notna().sum())
        hint = (
            f"{numbers:,} of {len(s):,} values are numbers: convert it, e.g. "
            f"X[{s.name!r}] = pd.to_numeric(X[{s.name!r}], errors='coerce') (the rest become "
            "missing)"
            if numbers >= s.notna().sum() / 2
            else "an id or free text is no feature: drop it"
        )
        raise ValueError(
            f"column {s.name!r} is text with {distinct:,} distinct values (more than "
            f"max_categories={self.max_categories}); {hint}"
        )

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        """The fitted columns of ``X``: numbers as float (empty-at-fit ones 0), categories as
        text with missing values named."""
        out = {}
        for c in self.feature_names_in_:
            if c in self.categorical_features_:
                out[c] = _as_category(X[c])
            elif c in self.empty_features_:
                out[c] = pd.Series(0.0, index=X.index)
            else:
                out[c] = _as_float(X[c])
        return pd.DataFrame(out, index=X.index)

    def _pipeline(self):  # noqa: ANN202
        from sklearn.base import clone
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        if isinstance(self.estimator, str) and self.estimator == "gradient_boosting":
            numeric = "passthrough"
            estimator = _gradient_boosting(self.random_state)
        else:
            numeric = make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
            )
            estimator = (
                LogisticRegression(C=1.0, max_iter=1000)
                if isinstance(self.estimator, str)
                else clone(self.estimator)
            )
        parts = [("numeric", numeric, list(self.numeric_features_))]
        if self.categorical_features_:
            onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("categorical", onehot, list(self.categorical_features_)))
        return Pipeline([("prepare", ColumnTransformer(parts)), ("classify", estimator)])

    def fit(self, X: pd.DataFrame, y: Any) -> ChurnModel:
        """Fit on the feature table ``X`` and the outcomes ``y``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer; numeric, boolean, text or category columns (text with at
            most ``max_categories`` distinct values). Missing values are allowed.
        y : array-like of 0/1 or bool
            1 = churned, one per row of ``X`` in the same order (a Series must carry the
            same index as ``X``).

        Returns
        -------
        ChurnModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            ``y`` not binary, of one class only, with missing values or of another length
            than ``X``; a column that is neither numeric nor text, infinite numbers, or text
            with too many distinct values (with how to fix it).
        """
        from threadpoolctl import threadpool_limits

        X = self._columns(X)
        y = _check_y(y, X)
        kinds = {c: _kind(X[c]) for c in X.columns}
        numeric = tuple(c for c, k in kinds.items() if k == "numeric")
        for c in numeric:
            v = X[c].astype("float64")
            if np.isinf(v).any():
                raise ValueError(
                    f"column {c!r} has {int(np.isinf(v).sum()):,} infinite values; replace "
                    "them (e.g. with NaN, which the model treats as missing)"
                )
        categorical = tuple(c for c, k in kinds.items() if k == "categorical")
        for c in categorical:
            self._check_categories(X[c])
        self.feature_names_in_ = tuple(X.columns)
        self.numeric_features_ = numeric
        self.categorical_features_ = categorical
        # scikit-learn's binning fails on an all-missing column; held constant it is never
        # split on, so the model ignores it as it should
        self.empty_features_ = tuple(c for c in numeric if X[c].isna().all())
        pipeline = self._pipeline()
        # one thread: on a shared 2-core machine gradient boosting's OpenMP threads contend
        # with other work and run ~10× slower than a single thread
        with threadpool_limits(limits=1):
            pipeline.fit(self._design(X), y)
        self.pipeline_ = pipeline
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(churn) for each row of ``X``, in its order.

        Parameters
        ----------
        X : pandas.DataFrame
            Must hold the columns the model was fitted on; other columns are ignored.

        Returns
        -------
        numpy.ndarray
            One probability per row (1-D, ``len(X)``), not the (n, 2) array of scikit-learn.
        """
        from threadpoolctl import threadpool_limits

        if not hasattr(self, "pipeline_"):
            raise ValueError("the model is not fitted yet: call fit(X, y) first")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame; got {type(X).__name__}")
        absent = [c for c in self.feature_names_in_ if c not in X.columns]
        if absent:
            raise ValueError(f"X has no column {', '.join(map(repr, absent))} (fitted on it)")
        if len(X) == 0:
            return np.empty(0)
        with threadpool_limits(limits=1):
            return self.pipeline_.predict_proba(self._design(X))[:, 1]

    def evaluate(
        self, X: pd.DataFrame, y: Any, *, cv: int = 5, seed: int = 0, top_k: float = 0.1
    ) -> ChurnEvaluation:
        """Cross-validated AUC, Brier score and lift at the top ``top_k``, with their spread.

        The rows are split into ``cv`` stratified folds (each with the overall churn share,
        shuffled with ``seed``); a copy of this model (same settings, unfitted) is fitted on
        the other folds and scores each fold. Per fold (:func:`classification_metrics`):

        - AUC: the probability that a churner is ranked above a stayer (ties count half);
        - Brier score: mean of (p − y)²; 0 is perfect, p = 0.5 for everyone scores 0.25;
        - lift at ``top_k``: the churn share among the ``round(top_k × n)`` highest-risk
          rows over the fold's churn share (1 = no better than picking at random).

        For a warehouse's labelled rows, whose cut-offs share customers, random folds are
        optimistic; the time-based :func:`crmkit.churn.backtest` is the honest check there.

        Parameters
        ----------
        X, y
            As for :meth:`fit`.
        cv : int, default 5
            Number of folds (≥ 2, at most the rows of the rarer outcome).
        seed : int, default 0
            Shuffling of the folds.
        top_k : float, default 0.1
            Share of highest-risk rows for the lift.

        Returns
        -------
        ChurnEvaluation
            ``summary``: per metric the mean over folds, sd, min, max, folds and n;
            ``folds``: each fold's n, churners and metrics. ``str()`` gives one line.

        Examples
        --------
        Ten customers, three churners, a model that predicts the training folds' churn share
        for everyone (``DummyClassifier``). Two folds: the first gets 4 stayers + 1 churner,
        so it is scored with the other fold's share 2/5 = 0.4: Brier (0.6² + 4 × 0.4²) / 5 =
        0.20; the second (3 + 2) with 1/5 = 0.2: (2 × 0.8² + 3 × 0.2²) / 5 = 0.28.

        >>> from sklearn.dummy import DummyClassifier
        >>> X = pd.DataFrame({"x": range(10)})
        >>> y = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
        >>> ev = ChurnModel(DummyClassifier()).evaluate(X, y, cv=2)
        >>> ev.folds.brier.round(2).tolist(), round(ev.brier, 2)
        ([0.2, 0.28], 0.24)
        """
        from sklearn.model_selection import StratifiedKFold

        X = self._columns(X)
        y = _check_y(y, X)
        rarer = int(min(y.sum(), len(y) - y.sum()))
        if not isinstance(cv, int | np.integer) or cv < 2:
            raise ValueError(f"cv must be a whole number of folds ≥ 2; got {cv!r}")
        if cv > rarer:
            raise ValueError(
                f"cv={cv} folds but only {rarer} rows of the rarer outcome: every fold needs "
                f"churners and stayers; use cv ≤ {rarer}"
            )
        folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        rows = []
        for i, (train, test) in enumerate(folds.split(np.zeros(len(y)), y), start=1):
            model = self._unfitted().fit(X.iloc[train], y[train])
            m = classification_metrics(y[test], model.predict_proba(X.iloc[test]), top_k=top_k)
            rows.append(
                {
                    "fold": i,
                    "n": m["n"],
                    "churned": int(y[test].sum()),
                    "base_rate": m["base_rate"],
                    "auc": m["auc"],
                    "brier": m["brier"],
                    "precision_at_k": m["precision_at_k"],
                    "lift_at_k": m["lift_at_k"],
                }
            )
        per_fold = pd.DataFrame(rows)
        metrics = per_fold[["auc", "brier", "lift_at_k"]]
        summary = pd.DataFrame(
            {
                "mean": metrics.mean(),
                "sd": metrics.std(ddof=1),
                "min": metrics.min(),
                "max": metrics.max(),
                "folds": cv,
                "n": len(y),
            }
        )
        summary.index.name = "metric"
        return ChurnEvaluation(
            summary=summary,
            folds=per_fold,
            n=len(y),
            churned=int(y.sum()),
            cv=cv,
            seed=seed,
            top_k=top_k,
            model=self.estimator_name,
        )

    @property
    def X_(self) -> pd.DataFrame:
        """The features :func:`crmkit.churn.from_warehouse` fitted the model on."""
        return self._training()[list(self.feature_names_in_)]

    @property
    def y_(self) -> pd.Series:
        """The outcomes :func:`crmkit.churn.from_warehouse` fitted the model on (1 =
        churned)."""
        return self._training()["churned"]

    def _training(self) -> pd.DataFrame:
        if self.training_frame_ is None:
            raise ValueError(
                "only a model from crmkit.churn.from_warehouse keeps its training rows "
                "(X_, y_); this one was fitted with fit(X, y), whose X and y you hold"
            )
        return self.training_frame_


@dataclass(frozen=True)
class ChurnEvaluation:
    """:meth:`ChurnModel.evaluate`'s result: each metric over the folds and per fold.

    Attributes
    ----------
    summary : pandas.DataFrame
        Index ``auc``, ``brier``, ``lift_at_k``; columns ``mean`` (the estimate), ``sd``
        (between folds, ddof 1), ``min``, ``max``, ``folds`` and ``n`` (rows evaluated, each
        scored once).
    folds : pandas.DataFrame
        ``fold``, ``n``, ``churned``, ``base_rate``, ``auc``, ``brier``, ``precision_at_k``,
        ``lift_at_k``.
    n, churned : int
        Rows evaluated and churners among them.
    cv, seed : int
    top_k : float
        The share of highest-risk rows behind the lift.
    model : str
        The estimator's class name.
    """

    summary: pd.DataFrame
    folds: pd.DataFrame
    n: int
    churned: int
    cv: int
    seed: int
    top_k: float
    model: str

    @property
    def auc(self) -> float:
        """Mean AUC over the folds."""
        return float(self.summary.loc["auc", "mean"])

    @property
    def brier(self) -> float:
        """Mean Brier score over the folds."""
        return float(self.summary.loc["brier", "mean"])

    @property
    def lift_at_k(self) -> float:
        """Mean lift at ``top_k`` over the folds."""
        return float(self.summary.loc["lift_at_k", "mean"])

    def __str__(self) -> str:
        names = {"auc": "AUC", "brier": "Brier", "lift_at_k": f"lift@{self.top_k:.0%}"}
        parts = [
            f"{names[k]} {r['mean']:.3f} (sd {r['sd']:.3f}, {r['min']:.3f}–{r['max']:.3f})"
            for k, r in self.summary.iterrows()
        ]
        return (
            f"{self.model}, {self.cv}-fold stratified CV (seed {self.seed}), n {self.n:,} "
            f"({self.churned:,} churned): " + "; ".join(parts)
        )


def classification_metrics(
    y: np.ndarray, p: np.ndarray, *, top_k: float = 0.1, bins: int = 10
) -> dict[str, Any]:
    """AUC, precision and lift at the top ``top_k`` share, Brier score, calibration by decile.

    Returns
    -------
    dict
        ``auc``, ``precision_at_k``, ``lift_at_k``, ``base_rate``, ``k``, ``n``, ``brier``,
        ``calibration`` (frame: bin, n, predicted, observed, lo, hi — Wilson interval of the
        observed share) and ``lift`` (frame: decile 1 = highest risk, n, churned, rate,
        lift, cumulative capture share).

    Examples
    --------
    Perfect ranking of 2 churners among 10 at k = 20 %: precision 1.0, base rate 0.2, lift 5.

    >>> m = classification_metrics(np.array([1, 1] + [0] * 8), np.linspace(1, 0, 10), top_k=0.2)
    >>> m["auc"], m["precision_at_k"], m["lift_at_k"]
    (1.0, 1.0, 5.0)
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError("y and p must be non-empty and of equal length")
    if not 0 < top_k <= 1:
        raise ValueError(f"top_k must be in (0, 1], got {top_k!r}")
    n = len(y)
    base = float(y.mean())
    order = np.argsort(-p, kind="stable")
    k = max(1, int(round(top_k * n)))
    prec = float(y[order[:k]].mean())
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < n else float("nan")
    cal = pd.DataFrame({"p": p, "y": y})
    cal["bin"] = np.minimum((cal.p * bins).astype(int), bins - 1)
    cal = cal.groupby("bin", as_index=False).agg(
        n=("y", "size"), k=("y", "sum"), predicted=("p", "mean")
    )
    cal = stats.rate_columns(cal, "k", "n").rename(columns={"rate": "observed", "k": "churned"})
    dec = pd.DataFrame({"y": y[order]})
    dec["decile"] = np.arange(n) * 10 // n + 1
    lift = dec.groupby("decile", as_index=False).agg(n=("y", "size"), churned=("y", "sum"))
    lift["rate"] = lift.churned / lift.n
    lift["lift"] = lift.rate / base if base else np.nan
    lift["capture"] = lift.churned.cumsum() / max(int(y.sum()), 1)
    return {
        "auc": auc,
        "precision_at_k": prec,
        "lift_at_k": prec / base if base else float("nan"),
        "base_rate": base,
        "k": top_k,
        "n": n,
        "brier": float(brier_score_loss(y, p)),
        "calibration": cal,
        "lift": lift,
    }
