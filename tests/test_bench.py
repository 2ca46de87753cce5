"""The benchmark's reference engines compute what crmkit computes (else their timings mean
nothing): every engine's check is equal to crmkit's (floats to the benchmark's tolerance)."""

import json
import math

import pytest

from bench import suite

SANITY = {
    # per class: customers; 20,000 customers, most with a counted order
    "rfm": lambda ref: sum(row[1] for row in ref) > 15_000,
    # per cohort: size; every buyer is in exactly one cohort, 48 monthly cohorts (Oct 2022 …)
    "cohort": lambda ref: sum(row[1] for row in ref) > 15_000 and len(ref) == 48,
    # per (segment, month, metric): n; both metrics, the 8 classes + potential present
    "satisfaction": lambda ref: (
        sum(r[3] for r in ref if r[2] == "nps") > 1_000
        and {r[2] for r in ref} == {"nps", "csat"}
        and len({r[0] for r in ref}) >= 9
    ),
    # buyers, Σ frequency, Σ recency days, Σ T days, r, α, a, b, Σ P(alive), Σ E[purchases]
    "bgnbd": lambda ref: ref[0] > 15_000 and all(v > 0 for v in ref[4:8]) and ref[8] < ref[0],
}


@pytest.mark.parametrize(
    "bench",
    # bgnbd fits the reference model with scipy for every engine: ~10 s
    [pytest.param(b, marks=pytest.mark.slow) if b == "bgnbd" else b for b in suite.BENCHMARKS],
)
def test_engines_agree(demo_warehouse, bench):
    engines = suite.BENCHMARKS[bench]
    reference = engines["crmkit"](demo_warehouse)()
    assert SANITY[bench](reference), reference[:5]
    tol = suite.TOLERANCE.get(bench, suite.DEFAULT_TOLERANCE)
    for name, make in engines.items():
        if name not in ("crmkit", "floor"):
            check = make(demo_warehouse)()
            assert suite.checks_agree(check, reference, tol), (name, check[:5], reference[:5])


def test_checks_agree_catches_a_wrong_answer():
    """Ints exactly, floats to the relative tolerance: 1.0004 vs 1.0 agrees at 1e-3, not at
    1e-4; one customer more (an int) never agrees; lengths must match."""
    a = [["Oct", 30, 1.0], 7]
    assert suite.checks_agree([["Oct", 30, 1.0004], 7], a, 1e-3)
    assert not suite.checks_agree([["Oct", 30, 1.0004], 7], a, 1e-4)
    assert not suite.checks_agree([["Oct", 31, 1.0], 7], a, 1e-3)
    assert not suite.checks_agree([["Oct", 30, 1.0]], a, 1e-3)
    assert suite.checks_agree([math.nan], [math.nan])


def test_bgnbd_reference_recovers_known_parameters():
    """The hand-written maximum-likelihood fit used by the sql / polars / pandas engines,
    on data simulated from BG/NBD with r = 0.5, α = 4, a = 0.8, b = 2.5 (20,000 customers,
    52 weeks): the estimates land within 10 % (sampling error at this n is a few %)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, T = 20_000, 52.0
    lam = rng.gamma(0.5, 1 / 4.0, n)
    p = rng.beta(0.8, 2.5, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p[i]:
                break
    est = suite.bgnbd_fit(x, tx, np.full(n, T))
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    for k, v in truth.items():
        assert est[k] == pytest.approx(v, rel=0.1), (k, est)
    alive, purchases = suite.bgnbd_score(est, x, tx, np.full(n, T), 52.0)
    assert np.all((alive > 0) & (alive <= 1)) and np.all(purchases >= 0)
    assert alive[x == 0].tolist() == [1.0] * int((x == 0).sum())  # no repeat: alive by model


def test_ratio_table_and_exponent():
    """Times 1 s at 1 M and 10 s at 10 M orders: exponent exactly 1."""
    res = {
        "sizes": {
            "1000000": {"rfm": {"engines": {"crmkit": _e(1.0), "sql": _e(0.5)}}},
            "10000000": {"rfm": {"engines": {"crmkit": _e(10.0), "sql": _e(4.0)}}},
        }
    }
    assert suite.scaling_exponent(res, "rfm") == pytest.approx(1.0)
    table = suite.ratio_table(res)
    assert "| 1,000,000 | rfm | sql | 0.500 | 0.500–0.500 | 2.00 | 100 |" in table
    assert "| 10,000,000 | rfm | sql | 4.000 | 4.000–4.000 | 2.50 | 100 |" in table


def test_plot_copes_with_different_engine_sets(tmp_path):
    """Benchmarks with different engines, and an engine missing at one size, still plot."""
    pytest.importorskip("matplotlib")
    res = {
        "sizes": {
            "1000": {
                "rfm": {"engines": {"crmkit": _e(1.0), "sql": _e(0.5)}},
                "bgnbd": {"engines": {"crmkit": _e(3.0), "polars": _e(2.0)}},
            },
            "10000": {"rfm": {"engines": {"crmkit": _e(9.0)}}},
        }
    }
    suite.plot(res, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert suite.scaling_exponent(res, "bgnbd") is None
    assert "| 1,000 | bgnbd | polars | 2.000 | 2.000–2.000 | 1.50 | 100 |" in suite.ratio_table(res)


def _e(t: float) -> dict:
    return {"median_s": t, "min_s": t, "max_s": t, "runs": 1, "peak_mib": 100}


def test_merge_results_keeps_the_sizes_not_run_again():
    """The day's suite results hold a 1 M rfm run; a new run of cohort at 1 M and rfm at 10 M:
    everything kept, the new entries added, exponents refitted."""
    old = {"repeat": 5, "sizes": {"1000000": {"rfm": {"engines": {"crmkit": _e(1.0)}}}}}
    new = {
        "as_of": "2026-09-30T23:59:59",
        "repeat": 3,
        "sizes": {
            "1000000": {"cohort": {"engines": {"crmkit": _e(2.0)}}},
            "10000000": {"rfm": {"engines": {"crmkit": _e(10.0)}}},
        },
    }
    m = suite.merge_results(old, new)
    assert m["repeat"] == 3
    assert list(m["sizes"]["1000000"]) == ["rfm", "cohort"]
    assert list(m["sizes"]) == ["1000000", "10000000"]
    assert m["exponents"]["rfm"] == pytest.approx(1.0) and m["exponents"]["cohort"] is None


def test_record_keeps_the_other_benchmarks_and_updates_latest(tmp_path):
    """Day 1: suite and publish (two sizes). Day 2: publish at one size again (merged) and
    serve_load. The day files keep every key; latest.json has each benchmark's newest result
    with the file it came from; no temporary file is left."""
    from bench.record import merge_keys, record

    day1, day2 = tmp_path / "2026-12-01.json", tmp_path / "2026-12-02.json"
    day2.write_text(json.dumps({"publish": {"10": {"median_s": 0.1}, "1000": {"median_s": 9.0}}}))
    record("suite", {"sizes": {}}, out=day1)
    record("publish", {"1000": {"median_s": 3.0}}, out=day1)
    record("publish", {"1000": {"median_s": 2.0}}, out=day2, merge=merge_keys)
    record("serve_load", {"errors": 0}, out=day2)
    assert json.loads(day1.read_text()) == {
        "suite": {"sizes": {}},
        "publish": {"1000": {"median_s": 3.0}},
    }
    assert json.loads(day2.read_text()) == {
        "publish": {"10": {"median_s": 0.1}, "1000": {"median_s": 2.0}},
        "serve_load": {"errors": 0},
    }
    assert json.loads((tmp_path / "latest.json").read_text()) == {
        "suite": {"file": "2026-12-01.json", "result": {"sizes": {}}},
        "publish": {
            "file": "2026-12-02.json",
            "result": {"10": {"median_s": 0.1}, "1000": {"median_s": 2.0}},
        },
        "serve_load": {"file": "2026-12-02.json", "result": {"errors": 0}},
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-12-01.json",
        "2026-12-02.json",
        "latest.json",
    ]
    day1.write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        record("suite", {}, out=day1)
