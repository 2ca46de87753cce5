"""Publishing: the explicit, ordered list of steps that turn a warehouse into a snapshot.

``publish()`` copies the warehouse into a staging file beside the snapshot, runs every step of
:data:`STEPS` in order, writes the tables each returns, records each step's outcome in
``publish_steps`` and the data clock in ``publish_info``, writes the dashboard snapshot from it
with personal data masked (:func:`crmkit.privacy.masked_table`) and swaps both in
(:func:`crmkit.db.staging`): the masked file where the dashboards read, the clear one beside it
for the analyst role (:func:`crmkit.db.analyst_path`). A reader never sees a half-written
snapshot; when a step fails the previous snapshots stay as they were.

A step is a :class:`Step`: a name, the tables it needs (without them it is *skipped*, with
the reason, never run on what is not there) and a function of one
:class:`StepContext` — the staging connection, the data clock ``as_of`` computed once, the
company's settings and a progress callback — that returns ``{table_name: table}``. A value may
be a list of tables: they are appended into one table in that order. Steps run in the order of
:data:`STEPS`; a step may read the tables of the steps before it.

The analysis modules know nothing of publishing: the steps here call their plain functions.

Examples
--------
>>> [s.name for s in STEPS][:3]
['quality', 'classification', 'classification_snapshots']
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import (
    churn,
    classification,
    clv,
    complaints,
    cubes,
    db,
    definitions,
    i18n,
    kpi,
    loyalty,
    needs,
    privacy,
    quality,
    relationship,
    satisfaction,
    stats,
    text,
    winback,
)
from crmkit import config as _config

Table = ir.Table | pd.DataFrame
#: ``progress(step, message)``: called when a step starts (message ``"start"``), while it works
#: (any text) and when it ends (``"ok 3.2 s"``, ``"skipped: …"``).
Progress = Callable[[str, str], None]


class PublishError(RuntimeError):
    """A publish step failed; ``step`` names it. The previous snapshot is unchanged."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"publish step {step!r} failed: {type(cause).__name__}: {cause}")
        self.step = step
        self.cause = cause
        self.trace = "".join(traceback.format_exception(cause))


@dataclass(frozen=True)
class StepContext:
    """What every publish step receives.

    Attributes
    ----------
    con : ibis backend
        The staging snapshot (read and write): the warehouse's tables plus those of the steps
        before.
    as_of : datetime
        The data clock (:func:`crmkit.db.data_as_of` of the warehouse), the same for every step.
    config : Config
        The company's settings.
    progress : callable
        ``progress(step, message)`` for long work; a no-op by default.
    step : str
        The running step's name (set by the pipeline).
    """

    con: BaseBackend
    as_of: datetime
    config: _config.Config
    progress: Progress = field(default=lambda step, message: None, repr=False)
    step: str = ""

    def say(self, message: str) -> None:
        """Report progress of the running step."""
        self.progress(self.step, message)

    def has(self, name: str) -> bool:
        """The snapshot has a table ``name``."""
        return name in self.con.list_tables()


@dataclass(frozen=True)
class Step:
    """One named publish step: what it needs and the function that computes its tables."""

    name: str
    run: Callable[[StepContext], Mapping[str, Table | list[Table]]]
    needs: tuple[str, ...] = ()
    doc: str = ""

    def missing(self, ctx: StepContext) -> str:
        """Why the step cannot run (empty when it can): a reason code for
        :func:`crmkit.i18n.reason_text` naming the tables that are absent (``no_table:…``) or
        hold no rows (``empty_table:…``)."""
        lacking = [t for t in self.needs if not ctx.has(t)]
        if lacking:
            return f"no_table:{','.join(lacking)}"
        empty = [t for t in self.needs if ctx.con.table(t).count().execute() == 0]
        return f"empty_table:{','.join(empty)}" if empty else ""


# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------


def _quality(ctx: StepContext) -> dict[str, Table]:
    return quality.publish_tables(ctx.con, as_of=ctx.as_of)


def _classification(ctx: StepContext) -> dict[str, Table]:
    return {
        "classification": classification.classify(ctx.con, as_of=ctx.as_of, rules=ctx.config.rules)
    }


def _classification_snapshots(ctx: StepContext) -> dict[str, list[Table]]:
    return {
        "classification_snapshots": classification.snapshot_tables(
            ctx.con,
            as_of=ctx.as_of,
            rules=ctx.config.rules,
            current=ctx.con.table("classification"),
        )
    }


def _clv(ctx: StepContext) -> dict[str, Table]:
    return clv.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config, progress=ctx.say)


def _churn(ctx: StepContext) -> dict[str, Table]:
    return churn.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config, progress=ctx.say)


def _winback(ctx: StepContext) -> dict[str, Table]:
    return winback.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config, progress=ctx.say)


def _loyalty(ctx: StepContext) -> dict[str, Table]:
    return loyalty.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _cubes(ctx: StepContext) -> dict[str, Table]:
    return cubes.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _need_texts(ctx: StepContext) -> dict[str, Table]:
    return needs.text_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _needs(ctx: StepContext) -> dict[str, Table]:
    return needs.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _relationship(ctx: StepContext) -> dict[str, Table]:
    return relationship.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _satisfaction_responses(ctx: StepContext) -> dict[str, Table]:
    resp = satisfaction.responses(ctx.con, as_of=ctx.as_of, config=ctx.config)
    return {"satisfaction_responses": resp}


def _complaints(ctx: StepContext) -> dict[str, Table]:
    return complaints.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _satisfaction(ctx: StepContext) -> dict[str, Table]:
    return satisfaction.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


def _kpi(ctx: StepContext) -> dict[str, Table]:
    return kpi.publish_tables(ctx.con, as_of=ctx.as_of, config=ctx.config)


#: Every publish step, in the order they run.
STEPS: tuple[Step, ...] = (
    Step("quality", _quality, ("customers",), "data quality: records, tables, duplicates"),
    Step("classification", _classification, ("customers", "orders"), "RFM, value, type, stage"),
    Step(
        "classification_snapshots",
        _classification_snapshots,
        ("classification",),
        "the classes at the last four quarter ends (migration)",
    ),
    Step("clv", _clv, ("customers", "orders"), "BG/NBD + Gamma-Gamma: p_alive, CLV"),
    Step(
        "churn",
        _churn,
        ("customers", "orders", "classification"),
        "churn model, backtest, warning list, why customers left",
    ),
    Step(
        "winback",
        _winback,
        ("customers", "orders", "interactions", "classification"),
        "win-back attempts, their reasons and outcomes",
    ),
    Step("loyalty", _loyalty, ("customers", "orders"), "repurchase, referral, cohorts, points"),
    Step("cubes", _cubes, ("customers", "classification"), "counts per filter group"),
    Step("need_texts", _need_texts, ("feedback",), "feedback tokenised, topics, sentiment"),
    Step("needs", _needs, ("customers", "need_texts"), "need priority and trend, need responses"),
    Step("relationship", _relationship, ("customers",), "contact cadence, care calendar"),
    Step(
        "satisfaction_responses",
        _satisfaction_responses,
        ("customers", "feedback"),
        "scored survey answers with their slices",
    ),
    Step("complaints", _complaints, ("tickets",), "SLA clock, backlog, breaches, service quality"),
    Step("satisfaction", _satisfaction, ("feedback",), "drivers, alerts, detractor topics"),
    Step("kpi", _kpi, ("orders",), "every KPI for the last complete periods"),
)


# ---------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOutcome:
    step: str
    status: str  # "ok" or "skipped"
    reason: str
    seconds: float
    rows: int


@dataclass(frozen=True)
class PublishResult:
    path: Path
    tables: dict[str, int]
    seconds: float
    bytes: int
    steps: dict[str, float] = field(default_factory=dict)
    outcomes: tuple[StepOutcome, ...] = ()


def outcomes_frame(outcomes: Iterable[StepOutcome]) -> pd.DataFrame:
    """The ``publish_steps`` table: one row per step with its status, reason, seconds, rows."""
    frame = pd.DataFrame(
        [o.__dict__ for o in outcomes], columns=["step", "status", "reason", "seconds", "rows"]
    )
    return frame.astype(
        {"step": "string", "status": "string", "reason": "string", "seconds": "float64",
         "rows": "int64"}
    )  # fmt: skip


def _write(con: BaseBackend, name: str, value: Table | list[Table]) -> int:
    parts = value if isinstance(value, list) else [value]
    if not parts:
        return 0
    con.create_table(name, parts[0], overwrite=True)
    for part in parts[1:]:
        con.insert(name, part)
    return int(con.table(name).count().execute())


def run_steps(
    ctx: StepContext, steps: Iterable[Step] = STEPS
) -> tuple[list[StepOutcome], dict[str, float]]:
    """Run ``steps`` in order on ``ctx.con``, writing their tables.

    Returns
    -------
    (outcomes, seconds)
        One :class:`StepOutcome` per step; seconds per step that ran.

    Raises
    ------
    PublishError
        The first step that raised, named.
    """
    outcomes: list[StepOutcome] = []
    seconds: dict[str, float] = {}
    for step in steps:
        sctx = StepContext(ctx.con, ctx.as_of, ctx.config, ctx.progress, step.name)
        t0 = time.perf_counter()
        why = step.missing(sctx)
        # a table an earlier skipped step would have written: that step's reason is the cause
        # ("the feedback table is empty", not "no need_texts table")
        skipped = {o.step: o.reason for o in outcomes if o.status == "skipped"}
        if why and why.startswith("no_table:") and why.split(":", 1)[1] in skipped:
            why = skipped[why.split(":", 1)[1]]
        if why:
            outcomes.append(StepOutcome(step.name, "skipped", why, 0.0, 0))
            sctx.say(f"skipped: {i18n.reason_text(why, 'en')}")
            continue
        sctx.say("start")
        try:
            rows = sum(_write(ctx.con, name, v) for name, v in step.run(sctx).items())
        except stats.NotEnoughData as e:
            outcomes.append(StepOutcome(step.name, "skipped", e.reason, 0.0, 0))
            sctx.say(f"skipped: {i18n.reason_text(e.reason, 'en')}")
            continue
        except Exception as e:
            raise PublishError(step.name, e) from e
        seconds[step.name] = time.perf_counter() - t0
        outcomes.append(StepOutcome(step.name, "ok", "", seconds[step.name], rows))
        sctx.say(f"ok {seconds[step.name]:.1f} s")
    return outcomes, seconds


def check_settings(cfg: _config.Config) -> _config.Config:
    """Validate every settings file the steps read, before anything is copied: a bad value
    stops the publish at once with the file and key named, whatever data the warehouse holds
    (a step skipped for lack of data would otherwise never read, nor check, its settings).

    Raises
    ------
    crmkit.config.ConfigError or ValueError
        Naming the file, the key and what was expected.
    """
    classification.validate_rules(cfg.rules, source=str(cfg.path("rules")))
    definitions.sla_policy(cfg)
    text.load_taxonomy(config=cfg)
    needs.load_actions(config=cfg)
    return cfg


def is_demo(warehouse: str | os.PathLike) -> bool:
    """Whether the warehouse file was built by ``crmkit demo`` (it holds the planted truth);
    False when it does not exist (``publish`` then says so)."""
    path = Path(warehouse)
    if not path.exists():
        return False
    con = db.connect(path)
    try:
        return _config.DEMO_MARKER_TABLE in con.list_tables()
    finally:
        con.disconnect()


def check_snapshot_settings(
    snapshot: str | os.PathLike, config: str | os.PathLike | None = None
) -> _config.Config:
    """The settings a snapshot was published with, checked against the ones the caller names.

    ``crmkit report`` and ``crmkit serve`` show what the snapshot holds, computed with the
    settings stored in it. When the caller names settings (``config`` or ``$CRMKIT_CONFIG``)
    they must be the ones published; otherwise the pages would mix two sets of targets and
    rules, so this refuses and says to republish.

    Raises
    ------
    crmkit.config.ConfigError
        When the named settings are invalid, or differ from the published ones.
    """
    con = db.connect(Path(snapshot))
    try:
        published = _config.for_connection(con)
    finally:
        con.disconnect()
    if config is None and not os.environ.get("CRMKIT_CONFIG"):
        return published
    wanted = _config.load(config)
    if wanted.fingerprint() != published.fingerprint():
        raise _config.ConfigError(
            f"the snapshot {str(snapshot)!r} was published with the settings in "
            f"{str(published.directory)!r} (fingerprint {published.fingerprint()}), but "
            f"{str(wanted.directory)!r} differs (fingerprint {wanted.fingerprint()}); run "
            f"`crmkit publish --config {wanted.directory}` first, or leave --config / "
            "$CRMKIT_CONFIG out to use the published settings"
        )
    return published


def publish(
    warehouse: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    *,
    config: str | os.PathLike | _config.Config | None = None,
    steps: Iterable[Step] | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Build the dashboard snapshot from the warehouse and swap it in atomically.

    The dashboard snapshot ``out`` holds names, phones, emails and the numbers and addresses in
    free text masked (every column :func:`crmkit.privacy.personal_columns` names); the analyst
    snapshot beside it (:func:`crmkit.db.analyst_path`) holds the same tables in clear. Both
    are created mode 0600.

    Parameters
    ----------
    warehouse : path-like, optional
        Default :func:`crmkit.db.warehouse_path`.
    out : path-like, optional
        The dashboard snapshot; default :func:`crmkit.db.published_path`.
    config : path-like or Config, optional
        The company's settings directory. Default ``$CRMKIT_CONFIG``, else the demo settings
        for a demo warehouse, else the packaged neutral defaults (no KPI targets, an empty
        response register). The settings used are stored in the snapshot
        (``published_settings``) and read back by pages and the report.
    steps : iterable of Step, optional
        Default :data:`STEPS`, all of them.
    progress : callable, optional
        ``progress(step, message)`` (see :data:`Progress`); ``"copy"`` reports the copy.

    Returns
    -------
    PublishResult
        Path, rows per stored table, seconds in all and per step (``copy`` the warehouse copy,
        ``mask`` writing the masked dashboard file), file size and each step's outcome (also
        stored as the ``publish_steps`` table).

    Raises
    ------
    FileNotFoundError
        When the warehouse does not exist.
    PublishError
        When a step fails; nothing is swapped in.

    Examples
    --------
    A warehouse with one customer, published with only the quality step: the snapshot holds the
    warehouse's tables, the step's four tables, and the step's outcome.

    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> con = db.connect(d / "w.duckdb", read_only=False)
    >>> db.create_schema(con)
    >>> con.insert("customers", pd.DataFrame({"customer_id": ["C1"], "customer_sk": [1],
    ...     "name": ["张三"], "created_at": [datetime(2024, 1, 1)]}))
    >>> con.disconnect()
    >>> res = publish(d / "w.duckdb", d / "p.duckdb", steps=[STEPS[0]])
    >>> res.tables["quality_records"], [(o.step, o.status) for o in res.outcomes]
    (1, [('quality', 'ok')])
    """
    t0 = time.perf_counter()
    say = progress or (lambda step, message: None)
    src = db.warehouse_path(warehouse)
    dst = db.published_path(out)
    cfg = check_settings(_config.load(config, demo=is_demo(src)))
    with db.staging(src, dst, dashboard=privacy.masked_table) as snap:
        seconds = {"copy": time.perf_counter() - t0}
        say("copy", f"ok {seconds['copy']:.1f} s")
        as_of = db.data_as_of(snap)
        ctx = StepContext(snap, as_of, cfg, say)
        outcomes, step_seconds = run_steps(ctx, STEPS if steps is None else steps)
        seconds.update(step_seconds)
        snap.create_table("publish_steps", outcomes_frame(outcomes), overwrite=True)
        snap.create_table(_config.SNAPSHOT_TABLE, _config.as_frame(cfg), overwrite=True)
        snap.create_table(
            "publish_info",
            pd.DataFrame(
                {
                    "published_at": [datetime.now()],
                    "source": [str(src)],
                    "crmkit_version": [db.version()],
                    # the data clock, read by every dashboard page (crmkit.db.data_as_of)
                    "as_of": [as_of],
                    "config_dir": [str(cfg.directory)],
                    "config_fingerprint": [cfg.fingerprint()],
                }
            ),
            overwrite=True,
        )
        counts = db.stored_counts(snap)
        t_mask = time.perf_counter()
    # leaving the block writes the masked dashboard copy and swaps both files in
    seconds["mask"] = time.perf_counter() - t_mask
    say("mask", f"ok {seconds['mask']:.1f} s")
    return PublishResult(
        dst, counts, time.perf_counter() - t0, dst.stat().st_size, seconds, tuple(outcomes)
    )
