"""The app's inputs as a reader meets them: an emptied number box, a share link's refused part, and the Optimize page's
trust range (a helper's app audit, 2026-12-08).

- An emptied number box read 0 (Streamlit's widget default): 'Electricity, $/kWh' emptied priced the run's power at
  nothing, 'Demand, requests/s' emptied sized no fleet, without a word. Now every box may be empty; an empty box whose
  placeholder says what empty means passes that on, any other is named with what to enter and nothing is computed.
- Share-link warnings named JSON fields and query parameters ('fleet.0.gpus', "share link's demand"): now the boxes'
  labels, in their units.
- The Optimize page gave no trust range; the search's Pareto designs now carry their regime's (the API), shown as the
  other pages show theirs.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.test_app import open_page

#: (page, query, widget key, what the message names): one required box of each page
EMPTIED = [
    ("train", {}, "train_elec", "'Electricity, $/kWh' is empty: enter a number from 0 to 100; it held 0.08."),
    ("train", {}, "train_gpus", "'GPUs' is empty: enter a whole number from 1 to 10,000,000; it held 1,024."),
    ("serve", {}, "serve_demand", "'Demand, requests/s' is empty: enter a number from 0 to 1,000,000,000; it held 100."),
    ("site", {}, "site_gpus0", "'Accelerator 1: count' is empty: enter a whole number from 1 to 1,000,000,000,000; it held 100,000."),
    ("plan", {}, "plan_gpus", "'Training GPUs' is empty: enter a whole number from 8 to 100,000; it held 4,096."),
    ("compare", {"for": "serving"}, "cmp_s_demand", "'Demand, requests/s' is empty"),
    ("compare", {"for": "training"}, "cmp_t_gpus", "'GPUs' is empty"),
    ("optimize", {}, "opt_trials", "'Trials' is empty: enter a whole number from 4 to 200; it held 24."),
]


def token(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("page", "query", "key", "said"), EMPTIED, ids=[f"{p}-{k}" for p, _, k, _ in EMPTIED])
def test_an_emptied_number_box_is_named_and_nothing_is_computed(page, query, key, said):
    at = open_page(page, **query)
    box = at.number_input(key=key)
    # the browser lets the box be empty only when the widget has no default (with one, an emptied box read it: 0)
    assert not box.proto.HasField("default"), f"{key} snaps back to {box.proto.default} when emptied"
    shown = len(at.metric)
    box.set_value(None).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(said in e for e in errors), errors
    assert "Nothing is computed until every box holds a number" in " ".join(errors)
    if page in ("train", "serve", "site", "plan"):
        assert shown and not at.metric, "results were computed from an empty box"
    if page == "compare":
        assert not at.dataframe
    if page == "optimize":
        assert at.button(key="opt_run").disabled


def test_two_emptied_boxes_are_both_named_and_a_refilled_box_computes_again():
    at = open_page("train")
    at.number_input(key="train_pue").set_value(None)
    at.number_input(key="train_gco2").set_value(None).run()
    errors = " ".join(e.value for e in at.error)
    assert "2 boxes are empty: 'PUE' (a number from 1 to 3; it held 1.2); 'Grid carbon, gCO2e/kWh' (a number from 0 to 5,000; it held 400)" in errors, errors
    at.number_input(key="train_pue").set_value(1.3)
    at.number_input(key="train_gco2").set_value(300.0).run()
    assert not at.error and at.metric


def test_an_emptied_box_whose_placeholder_says_what_empty_means_passes_it_on():
    """'Grid import cap, MW' says 'unlimited' when empty: it could not be emptied (it read 0 MW); now empty is unlimited."""
    at = open_page("site")
    at.number_input(key="site_cap").set_value(None).run()
    assert not at.error, [e.value for e in at.error]
    assert any(m.label == "Grid cap" and m.value == "unlimited" for m in at.metric)


def test_grid_and_scenario_boxes_emptied_are_named():
    at = open_page("grid", region="us-ercot")
    box = next(b for b in at.number_input if b.label == "New load (GW)")
    assert not box.proto.HasField("default")
    charts = len(at.get("plotly_chart"))
    box.set_value(None).run()
    assert any("'New load (GW)' is empty: enter a number from 0.01 to 500" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == charts - 1  # the year's events are not drawn for an empty load
    at = open_page("scenario")
    at.number_input(key="scn_seed").set_value(None).run()
    assert any("'Seed' is empty: enter a whole number of at least 0; it held 0." in e.value for e in at.error)
    assert at.button(key="scn_run_btn").disabled


def test_share_link_warnings_name_the_boxes_in_their_units():
    site = open_page("site", site=token({"fleet": [{"hardware": "h100-sxm", "gpus": 100, "workload": "training"},
                                                   {"hardware": "b200", "gpus": -5, "workload": "training"}]}))
    said = " ".join(x.value for x in site.warning)
    assert "'Accelerator 2: count': Input should be greater than or equal to 1 (got -5)" in said and "fleet." not in said, said
    train = open_page("train", train=token({"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": 8, "facility": {"pue": 0.3}}))
    said = " ".join(x.value for x in train.warning)
    assert "'PUE': Input should be greater than or equal to 1 (got 0.3)" in said and "facility.pue" not in said, said
    serve = open_page("serve", serve=token({"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": 1, "tpot_slo_s": -0.5}),
                      demand="-4")
    said = " ".join(x.value for x in serve.warning)
    assert "'TPOT limit, ms': Input should be greater than 0 (got -500)" in said, said  # in the box's ms
    assert "'Demand, requests/s' must be a number from 0 to 1,000,000,000 (the link gives -4)" in said, said
    assert "tpot_slo_s" not in said and "share link's demand" not in said and "1e+09" not in said, said
    opt = open_page("optimize", trials="2.5", sampler="x")
    said = " ".join(x.value for x in opt.warning)
    assert "'Trials' must be a whole number from 4 to 200 (the link gives 2.5)" in said, said
    assert "'Sampler' is 'x', not one of this page's choices" in said, said


def test_a_plan_link_without_a_lifetime_is_refused_in_words_not_an_internal_error():
    at = open_page("plan", plan=token({"target_loss": 2.0}))
    assert not at.error, [e.value for e in at.error]  # it was 'internal error ...: float() argument ... NoneType'
    assert any("Lifetime tokens served none is not one of this page's choices" in x.value for x in at.warning)


def test_optimize_page_gives_the_trust_range_of_its_designs():
    from costsim.api.trust import band_sentence

    at = open_page("optimize")
    at.number_input(key="opt_trials").set_value(8)
    at.button(key="opt_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    res = at.session_state["opt_result"][0]
    captions = [c.value for c in at.caption]
    for p in res.pareto:
        for kind in ("error_band", "power_error_band"):
            text = band_sentence(p["error_bands"]["training"][kind])
            assert text and any(text.split(": ", 1)[1] in c for c in captions), (text, captions)
    assert any(c.startswith("Trust range") and "applies to training throughput" in c for c in captions), captions
