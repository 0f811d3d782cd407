"""XLSX report (streamed by costsim.report.xlsx_writer): summary, assumptions with sources, one time-series sheet per variant
and part, latency tables. Values stay in SI units with the unit in the column header ('Facility power mean (W)'); a sheet
that would pass Excel's row limit says so in its first row instead of being cut silently."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from costsim.report.assumptions import assumption_rows
from costsim.report.fmt import SI_UNITS, field_unit_key, fmt_value, human, key_note, label, unit_of
from costsim.report.xlsx_writer import BOLD, Book

MAX_ROWS = 1_048_576 - 2
MAX_CELL_CHARS = 32_767  # Excel's limit of characters per cell
MAX_TABLE_ROWS = 20_000  # per-request tables longer than this stay in tables.parquet (said in the sheet)


# control characters a worksheet cannot hold (XML 1.0 forbids them; openpyxl's ILLEGAL_CHARACTERS_RE) and lone surrogates
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037\ud800-\udfff]")


def _clean(text: str) -> str:
    """Drop the characters a worksheet cannot hold."""
    return _ILLEGAL.sub("", text)


def _cell(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dict, list, tuple)):
        v = str(v)
    if isinstance(v, str):
        v = _clean(v)
        if len(v) > MAX_CELL_CHARS:  # Excel's limit per cell: say so rather than hand Excel a file it must repair
            v = v[: MAX_CELL_CHARS - 80] + f" ... ({len(v):,} characters; the whole text is in summary.json)"
    return v


def _row(values: list[Any]) -> list[Any]:
    """Cells of one row: strings cleaned (and written as inline text, never as formulas: costsim.report.xlsx_writer)."""
    return [_cell(v) for v in values]


def _sheet_name(used: set[str], name: str) -> str:
    base = "".join(c for c in _clean(name) if c not in '[]:*?/\\')[:31].strip("'") or "sheet"
    out, i = base, 2
    while out in used:
        suffix = f"~{i}"
        out = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(out)
    return out


def column_label(key: str) -> str:
    """A time-series or table column's header: its label and the SI unit its values are in ('Facility power mean (W)',
    'Time (s)', 'KV cache util (fraction, 0-1)'); the sheets had the raw keys (facility_power_mean_w, t_s) that
    timeseries.parquet keeps. A rate's label already says 'per second'."""
    if key == "t_s":
        return "Time (s)"
    text = human(key)
    suffix = unit_of(key)
    unit = "fraction, 0-1" if suffix == "_frac" else SI_UNITS.get(suffix, "")
    if suffix == "_per_s" or not unit or text.endswith(" " + unit):
        return text
    return f"{text} ({unit})"


def _columns_sheet(book: Book, used: set[str], name: str, cols: dict[str, Any]) -> None:
    keys = [k for k, a in cols.items() if np.asarray(a).ndim == 1]
    n = max((len(np.asarray(cols[k])) for k in keys), default=0)
    with book.sheet(_sheet_name(used, name), cells=min(n, MAX_ROWS) * len(keys), freeze_rows=2 if n > MAX_ROWS else 1) as ws:
        if not keys:
            return
        if n > MAX_ROWS:
            ws.row([f"{n} rows exceed Excel's limit; the full series is in timeseries.parquet / summary.json. First {MAX_ROWS} rows below."])
            n = MAX_ROWS
        ws.row(_row([column_label(k) for k in keys]), BOLD)
        arrays, numeric = [], True
        for k in keys:
            a = np.asarray(cols[k])[:n]
            if a.dtype.kind in "fiu":
                lst = a.tolist()  # NaN / inf become empty cells in the writer (numeric_rows)
            else:
                numeric = False
                lst = [_cell(x) for x in a.tolist()]
            arrays.append(lst + [None] * (n - len(lst)))
        if numeric:
            ws.numeric_rows(zip(*arrays))
        else:
            for row in zip(*arrays):
                ws.row(list(row))


def write_xlsx(result, path: str | os.PathLike[str]) -> Path:
    """Streamed workbook (costsim.report.xlsx_writer: fast for long time series)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    book = Book(tmp)
    try:
        _write_sheets(book, result)
        book.close()
        os.replace(tmp, p)
    except BaseException:
        book.abort()
        tmp.unlink(missing_ok=True)
        raise
    return p


def _uncertainty_sheet(book: Book, used: set[str], doc: dict | None) -> None:
    """The run's uncertainty study (costsim.sweep.uncertainty's document): P10 / P50 / P90 of each metric per variant
    and the Sobol' indices of each input, as the HTML report shows them."""
    if not doc or not doc.get("variants"):
        return
    with book.sheet(_sheet_name(used, "uncertainty"), widths={2: 36, 8: 40}, freeze_rows=1) as wu:
        wu.row(["variant", "metric (SI units)", "p10", "p50", "p90", "mean", "n", "input", "first-order S1", "total ST"], BOLD)
        for vname, vdoc in doc["variants"].items():
            for metric, m in (vdoc.get("metrics") or {}).items():
                b = m.get("band") or {}
                idx = m.get("indices") or {}
                s1, st = idx.get("first_order") or {}, idx.get("total_order") or {}
                head = [vname, metric, b.get("p10"), b.get("p50"), b.get("p90"), b.get("mean"), b.get("n")]
                if not s1:
                    wu.row(_row(head + [None, None, None]))
                for path in s1:
                    wu.row(_row(head + [path, s1.get(path), st.get(path)]))


def _readable(key: str, value: Any, part: str, prefix: str = "", unit_key: str | None = None) -> list[Any]:
    """The summary sheet's last two cells of a key: its label and its value in a reading unit ('Facility energy',
    '5,300 MWh'), as report.html shows them; the SI value stays in its own column for formulas. A field of a record
    without a unit of its own (time_in_state_s.train) takes the record's (`unit_key`)."""
    if isinstance(value, (dict, list, tuple)):
        return [prefix + label(key, part), None]
    fkey = field_unit_key(unit_key, key) if unit_key else key
    return [prefix + label(key, part), fmt_value(fkey, value) if value is not None else None]


def _write_sheets(book: Book, result) -> None:
    from costsim.api.run import part_error_band  # the api imports the reports: a local import, as report.html's

    from costsim.report.conclusion import conclusion

    used: set[str] = set()
    answer = conclusion(result)  # the answer first, as report.html and the CLI give it
    with book.sheet(_sheet_name(used, "summary"), widths={3: 40, 10: 40, 11: 18}, freeze_rows=5 + len(answer)) as ws:
        for line in answer:
            ws.row(_row(["answer", line]))
        ws.row(_row(["scenario", result.scenario.name]))
        ws.row(_row(["run id", result.scenario_hash]))
        ws.row(_row(["seed", result.seed]))
        ws.row([])
        ws.row(["variant", "part", "key (SI units)", "value", "p5", "p50", "p95", "replicates", "basis", "quantity",
                "value with unit"], BOLD)
        for v in result.variants:
            for part, pr in v.parts.items():
                for k, val in pr.summary.items():
                    if isinstance(val, dict):  # a record of scalars (error_band, deployment, ...): one row per field
                        for sub, x in val.items():
                            if not isinstance(x, (dict, list)):
                                ws.row(_row([v.name, part, f"{k}.{sub}", x, None, None, None, len(pr.replicate_summaries), None,
                                             *_readable(sub, x, part, f"{label(k, part)}: ", unit_key=k)]))
                        continue
                    if isinstance(val, list):
                        continue
                    r = pr.ranges.get(k, {})
                    basis = key_note(k) if part == "serving" else ""
                    ws.row(_row([v.name, part, k, val, r.get("p5"), r.get("p50"), r.get("p95"), len(pr.replicate_summaries),
                                 basis or None, *_readable(k, val, part)]))
                # the trust ranges the JSON carries beside the summary (costsim.api.run_output.summary_doc)
                for key, family in (("error_band", None), ("power_error_band", "power")):
                    for sub, x in (part_error_band(part, v.scenario, family, pr.summary) or {}).items():
                        ws.row(_row([v.name, part, f"{key}.{sub}", x, None, None, None, None, None,
                                     *_readable(sub, x, part, f"{label(key)}: ")]))
            for k, val in v.site.items():
                ws.row(_row([v.name, "site", k, val, None, None, None, None, None, *_readable(k, val, "site")]))

    _uncertainty_sheet(book, used, result.extra.get("uncertainty") if getattr(result, "extra", None) else None)

    with book.sheet(_sheet_name(used, "assumptions"), widths={2: 36, 4: 80}, freeze_rows=1) as wa:
        wa.row(["variant", "assumption", "value", "source", "kind", "scenario field"], BOLD)
        for v in result.variants:
            for r in assumption_rows(v.scenario, variant=v.name, summaries={p: pr.summary for p, pr in v.parts.items()}):
                wa.row(_row([r["variant"], r["item"], r["value"], r["source"], r["kind"], r.get("path")]))

    for v in result.variants:
        for part, pr in v.parts.items():
            if pr.timeseries:
                _columns_sheet(book, used, f"ts {v.name} {part}", pr.timeseries)
            for tname, table in pr.tables.items():
                n = max((len(np.asarray(a)) for a in table.values()), default=0)
                if n > MAX_TABLE_ROWS:
                    with book.sheet(_sheet_name(used, f"{tname} {v.name}")) as ws_t:
                        ws_t.row(_row([f"{n} rows ({part} table '{tname}', variant '{v.name}'): too long for a spreadsheet; "
                                       f"all rows are in tables.parquet next to this file."]))
                    continue
                _columns_sheet(book, used, f"{tname} {v.name}", table)
        if v.site_timeseries and len(v.parts) > 1:
            _columns_sheet(book, used, f"ts {v.name} site", v.site_timeseries)
