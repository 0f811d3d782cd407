"""XLSX report (openpyxl): summary, assumptions with sources, one time-series sheet per variant
and part, latency tables. Values stay in SI units with the unit in the column name; a sheet
that would pass Excel's row limit says so in its first row instead of being cut silently."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from costsim.report.assumptions import assumption_rows
from costsim.report.fmt import key_note

MAX_ROWS = 1_048_576 - 2
MAX_TABLE_ROWS = 20_000  # per-request tables longer than this stay in tables.parquet (said in the sheet)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _clean(text: str) -> str:
    """Drop the control characters a worksheet cannot hold (openpyxl raises IllegalCharacterError)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _text_cell(ws, text: str):
    """A string cell typed as text (data_type 's'), so a value starting with = + - @ tab or CR is
    never stored or read as a formula (formula injection)."""
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value=text)
    c.data_type = "s"
    return c


def _cell(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dict, list, tuple)):
        v = str(v)
    if isinstance(v, str):
        return _clean(v)
    return v


def _row(ws, values: list[Any]) -> list[Any]:
    """Cells of one row: strings cleaned, formula-like strings forced to text."""
    out = []
    for v in values:
        if not hasattr(v, "data_type"):  # not already a cell
            v = _cell(v)
            if isinstance(v, str) and v.startswith(FORMULA_START):
                v = _text_cell(ws, v)
        out.append(v)
    return out


def _sheet_name(used: set[str], name: str) -> str:
    base = "".join(c for c in _clean(name) if c not in '[]:*?/\\')[:31].strip("'") or "sheet"
    out, i = base, 2
    while out in used:
        suffix = f"~{i}"
        out = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(out)
    return out


def _columns_sheet(wb, used: set[str], name: str, cols: dict[str, Any]) -> None:
    ws = wb.create_sheet(_sheet_name(used, name))
    keys = [k for k, a in cols.items() if np.asarray(a).ndim == 1]
    if not keys:
        return
    n = max(len(np.asarray(cols[k])) for k in keys)
    if n > MAX_ROWS:
        ws.append(_row(ws, [f"{n} rows exceed Excel's limit; the full series is in timeseries.parquet / summary.json. First {MAX_ROWS} rows below."]))
        n = MAX_ROWS
    ws.append(_row(ws, _bold(ws, keys)))
    arrays = []
    for k in keys:
        a = np.asarray(cols[k])
        lst = [_cell(x) for x in a.tolist()] if a.dtype.kind not in "fiub" else a.tolist()
        if a.dtype.kind == "f":
            lst = [None if x != x or x in (float("inf"), float("-inf")) else x for x in lst]
        arrays.append(lst + [None] * (n - len(lst)))
    for row in zip(*arrays):
        ws.append(_row(ws, list(row)))


def _bold(ws, values: list[Any]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    out = []
    for v in values:
        v = _cell(v)
        c = WriteOnlyCell(ws, value=v)
        if isinstance(v, str):
            c.data_type = "s"
        c.font = Font(bold=True)
        out.append(c)
    return out


def write_xlsx(result, path: str | os.PathLike[str]) -> Path:
    """Write-only workbook (streams rows: fast for long time series)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    used: set[str] = set()
    ws = wb.create_sheet(_sheet_name(used, "summary"))
    ws.column_dimensions["C"].width = 40
    ws.append(_row(ws, ["scenario", result.scenario.name]))
    ws.append(_row(ws, ["run id", result.scenario_hash]))
    ws.append(_row(ws, ["seed", result.seed]))
    ws.append(_row(ws, []))
    ws.append(_row(ws, _bold(ws, ["variant", "part", "key (SI units)", "value", "p5", "p50", "p95", "replicates", "basis"])))
    for v in result.variants:
        for part, pr in v.parts.items():
            for k, val in pr.summary.items():
                if isinstance(val, (dict, list)):
                    continue
                r = pr.ranges.get(k, {})
                basis = key_note(k) if part == "serving" else ""
                ws.append(_row(ws, [v.name, part, k, _cell(val), r.get("p5"), r.get("p50"), r.get("p95"), len(pr.replicate_summaries),
                           basis or None]))
        for k, val in v.site.items():
            ws.append(_row(ws, [v.name, "site", k, _cell(val), None, None, None, None]))

    wa = wb.create_sheet(_sheet_name(used, "assumptions"))
    wa.column_dimensions["B"].width = 36
    wa.column_dimensions["D"].width = 80
    wa.append(_row(wa, _bold(wa, ["variant", "assumption", "value", "source", "kind"])))
    for v in result.variants:
        for r in assumption_rows(v.scenario, variant=v.name, summaries={p: pr.summary for p, pr in v.parts.items()}):
            wa.append(_row(wa, [r["variant"], r["item"], r["value"], r["source"], r["kind"]]))

    for v in result.variants:
        for part, pr in v.parts.items():
            if pr.timeseries:
                _columns_sheet(wb, used, f"ts {v.name} {part}", pr.timeseries)
            for tname, table in pr.tables.items():
                n = max((len(np.asarray(a)) for a in table.values()), default=0)
                if n > MAX_TABLE_ROWS:
                    ws_t = wb.create_sheet(_sheet_name(used, f"{tname} {v.name}"))
                    ws_t.append(_row(ws_t, [f"{n} rows ({part} table '{tname}', variant '{v.name}'): too long for a spreadsheet; "
                                 f"all rows are in tables.parquet next to this file."]))
                    continue
                _columns_sheet(wb, used, f"{tname} {v.name}", table)
        if v.site_timeseries and len(v.parts) > 1:
            _columns_sheet(wb, used, f"ts {v.name} site", v.site_timeseries)
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        wb.save(tmp)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
