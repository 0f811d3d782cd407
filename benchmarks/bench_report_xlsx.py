"""report.xlsx writing speed: a 54-day, 1-minute time series (77,760 rows x 12 columns, the 405B pre-training
scenario's size per variant) written by costsim's streaming SpreadsheetML writer (costsim.report.xlsx_writer), and
by openpyxl's write-only mode for comparison where openpyxl is installed (the dev extra).

    .venv/bin/python benchmarks/bench_report_xlsx.py   -> prints, writes benchmarks/results/report_xlsx.json
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from costsim.report.xlsx_writer import BOLD, Book

ROWS, COLS = 77_760, 12


def _series() -> list[list[float]]:
    rng = np.random.default_rng(0)
    a = rng.random((ROWS, COLS)) * 1e8
    a[:, 0] = np.arange(ROWS) * 60.0
    return a.tolist()


def _costsim(rows, path: Path) -> float:
    t0 = time.perf_counter()
    book = Book(path)
    with book.sheet("ts") as s:
        s.row([f"col_{i}_w" for i in range(COLS)], BOLD)
        s.numeric_rows(rows)
    book.close()
    return time.perf_counter() - t0


def _openpyxl(rows, path: Path) -> float | None:
    try:
        from openpyxl import Workbook
    except ImportError:
        return None
    t0 = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ts")
    ws.append([f"col_{i}_w" for i in range(COLS)])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return time.perf_counter() - t0


def main() -> dict:
    rows = _series()
    with tempfile.TemporaryDirectory() as d:
        ours = min(_costsim(rows, Path(d) / "a.xlsx") for _ in range(3))
        size = (Path(d) / "a.xlsx").stat().st_size
        theirs = _openpyxl(rows, Path(d) / "b.xlsx")
    cells = ROWS * COLS
    out = {"rows": ROWS, "columns": COLS, "cells": cells, "costsim_writer_s": ours,
           "costsim_writer_cells_per_s": cells / ours, "costsim_writer_bytes": size,
           "openpyxl_write_only_s": theirs, "openpyxl_write_only_cells_per_s": None if theirs is None else cells / theirs,
           "speedup": None if theirs is None else theirs / ours, "machine": platform.processor() or platform.machine()}
    Path(__file__).resolve().parent.joinpath("results", "report_xlsx.json").write_text(json.dumps(out, indent=2) + "\n")
    for k, v in out.items():
        print(f"{k:34s} {v:,.4g}" if isinstance(v, float) else f"{k:34s} {v}")
    return out


if __name__ == "__main__":
    main()
