"""`costsim plan` with lists of training hardware, serving hardware and regions: every combination planned and ranked
by the objective; each row is the plan that combination gets on its own; bad lists exit 2 before any pricing."""

import json

import pytest

from costsim.api.plan import plan
from costsim.api.plan_compare import compare_plans
from costsim.specs.plan import PlanRequest
from tests.test_guards import _in_process

BASE = ["plan", "--target-loss", "2.1", "--lifetime-tokens", "1e13"]


def test_each_combination_is_ranked_and_equals_its_own_plan():
    req = PlanRequest(target_loss=2.1, lifetime_tokens=1e13, economics={"pricing": "purchase"})
    cmp = compare_plans(req, train_hardware=["h100-sxm", "b200"], serve_hardware=["h100-sxm"], regions=["us-pjm-virginia", "fr-france"])
    opts = cmp.options
    assert len(opts) == 4 and all(o.feasible for o in opts)
    vals = [o.total_usd for o in opts]
    assert vals == sorted(vals) and opts[0].vs_best_frac == 0.0 and opts[-1].vs_best_frac > 0
    for o in opts:  # a row is exactly the plan of its combination alone
        alone = plan(req.model_copy(update={"train_hardware": o.train_hardware, "region": o.region}))
        assert o.total_usd == pytest.approx(alone.chosen.total.usd, rel=1e-12) and o.params == pytest.approx(alone.chosen.params)
    doc = cmp.to_dict()
    assert doc["feasible"] and doc["train_hardware"] == opts[0].train_hardware and doc["region"] == opts[0].region
    assert doc["total"]["usd"] == pytest.approx(opts[0].total_usd) and len(doc["options"]) == 4
    assert doc["answer"].startswith("Of 4 combinations") and opts[0].label in doc["answer"]


def test_co2e_objective_ranks_the_low_carbon_grid_first():
    req = PlanRequest(target_loss=2.1, lifetime_tokens=1e13, objective="co2e")
    cmp = compare_plans(req, train_hardware=["h100-sxm"], serve_hardware=["h100-sxm"], regions=["us-pjm-virginia", "fr-france"])
    assert [o.region for o in cmp.options] == ["fr-france", "us-pjm-virginia"]
    assert cmp.options[1].total_co2e_kg > 2 * cmp.options[0].total_co2e_kg


def test_rental_pricing_says_regions_differ_in_co2e_only(capsys):
    code, out, _ = _in_process(BASE + ["--region", "us-pjm-virginia,fr-france", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and "Under rental pricing" in doc["answer"] and "--pricing purchase" in doc["answer"]
    a, b = doc["options"]
    assert a["total_usd"] == pytest.approx(b["total_usd"]) and a["total_co2e_kg"] != b["total_co2e_kg"]
    # the $ tie goes to the lower-carbon grid (as the plan breaks its own ties), not to the region listed first
    assert [a["region"], b["region"]] == ["fr-france", "us-pjm-virginia"]


def test_an_option_the_precision_rules_out_is_listed_not_fatal(capsys):
    code, out, _ = _in_process(BASE + ["--train-hardware", "h100-sxm,a100-80gb-sxm", "--train-precision", "fp8"], capsys)
    text = " ".join(out.split())
    assert code == 0 and text.startswith("Of 2 combinations") and "1 is infeasible" in text
    assert "Not feasible (train a100-80gb-sxm, serve h100-sxm): --train-precision fp8: a100-80gb-sxm has no FP8" in text


def test_no_feasible_combination_exits_3_with_the_reasons_grouped(capsys):
    code, out, _ = _in_process(BASE + ["--serve-hardware", "l40s", "--region", "us-pjm-virginia,fr-france", "--pricing", "purchase",
                                       "--json"], capsys)
    doc = json.loads(out)
    assert code == 3 and doc["feasible"] is False and doc["params"] is None and doc["objective"] == "usd"
    assert doc["reason"].count("l40s has no purchase price") == 1  # one reason, both combinations named (l40s has a rental quote)
    assert "train h100-sxm, serve l40s, us-pjm-virginia; train h100-sxm, serve l40s, fr-france" in doc["reason"]


@pytest.mark.parametrize("extra,field,words", [
    (["--train-hardware", "h100-sxm,nope"], "--train-hardware", "unknown hardware 'nope'"),
    (["--serve-hardware", "h100-sxm,h100-sxm"], "--serve-hardware", "listed twice"),
    (["--region", "us-pjm-virginia,"], "--region", "empty"),
    (["--region", "us-pjm-virginia,atlantis"], "region", "atlantis"),
    (["--train-hardware", "h100-sxm,b200", "--mode", "flops"], "--mode cost", "flops mode prices neither"),
    (["--pricing", "lease"], "pricing", "rental"),
])
def test_bad_lists_exit_2_before_pricing(extra, field, words, capsys):
    code, out, err = _in_process(BASE + extra, capsys)
    assert code == 2 and field in err and words in err and "Traceback" not in err, err


def test_too_many_combinations_are_refused_with_the_estimate(capsys, monkeypatch):
    monkeypatch.setenv("COSTSIM_MAX_PLAN_OPTIONS", "3")
    code, out, err = _in_process(BASE + ["--train-hardware", "h100-sxm,b200", "--region", "us-pjm-virginia,fr-france"], capsys)
    assert code == 2 and "is 4 plans priced in one comparison" in err  # a count, shown exactly and "COSTSIM_MAX_PLAN_OPTIONS" in err


def test_a_scenario_plan_with_a_list_says_how_to_compare(tmp_path, capsys):
    from pathlib import Path

    src = (Path(__file__).resolve().parents[1] / "scenarios" / "small-models-lifetime.yaml").read_text()
    assert "  train_hardware: h100-sxm\n" in src
    p = tmp_path / "s.yaml"
    p.write_text(src.replace("  train_hardware: h100-sxm\n", "  train_hardware: [h100-sxm, b200]\n"))
    code, out, err = _in_process(["run", str(p), "--out", str(tmp_path / "o"), "--no-pdf"], capsys)
    assert code == 2 and "plan.train_hardware" in err and "costsim plan --train-hardware a,b" in err and "variant" in err
