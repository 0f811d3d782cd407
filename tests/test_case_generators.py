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
