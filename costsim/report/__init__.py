"""costsim.report: planning reports from a run or a sweep (HTML, XLSX, PDF).

`write_run(result, out_dir)` writes the run's data files (costsim.api.run.write_run_data:
scenario.yaml, metadata.json, summary.json, timeseries.parquet) and the reports: report.html
(self-contained, plotly inlined), report.xlsx and, where a headless Chromium is installed,
report.pdf (else a one-line notice in the returned `notices`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_run(result, out_dir: str | os.PathLike[str], *, pdf: bool = True, stage: Path | None = None) -> dict[str, Any]:
    """All files of a run, written atomically: into a staging directory (`stage`, or a new one from
    costsim.api.run.output_staging) that then replaces `out_dir` whole. A run killed at any moment
    leaves the previous complete output or none. Returns {'files': {name: path}, 'notices': [str]}."""
    from costsim.api.run import commit_output, output_staging

    final = Path(out_dir)
    stage = output_staging(final) if stage is None else Path(stage)
    written = _write_run_files(result, stage, pdf=pdf)
    commit_output(stage, final)
    written["files"] = {k: str(final / Path(v).relative_to(stage)) for k, v in written["files"].items()}
    return written


def _write_run_files(result, out: Path, *, pdf: bool) -> dict[str, Any]:
    from costsim.api.run import write_run_data
    from costsim.report.html import run_report_html
    from costsim.report.pdf import html_to_pdf
    from costsim.report.xlsx import write_xlsx

    from costsim.report.conclusion import conclusion

    files: dict[str, Path] = dict(write_run_data(result, out, answer=conclusion(result)))
    notices: list[str] = []
    html_path = out / "report.html"
    tmp = out / f".report.html.tmp-{os.getpid()}"
    tmp.write_text(run_report_html(result), encoding="utf-8")
    os.replace(tmp, html_path)
    files["report.html"] = html_path
    files["report.xlsx"] = write_xlsx(result, out / "report.xlsx")
    if pdf:
        p, notice = html_to_pdf(html_path, out / "report.pdf")
        if p is not None:
            files["report.pdf"] = p
        if notice:
            notices.append(notice)
    return {"files": {k: str(v) for k, v in files.items()}, "notices": notices}


REPORT_MAX_ROWS = 50_000


def _read_sweep(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Manifest and rows of a sweep directory (read here directly: report may not import sweep)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from costsim.errors import InputError

    # the sweep store's layouts (costsim.sweep.store): partitioned by scenario/variant, or legacy flat files
    files = sorted(directory.glob("points-*.parquet")) + sorted(directory.glob("points/*/*/*.parquet"))
    if not files:
        raise InputError(f"sweep directory '{directory}' holds no results (points/*/*/*.parquet).", field="DIR")
    try:
        # a big sweep: an evenly spaced sample of its rows (the report says how many it shows; the
        # uncertainty section and `costsim query` use every row)
        total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        step = max(1, -(-total // REPORT_MAX_ROWS))
        if step == 1:
            tables = [pq.read_table(f) for f in files]
        else:  # every step-th row, read batch by batch: memory stays ~REPORT_MAX_ROWS rows, whatever the sweep's size
            tables, seen = [], 0
            for f in files:
                for b in pq.ParquetFile(f).iter_batches(batch_size=65_536):
                    first = (-seen) % step
                    seen += b.num_rows
                    if first < b.num_rows:
                        tables.append(pa.Table.from_batches([b.take(pa.array(range(first, b.num_rows, step)))]))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"sweep directory '{directory}' holds an unreadable results file ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); remove it and re-run the sweep to redo its points.", field="DIR") from None
    try:
        rows = pa.concat_tables(tables, promote_options="permissive").to_pylist()
    except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # a column stored with different types by different runs (resumes): read file by file
        rows = [r for t in tables for r in t.to_pylist()]
    mpath = directory / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.is_file() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"sweep manifest '{mpath}' is not a readable UTF-8 JSON file ({exc.__class__.__name__}); "
                         "re-run the sweep or remove the damaged manifest.json.", field="DIR") from None
    if step > 1:
        manifest = {**manifest, "rows_shown_note": f"tables and the quick view use every {step}th point ({len(rows):,} of {total:,})"}
    return manifest, rows


def write_sweep_report(directory: str | os.PathLike[str], *, metric: str | None = None) -> Path:
    """report.html in a sweep directory: swept parameters, sensitivity tornado, failed points."""
    from costsim.api.sweep_trust import sweep_trust
    from costsim.report.html import sweep_report_html
    from costsim.report.uncertainty import load_doc

    d = Path(directory)
    manifest, rows = _read_sweep(d)
    out = d / "report.html"
    tmp = d / f".report.html.tmp-{os.getpid()}"
    trust = sweep_trust(manifest["scenario_doc"], rows) if isinstance(manifest.get("scenario_doc"), dict) else None
    tmp.write_text(sweep_report_html(manifest, rows, metric, load_doc(d), trust), encoding="utf-8")
    os.replace(tmp, out)
    return out
