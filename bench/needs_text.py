"""Text throughput of the needs publish step: texts per second for tokenising (jieba) + topic
assignment, and for the whole per-text analysis (+ sentiment).

Builds a seeded demo warehouse of ``--customers`` customers in a temporary directory (100,000
customers give ≈ 95,000 feedback texts; 120,000 give > 100,000), then times on one core:

- ``tokenise+assign``: :meth:`crmkit.text.NeedAnalyzer.tokenize` + ``assign`` on every text,
  one by one (no de-duplication);
- ``+ sentiment``: the same plus :meth:`~crmkit.text.NeedAnalyzer.sentiment`;
- ``publish path``: :func:`crmkit.text.analyse_texts`, which analyses each distinct text once
  (the demo's texts come from templates, so this is far faster than real text would be).

Each figure is the median of ``--repeat`` runs; results go to
``bench/results/<date>-needs-text.json``. Usage: ``python -m bench.needs_text [--customers
120000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.record import record
from crmkit import db, demo, text


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=120_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-needs-") as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        con = db.connect(path, read_only=False, threads=1)
        demo.generate(con, args.customers, seed=42, as_of=date(2026, 9, 30), progress=False)
        fb = con.table("feedback")
        texts = fb.filter(fb.text.notnull()).select("feedback_id", "text", "language").to_pandas()
        con.disconnect()
    na = text.analyzer()
    na.sentiment("预热", "zh")  # load the models outside the timings
    rows = list(zip(texts.text, texts.language, strict=True))

    def timed(fn) -> dict:  # noqa: ANN001
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            runs.append(len(rows) / (time.perf_counter() - t0))
        return {"median": round(statistics.median(runs)), "min": round(min(runs)),
                "max": round(max(runs))}  # fmt: skip

    out = {
        "date": date.today().isoformat(),
        "texts": len(rows),
        "distinct_texts": int(texts.text.nunique()),
        "tokenise_assign_texts_per_s": timed(lambda: [na.assign(na.tokenize(t)) for t, _ in rows]),
        "with_sentiment_texts_per_s": timed(
            lambda: [(na.assign(na.tokenize(t)), na.sentiment(t, lg)) for t, lg in rows]
        ),
        "publish_path_texts_per_s": timed(lambda: text.analyse_texts(texts, na)),
    }
    record("needs_text", out)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
