"""Customer lifetime value (CLV): BG/NBD + Gamma-Gamma with PyMC-Marketing (step 7, 提升忠诚度).

BG/NBD (Fader, Hardie & Lee 2005) gives each buyer's probability of being alive (``p_alive``)
and the expected number of purchases over a horizon; Gamma-Gamma gives the expected spend per
purchase; CLV is their discounted product over ``horizon_months`` at a ``monthly_discount``
rate (PyMC-Marketing's ``customer_lifetime_value``). Data contract (:func:`rfm_summary`): one
row per customer with ``frequency`` (repeat purchase *days*: orders on the same day count
once), ``recency`` (first → last purchase day) and ``T`` (first purchase day → end of the
observation day), both in ``time_unit_days`` units (weeks by default), and ``monetary_value``
(mean spend of the repeat purchase days). Which orders count is
:func:`crmkit.definitions.counted_orders` under the company's settings.

**Priors used in production** (:data:`PRIORS`, written to ``model_params``): ``HalfFlat`` on
every parameter (BG/NBD r, α, a, b; Gamma-Gamma p, q, v) with ``method="map"``. MAP under flat
priors *is* maximum likelihood, which reproduces the published CDNOW estimates
(tests/test_clv.py). PyMC-Marketing 1.3.0's default priors are informative and move the
estimates (BG/NBD a, b by −11 % / −14 %, Gamma-Gamma p by −31 % and v by +45 % on CDNOW), so
they are not used. The keyword is ``method``: 1.3.0 silently ignores ``fit_method`` and runs
full MCMC.

``pymc_marketing`` is imported only inside :func:`fit_clv` and friends (4–5 s, ~350 MiB);
before the import :func:`configure_caches` points matplotlib's, pytensor's and numba's caches
into the project cache dir (``$CRMKIT_CACHE_DIR``, else ``./.cache/crmkit``) so a read-only
home or a shared server is not written to.

The publish step ``clv`` (:func:`publish_tables`) fits the models once per snapshot and
stores ``clv`` and ``model_params``; the churn step reads ``clv`` for its scores.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db, definitions, schema, stats
from crmkit.config import Config

_TS = schema.IBIS_TYPES["timestamp"]

#: Production priors (module docstring): parameter → PyMC distribution name (no arguments).
PRIORS: dict[str, dict[str, str]] = {
    "bg_nbd": {"r": "HalfFlat", "alpha": "HalfFlat", "a": "HalfFlat", "b": "HalfFlat"},
    "gamma_gamma": {"p": "HalfFlat", "q": "HalfFlat", "v": "HalfFlat"},
}
PRIOR_NOTE = (
    "HalfFlat priors on every parameter + method='map' (= maximum likelihood); "
    "PyMC-Marketing 1.3.0 default priors are not used because they move the estimates"
)
#: Published maximum-likelihood estimates on the CDNOW sample (2,357 customers, 39 weeks).
CDNOW_PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "v": 15.44,
}


# ---------------------------------------------------------------------------------------------
# caches and the pymc-marketing import
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The project's cache directory: ``$CRMKIT_CACHE_DIR``, else ``./.cache/crmkit``."""
    return Path(os.environ.get("CRMKIT_CACHE_DIR") or Path.cwd() / ".cache" / "crmkit")


def configure_caches(root: str | os.PathLike | None = None) -> Path:
    """Point matplotlib's, pytensor's and numba's caches into ``root`` (default
    :func:`cache_dir`) unless the environment already sets them. Call before importing
    ``pymc_marketing``; returns the directory."""
    base = Path(root) if root is not None else cache_dir()
    for sub in ("matplotlib", "pytensor", "numba", "arviz"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLCONFIGDIR", str(base / "matplotlib"))
    os.environ.setdefault("NUMBA_CACHE_DIR", str(base / "numba"))
    os.environ.setdefault("ARVIZ_DATA", str(base / "arviz"))
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" not in flags:
        extra = f"base_compiledir={base / 'pytensor'}"
        os.environ["PYTENSOR_FLAGS"] = f"{flags},{extra}" if flags else extra
    return base


def _clv():  # noqa: ANN202
    configure_caches()
    import pymc_marketing.clv as clv
    from pymc_extras.prior import Prior

    # A buyer whose only purchase falls on the last day has T = 0: legitimate data the models
    # handle, about which the library warns on every fit and prediction.
    warnings.filterwarnings(
        "ignore", message="T=0 is uninformative", category=UserWarning, module=r"pymc_marketing"
    )

    return clv, Prior


# ---------------------------------------------------------------------------------------------
# the RFM summary (data contract of the probabilistic models)
# ---------------------------------------------------------------------------------------------


def rfm_summary(
    orders: ir.Table,
    *,
    observation_end: datetime,
    time_unit_days: float = 7.0,
    counted: bool = True,
    config: Config | None = None,
) -> ir.Table:
    """Frequency / recency / T / monetary value per customer, the models' data contract.

    Parameters
    ----------
    orders : ibis.Table
        ``customer_sk`` (int), ``order_ts`` (timestamp), ``amount`` and ``status`` (with
        ``counted=True``).
    observation_end : datetime
        The end of the observation (calibration) period; its *date* closes the period.
    time_unit_days : float, default 7
        Days per time unit of ``recency`` and ``T`` (7 = weeks, as in Fader et al.).
    counted : bool, default True
        Keep only counted orders (:func:`crmkit.definitions.counted_orders`); ``False``
        uses every row.
    config : Config, optional
        The company's settings: which order statuses count (``rfm.exclude_statuses``).

    Returns
    -------
    ibis.Table
        ``customer_sk``, ``frequency`` (purchase days − 1), ``recency`` and ``T`` (units),
        ``monetary_value`` (mean spend per repeat purchase day, 0 without one), ``first_date``.

    Examples
    --------
    Purchases on 1, 1 (same day), 8 and 15 January, period ending 29 January, weeks: three
    purchase days → frequency 2, recency (15 − 1) / 7 = 2, T (29 − 1) / 7 = 4, monetary value
    = mean of the repeat days' spend.
    """
    if time_unit_days <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days!r}")
    end = ibis.literal(observation_end, type=_TS)
    o = (
        definitions.counted_orders(orders, as_of=observation_end, config=config)
        if counted
        else orders.filter(orders.order_ts <= end)
    )
    days = o.group_by(customer_sk=o.customer_sk, d=o.order_ts.date()).aggregate(
        spend=o.amount.cast("float64").sum()
    )
    first = days.d.min().over(group_by=days.customer_sk)
    days = days.mutate(first_date=first, is_first=days.d == first)
    end_date = ibis.literal(observation_end.date())
    g = days.group_by("customer_sk").aggregate(
        n_days=days.count(),
        first_date=days.first_date.min(),
        last_date=days.d.max(),
        repeat_spend=ibis.ifelse(days.is_first, 0.0, days.spend).sum(),
    )
    unit = float(time_unit_days)
    return g.select(
        "customer_sk",
        frequency=(g.n_days - 1).cast("int64"),
        recency=g.last_date.delta(g.first_date, unit="day").cast("float64") / unit,
        T=end_date.delta(g.first_date, unit="day").cast("float64") / unit,
        monetary_value=ibis.ifelse(
            g.n_days > 1, g.repeat_spend / (g.n_days - 1).cast("float64"), 0.0
        ),
        first_date=g.first_date,
    )


# ---------------------------------------------------------------------------------------------
# BG/NBD + Gamma-Gamma
# ---------------------------------------------------------------------------------------------


def _check_summary(summary: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(
            f"summary lacks column(s) {missing}; expected {list(columns)} (see rfm_summary)"
        )
    if summary.empty:
        raise ValueError("summary has no customers; the models need at least one buyer")


def _priors(kind: str, priors: str | Mapping[str, Any]):  # noqa: ANN202
    _, Prior = _clv()
    if priors == "flat":
        return {k: Prior(v) for k, v in PRIORS[kind].items()}
    if priors == "library_default":
        return None
    if isinstance(priors, Mapping):
        return dict(priors)
    raise ValueError(f"priors must be 'flat', 'library_default' or a mapping, got {priors!r}")


def fit_bgnbd(
    summary: pd.DataFrame,
    *,
    priors: str | Mapping[str, Any] = "flat",
    method: str = "map",
    random_seed: int = 42,
):  # noqa: ANN201
    """Fit PyMC-Marketing's ``BetaGeoModel`` (BG/NBD parameterised by r, α, a, b).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``customer_id``, ``frequency``, ``recency``, ``T`` (:func:`rfm_summary`, with the key
        renamed to ``customer_id``).
    priors : {"flat", "library_default"} or mapping, default "flat"
        ``"flat"``: the production priors (:data:`PRIORS`); ``"library_default"``: the
        library's own priors (for comparison only); or a model_config mapping.
    method : str, default "map"
        ``"map"`` (with flat priors: maximum likelihood) or ``"mcmc"`` for credible intervals.

    Returns
    -------
    pymc_marketing.clv.BetaGeoModel
        The fitted model; :func:`params` reads its estimates.
    """
    _check_summary(summary, ("customer_id", "frequency", "recency", "T"))
    clv, _ = _clv()
    config = _priors("bg_nbd", priors)
    model = clv.BetaGeoModel(model_config=config) if config else clv.BetaGeoModel()
    model.fit(summary, method=method, progressbar=False, random_seed=random_seed)
    return model


def fit_gamma_gamma(
    summary: pd.DataFrame,
    *,
    priors: str | Mapping[str, Any] = "flat",
    method: str = "map",
    random_seed: int = 42,
):  # noqa: ANN201
    """Fit PyMC-Marketing's ``GammaGammaModel`` (p, q, v) on the repeat buyers of ``summary``
    (``frequency > 0`` and ``monetary_value > 0``); arguments as :func:`fit_bgnbd`."""
    _check_summary(summary, ("customer_id", "frequency", "monetary_value"))
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    if repeat.empty:
        raise ValueError("Gamma-Gamma needs repeat buyers (frequency > 0); the summary has none")
    clv, _ = _clv()
    config = _priors("gamma_gamma", priors)
    model = clv.GammaGammaModel(model_config=config) if config else clv.GammaGammaModel()
    data = repeat[["customer_id", "frequency", "monetary_value"]]
    model.fit(data, method=method, progressbar=False, random_seed=random_seed)
    return model


def params(model) -> dict[str, float]:  # noqa: ANN001
    """A fitted model's point estimates (MAP, or posterior means after MCMC)."""
    post = model.idata.posterior
    names = [n for n in ("r", "alpha", "a", "b", "p", "q", "v") if n in post]
    return {n: float(post[n].mean()) for n in names}


def _per_customer(arr, ids: pd.Series) -> np.ndarray:  # noqa: ANN001
    dims = [d for d in ("chain", "draw") if d in arr.dims]
    s = arr.mean(dims).to_series() if dims else arr.to_series()
    return s.reindex(ids.to_numpy()).to_numpy(dtype=float)


def score_bgnbd(
    bg,  # noqa: ANN001
    summary: pd.DataFrame,
    *,
    horizon_days: int = 365,
    time_unit_days: float = 7.0,
) -> pd.DataFrame:
    """P(alive) and expected purchases over ``horizon_days`` per customer from a fitted BG/NBD
    model (:func:`fit_bgnbd`); the BG/NBD half of :func:`score_clv`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``p_alive``, ``expected_purchases`` (in ``summary``'s order).
    """
    _check_summary(summary, ("customer_id", "frequency", "recency", "T"))
    data = _positional(summary, ["customer_id", "frequency", "recency", "T"])
    ids = data.customer_id
    return pd.DataFrame(
        {
            "customer_id": summary.customer_id.to_numpy(),
            "p_alive": _per_customer(bg.expected_probability_alive(data), ids),
            "expected_purchases": _per_customer(
                bg.expected_purchases(data, future_t=horizon_days / time_unit_days), ids
            ),
        }
    )


def _positional(summary: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    # the library aligns every intermediate result on customer_id: positions (integers) align
    # ~4× faster than text ids such as "C0000001" (65 s → ~15 s at 900,000 buyers)
    data = summary[columns].copy()
    data["customer_id"] = np.arange(len(data))
    return data


def score_clv(
    bg,  # noqa: ANN001
    gg,  # noqa: ANN001
    summary: pd.DataFrame,
    *,
    horizon_days: int = 365,
    horizon_months: int = 12,
    monthly_discount: float = 0.01,
    time_unit_days: float = 7.0,
) -> pd.DataFrame:
    """P(alive), expected purchases, expected spend and discounted CLV per customer.

    Parameters
    ----------
    bg, gg : fitted models
        From :func:`fit_bgnbd` and :func:`fit_gamma_gamma`.
    summary : pandas.DataFrame
        ``customer_id``, ``frequency``, ``recency``, ``T``, ``monetary_value``.
    horizon_days : int, default 365
        Horizon of ``expected_purchases``.
    horizon_months, monthly_discount : CLV horizon and monthly discount rate (0.01 ≈ 12.7 %
        a year), as PyMC-Marketing's ``customer_lifetime_value`` takes them.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``p_alive``, ``expected_purchases``, ``expected_spend``, ``clv``.
    """
    _check_summary(summary, ("customer_id", "frequency", "recency", "T", "monetary_value"))
    if horizon_months < 1 or not 0 <= monthly_discount < 1:
        raise ValueError(
            f"horizon_months must be >= 1 and monthly_discount in [0, 1); got "
            f"{horizon_months!r}, {monthly_discount!r}"
        )
    clv, _ = _clv()
    bg_scores = score_bgnbd(bg, summary, horizon_days=horizon_days, time_unit_days=time_unit_days)
    data = _positional(summary, ["customer_id", "frequency", "recency", "T", "monetary_value"])
    ids = data.customer_id
    # Gamma-Gamma's conditional expected spend; with no repeat purchase it is the population mean
    spend_in = data.assign(monetary_value=data.monetary_value.where(data.frequency > 0, 0.0))
    spend = _per_customer(gg.expected_customer_spend(spend_in), ids)
    unit = {7.0: "W", 1.0: "D"}.get(float(time_unit_days))
    if unit is None:
        raise ValueError("score_clv supports time_unit_days 7 (weeks) or 1 (days)")
    value = clv.customer_lifetime_value(
        bg,
        data.assign(future_spend=spend),
        future_t=horizon_months,
        discount_rate=monthly_discount,
        time_unit=unit,
    )
    return pd.DataFrame(
        {
            "customer_id": summary.customer_id.to_numpy(),
            "p_alive": bg_scores.p_alive.to_numpy(),
            "expected_purchases": bg_scores.expected_purchases.to_numpy(),
            "expected_spend": spend,
            "clv": _per_customer(value, ids),
        }
    )


@dataclass
class ClvFit:
    """Both fitted models, their estimates and how they were obtained."""

    bg: Any
    gg: Any
    bg_params: dict[str, float]
    gg_params: dict[str, float]
    priors: str
    method: str
    n_customers: int
    n_repeat: int
    time_unit_days: float
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def fit_clv(
    summary: pd.DataFrame,
    *,
    priors: str | Mapping[str, Any] = "flat",
    method: str = "map",
    time_unit_days: float = 7.0,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on one summary (see :func:`fit_bgnbd`)."""
    t0 = time.perf_counter()
    bg = fit_bgnbd(summary, priors=priors, method=method)
    gg = fit_gamma_gamma(summary, priors=priors, method=method)
    return ClvFit(
        bg=bg,
        gg=gg,
        bg_params=params(bg),
        gg_params=params(gg),
        priors=priors if isinstance(priors, str) else "custom",
        method=method,
        n_customers=len(summary),
        n_repeat=int((summary.frequency > 0).sum()),
        time_unit_days=time_unit_days,
        seconds=time.perf_counter() - t0,
    )


def model_params_frame(fit: ClvFit, *, fitted_on: str) -> pd.DataFrame:
    """One row per parameter: model, value, prior, method, n, time unit, the note on priors."""
    rows = []
    for model, est, n in (
        ("bg_nbd", fit.bg_params, fit.n_customers),
        ("gamma_gamma", fit.gg_params, fit.n_repeat),
    ):
        for name, value in est.items():
            rows.append(
                {
                    "model": model,
                    "parameter": name,
                    "value": value,
                    "prior": PRIORS[model][name] if fit.priors == "flat" else fit.priors,
                    "method": fit.method,
                    "n": n,
                    "time_unit_days": fit.time_unit_days,
                    "fitted_on": fitted_on,
                    "note": PRIOR_NOTE if fit.priors == "flat" else "",
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# the publish step
# ---------------------------------------------------------------------------------------------

#: CLV settings used at publish time.
CLV_HORIZON_MONTHS = 12
CLV_MONTHLY_DISCOUNT = 0.01
TIME_UNIT_DAYS = 7.0
#: Fewer repeat buyers than this and the CLV models are not fitted (nor pymc imported).
MIN_CLV_REPEAT_BUYERS = 50


#: Most buyers the BG/NBD and Gamma-Gamma models are fitted on (a seeded random sample above
#: it; every buyer is still scored). Four or five population parameters: the standard error
#: of each shrinks as 1/√n, and at 200 k it is far below the gap between any two rules the
#: CLV feeds, while the MAP fit time grows with n (232 s for 894 k buyers with the second
#: core busy).
MAX_CLV_FIT_CUSTOMERS = 200_000


def summary_frame(
    con: BaseBackend,
    *,
    as_of: datetime,
    config: Config | None = None,
    time_unit_days: float = TIME_UNIT_DAYS,
) -> pd.DataFrame:
    """:func:`rfm_summary` of the connection's counted orders with ``customer_id`` joined on:
    what :func:`fit_clv` and :func:`score_clv` take, one row per buyer."""
    return (
        rfm_summary(
            con.table("orders"),
            observation_end=as_of,
            time_unit_days=time_unit_days,
            config=config,
        )
        .join(con.table("customers").select("customer_sk", "customer_id"), "customer_sk")
        .to_pandas()
    )


def publish_tables(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    config: Config | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """The CLV tables of the snapshot (the publish step ``clv``), fitted once.

    ``clv`` (per buyer: frequency, recency, T in weeks, monetary value, p_alive, expected
    purchases over 365 days, expected spend, 12-month CLV at 1 % a month) and ``model_params``
    (BG/NBD and Gamma-Gamma estimates with their priors and method).

    Raises
    ------
    crmkit.stats.NotEnoughData
        With fewer than :data:`MIN_CLV_REPEAT_BUYERS` repeat buyers: nothing is fitted (the
        publish step is skipped with that reason).
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    say = progress or (lambda message: None)
    t0 = time.perf_counter()
    summary = summary_frame(con, as_of=as_of, config=config)
    repeat = int((summary.frequency > 0).sum()) if len(summary) else 0
    if repeat < MIN_CLV_REPEAT_BUYERS:
        raise stats.NotEnoughData(stats.too_few("repeat_buyers", repeat, MIN_CLV_REPEAT_BUYERS))
    fit_on = stats.sample_rows(summary, MAX_CLV_FIT_CUSTOMERS)
    fit = fit_clv(fit_on, time_unit_days=TIME_UNIT_DAYS)
    sampled = len(fit_on) < len(summary)
    say(
        f"fitted on {len(fit_on):,} buyers{' (sampled)' if sampled else ''} "
        f"{time.perf_counter() - t0:.1f} s"
    )
    scored = score_clv(
        fit.bg,
        fit.gg,
        summary,
        horizon_days=365,
        horizon_months=CLV_HORIZON_MONTHS,
        monthly_discount=CLV_MONTHLY_DISCOUNT,
        time_unit_days=TIME_UNIT_DAYS,
    )
    clv_df = summary.drop(columns=["first_date"]).merge(scored, on="customer_id")
    clv_df["horizon_months"] = CLV_HORIZON_MONTHS
    clv_df["monthly_discount"] = CLV_MONTHLY_DISCOUNT
    note = (
        f", a seeded random sample of {len(fit_on):,} of {len(summary):,} buyers" if sampled else ""
    )
    return {
        "clv": clv_df,
        "model_params": model_params_frame(fit, fitted_on=f"orders to {as_of:%Y-%m-%d}{note}"),
    }


# ---------------------------------------------------------------------------------------------
# KPI registry entry (crmkit.kpi resolves "crmkit.clv:kpi_clv" lazily)
# ---------------------------------------------------------------------------------------------


def kpi_clv(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> stats.Metric:
    """Mean CLV of the period's buyers: the customers in scope with a counted order in
    ``[start, end)``, their 12-month CLV read from the published ``clv`` table (the models are
    fitted once per snapshot; a period's value moves with who bought in it).

    Raises
    ------
    LookupError
        When the connection has no ``clv`` table (a warehouse, or a snapshot whose history was
        too short to fit the models): the registry then reports the KPI as unavailable.
    """
    if "clv" not in con.list_tables():
        raise LookupError("no clv table: publish a snapshot (the models are fitted at publish)")
    buyers = definitions.counted_orders(
        con.table("orders"), config=config, start=start, end=end, customers=customers
    ).select("customer_sk")
    clv = con.table("clv")
    t = clv.semi_join(buyers.distinct(), "customer_sk")
    row = t.aggregate(n=t.count(), total=t.clv.sum(), sd=t.clv.std(how="sample")).to_pandas()
    row = row.iloc[0]
    n = int(row.n or 0)
    return stats.Metric.mean(
        "clv",
        float(row.total) if n else 0.0,
        n,
        None if pd.isna(row.sd) else float(row.sd),
        window=f"{start:%Y-%m-%d} ≤ t < {end:%Y-%m-%d}",
        definition=definitions.MEASURES["clv"].definition(),
    )
