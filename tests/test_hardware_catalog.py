"""The hardware catalog (hardware_profiles/) loads, is complete and is internally consistent."""

from __future__ import annotations

import pytest

from costsim.errors import InputError
from costsim.specs import catalog
from costsim.specs.hardware import DTYPES

REQUIRED_ACCELERATORS = [
    "v100-sxm2", "a100-40gb-sxm", "a100-80gb-sxm", "a100-80gb-pcie", "a10g", "l4", "l40s",
    "h100-sxm", "h100-pcie", "h100-nvl", "h800", "h200", "h20", "b200", "b300", "gb200", "gb300", "rtx-4090",
    "mi250x", "mi300x", "mi325x", "mi355x", "gaudi2", "gaudi3",
    "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "trainium1", "trainium2", "inferentia2",
    "apple-a16", "apple-a17-pro", "apple-m1", "apple-m1-max", "apple-m2", "apple-m2-ultra",
    "apple-m3-pro", "apple-m3-max", "apple-m4-pro", "apple-m4-max", "snapdragon-8-gen-3", "jetson-agx-orin",
]

REQUIRED_NODES = [
    "dgx-a100", "dgx-h100", "dgx-h200", "dgx-b200", "gb200-nvl72", "gb300-nvl72", "mi300x-platform", "tpu-v5p-slice",
    "gaudi3-hls", "trn2-instance", "iphone-14", "mac-studio-m2-ultra",
]

ACCS = catalog.accelerators()
NODES = catalog.nodes()


def test_catalog_loads_and_is_not_empty():
    assert len(ACCS) >= len(REQUIRED_ACCELERATORS)
    assert len(NODES) >= len(REQUIRED_NODES)


@pytest.mark.parametrize("acc_id", REQUIRED_ACCELERATORS)
def test_required_accelerator_present(acc_id):
    assert acc_id in ACCS


@pytest.mark.parametrize("node_id", REQUIRED_NODES)
def test_required_node_present(node_id):
    assert node_id in NODES


@pytest.mark.parametrize("acc_id", sorted(ACCS))
def test_accelerator_basic_sanity(acc_id):
    a = ACCS[acc_id]
    assert a.id == acc_id
    assert a.sources and all(s.strip() for s in a.sources)
    assert a.memory_gb > 0
    assert a.memory_bandwidth_gb_per_s > 0
    assert a.tdp_w > 0
    assert 0 <= a.idle_w < a.tdp_w
    assert any(getattr(a.peak_tflop_per_s, d) for d in DTYPES)
    assert a.peak_flop_per_s("bf16") > 0  # every device can run a bf16 model via the fallback chain
    assert a.scaleup.domain_size >= 1
    assert a.scaleup.bandwidth_gb_per_s_per_direction >= 0
    assert a.lifetime_years > 0
    if a.prices.price_date is not None:
        assert isinstance(a.prices.price_date, str) and len(a.prices.price_date) == 7 and a.prices.price_date[4] == "-"


@pytest.mark.parametrize("acc_id", sorted(ACCS))
def test_default_node_exists_and_matches(acc_id):
    a = ACCS[acc_id]
    if a.default_node is None:
        return
    assert a.default_node in NODES, f"{acc_id}: default_node {a.default_node} missing"
    assert NODES[a.default_node].accelerator == acc_id


def test_every_datacenter_device_has_a_default_node():
    for a in ACCS.values():
        if a.category in ("datacenter_gpu", "ai_accelerator"):
            assert a.default_node, f"{a.id} has no default_node"
            assert catalog.node_for(a) is not None


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_node_sanity(node_id):
    n = NODES[node_id]
    assert n.id == node_id
    assert n.accelerator in ACCS, f"{node_id}: accelerator {n.accelerator} missing"
    assert n.sources
    assert n.devices_per_node >= 1
    assert n.host_power_w >= 0
    assert n.host_idle_w <= n.host_power_w
    acc = ACCS[n.accelerator]
    # accelerators at TDP plus host under load should not exceed the rating by more than a little
    load = n.devices_per_node * acc.tdp_w + n.host_power_w
    assert load <= 1.05 * n.node_rated_power_w, f"{node_id}: {load} W under load > rating {n.node_rated_power_w} W"


def test_scaleup_domain_not_larger_than_node_for_boxed_systems():
    for n in NODES.values():
        a = ACCS[n.accelerator]
        if a.vendor in ("NVIDIA", "AMD", "Intel") and a.category == "datacenter_gpu":
            assert a.scaleup.domain_size <= n.devices_per_node


# ---- spot checks against the reference table / brief ------------------------------------------

def test_h100_sxm_dense_bf16():
    assert ACCS["h100-sxm"].peak_tflop_per_s.bf16 == pytest.approx(989.4)
    assert ACCS["h100-sxm"].peak_flop_per_s("bf16") == pytest.approx(989.4e12)


def test_dense_is_half_of_sparse_for_nvidia():
    assert ACCS["h100-sxm"].peak_tflop_per_s.fp8 == pytest.approx(3958 / 2, rel=1e-3)
    assert ACCS["a100-80gb-sxm"].peak_tflop_per_s.bf16 == pytest.approx(624 / 2)


def test_nvlink_per_direction():
    assert ACCS["h100-sxm"].scaleup.bandwidth_gb_per_s_per_direction == pytest.approx(450)
    assert ACCS["h800"].scaleup.bandwidth_gb_per_s_per_direction == pytest.approx(200)
    assert ACCS["b200"].scaleup.bandwidth_gb_per_s_per_direction == pytest.approx(900)
    assert ACCS["mi300x"].scaleup.bandwidth_gb_per_s_per_direction == pytest.approx(448)


def test_h800_differs_from_h100_only_where_expected():
    h100, h800 = ACCS["h100-sxm"], ACCS["h800"]
    assert h800.peak_tflop_per_s.fp64 <= 1.0
    assert h800.peak_tflop_per_s.bf16 == h100.peak_tflop_per_s.bf16
    assert h800.memory_gb == h100.memory_gb


def test_memory_spot_checks():
    assert ACCS["mi300x"].memory_gb == pytest.approx(192)
    assert ACCS["h200"].memory_gb == pytest.approx(141)
    assert ACCS["apple-m2-ultra"].memory_gb == pytest.approx(192)
    assert ACCS["apple-m1"].memory_bandwidth_gb_per_s == pytest.approx(68.25)
    assert ACCS["apple-m4-max"].memory_bandwidth_gb_per_s == pytest.approx(546)


def test_gb200_rack_domain():
    assert ACCS["gb200"].scaleup.domain_size == 72
    assert NODES["gb200-nvl72"].devices_per_node == 72


def test_node_ratings_from_calibration():
    assert NODES["dgx-a100"].node_rated_power_w == pytest.approx(6500)
    assert NODES["dgx-h100"].node_rated_power_w == pytest.approx(10200)
    assert NODES["dgx-b200"].node_rated_power_w == pytest.approx(14300)
    assert NODES["mac-studio-m2-ultra"].node_rated_power_w == pytest.approx(295)


def test_scaleout_units():
    # scaleout in GB/s per device: 400 Gb/s NIC per GPU = 50 GB/s
    assert ACCS["h100-sxm"].scaleout_gb_per_s == pytest.approx(50)
    assert ACCS["tpu-v5p"].scaleout_gb_per_s == pytest.approx(6.25)


@pytest.mark.parametrize("mib", [80.0, 1e30])
def test_driver_reported_memory_in_the_wrong_unit_is_refused(mib):
    """memory_reported_mib is MiB as nvidia-smi prints it; a value far from memory_gb (GiB or GB typed in, or an
    absurd one) names the field and the unit instead of silently pricing a 1e30-byte GPU."""
    from pydantic import ValidationError

    from costsim.specs.hardware import Accelerator

    data = catalog.get_accelerator("h100-sxm").model_dump()
    data["memory_reported_mib"] = mib
    with pytest.raises(ValidationError, match="memory_reported_mib"):
        Accelerator(**data)
    data["memory_reported_mib"] = 81559.0
    assert Accelerator(**data).memory_bytes == 81559 * 2**20


def test_mamf_above_the_bf16_peak_is_refused():
    """efficiency.mamf_bf16_tflop_per_s is a measured matmul rate; one above the device's bf16 peak (a sparse or FP8
    figure typed in) names the field instead of pricing a GEMM faster than the silicon."""
    from pydantic import ValidationError

    from costsim.specs.hardware import Accelerator

    data = catalog.get_accelerator("mi300x").model_dump()
    data["efficiency"]["mamf_bf16_tflop_per_s"] = 2614.9
    with pytest.raises(ValidationError, match="mamf_bf16_tflop_per_s"):
        Accelerator(**data)
    data["efficiency"]["mamf_bf16_tflop_per_s"] = 668.4
    assert Accelerator(**data).efficiency.mamf_bf16_tflop_per_s == 668.4


@pytest.mark.parametrize("acc_id", ["mi300x", "mi325x", "mi355x"])
def test_amd_parts_carry_a_measured_matmul_rate_with_its_source(acc_id):
    eff = catalog.get_accelerator(acc_id).efficiency
    assert eff.mamf_bf16_tflop_per_s and eff.num_compute_units
    assert "ml-engineering" in (eff.note or "") and "744d01e18b79" in eff.note


def test_aliases_resolve_to_one_entry_and_results_carry_the_id(tmp_path):
    from costsim.specs.base import unknown_id

    assert catalog.get_model("deepseek-r1").id == "deepseek-v3"
    assert catalog.get_model("llama-3.1-8b-instruct").id == "llama-3.1-8b"  # checkpoint suffix: same shape as the base
    assert catalog.get_model("gemma-2-9b-it").id == "gemma-2-9b"
    assert catalog.get_accelerator("trn1").id == "trainium1"
    with pytest.raises(InputError, match="unknown model 'foo-instruct'"):
        catalog.get_model("foo-instruct")
    # an alias naming another entry's id, or a second entry, is refused when the catalog loads
    base = open(catalog.models_dir() / "llama-2-7b.yaml").read()
    specs = {}
    for name, alias in (("a", "z"), ("b", "z"), ("c", "a")):
        (tmp_path / f"{name}.yaml").write_text(base.replace("id: llama-2-7b", f"id: {name}").replace("name: ", f"aliases: [{alias}]\nname: ", 1))
        specs[name] = catalog.get_model(str(tmp_path / f"{name}.yaml"))
    with pytest.raises(InputError, match="alias 'z' of 'b' already names 'a'"):
        catalog._check_aliases({"a": specs["a"], "b": specs["b"]}, "x")
    with pytest.raises(InputError, match="alias 'a' of 'c' already names 'a'"):
        catalog._check_aliases({"a": specs["a"], "c": specs["c"]}, "x")
    # a short name suggests the ids it is the stem of, before spelling neighbours
    msg = str(unknown_id("hardware", "a100", sorted(catalog.accelerators())))
    assert "a100-40gb-sxm" in msg and "a100-80gb-sxm" in msg


def test_si_labels_round_before_picking_the_prefix():
    from costsim.cli.common import fmt_si

    assert fmt_si(999_960_000.0) == "1 G"  # not '1e+03 M'
    assert fmt_si(3.8e25, "FLOP") == "38 YFLOP"
    assert fmt_si(1.2e-7, "s") == "120 ns"


def test_results_name_the_alias_the_request_used():
    """The CLI's JSON adds what the request typed (the estimators' results, which sweeps tabulate, stay as they are)."""
    import json
    import subprocess
    import sys

    from costsim.api.catalog import request_labels

    out = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "serve", "--model", "llama-3.1-8b-instruct",
                          "--hardware", "trn1", "--gpus", "1", "--json"], capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    assert (r["model"], r["model_asked_as"]) == ("llama-3.1-8b", "llama-3.1-8b-instruct")
    assert (r["hardware"], r["hardware_asked_as"], r["device_noun"]) == ("trainium1", "trn1", "accelerator")
    assert request_labels("llama-3.1-8b", "h100-sxm") == {"device_noun": "GPU"}
    assert catalog.asked_as("deepseek-v3", "trn1") == {"hardware_asked_as": "trn1"}


def test_results_call_a_device_from_a_yaml_file_by_its_kind(tmp_path):
    """A part given as a YAML file is named in prose by its category, as a catalog part is (not 'GPU' for a Trainium)."""
    from costsim.api.catalog import request_labels

    f = tmp_path / "mytrn.yaml"
    f.write_text(open(catalog.hardware_profiles_dir() / "accelerators" / "trainium1.yaml").read()
                 .replace("id: trainium1", "id: mytrn").replace("aliases: [trn1]", "aliases: []"))
    assert request_labels("llama-3.2-1b", str(f)) == {"device_noun": "accelerator"}


def test_list_tables_show_whole_ids_on_a_narrow_terminal():
    """The id is what the reader types next: at 80 columns `models list`, `hardware list` and `engines list` print every
    id whole, cut no header or value short ('…') and keep every column on the screen (the last one included)."""
    import os
    import subprocess
    import sys

    from costsim.specs.engine import engines

    env = dict(os.environ, COLUMNS="80")
    for what, ids, last in (("models", catalog.models(), "context"), ("hardware", catalog.accelerators(), "W"),
                            ("engines", list(engines()), "on")):
        out = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", what, "list"], env=env,
                             capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        rule = next(i for i, line in enumerate(lines) if line.strip().startswith("─"))
        cells = {line.split()[0] for line in lines[rule + 1:] if line[:2].strip()}  # the id column starts each row
        assert set(ids) <= cells, sorted(set(ids) - cells)
        assert "…" not in out and max(len(line) for line in lines) <= 80
        assert lines[rule - 1].split()[-1] == last  # the last column's header is there, not cropped


def test_every_shipped_validation_metric_reads_with_a_unit():
    """Tables show 'decode step, ms' and values in that unit, not the case files' key decode_step_time_s."""
    from costsim.validation.engine import CASES_DIR, load_cases
    from costsim.validation.labels import metric_display

    metrics = {c.metric for c in load_cases(CASES_DIR)}
    assert metrics and all(metric_display(m).label != m for m in metrics), sorted(m for m in metrics if metric_display(m).label == m)
    assert metric_display("decode_step_time_s").text(0.0239) == "23.9"
    assert metric_display("my_own_metric").label == "my_own_metric"  # a user's case file reads as itself


def test_every_shipped_case_kind_reads_in_words():
    from costsim.validation.engine import CASES_DIR, load_cases
    from costsim.validation.labels import kind_label

    kinds = {c.kind for c in load_cases(CASES_DIR)}
    assert all(kind_label(k) != k for k in kinds), sorted(k for k in kinds if kind_label(k) == k)


def test_tpu_v4_warm_idle_is_googles_measured_running_minimum():
    """tpu-v4's idle_w was Google's measured minimum while running (90 W), then multiplied again by the warm-idle
    factor: checkpoint stalls at 155 W, 81 % of the 192 W TDP (a helper's power audit). Bare idle is now derived so the
    warm idle is the measured 90 W."""
    from costsim.core.power import phase_power_w
    from costsim.specs.catalog import get_accelerator

    a = get_accelerator("tpu-v4")
    assert float(phase_power_w(a.idle_w, a.tdp_w, "checkpoint")) == pytest.approx(90.0, abs=1.0)
