"""The case generators' shared checks: a source path that is missing, or one the file system refuses (too long),
ends in exit 2 with a message naming the flag, never a traceback."""

from pathlib import Path

import pytest

from costsim.validation.cases.generated import source_file


@pytest.mark.parametrize("name", ["no-such-summary.csv", "y" * 5000])
def test_a_bad_source_path_exits_2_naming_the_flag(tmp_path, capsys, name):
    with pytest.raises(SystemExit) as e:
        source_file(tmp_path / name, "--summary", "a copy of summary.csv")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--summary" in err and "give a copy of summary.csv" in err and len(err) < 400


def test_a_real_file_is_returned(tmp_path):
    f = tmp_path / "summary.csv"
    f.write_text("x\n")
    assert source_file(f, "--summary", "a copy") == f


def test_the_gpustack_builder_finds_no_lab_files_under_a_name_too_long_to_open():
    from costsim.validation.cases.build_gpustack_cases import build

    assert build(Path("y" * 5000)) == []


def test_the_gpustack_guidellm_builder_reads_the_lab_s_run_blocks():
    from costsim.validation.cases.build_gpustack_guidellm_cases import _case, runs

    text = """### Parallel Strategy
#### TP + DP-Attention + EP

- Profile: `Balanced`
- Backend Parameters:
  ```bash
  --tp-size=8
  --dp-size=8
  --enable-dp-attention
  --ep-size=8
  ```

??? info "Benchmark result"
    ```
    Successful requests:                     1000
    Maximum request concurrency:             512
    Benchmark duration (s):                  100.0
    Total input tokens:                      8204000
    Total generated tokens:                  1024000
    ```

#### Long Context (32K in / 100 out)

- Baseline Backend Parameters:N/A

??? info "Baseline benchmark result"
    ```
    Successful requests:                     100
    Benchmark duration (s):                  300.0
    Total input tokens:                      3200000
    Total generated tokens:                  10000
    ```
"""
    rs = runs(text)
    assert [r["profile"] for r in rs] == ["Balanced", "Long Context"]
    c = _case("glm-5.2", "h200", "glm52", "lab.md", rs[0])
    assert c["inputs"]["tp"] == 1 and c["inputs"]["ep"] == 8 and c["inputs"]["max_num_seqs"] == 512
    assert c["expected"] == 10240.0 and c["known_gap"].startswith("SGLang with DP attention")
    assert _case("glm-5.2", "h200", "glm52", "lab.md", rs[1]) is None  # a rate-limited profile, no parameters


def test_the_gpustack_guidellm_builder_finds_nothing_under_a_name_too_long_to_open():
    from costsim.validation.cases.build_gpustack_guidellm_cases import build

    assert build(Path("y" * 5000)) == []
