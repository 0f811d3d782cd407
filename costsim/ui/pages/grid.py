"""Grid: will the grid take it? Headroom of a balancing authority for flexible new load on real
hourly data (Norris et al. 2025 method), its curtailment events over a year, and their cost."""

from __future__ import annotations

import numpy as np
import streamlit as st

from costsim.api import grid as api
from costsim.errors import InputError
from costsim.report.grid_charts import events_over_year, headroom_curve
from costsim.specs.overrides import split_items
from costsim.ui.numbers import blank_error, number_box
from costsim.ui.share import read_choice, read_text
from costsim.ui.widgets import first_value, labelled, seed_inputs_from_link, share_inputs, show_link_notes

st.title("Will the grid take it?")
st.caption("How much constant new load a US balancing authority can absorb without new capacity, if that load accepts "
           "curtailment in a few hours a year. Real hourly load 2016-2024 (cleaned EIA-930, all hours UTC); method of "
           "Norris et al. 2025, Rethinking Load Growth (Duke).")


@st.cache_data(show_spinner=False)
def _regions():
    return [(r.region, r.name) for r in api.grid_regions()]


@st.cache_data(show_spinner="computing headroom ...")
def _headroom(region: str, pcts: tuple[float, ...], by: str, planning_peak: str):
    return api.grid_headroom(region, curtailment_pct=pcts, by=by, planning_peak=planning_peak).to_dict()


@st.cache_data(show_spinner=False)
def _events(region: str, new_load_w: float, year: int, planning_peak: str):
    rows, t, c = api.curtailment_events(region, new_load_w=new_load_w, years=[year], planning_peak=planning_peak)
    load = api.load_series(region, years=[year])
    from costsim.power.ba_events import margin_w

    full = api.load_series(region)
    thr_full = margin_w(full, planning_peak) + full.load_w
    thr = thr_full[np.isin(full.year, [year])]
    return rows, t, c, load.load_w, thr


regs = _regions()
P = "grid_"
#: this page's inputs in a share link: {query name: (widget key, reader of its text)}
LINK = {"region": (P + "region", read_choice([r for r, _ in regs])), "limits": (P + "pcts", read_text(200)),
        "by": (P + "by", read_choice(["energy", "hours"])), "peak": (P + "peak", read_choice(["seasonal", "annual"]))}
seed_inputs_from_link(LINK)
c1, c2, c3, c4 = st.columns(4)
region = c1.selectbox(labelled(P + "region", "Balancing authority"), [r for r, _ in regs],
                      format_func=lambda r: f"{r} ({dict(regs)[r]})", key=P + "region",
                      help="Shipped regions with real hourly load (costsim grid regions).")
pcts_txt = c2.text_input(labelled(P + "pcts", "Curtailment limits (%)"), key=P + "pcts",
                         **first_value(P + "pcts", "0.25, 0.5, 1"),
                         help="Share of the new load's annual energy (or hours) that may be curtailed.")
by = c3.selectbox(labelled(P + "by", "Limit on"), ["energy", "hours"], key=P + "by",
                  help="'energy' is the study's method; 'hours' limits the share of hours with curtailment.")
peak = c4.selectbox(labelled(P + "peak", "Planning peak"), ["seasonal", "annual"], key=P + "peak",
                    help="'seasonal': max summer and winter load of all years (the study's); 'annual': the all-time peak.")


def _percents(text: str) -> tuple[float, ...]:
    """The limits box as numbers; an item that is not one is named (it said "could not convert string to float")."""
    out = []
    for item in split_items(text, flag="Curtailment limits", example="0.25, 0.5, 1"):
        try:
            out.append(float(item))
        except ValueError:
            shown = item if len(item) <= 40 else item[:37] + "..."
            raise InputError(f"'Curtailment limits (%)': '{shown}' is not a number; give percents such as 0.25, 0.5, 1.",
                             field="curtailment") from None
    return tuple(out)


show_link_notes()  # a link's refused part, by its box's label
try:
    res = _headroom(region, _percents(pcts_txt), by, peak)
except InputError as exc:
    st.error(exc.message)
    st.stop()
share_inputs(LINK)  # the address bar is a share link

mid = res["results"][len(res["results"]) // 2]
st.markdown(f"**{region}: about {mid['headroom_w'] / 1e9:.1f} GW of constant new load fits if it accepts {mid['curtailment_pct']:g} % "
            f"curtailment**: about {mid['curtailed_hours_per_year']:.0f} hours a year in {mid['events_per_year']:.0f} events of "
            f"{mid['mean_event_h']:.1f} h on average, keeping {mid['load_kept_frac_median']:.0%} of its power (median).")
st.dataframe([{"curtailment (%)": r["curtailment_pct"], "headroom (GW)": round(r["headroom_w"] / 1e9, 2),
               "study (GW)": round(r["study_headroom_w"] / 1e9, 1) if r["study_headroom_w"] else None,
               "events per year": round(r["events_per_year"], 1), "curtailed hours per year": round(r["curtailed_hours_per_year"]),
               "mean event (h)": round(r["mean_event_h"], 1), "longest event (h)": r["max_event_h"],
               "load kept, median": f"{r['load_kept_frac_median']:.0%}",
               "pause cost (M$/year)": round(r["pause_cost_usd_per_year"] / 1e6, 1),
               "shifted within 4 h": f"{r['shift_served_later_frac']:.0%}"} for r in res["results"]], hide_index=True)
st.plotly_chart(headroom_curve([r["curtailment_pct"] for r in res["results"]], [r["headroom_w"] for r in res["results"]],
                               [r["study_headroom_w"] for r in res["results"]], title=f"{region}: headroom against the curtailment limit",
                               by=by),
                width="stretch")

c5, c6 = st.columns(2)
year = c5.selectbox("Year of events", res["years"], index=len(res["years"]) - 1)
headroom_gw = round(mid["headroom_w"] / 1e9, 2)
new_gw = number_box("New load (GW)", key=f"{P}new_gw_{headroom_gw:g}", default=headroom_gw, where=c6, min_value=0.01,
                    max_value=500.0, step=0.1,  # a box per default: another region or limit starts at its own headroom
                    help="Constant load added to the BA; default: the headroom at the middle limit.")
if blank := blank_error():  # an emptied box: said, no events drawn (it read 0.01 GW)
    st.error(blank)
    st.stop()
rows, t, c, load_w, thr = _events(region, float(new_gw) * 1e9, int(year), peak)
st.plotly_chart(events_over_year(t, load_w, thr, c, title=f"{region} {year}: when {new_gw:g} GW of new load is curtailed"),
                width="stretch")
st.caption(f"{len(rows)} events in {year}; data: {res['source']}. Method: {res['method']}.")
for n in res["notes"]:
    st.caption(f"note: {n}")
