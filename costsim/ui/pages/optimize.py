"""Optimize: a design search over a shipped scenario's fields (costsim.sweep.optimize, Optuna), with every
trial, the Pareto set and the front chart - the app face of `costsim optimize`."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import streamlit as st

from costsim.errors import InputError
from costsim.numtext import sig
from costsim.report.fmt import plural
from costsim.report.optimize import front_chart, objective_label, trust_lines
from costsim.sweep.optimize import ALIASES, SAMPLERS, Param, parse_constraint, parse_objectives, parse_param, run_optimize
from costsim.ui import widgets as w
from costsim.ui.numbers import blank_error, number_box
from costsim.ui.share import check_catalog_only, read_choice, read_flag, read_number, read_text
from costsim.ui.guard import guarded_run

P = "opt_"
MAX_TRIALS = 200  # the app's cap per search (core-mode trials take ~0.1 s each; the CLI has none)
DEFAULT_SCENARIO = "llama3-8b-vs-70b-training.yaml"
#: GPU counts in whole 128-GPU steps, ~1.5x apart (a log range drew counts such as 8,801 and 2,906 that no layout divides:
#: 19 of 43 default trials failed); 13 counts x 2 precisions, more than the default trials
DEFAULT_PARAMS = ("training.num_gpus=256,384,512,768,1024,1536,2048,3072,4096,6144,8192,12288,16384\n"
                  "training.precision=bf16,fp8")

st.title("Design search")
st.caption("Which design is best on two or more objectives at once? Optuna proposes values for the fields you name "
           "(multi-objective TPE, NSGA-II or random), each trial is priced by the cores, and the Pareto set is the "
           "answer: the designs no other trial beats on every objective. The same as `costsim optimize`.")

files = w.scenario_files()
names = list(files)
if not names:
    st.info("No shipped scenarios were found (scenarios/ beside the app or in the installed package), so there is "
            "nothing to search over; `costsim optimize SCENARIO.yaml` searches any scenario file.")
    st.stop()


def _params(text: str, *, context: str) -> list[Param]:
    """The fields to search, one per line; a choice of a catalog field (model, hardware, region ...) must be a catalog
    id, never a path to a file on the server (the scenario editor's rule), else InputError naming it."""
    params = [parse_param(line.strip()) for line in text.splitlines() if line.strip()]
    for p in params:
        for choice in p.choices:
            check_catalog_only({p.path: choice}, context=context)
    return params


def _read_params(name: str, text: str) -> str:
    """A share link's fields to search: the text, once it parses and names catalog ids only."""
    _params(read_text()(name, text), context=f"share link's {name}")
    return text


#: this page's inputs in a share link: {query name: (widget key, reader of its text)}; a link never runs the search
LINK: w.LinkInputs = {
    "scenario": (P + "scenario", read_choice(names)), "minimize": (P + "minimize", read_text(200)),
    "maximize": (P + "maximize", read_text(200)), "trials": (P + "trials", read_number(4, MAX_TRIALS, integer=True)),
    "params": (P + "params", _read_params),
    "constraints": (P + "constraints", read_text()), "sampler": (P + "sampler", read_choice(list(SAMPLERS))),
    "confirm": (P + "confirm", read_flag)}
w.seed_inputs_from_link(LINK)
st.session_state[w.LABELS_KEY] = {"param": "Fields to search, one per line", "minimize": "Minimize", "maximize": "Maximize",
                                  "constraint": "Constraints, one per line"}  # the messages below name the boxes, not CLI flags
c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
scen = c1.selectbox(w.labelled(P + "scenario", "Scenario"), names, key=P + "scenario",
                    **w.first_value(P + "scenario", names.index(DEFAULT_SCENARIO) if DEFAULT_SCENARIO in names else 0, "index"),
                    help="A shipped scenario from scenarios/; its variants are ignored (the search varies the fields).")
minimize = c2.text_input(w.labelled(P + "minimize", "Minimize"), key=P + "minimize", **w.first_value(P + "minimize", "days,usd"),
                         help=f"Comma-separated objectives: {', '.join(ALIASES)} (summed over the parts) or any result column.")
maximize = c3.text_input(w.labelled(P + "maximize", "Maximize"), key=P + "maximize", **w.first_value(P + "maximize", ""),
                         help="Objectives to maximize (e.g. a throughput column).")
trials = number_box(w.labelled(P + "trials", "Trials"), key=P + "trials", default=24, where=c4, integer=True, min_value=4,
                    max_value=MAX_TRIALS, step=4, help=f"Completed trials wanted (at most {MAX_TRIALS} here).")
c5, c6, c7 = st.columns([3, 3, 2])
params_txt = c5.text_area(w.labelled(P + "params", "Fields to search, one per line"), key=P + "params", height=110,
                          **w.first_value(P + "params", DEFAULT_PARAMS),
                          help="PATH=LO..HI (numbers; integer fields sample integers), PATH=LO..HI:log, or PATH=a,b,c (choices).")
cons_txt = c6.text_area(w.labelled(P + "constraints", "Constraints, one per line"), key=P + "constraints", height=110,
                        **w.first_value(P + "constraints", ""),
                        help="COLUMN<=VALUE or COLUMN>=VALUE on a result column or objective (e.g. days<=30, ttft_p99_s<=2).")
sampler = c7.selectbox(w.labelled(P + "sampler", "Sampler"), list(SAMPLERS), key=P + "sampler",
                       help="tpe: multi-objective TPE; nsga2: a genetic algorithm; random: a baseline.")
confirm = c7.checkbox(w.labelled(P + "confirm", "Confirm the front with the simulations"), key=P + "confirm",
                      **w.first_value(P + "confirm", False),
                      help="Re-run the Pareto designs in simulation mode (slower; shows both numbers).")
w.share_inputs(LINK)  # the address bar is a share link (opening it fills the boxes; Search still runs the search)
blank = blank_error()  # an emptied Trials box (it read 4): said by its label, and Search waits for a number
if blank:
    st.error(blank)


def _inputs():
    params = _params(params_txt, context="search")
    objectives = parse_objectives(minimize or None, maximize or None)
    constraints = [parse_constraint(line.strip()) for line in cons_txt.splitlines() if line.strip()]
    return params, objectives, constraints


if st.button("Search", type="primary", key=P + "run", disabled=bool(blank)):
    try:
        from costsim.api.run import load_scenario

        params, objectives, constraints = _inputs()
        scenario = load_scenario(str(files[scen]))
        out = tempfile.mkdtemp(prefix="costsim-optimize-")
        bar = st.progress(0.0, text="searching ...")

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"{done} of {total} trials complete")

        res = guarded_run(st.session_state, lambda: run_optimize(
            scenario, out=out, params=params, objectives=objectives, constraints=constraints, trials=int(trials),
            batch=4, mode="core", sampler=sampler, seed=0, confirm=confirm, on_trial=progress), what="design search")
        bar.empty()
        with (Path(out) / "trials.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        st.session_state[P + "result"] = (res, rows, [o.name for o in objectives], [p.path for p in params])
    except InputError as exc:
        st.session_state.pop(P + "result", None)
        w.show_error(exc)

got = st.session_state.get(P + "result")
if got is None:
    st.info("Name the fields to search and the objectives, then press Search.")
    st.stop()
res, rows, obj_names, param_paths = got


def _value_text(name: str, v: float) -> str:
    """'days', 4.623 -> 'training time 4.62 days'; 'usd', 2.75e6 -> 'total cost $2,754,748'."""
    what, _, unit = objective_label(name).partition(", ")
    if unit == "$":
        return f"{what.lower()} ${v:,.0f}"
    return f"{what.lower()} {v:,.3g} {unit}".rstrip()


def _cell(name: str, v):
    if not isinstance(v, float):
        return v
    return round(v) if objective_label(name).endswith(", $") else float(f"{v:.4g}")
if res.pareto:
    ends = (res.pareto[0], res.pareto[-1])
    a = obj_names[0]
    st.markdown(f"**{len(res.pareto)} designs are on the Pareto front of {res.trials_complete} completed trials**"
                f" ({res.trials_failed} failed); they run from "
                + " to ".join(", ".join(f"{k} = {v}" for k, v in p["params"].items()) + f" ({_value_text(a, p['objectives'][a])})"
                              for p in ends) + ".")
else:
    st.warning(f"No feasible trial among {res.trials_complete} completed ({res.trials_failed} failed): widen the ranges or "
               "relax the constraints.")
for line in trust_lines(res.pareto):  # next to the answer, as the Train, Serve and Site pages give theirs
    st.caption(line)
table = []
for p in res.pareto:
    row = {"trial": p["trial"], **{k: p["params"].get(k) for k in param_paths}}
    row.update({objective_label(k): _cell(k, v) for k, v in p["objectives"].items()})
    if p.get("confirmed"):
        row.update({f"{objective_label(k)} (simulated)": _cell(k, v) for k, v in p["confirmed"].items()})
    table.append(row)
if table:  # a total cost read 4393063: separators on the large columns
    st.dataframe(table, hide_index=True, width="stretch", column_config=w.grouped_number_columns(table))
fig = front_chart(rows, res.pareto, obj_names)
if fig is not None:
    st.plotly_chart(fig, width="stretch", key=P + "front")
if res.hypervolume is not None:
    units = " × ".join(objective_label(k).partition(", ")[2] or "1" for k in obj_names)  # it read a bare 1.991e+08
    st.caption(f"Hypervolume of the front (reference: 1.1 x the worst completed trial): {sig(res.hypervolume, 4)} {units}.")
for note in res.notes:
    st.caption(note)
failed = [r for r in rows if r.get("state") == "FAIL" and r.get("error")]
if failed:
    with st.expander(f"{plural(len(failed), 'failed trial')} and why"):
        st.dataframe([{"trial": r["trial"], **{k: r.get(k) for k in param_paths}, "why": r["error"]} for r in failed],
                     hide_index=True, width="stretch")
st.download_button("Every trial (CSV)", (Path(res.out_dir) / "trials.csv").read_bytes(), file_name="trials.csv", mime="text/csv",
                   key=P + "csv")
