"""Site & grid: fleet, PUE, grid cap, battery, region -> power, headroom, swing, hourly price and carbon."""

from __future__ import annotations

from typing import Any

import streamlit as st

from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.requests import FleetEntry, SiteRequest
from costsim.report.fmt import battery_text
from costsim.report.answers import site_answer
from costsim.ui.numbers import LAST_KEY, number_box
from costsim.ui import charts, compute, fmt, widgets as w

P = "site_"
MAX_ROWS = 4
DEFAULT_FLEET = [("h100-sxm", 100_000, "training"), ("h100-sxm", 8_000, "inference"), ("b200", 10_000, "training"),
                 ("mi300x", 4_000, "inference")]


@st.cache_data(show_spinner=False)
def region_profile(region: str) -> dict[str, Any] | None:
    """Hour-of-day means of price and carbon and the region's summary (the power layer's data)."""
    try:
        from costsim.power.signals import load_region
    except ImportError:
        return None
    prof = load_region(region)
    return {"price_usd_per_kwh": prof.price.hourly_profile().tolist(),
            "carbon_gco2e_per_kwh": prof.carbon.hourly_profile().tolist(),
            "summary": compute.plain(prof.summary())}


def to_state(r: SiteRequest) -> dict[str, Any]:
    if len(r.fleet) > MAX_ROWS:
        from costsim.errors import InputError

        raise InputError(f"the link holds {len(r.fleet)} fleet entries and this page shows at most {MAX_ROWS}; merge "
                         "entries of the same accelerator and workload, or run it with `costsim site`.", field="fleet")
    s: dict[str, Any] = {P + "rows": len(r.fleet), P + "pue": r.pue, P + "cap": r.grid_cap_mw,
                         P + "region": r.region or "none", P + "bat_mwh": r.battery_mwh, P + "bat_mw": r.battery_mw,
                         P + "bat_policy": r.battery_policy or w.AUTO}
    for i, e in enumerate(r.fleet):
        s.update({f"{P}hw{i}": e.hardware, f"{P}gpus{i}": e.gpus, f"{P}work{i}": e.workload})
    return s


def inputs() -> dict[str, Any]:
    d: dict[str, Any] = {"fleet": []}
    with st.sidebar:
        st.header("Fleet")
        n = number_box(w.labelled(P + "rows", "Accelerator types"), key=P + "rows", default=1, integer=True, min_value=1,
                       max_value=MAX_ROWS, help=SiteRequest.model_fields["fleet"].description)
        if n is None:  # emptied (said above the results): the rows it held stay drawn
            n = st.session_state.get(LAST_KEY, {}).get(P + "rows", 1)
        for i in range(int(n)):
            hw, gpus, work = DEFAULT_FLEET[i]
            with st.container(border=True):
                e = {"hardware": w.select(FleetEntry, "hardware", key=f"{P}hw{i}", default=hw, label=f"Accelerator {i + 1}",
                                          options=w.hardware_ids(), format_func=w.hardware_label),
                     "gpus": w.number(FleetEntry, "gpus", key=f"{P}gpus{i}", default=gpus, label="Count", integer=True,
                                      step=1000, said_as=f"Accelerator {i + 1}: count"),
                     "workload": w.select(FleetEntry, "workload", key=f"{P}work{i}", default=work, label="Workload")}
            d["fleet"].append(e)
        for i in range(MAX_ROWS):  # a message (a link's too, read before the rows draw) names fleet.0.gpus: the row's words
            for field, what in (("hardware", "accelerator"), ("gpus", "count"), ("workload", "workload")):
                w.remember_label(f"fleet.{i}.{field}", f"Accelerator {i + 1}: {what}")
        st.header("Facility and grid")
        d["pue"] = w.number(SiteRequest, "pue", key=P + "pue", default=1.2, label="PUE", step=0.05)
        d["grid_cap_mw"] = w.number(SiteRequest, "grid_cap_mw", key=P + "cap", default=150.0, label="Grid import cap, MW",
                                    step=10.0, placeholder="unlimited")
        d["region"] = w.select(SiteRequest, "region", key=P + "region", default="us-pjm-virginia", label="Region",
                               options=[w.NO_REGION, *w.region_ids()])
        if d["region"] == "none":
            d["region"] = None
        d["battery_mwh"] = w.number(SiteRequest, "battery_mwh", key=P + "bat_mwh", default=None, label="Battery energy (nameplate), MWh",
                                    step=10.0, placeholder="no battery")
        d["battery_mw"] = w.number(SiteRequest, "battery_mw", key=P + "bat_mw", default=None, label="Battery power, MW",
                                   step=10.0, placeholder="no battery")
        d["battery_policy"] = w.select(SiteRequest, "battery_policy", key=P + "bat_policy", default=None, label="Battery policy",
                                       options=["peak_shaving", "smoothing", "arbitrage", "optimal"], auto=True)
    return d


def trust_lines(res: dict[str, Any]) -> list[str]:
    """The power core's trust range the site result carries (costsim.api.site: each accelerator type's in a mixed fleet),
    as the Train and Serve pages show theirs (the Site page's MW had none)."""
    from costsim.api.trust import band_sentence

    bands = res.get("power_error_bands") or {"": res.get("power_error_band")}
    return [f"{hw}: {text}" if hw else text for hw, band in bands.items() if (text := band_sentence(band))]


def show(res: dict[str, Any]) -> None:
    if res.get("feasible") is False:
        w.show_error(f"Not feasible: {res.get('reason') or 'no reason given'}")
    for warn in res.get("warnings") or []:
        st.warning(warn)
    st.markdown(f"**{site_answer(res)}**")  # the answer first, as the CLI's
    c = st.columns(5)
    c[0].metric("IT peak power", fmt.power_w(res.get("it_peak_power_w")), help="Every device in its peak phase at once.")
    c[1].metric("Facility peak power", fmt.power_w(res.get("facility_peak_power_w")), help="IT peak x PUE.")
    c[2].metric("Facility mean power", fmt.power_w(res.get("facility_mean_power_w")), help="Over the workload's phase mix.")
    c[3].metric("Grid cap", fmt.power_w(res.get("grid_cap_w")) if res.get("grid_cap_w") else "unlimited")
    head = res.get("headroom_w")
    c[4].metric("Headroom", fmt.power_w(head) if head is not None else "—",
                delta="over the cap" if head is not None and head < 0 else None, delta_color="inverse",
                help="Grid cap minus facility peak power; negative = the site does not fit.")
    for line in trust_lines(res):  # next to the MW, as the other pages' trust ranges
        st.caption(line)
    c = st.columns(5)
    c[0].metric("Training power swing", fmt.power_w(res.get("training_power_swing_w")),
                help="Facility power between the compute and the communication phase of synchronous training steps. "
                     f"A failure that stops the job drops the training fleet by {fmt.power_w(res.get('training_restart_drop_w'))} "
                     "until the restart.")
    c[1].metric("Energy per day (busy all day)", fmt.energy_mwh(res.get("energy_j_per_day")),
                help="Mean power of the workload's phase mix x 24 h: every GPU at work around the clock.")
    c[2].metric("Energy cost per day (busy all day)", fmt.usd(res.get("energy_cost_usd_per_day")), help="Hourly region price x mean power.")
    c[3].metric("CO2e per day (busy all day)", fmt.mass_kg(res.get("co2e_kg_per_day")), help="Hourly region carbon x mean power (location-based).")
    c[4].metric("PUE", fmt.num(res.get("pue")))
    mg = res.get("max_gpus_under_cap") or {}
    if isinstance(mg, dict) and mg:
        more = res.get("additional_gpus_under_cap") or {}
        st.markdown("**Largest count of each accelerator under the cap (alone):** " +
                    " · ".join(f"{k}: {fmt.count(v)}" + (f" (+{fmt.count(more[k])} beside this fleet)" if k in more else "")
                               for k, v in mg.items()))
    fit = res.get("per_gpu_power_cap_to_fit")
    if fit:
        st.markdown("**GPU power caps that would fit under the grid cap:**")
        st.dataframe([{"Accelerator": k,
                       "Power cap per GPU, W": "—" if v.get("gpu_power_cap_w") is None else round(v["gpu_power_cap_w"]),
                       "Compute throughput at the cap, %": round(100 * (v.get("compute_throughput_frac") or 0.0), 1),
                       "Same cap for every GPU, W": "—" if v.get("uniform_gpu_power_cap_w") is None
                       else round(v["uniform_gpu_power_cap_w"]),
                       "Why not": v.get("reason") or ""} for k, v in fit.items()], width="stretch", hide_index=True)
    bat = res.get("battery")
    if bat:
        st.markdown("**Battery:** " + battery_text(bat))
    if res.get("facility_peak_power_w") is not None:
        st.plotly_chart(day_chart(res), width="stretch", key="site_day")
    w.assumptions_box(res.get("assumptions"))
    if res.get("fleet"):
        with st.expander("Per accelerator"):
            rows = [fmt.display_row(x) for x in res["fleet"]]
            st.dataframe(rows, width="stretch", hide_index=True, column_config=w.grouped_number_columns(rows))


def day_chart(res: dict[str, Any]):
    """Facility power levels against the grid cap: peak (compute phase of synchronous training), mean
    and trough (communication phase). Levels, not a simulation: the Scenario page runs one."""
    peak = res["facility_peak_power_w"]
    levels = {"facility peak (compute phase)": peak, "facility mean": res.get("facility_mean_power_w")}
    if res.get("training_power_swing_w"):
        levels["facility trough (communication phase)"] = peak - res["training_power_swing_w"]
    levels["IT peak"] = res.get("it_peak_power_w")
    return charts.levels(levels, cap_w=res.get("grid_cap_w"), title="Site power vs the grid cap")


def show_region(region: str | None) -> None:
    if not region:
        return
    prof = region_profile(region)
    if not prof:
        return
    st.subheader(f"Region {region}: hourly price and carbon")
    s = prof["summary"]
    st.caption(f"{s.get('kind')}; source: {s.get('source') or 'see costsim/data/regions/README.md'}")
    hours = list(range(24))
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.hourly(hours, [1e3 * v for v in prof["price_usd_per_kwh"]], title="Electricity price by hour of day (annual mean)",
                                  y_title="$/MWh", color="#1f77b4"), width="stretch", key="site_price")
    c2.plotly_chart(charts.hourly(hours, prof["carbon_gco2e_per_kwh"], title="Grid carbon by hour of day (annual mean)",
                                  y_title="gCO2e/kWh", color="#2ca02c"), width="stretch", key="site_carbon")


def render() -> None:
    st.title("Site and grid")
    st.caption("How many MW a fleet draws at the meter, how it fits under a grid cap, a simulated day of its power "
               "(steps, checkpoints, failures, battery), and the region's hourly price and carbon.")
    _, req, res = w.request_and_result("site", SiteRequest, to_state, inputs,
                                       lambda d: validate_spec(SiteRequest, d, what="site request"), compute.site)
    if req is None:
        return
    if res is not None:
        show(res)
        show_timeline(req)
    show_region(req.region)


def show_timeline(req: SiteRequest) -> None:
    """A simulated day (training DES per training entry, diurnal inference, grid cap, battery)."""
    st.subheader("Simulated day: power timeline at the meter")
    try:
        tl = compute.site_timeline(req.model_dump_json())
    except compute.Unavailable as why:
        st.info(f"The simulated day is not available yet: {why}.")
        return
    except InputError as exc:
        w.show_error(exc)
        return
    s = tl["summary"]
    st.session_state["site_timeline"] = s
    for note in s.get("notes") or []:
        if "does not run in this simulated day" in note:
            st.warning(note[:1].upper() + note[1:] + ".")
    gp = s.get("training_goodput_frac")
    st.caption("The fleet through one day at work: each training entry runs a stand-in job with checkpoints, failures "
               "and restarts" + (f" (goodput {100 * gp:.0f} %)" if gp is not None else "") + ", so the day's energy "
               f"({fmt.energy_mwh(s.get('facility_energy_j'))}), cost and CO2e can sit well below the per-day figures "
               "above, which keep every GPU in its step mix around the clock.")
    c = st.columns(5)
    c[0].metric("Swing at the meter", fmt.power_w(s.get("grid_power_swing_w")),
                help="Largest peak-to-trough of grid import within one minute (facility load swing: "
                     f"{fmt.power_w(s.get('power_swing_w'))}).")
    c[1].metric("Max ramp", f"{(s.get('grid_max_ramp_w_per_s') or 0) / 1e6:,.0f} MW/s",
                help="Largest rate of change of grid import (facility load: "
                     f"{(s.get('max_ramp_w_per_s') or 0) / 1e6:,.0f} MW/s).")
    c[2].metric("Time over cap", f"{(s.get('time_over_cap_s') or 0) / 3600:.1f} h",
                help="Time the facility load's 1-min maximum is above the grid cap (the battery covers it; "
                     "without a battery the GPUs are power-capped so this stays 0).")
    c[3].metric("Energy cost (simulated day)", fmt.usd(s.get("energy_cost_usd")), help="Grid import x the region's hourly price.")
    c[4].metric("CO2e (simulated day)", fmt.mass_kg(s.get("co2e_kg")), help="Grid import x the region's hourly carbon intensity.")
    if s.get("grid_cap_exceeded_s"):
        st.warning(f"Grid import would exceed the cap for {s['grid_cap_exceeded_s'] / 60:.0f} min (battery too small): curtail.")
    st.plotly_chart(charts.site_timeline(tl), width="stretch", key="site_timeline_chart")
    st.caption(" · ".join(s.get("notes") or []))


if __name__ == "__main__":
    render()
