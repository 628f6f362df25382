import subprocess
import sys

import pytest

from zoo import cli
from zoo.data import __main__ as data_main
from zoo.data import registry


def test_datasets_prints_the_table(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    planned = registry.DatasetInfo("planned_set", "what", "Debian planned", "1 row")
    monkeypatch.setitem(registry.DATASETS, planned.name, planned)
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in registry.DATASETS:
        assert name in out
    assert "CACHED" in out and "not implemented yet" in out


def test_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_user_error_is_one_line_exit_2(capsys):
    def boom(args):
        raise RuntimeError("first line\nsecond line")

    assert cli.run_guarded(boom, None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("zoo: error: first line")
    assert "Traceback" not in err


def test_verbose_shows_the_traceback(capsys):
    def boom(args):
        raise ValueError("bad value")

    assert cli.run_guarded(boom, None, verbose=True) == 2
    assert "Traceback" in capsys.readouterr().err


def test_data_fetch_unknown_name_fails_cleanly(capsys):
    assert data_main.main(["fetch", "no_such_set"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown dataset 'no_such_set'" in err


def test_data_fetch_unimplemented_fails_cleanly(capsys, monkeypatch):
    # A listed dataset without a module, whichever built-ins exist by now.
    planned = registry.DatasetInfo("planned_set", "what", "Debian planned", "1 row")
    monkeypatch.setitem(registry.DATASETS, planned.name, planned)
    assert data_main.main(["fetch", "planned_set"]) == 2
    assert "not implemented yet" in capsys.readouterr().err


def test_importing_zoo_does_not_import_tensorflow_or_keras():
    code = (
        "import sys, zoo, zoo.cli, zoo.data, zoo.data.registry;"
        "heavy = {'tensorflow', 'keras'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_export_the_backend_cannot_do_leaves_no_folder(
    tmp_path, monkeypatch, capsys
):
    # As under KERAS_BACKEND=torch, which has no SavedModel export.
    monkeypatch.setattr("zoo.export.backend_can_export", lambda: False)
    to = tmp_path / "exported"
    assert cli.main(["export", str(tmp_path), "--to", str(to)]) == 2
    assert "SavedModel export needs KERAS_BACKEND=tensorflow or jax" in (
        capsys.readouterr().err
    )
    assert not to.exists()


def test_predict_reads_inputs_from_standard_input():
    import io

    lines = io.StringIO("cat\n\nhello world\r\n")
    # Every line, empty ones too: output line N answers input line N.
    assert cli.inputs_with_stdin(["-"], lines) == ["cat", "", "hello world"]
    assert cli.inputs_with_stdin(["a", "-", "b"], io.StringIO("x\n")) == ["a", "x", "b"]
    assert cli.inputs_with_stdin(["a", "b"], io.StringIO("unread")) == ["a", "b"]
    with pytest.raises(ValueError, match="INPUT - .* may be given once; received it 2"):
        cli.inputs_with_stdin(["-", "-"], io.StringIO("x"))
    with pytest.raises(ValueError, match="expected lines on standard input"):
        cli.inputs_with_stdin(["-"], io.StringIO(""))
