"""Scenario page: the uncertainty study of a scenario with an `uncertainty:` section (AppTest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]


def test_scenario_page_runs_the_uncertainty_study():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("costsim/ui/pages/scenario.py").run()
    at.selectbox(key="scn_file").set_value("llama3-70b-training-uncertainty.yaml").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Uncertainty" == h.value for h in at.subheader)
    at.selectbox(key="unc_n").set_value(32).run()
    at.button(key="unc_btn").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    doc = at.session_state["unc_doc"]["doc"]
    assert doc["points"] == 32 * 7 and doc["design"] == "saltelli"
    assert any("P10–P90" in m.value for m in at.markdown)
    table = at.dataframe[-1].value
    assert "P50" in list(table.columns) and len(table) >= 4
    assert len(at.get("plotly_chart")) >= 1


def test_scenario_without_uncertainty_has_no_section():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("costsim/ui/pages/scenario.py").run()
    at.selectbox(key="scn_file").set_value("phi3-mini-on-iphone.yaml").run()
    assert not at.exception
    assert not any("Uncertainty" == h.value for h in at.subheader)
