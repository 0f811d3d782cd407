"""Validation: every case against its published value, with the error and the tolerance's reason."""

from __future__ import annotations

from typing import Any

import streamlit as st

from costsim.errors import InputError
from costsim.ui import charts, compute, fmt
from costsim.ui.widgets import grouped_number_columns
from costsim.validation.labels import kind_label, metric_display


@st.cache_data(show_spinner="Running the validation cases…", ttl=600)
def run_validation(cases_fingerprint: str) -> dict[str, Any]:
    """All cases through their runners (cached per set of case files)."""
    from costsim.validation.engine import run_cases, summarize

    results = run_cases()
    return {"rows": [compute.plain(r) for r in results], "summary": compute.plain(summarize(results))}


def fingerprint() -> str:
    """Case files' names, sizes and mtimes: the cache key (editing a case re-runs)."""
    from costsim.validation.engine import CASES_DIR

    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(CASES_DIR.glob("*.yaml")))


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        shown = metric_display(r["metric"])
        out.append({"case": r["id"], "pass": "pass" if r["passed"] and not r.get("known_gap") else ("known gap" if r.get("known_gap") else "FAIL"),
                    "metric, unit": shown.label, "expected": fmt.round_sig(shown.value(r["expected"])),
                    "predicted": fmt.round_sig(shown.value(r["predicted"])),
                    "error, %": None if r.get("error_frac") is None else 100 * r["error_frac"],
                    "tolerance, %": 100 * r["tolerance_frac"], "comparison": r["comparison"],
                    "used for fit": r["used_for_fit"], "kind": kind_label(r["kind"]), "known gap": r.get("known_gap") or "",
                    "message": r.get("message") or "", "source": r["source"]})  # no cause: blank, never 'None'
    return out


#: the held-out error beyond which a case is counted in the headline (issue #14's bar)
BEYOND_FRAC = 0.30


def render() -> None:
    st.title("Validation")
    st.caption("Every prediction checked against a published measurement; a case outside its tolerance fails "
               "`costsim validate` unless it is marked as a known gap with its cause.")
    why = compute.available("costsim.validation.engine", "run_cases")
    if why:
        st.info(f"Validation is not available yet: {why}.")
        return
    try:
        data = run_validation(fingerprint())
    except InputError as exc:
        st.error(str(exc))
        return
    rows, summ = data["rows"], data["summary"]
    st.session_state["validation"] = data
    if not rows:
        st.info("No validation cases yet (costsim/validation/cases/*.yaml).")
        return
    beyond = sum(1 for r in rows if not r.get("used_for_fit") and r.get("comparison", "within") == "within"
                 and r.get("error_frac") is not None and abs(r["error_frac"]) > BEYOND_FRAC)
    st.markdown(f"**{summ.get('passed'):,} of {summ.get('cases'):,} cases pass; {summ.get('known_gaps', 0):,} of them are "
                f"known gaps outside their tolerance, each with its recorded cause, and {beyond:,} held-out cases miss by more "
                f"than {100 * BEYOND_FRAC:.0f} %.**")
    c = st.columns(6)
    c[0].metric("Cases", fmt.count(summ.get("cases")))
    c[1].metric("Passed", fmt.count(summ.get("passed")), help="Inside the tolerance, or a known gap with its cause recorded.")
    c[2].metric("Known gaps", fmt.count(summ.get("known_gaps")), help="Outside the tolerance; the case says why (not tuned away).")
    c[3].metric("Failed", fmt.count(summ.get("failed")))
    c[4].metric("Median |error|", fmt.frac_pct(summ.get("median_abs_error_frac")))
    c[5].metric("Median |error|, held-out", fmt.frac_pct(summ.get("median_abs_error_frac_held_out")),
                help="Cases not used to fit any parameter.")
    kinds = sorted({r["kind"] for r in rows})
    sel = st.multiselect("Kinds", kinds, default=kinds, key="val_kinds", format_func=kind_label,
                         help="Which runner's cases to show.")
    only_fail = st.checkbox("Only failures and known gaps", key="val_fail", help="Hide the cases inside their tolerance.")
    shown = [r for r in rows if r["kind"] in sel and (not only_fail or not r["passed"] or r.get("known_gap"))]
    if not shown:  # an empty chart and table said nothing
        untick = ", or untick 'Only failures and known gaps'" if only_fail else ""
        st.info(f"No case to show: choose at least one kind above{untick}.")
        return
    st.plotly_chart(charts.validation_errors(shown), width="stretch", key="val_chart")
    cells = table(shown)
    st.dataframe(cells, width="stretch", hide_index=True,
                 column_config={**grouped_number_columns(cells), "error, %": st.column_config.NumberColumn(format="%.1f"),
                                "tolerance, %": st.column_config.NumberColumn(format="%.0f")})


if __name__ == "__main__":
    render()
