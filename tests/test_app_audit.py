"""Findings of a new user's sweep of every app page (AppTest): messages in the page's units and words, thousands
separators in tables and metrics, and the Compare page's answer first."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.test_app import open_page as _open_page

TIMEOUT_S = 120


def open_page(page: str, **query: str) -> AppTest:
    return _open_page(page, timeout_s=TIMEOUT_S, **query)


def errors(at: AppTest) -> str:
    assert not at.exception, [e.value for e in at.exception]
    return " ".join(e.value for e in at.error)


def test_a_bound_is_said_in_the_widgets_units_with_separators():
    """'Training tokens, trillions' = 1e9 said 'less than or equal to 10000000000000000 (got 1e+21)': the field's bound
    in tokens beside a box in trillions. Now the bound and the value read in the box's units, with separators."""
    at = open_page("train")
    at.number_input(key="train_tokens_t").set_value(1e9).run()
    errs = errors(at)
    assert "'Training tokens, trillions': Input should be less than or equal to 10,000 (got 1,000,000,000)" in errs, errs
    at = open_page("train")
    at.number_input(key="train_gpus").set_value(10**9).run()
    assert "'GPUs': Input should be less than or equal to 10,000,000 (got 1,000,000,000)" in errors(at)
    at = open_page("serve")
    at.number_input(key="serve_ttft_ms").set_value(-3.0).run()
    assert "'TTFT limit, ms': Input should be greater than 0 (got -3)" in errors(at)


def test_site_count_error_names_the_accelerator_row():
    """A fleet count of 0 said "field 'fleet.0.gpus'", a path a page user never sees; it names the row's widget."""
    at = open_page("site")
    at.number_input(key="site_gpus0").set_value(0).run()
    errs = errors(at)
    assert "fleet.0.gpus" not in errs and "'Accelerator 1: count'" in errs, errs


def test_a_refused_share_link_names_the_request_in_words():
    """A share link with gpus -8 said 'invalid TrainRequest in share link': a Python class name."""
    import base64
    import json

    token = base64.urlsafe_b64encode(json.dumps({"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": -8}).encode()).decode()
    at = open_page("train", train=token.rstrip("="))
    warned = " ".join(x.value for x in at.warning)
    assert "invalid train request in share link" in warned and "TrainRequest" not in warned, warned


def test_validation_counts_and_table_read_as_numbers_and_words():
    """The Validation page showed 'Cases 1835' (no separator) and 'None' in the known-gap and message cells of every
    case without one; predictions read 132.0864."""
    from costsim.ui.pages.validation import table

    at = open_page("validation")
    shown = {m.label: m.value for m in at.metric}
    cases = at.session_state["validation"]["summary"]["cases"]
    assert shown["Cases"] == f"{cases:,}" and (cases < 1000 or "," in shown["Cases"]), shown
    cells = table(at.session_state["validation"]["rows"])
    assert all(c["known gap"] is not None and c["message"] is not None for c in cells)
    assert all(c["predicted"] == float(f"{c['predicted']:.4g}") for c in cells
               if isinstance(c["predicted"], float) and abs(c["predicted"]) < 1e4)  # 132.1, not 132.0864
    df = at.dataframe[0]
    assert df.proto.columns  # column_config: the large numeric columns (expected, predicted) read with separators
    import json
    cfg = json.loads(df.proto.columns)
    assert cfg.get("expected", {}).get("type_config", {}).get("format") == "localized", cfg


def test_four_digit_table_numbers_read_with_separators():
    """Tables showed 4860 MWh and 1148890 tokens/s: the threshold for separators was 10,000 and the Train page's
    layouts table had none. A value of 1,000 or more now reads with separators on both."""
    import json

    from costsim.ui import widgets

    assert set(widgets.grouped_number_columns([{"Facility energy, MWh": 4860.0, "Model": "x"}])) == {"Facility energy, MWh"}
    at = open_page("train")
    cfg = json.loads(at.dataframe[0].proto.columns)
    assert cfg["tokens/s"]["type_config"]["format"] == "localized", cfg


def test_compare_answers_first_and_says_a_shared_bad_input_once():
    """The Compare page opened on a table with no answer; with no model chosen it drew an empty table and empty charts;
    a TPOT limit of 0 filled every row's 'Why not' with "field 'tpot_slo_s'". Now: one sentence first, a line saying
    what to choose, and one error in the page's words."""
    at = open_page("compare", **{"for": "training"})
    answer = next(m.value for m in at.markdown if m.value.startswith("**"))
    assert answer.startswith("**On 1,024 h100-sxm with 15T tokens each, phi-3-mini trains fastest: 10.1 days"), answer
    assert "llama-3-70b takes longest: 155 days" in answer, answer
    serve = open_page("compare", **{"for": "serving"})
    said = next(m.value for m in serve.markdown if m.value.startswith("**"))
    assert "llama-3-8b on h100-sxm is cheapest: $0.101 per million output tokens" in said and "have no price" in said, said
    edge = open_page("compare", **{"for": "serving", "hardware": "apple-m3-max"})
    said = next(m.value for m in edge.markdown if m.value.startswith("**"))
    assert "draws the least power" in said and "—" not in said, said
    empty = open_page("compare", **{"for": "training", "models": ""})
    assert any("Choose at least one model" in i.value for i in empty.info) and not empty.dataframe
    bad = open_page("compare", **{"for": "serving"})
    bad.number_input(key="cmp_s_tpot").set_value(0.0).run()  # typed (a link's 0 is refused by the box's bound: below)
    errs = errors(bad)
    assert len(bad.error) == 1 and "'TPOT limit, ms'" in errs and "tpot_slo_s" not in errs, errs
    assert not bad.dataframe
    linked = open_page("compare", **{"for": "serving", "tpot": "0"})
    assert any("'TPOT limit, ms' must be a number above 0 and at most 3,600,000 (the link gives 0)" in x.value
               for x in linked.warning), [x.value for x in linked.warning]


def test_compare_table_has_no_mixed_number_columns():
    """Edge devices have no price: the '$ per million output tokens' column mixed numbers and '' (Arrow refused it and
    Streamlit logged a traceback); a column with a gap now reads as text throughout, blank where missing."""
    import pandas as pd
    import pyarrow as pa

    from costsim.ui.pages.compare import table_cells

    at = open_page("compare", **{"for": "serving"})
    cells = table_cells(at.session_state["compare_rows"])
    pa.Table.from_pandas(pd.DataFrame(cells))  # raised ArrowInvalid: Could not convert '' ... to double
    col = [c["$ per million output tokens"] for c in cells]
    assert {type(v) for v in col} == {str} and "" in col and "None" not in col, col


def test_train_layout_note_names_no_json_key():
    """The Train page's layout note ended 'and more (layout_requires)', a JSON key; it now says how many more and the
    page lists every feature, as costsim train does."""
    at = open_page("train")
    text = " ".join(c.value for c in at.caption)
    reqs = at.session_state["train_result"]["layout_requires"]
    assert len(reqs) > 3 and "layout_requires" not in text and f"and {len(reqs) - 3} more" in text, text
    assert all(q["feature"] in text for q in reqs)


def test_plan_lifetime_reads_in_words():
    """The Plan page's 'Lifetime tokens served' slider read 1e+13, and a link's other value was refused as
    '2e+13 is not one of this page's choices (10000000000.0, ...)'."""
    from costsim.specs.plan import PlanRequest
    from costsim.ui.share import encode_spec

    at = open_page("plan")
    slider = at.select_slider(key="plan_life")
    assert slider.format_func(slider.value) == "10T tokens", slider.format_func(slider.value)
    odd = open_page("plan", plan=encode_spec(PlanRequest(target_loss=2.0, lifetime_tokens=2e13)))
    warned = " ".join(x.value for x in odd.warning)
    assert "Lifetime tokens served 20T is not one of this page's choices (10B, 100B, 1T, 10T, 100T, 1,000T)" in warned, warned


def test_grid_limits_name_the_item_that_is_not_a_number():
    """'abc' in the curtailment limits said '(could not convert string to float: 'abc')', Python's words."""
    at = open_page("grid", limits="0.5, abc")
    errs = errors(at)
    assert "'Curtailment limits (%)': 'abc' is not a number" in errs and "convert" not in errs, errs


def test_optimize_front_reads_with_separators_and_units():
    """The Pareto table's total cost read 4393063 and the hypervolume a bare 1.991e+08."""
    import json

    at = open_page("optimize")
    at.number_input(key="opt_trials").set_value(8)
    at.button(key="opt_run").click().run()
    assert not errors(at)
    cfg = json.loads(at.dataframe[0].proto.columns)
    assert cfg["Total cost, $"]["type_config"]["format"] == "localized", cfg
    hv = next(c.value for c in at.caption if c.value.startswith("Hypervolume"))
    assert "e+" not in hv and hv.endswith("days × $."), hv


def test_site_page_shows_the_power_trust_range():
    """The Site page's MW had no trust range beside them (Train, Serve, Plan and Scenario show theirs)."""
    at = open_page("site")
    assert not errors(at)
    lines = [c.value for c in at.caption if c.value.startswith("Trust range")]
    assert len(lines) == 1 and "power" in lines[0] and "applies to power and energy" in lines[0], lines


def test_serve_deployment_answers_first_as_the_cli():
    """With 'Search the best deployment of a GPU budget' the page opened on a heading naming the layout only, not the
    CLI's sentence with throughput and $ per million tokens; its runners-up read 147000 tok/s."""
    import json

    from costsim.report.answers import serve_answer

    at = open_page("serve")
    at.checkbox(key="serve_deployment_search").check().run()
    at.selectbox(key="serve_gpus").set_value(64).run()
    assert not errors(at)
    res = at.session_state["serve_result"]
    want = serve_answer(res)
    assert want.startswith("Best use of 64 x h100-sxm") and any(m.value == f"**{want}**" for m in at.markdown), want
    cfg = json.loads(at.dataframe[0].proto.columns)
    assert cfg["Throughput, tok/s"]["type_config"]["format"] == "localized", cfg


def test_infeasible_replica_metrics_read_a_bare_dash():
    """A TPOT limit no batch meets left metrics reading '— tok/s' and '— J': a unit on nothing."""
    at = open_page("serve")
    at.number_input(key="serve_tpot_ms").set_value(0.001).run()
    assert "Not feasible" in errors(at)
    values = [m.value for m in at.metric]
    assert values and not any(v.startswith("—") and v != "—" and "/" not in v for v in values), values


def test_assumptions_read_in_words_not_keys_and_reprs():
    """The assumptions tables showed names as keys (peak_flop_per_s), values as 9.894e+14 and a phase mix as a Python
    dict's repr ({'compute': 0.85, ...}); the Site page's per-accelerator table read 100000 GPUs under 'gpus'."""
    import json

    at = open_page("train")
    cells = at.dataframe[-1].value
    assert list(cells.columns) == ["assumption", "value", "unit", "source"], list(cells.columns)
    assert not any("_" in a for a in cells["assumption"]), list(cells["assumption"])
    assert not any("e+" in v or "{" in v for v in cells["value"]), list(cells["value"])
    serve = open_page("serve")
    values = list(serve.dataframe[-1].value["value"])
    assert "0.000025" in values and not any("e-" in v or "e+" in v for v in values), values  # layer overhead, s
    site = open_page("site")
    shown = [df.value for df in site.dataframe]
    mix = next(df for df in shown if "assumption" in df.columns)
    assert not any("{" in v for v in mix["value"]), list(mix["value"])
    fleet = next(df for df in site.dataframe if "GPUs" in df.value.columns)
    assert json.loads(fleet.proto.columns)["GPUs"]["type_config"]["format"] == "localized"


def test_validation_with_no_kind_chosen_says_what_to_do():
    """With every kind removed the Validation page drew an empty chart and table and said nothing."""
    at = open_page("validation")
    at.multiselect(key="val_kinds").set_value([]).run()
    assert any("choose at least one kind" in i.value for i in at.info) and not at.dataframe


def test_plan_table_has_no_nan_and_small_counts_read():
    """At target loss 5 the Plan table read 'nan MWh' for the compute-optimal option and 0.0 in 'tokens (T)' for an
    83.5M-token plan; counts now read as the answer writes them (293M, 83.5M) and a missing energy as '-'."""
    at = open_page("plan")
    at.number_input(key="plan_loss").set_value(5.0).run()
    assert not errors(at)
    table = at.dataframe[0].value
    cells = [str(v) for col in table.columns for v in table[col]]
    assert not any("nan" in c for c in cells), cells
    assert table["training tokens"][0].endswith("M") and table["parameters"][0].endswith("M"), table.to_dict()


def test_a_flag_value_in_a_message_reads_in_the_widgets_units():
    """1e-9 trillion training tokens said "'Training tokens, trillions' 1e+03 is less than one training step": the
    value in tokens beside the label in trillions."""
    at = open_page("train")
    at.number_input(key="train_tokens_t").set_value(1e-9).run()
    errs = errors(at)
    assert "'Training tokens, trillions' 0.000000001 is less than one training step" in errs, errs


def test_huge_run_answer_has_no_exponents():
    """10,000T tokens on the Train page answered '... 3.242e+06 MWh and 1.314e+06 tCO2e' (report.fmt wrote an exponent
    from 1e6 up); the answer and the CLI now read 3,242,337 MWh."""
    from costsim.report.fmt import fmt_value

    assert fmt_value("facility_energy_j", 3.242337e6 * 3.6e9) == "3,242,337 MWh"
    assert fmt_value("co2e_kg", 1.314e9) == "1,314,000 tCO2e"
    # past a trillion the digits no longer read (and a float's tail shows): the exponent again
    assert fmt_value("co2e_kg", 1e33) == "1.000e+30 tCO2e"
    at = open_page("train")
    at.number_input(key="train_tokens_t").set_value(9999.0).run()
    answer = next(m.value for m in at.markdown if m.value.startswith("**Training"))
    assert "e+" not in answer, answer


def test_plan_says_why_a_fit_has_no_answer():
    """At loss 1.85 the muennighoff2023 fit (irreducible loss 1.869) cannot answer: its row was silently left out of
    the by-fit table; the page now says why, as costsim plan does."""
    at = open_page("plan")
    at.number_input(key="plan_loss").set_value(1.85).run()
    assert not errors(at)
    assert any(c.value.startswith("muennighoff2023: target loss 1.85 is at or below the irreducible loss") for c in at.caption)
