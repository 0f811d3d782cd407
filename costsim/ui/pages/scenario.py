"""Scenario: load, edit and run any scenarios/*.yaml, run a sweep with progress, download the reports."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from costsim.errors import InputError
from costsim.report.fmt import plural
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.ui import charts, compute, fmt, share, widgets as w
from costsim.ui.guard import guarded_run
from costsim.ui.numbers import blank_error, number_box

P = "scn_"
NEW = "(new scenario)"
EXAMPLE = """name: my-training-run
description: Llama 3 70B on 1,024 H100 for 15T tokens
training:
  model: llama-3-70b
  hardware: h100-sxm
  num_gpus: 1024
"""
MIME = {".yaml": "application/x-yaml", ".json": "application/json", ".parquet": "application/octet-stream",
        ".html": "text/html", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".pdf": "application/pdf", ".csv": "text/csv"}


def parse(text: str, source: str) -> Scenario:
    """YAML text -> validated scenario (InputError names the field and the fix)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputError(f"malformed YAML in {source}{pos}: {getattr(exc, 'problem', None) or exc}.") from None
    except (ValueError, RecursionError) as exc:  # an integer of over 4,300 digits, a date 2020-13-45, [[[[... nesting
        what = "nests lists or mappings too deeply" if isinstance(exc, RecursionError) else "holds a value the YAML reader cannot convert"
        raise InputError(f"{source} {what}; fix the value (numbers of at most 4,300 digits, valid dates) or the brackets.") from None
    if not isinstance(data, dict):
        raise InputError(f"{source} must hold a mapping of field: value pairs at the top level.")
    # the app serves people who are not on this machine: like share links, the editor takes catalog
    # ids only (model, hardware, region, shipped traces), never paths to files on the server
    share.check_catalog_only(data, context=f"scenario editor ({source})")
    from costsim.api.run import scenario_from_dict
    return scenario_from_dict(data, source=source)


def read_files(paths: dict[str, str]) -> dict[str, bytes]:
    return {name: Path(p).read_bytes() for name, p in paths.items() if Path(p).is_file()}


def start_background(s: Scenario, seed: int) -> None:
    """Start the run in a child process (one per session; the server caps concurrent runs)."""
    from costsim.ui import background
    from costsim.ui.guard import count_session_run

    count_session_run(st.session_state)
    st.session_state[P + "job"] = background.start(s, seed, scenario_hash(s))


def _collect(job) -> None:
    res = job.result() or {"ok": False, "error": "the run ended without a result (killed or out of memory)"}
    job.release()
    if res.get("ok"):
        files = read_files(res["files"])
        st.session_state[P + "run"] = {"hash": job.scenario_hash, "summary": res["summary"], "files": files,
                                       "notices": res.get("notices", []), "site_timeseries": res.get("site_timeseries", {}),
                                       "answer": res.get("answer") or []}
    else:
        st.session_state[P + "run_error"] = res.get("error")
    job.cleanup()
    st.session_state[P + "job"] = None


@st.fragment(run_every=1.0)
def poll_background() -> None:
    """Progress of the background run, its finished variants, and Cancel; picks the result up when done."""
    job = st.session_state.get(P + "job")
    if job is None:
        return
    if not job.running:
        _collect(job)
        st.rerun(scope="app")
        return
    prog = job.progress()
    done, total = int(prog.get("done", 0)), max(int(prog.get("total", 1)), 1)
    st.progress(min(done / total, 1.0), text=f"Simulating in the background: {done} of {plural(total, 'variant')} done, "
                                           f"{fmt.duration(job.elapsed_s())} elapsed")
    for v in prog.get("finished", []):
        st.caption(f"{v['name']}: " + " ".join(v.get("sentences") or []))
    if st.button("Cancel run", key=P + "cancel_btn"):
        job.cancel()
        job.cleanup()
        st.session_state[P + "job"] = None
        st.session_state[P + "run_error"] = "run cancelled"
        st.rerun(scope="app")


def part_table(variants: list[dict[str, Any]], part: str) -> list[dict[str, str]]:
    """One row per metric, one column per variant: the reports' labels (words, no unit suffix) and values in
    display units (days, MWh, $M, tCO2e, MW), from costsim.report.fmt."""
    from costsim.report.fmt import field_unit_key, fmt_value, headline_keys, human, label

    sums = {v["name"]: ((v.get(part) or {}).get("summary", {}) if part != "site" else (v.get("site") or {}))
            for v in variants if (part == "site" and v.get("site")) or part in v}
    cols = {name: fmt.flatten(d) for name, d in sums.items()}
    keys = [k for k in dict.fromkeys(k for d in cols.values() for k in d)
            if all(not isinstance(d.get(k), str) or len(d.get(k)) < 80 for d in cols.values())]
    # the headline numbers first (as the reports), then the rest in the summary's order
    first = [k for d in sums.values() for k in headline_keys(d) if k in keys]
    keys = list(dict.fromkeys(first + keys))

    def row_label(k: str) -> str:
        if "." not in k:
            return label(k, part)
        parent, sub = k.split(".", 1)
        return f"{label(parent, part)}: {human(sub)}"

    def unit_key(k: str) -> str:
        return field_unit_key(*k.split(".", 1)) if "." in k else k

    return [{"metric": row_label(k), **{name: fmt_value(unit_key(k), d.get(k)) for name, d in cols.items()}} for k in keys]


def trust_lines(variants: list[dict[str, Any]]) -> list[str]:
    """One sentence per trust range of a run's summary.json variants: each part's `error_band` and its
    `power_error_band` (costsim run and report.html show both), with what each applies to."""
    from costsim.api.trust import band_sentence

    out = []
    for v in variants:
        for part in ("training", "serving"):
            for key in ("error_band", "power_error_band"):
                if text := band_sentence((v.get(part) or {}).get(key)):
                    out.append(f"{v.get('name')}, {part}: {text}")
    return out


def show_run(run: dict[str, Any]) -> None:
    summ = run["summary"]
    st.success(f"Ran '{summ.get('scenario')}' (run id {summ.get('scenario_hash')}, seed {summ.get('seed')}).")
    for line in run.get("answer") or []:  # the answer first, as the report's and the CLI's
        st.markdown(f"**{line}**")
    for line in trust_lines(summ.get("variants", [])):  # the trust ranges, as `costsim run` and report.html show them
        st.caption(line)
    variants = summ.get("variants", [])
    tabs = [p for p in ("training", "serving", "site") if any((p in v) if p != "site" else bool(v.get("site")) for v in variants)]
    for tab, part in zip(st.tabs(tabs), tabs) if tabs else []:
        with tab:
            st.dataframe(part_table(variants, part), width="stretch", hide_index=True, height=420)
    for name, ts in run.get("site_timeseries", {}).items():
        t = ts.get("t_s")
        names = {"site_power_w": "site power (mean)", "site_power_max_w": "site power (1-min max)"}
        series = {names.get(k, k): v for k, v in ts.items() if k.endswith("_w") and k != "t_s"}
        if t and series:
            st.plotly_chart(charts.timeline(t, series, title=f"Site power — {name}"), width="stretch", key=f"scn_ts_{name}")
    st.markdown("**Download**")
    cols = st.columns(max(1, len(run["files"])))
    for col, (name, data) in zip(cols, run["files"].items()):
        col.download_button(name, data, file_name=name, mime=MIME.get(Path(name).suffix, "application/octet-stream"),
                            key=f"{P}dl_{name}")
    for n in run.get("notices", []):
        st.caption(n)


def sweep_section(s: Scenario) -> None:
    st.subheader("Sweep")
    why = compute.available("costsim.sweep", "run_sweep")
    if why:
        st.info(f"Sweeps are not available yet: {why}.")
        return
    from costsim.sweep import EXECUTORS, MODES, parse_grid, run_sweep

    st.session_state.setdefault(P + "grid", "training.num_gpus=512,1024,2048" if s.training else "serving.model=llama-3-8b,llama-3-70b")
    grid_text = st.text_area("Grid (one path=v1,v2,... per line)", key=P + "grid", height=90,
                             help="Each line sweeps one scenario field over the listed values (same paths as --set); "
                                  "the points are the cartesian product of all lines.")
    c1, c2, c3 = st.columns(3)
    mode = c1.selectbox("Mode", list(MODES), key=P + "mode", help="'core': the fast vectorized estimate per point; "
                        "'sim': the full discrete-event simulation per point.", index=list(MODES).index("core") if "core" in MODES else 0)
    execs = [e for e in ("local", "process") if e in EXECUTORS] or list(EXECUTORS)
    executor = c2.selectbox("Executor", execs, key=P + "executor", help="Where the points run: in this process or in a local process pool.")
    seeds = number_box("Seeds", key=P + "seeds", default=1, where=c3, integer=True, min_value=1, max_value=100,
                       help="Replicates per point (seeds 0..K-1).")
    if blank := blank_error(only=("Seeds",)):  # emptied (it read 1): said by its label, and the sweep waits for a number
        st.error(blank)
    if st.button("Run sweep", key=P + "sweep_btn", disabled=seeds is None):
        try:
            grid = parse_grid([ln.strip() for ln in grid_text.splitlines() if ln.strip()])
        except InputError as exc:
            st.error(str(exc))
            return
        bar = st.progress(0.0, text="starting…")

        def on_result(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"{done} / {total} points")

        with tempfile.TemporaryDirectory(prefix="costsim-sweep-") as tmp:
            try:
                counts = guarded_run(st.session_state, lambda: run_sweep(
                    s, out=tmp, grid=grid, seeds=int(seeds), mode=mode, executor=executor, on_result=on_result), what="sweep")
            except InputError as exc:
                st.error(str(exc))
                return
            from costsim.sweep.store import load_rows
            rows = compute.plain(load_rows(tmp))
            files: dict[str, bytes] = {}
            rep, _ = compute.api_function("costsim.report", "write_sweep_report")
            if rep is not None:
                try:
                    files["sweep-report.html"] = Path(rep(tmp)).read_bytes()
                except InputError as exc:
                    st.warning(str(exc))
        bar.progress(1.0, text=f"{counts.get('ran', 0)} points, {counts.get('errors', 0)} errors, {fmt.duration(counts.get('wall_s'))}")
        import csv
        import io
        buf = io.StringIO()
        if rows:
            cols = list(dict.fromkeys(k for r in rows for k in r))
            wr = csv.DictWriter(buf, fieldnames=cols)
            wr.writeheader()
            wr.writerows(rows)
        files["sweep.csv"] = buf.getvalue().encode()
        st.session_state[P + "sweep"] = {"counts": counts, "rows": rows, "files": files}
    sw = st.session_state.get(P + "sweep")
    if sw:
        st.caption(f"{sw['counts'].get('ran')} points ran, {sw['counts'].get('errors')} errors.")
        sweep_chart(sw["rows"])
        st.dataframe(sw["rows"], width="stretch", hide_index=True)
        cols = st.columns(len(sw["files"]))
        for col, (name, data) in zip(cols, sw["files"].items()):
            col.download_button(name, data, file_name=name, mime=MIME.get(Path(name).suffix, "application/octet-stream"),
                                key=f"{P}sdl_{name}")


def sweep_chart(rows: list[dict[str, Any]]) -> None:
    """A chosen numeric result against the first swept parameter, one line per variant."""
    params = [k for k in (rows[0] if rows else {}) if k.startswith("param_")]
    numeric = [k for k in (rows[0] if rows else {}) if not k.startswith("param_") and k not in ("seed",)
               and isinstance(rows[0].get(k), (int, float)) and not isinstance(rows[0].get(k), bool)]
    if not params or not numeric:
        return
    default = next((k for k in ("training_wall_time_s", "training_cost_usd", "serving_cost_usd_per_million_tokens",
                                "serving_throughput_tokens_per_s", "cost_usd") if k in numeric), numeric[0])
    metric = st.selectbox("Chart", numeric, index=numeric.index(default), key=P + "sweep_metric",
                          help="Result column to plot against the first swept parameter.")
    fig = charts.sweep_lines(rows, params[0], metric)
    st.plotly_chart(fig, width="stretch", key=P + "sweep_chart")


def render() -> None:
    st.title("Scenario")
    st.caption("Load any scenario file, edit it, run it (simulation + reports), or sweep its parameters.")
    why = compute.available("costsim.api.run", "scenario_from_dict", "load_scenario")
    if why:
        st.info(f"Scenario runs are not available yet: {why}.")
        return
    files = w.scenario_files()
    token = st.query_params.get("scenario")
    if token and st.session_state.get("_seeded_scenario") != token:
        st.session_state["_seeded_scenario"] = token
        from costsim.ui.share import decode_spec
        try:
            shared = decode_spec(Scenario, token)
            st.session_state[P + "file"] = NEW
            st.session_state[P + "text_" + NEW] = yaml.safe_dump(shared.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
        except InputError as exc:
            st.warning(f"Ignored the share link: {exc}")
    with st.sidebar:
        st.header("Scenario file")
        options = [*files, NEW]
        st.session_state.setdefault(P + "file", options[0])
        choice = st.selectbox("Scenario", options, key=P + "file",
                              help="A YAML file from scenarios/ (editable below), or a new one.")
        seed = number_box("Seed", key=P + "seed", default=0, integer=True, min_value=0,
                          help=Scenario.model_fields["simulation"].description)
    text_key = P + "text_" + choice
    if text_key not in st.session_state:
        st.session_state[text_key] = files[choice].read_text(encoding="utf-8") if choice in files else EXAMPLE
    text = st.text_area("Scenario YAML", key=text_key, height=300,
                        help="Edit freely; it is validated against the scenario schema on every change.")
    try:
        s = parse(text, choice)
    except InputError as exc:
        st.error(str(exc))
        return
    parts = [p for p in ("training", "serving") if getattr(s, p) is not None]
    st.markdown(f"**{s.name}** — {s.description or 'no description'}  \n"
                f"workloads: {', '.join(parts)} · variants: {len(s.variants) or 'none'} · run id `{scenario_hash(s)}`")
    w.share_box("scenario", s)
    from costsim.api.run import sim_available
    missing = [p for p in parts if not sim_available(p)]
    if missing:
        st.info(f"The {' and '.join(missing)} simulation is not available yet; running needs it.")
    else:
        job = st.session_state.get(P + "job")
        if blank := blank_error(only=("Seed",)):  # emptied (it read 0): said by its label, and the run waits for a number
            st.error(blank)
        if st.button("Run scenario", type="primary", key=P + "run_btn", disabled=job is not None or seed is None,
                     help="Runs in the background: the page stays usable, a Cancel button stops the run."):
            try:
                start_background(s, int(seed))
                st.rerun()
            except InputError as exc:
                st.error(str(exc))
        if st.session_state.get(P + "job") is not None:
            poll_background()
    err = st.session_state.pop(P + "run_error", None)
    if err:
        st.warning(err)
    run = st.session_state.get(P + "run")
    if run and run.get("hash") == scenario_hash(s):
        show_run(run)
    from costsim.ui.uncertainty_panel import render_uncertainty

    render_uncertainty(s)
    sweep_section(s)


if __name__ == "__main__":
    render()
