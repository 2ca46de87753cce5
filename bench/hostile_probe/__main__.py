"""``python -m bench.hostile_probe``: every case, the results file and the table."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path

from bench.hostile_probe import (
    GROUPS,
    LEFT_OUT,
    ROOT,
    Ctx,
    Row,
    combine,
    markdown_table,
)
from bench.hostile_probe.data_cases import (
    probe_exports,
    probe_headerless,
    probe_needs_cluster,
    probe_report_reasons,
    probe_snapshot_pii,
)
from bench.hostile_probe.fault_cases import (
    probe_big_file_and_kills,
    probe_disk_full,
    probe_killed_publish,
    probe_second_writer,
)
from bench.hostile_probe.ingest_cases import (
    probe_amounts,
    probe_big_field,
    probe_excel,
    probe_gbk_far,
    probe_mixed_encoding,
    probe_nonfinite,
    probe_parquet_nested,
    probe_runaway_quote,
    probe_unicode_spaces,
)
from bench.hostile_probe.serve_cases import probe_open_bind, probe_page_server, probe_token_server
from bench.record import dated, record

# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------

#: Every probe in the order of the table: (group, function returning its rows).
PROBES: list[tuple[str, Callable[[Ctx], list[Row]]]] = [
    ("ingest", probe_runaway_quote),
    ("ingest", probe_mixed_encoding),
    ("ingest", probe_amounts),
    ("ingest", probe_nonfinite),
    ("ingest", probe_parquet_nested),
    ("ingest", probe_gbk_far),
    ("ingest", probe_big_field),
    ("ingest", probe_unicode_spaces),
    ("ingest", probe_excel),
    ("exports", probe_exports),
    ("pii", probe_snapshot_pii),
    ("pii", probe_needs_cluster),
    ("pii", probe_report_reasons),
    ("pii", probe_headerless),
    ("faults", probe_second_writer),
    ("faults", probe_disk_full),
    ("faults", probe_killed_publish),
    ("held", probe_big_file_and_kills),
    ("serving", probe_token_server),
    ("serving", probe_page_server),
    ("held", probe_open_bind),
]


def _say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def run(only: set[str] | None = None) -> dict:
    """Every probe (or those of the groups / function names in ``only``); the results."""
    t0 = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hostile-probe-") as tmp:
        ctx = Ctx(Path(tmp))
        for group, probe in PROBES:
            name = probe.__name__.removeprefix("probe_")
            if only and group not in only and name not in only:
                continue
            _say(f"{group}: {name}")
            try:
                rows += probe(ctx)
            except Exception as e:  # one broken case must not hide the others
                rows.append(
                    Row(
                        name,
                        group,
                        name,
                        "",
                        f"probe failed: {type(e).__name__}: {e}",
                        {"probe ran": False},
                        {"traceback": traceback.format_exc()},
                    )  # fmt: skip
                )
    rows.sort(key=lambda r: GROUPS.index(r.group))
    out_rows = [{"n": i, **asdict(r), "ok": r.ok} for i, r in enumerate(rows, start=1)]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "date": date.today().isoformat(),
        "commit": commit,
        "wall_s": round(time.perf_counter() - t0, 1),
        "cases": len(out_rows),
        "passed": sum(r["ok"] for r in out_rows),
        "left_out": LEFT_OUT,
        "rows": out_rows,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hostile_probe", description=__doc__)
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    p.add_argument("--only", help="comma-separated groups or probe names (default: all)")
    args = p.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    out = args.out or dated()
    # a partial run keeps the other cases of an earlier full run
    merge = combine if only else None
    result = record("hostile_probe", run(only), out=out, merge=merge)["hostile_probe"]
    print(markdown_table(result["rows"]))
    print(
        f"\n{result['passed']} of {result['cases']} cases pass; wall time {result['wall_s']:.0f} s;"
        f" left out: {'; '.join(LEFT_OUT)}; results under 'hostile_probe' in {out}"
    )


if __name__ == "__main__":
    main()
