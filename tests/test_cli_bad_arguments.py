"""Bad arguments to `zoo`: one clear error, exit status 2, nothing left behind.

The cases of tests/test_cli.py and tests/test_cli_train.py (unknown names,
non-positive --epochs and --batch-size) are not repeated here.
"""

import os

import pytest

from zoo import cli


def refused(argv, capsys):
    """Run `zoo ARGV`; return (exit status, stderr) whether argparse or the command refused it."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999999999999"])
def test_a_seed_numpy_cannot_take_is_refused_before_the_run_folder(
    seed, tmp_path, monkeypatch, capsys
):
    # NumPy's own error named neither --seed nor the value, and came after
    # run.json was written.
    monkeypatch.chdir(tmp_path)
    code, err = refused(["train", "forecaster", "--seed", seed], capsys)
    assert code == 2
    assert (
        f"argument --seed: expected an integer from 0 to 4294967295, received {seed!r}"
        in err
    )
    assert list(tmp_path.iterdir()) == []


def test_the_largest_seed_is_accepted():
    args = cli.build_parser().parse_args(["train", "vit", "--seed", "4294967295"])
    assert args.seed == cli.SEED_MAX == 2**32 - 1


@pytest.mark.parametrize("out", [None, "a/b/run"])
def test_a_refused_train_leaves_no_empty_folders(out, tmp_path, monkeypatch, capsys):
    # The default --out is runs/MODEL-PRESET: a refused run left runs/ behind.
    monkeypatch.chdir(tmp_path)
    argv = ["train", "forecaster", "--data", "no_such_series", "--epochs", "1"]
    code, err = refused([*argv, *(["--out", out] if out else [])], capsys)
    assert code == 2 and "no_such_series" in err
    assert list(tmp_path.iterdir()) == []


def test_an_out_below_a_file_names_the_argument(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    out = a_file / "sub" / "run"
    code, err = refused(["train", "forecaster", "--out", str(out)], capsys)
    assert code == 2
    assert err.startswith(f"zoo: error: --out {str(out)!r} cannot be created: ")
    assert f"{str(a_file)!r} is a file; expected a folder path" in err
    assert sorted(tmp_path.iterdir()) == [a_file]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_an_out_that_cannot_be_made_names_the_argument(capsys):
    out = "/proc/zoo_no_such_folder/run"
    code, err = refused(["train", "forecaster", "--out", out], capsys)
    assert code == 2
    assert err.startswith(f"zoo: error: --out {out!r} cannot be created (")
    assert "expected a folder path that can be written" in err


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["train", "VIT"], "; did you mean 'vit'?"),
        (["train", "seq2sq"], "; did you mean 'seq2seq'?"),
        (["train", "forecaster", "--preset", "TINY"], "; did you mean 'tiny'?"),
        (["train", "forecaster", "--preset", "patch_tst"], "did you mean 'patchtst'"),
        (["train", "seq2seq", "--data", "cmudic"], "; did you mean 'cmudict'?"),
        (["train", "vit", "--data", "fashion_mnst"], "; did you mean 'fashion_mnist'?"),
        (
            ["train", "forecaster", "--data", "elecdemnd"],
            "; did you mean 'elecdemand'?",
        ),
    ],
)
def test_unknown_names_suggest_close_ones(argv, suggestion, tmp_path, capsys):
    code, err = refused([*argv, "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.rstrip().endswith(suggestion) or suggestion in err
    assert list(tmp_path.iterdir()) == []


def test_a_name_like_none_suggests_nothing(capsys):
    code, err = refused(["train", "xyz"], capsys)
    assert code == 2 and "did you mean" not in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_is_taken_before_or_after_the_subcommand(where, tmp_path, capsys):
    # The one-line error says "run with --verbose for details": appended to
    # the command, it was refused as an unrecognized argument.
    argv = ["train", "forecaster", "--data", "no_such_series", "--out", str(tmp_path)]
    argv = ["--verbose", *argv] if where == "before" else [*argv, "--verbose"]
    assert cli.main(argv) == 2
    assert "Traceback" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_verbose_defaults_to_off():
    assert cli.build_parser().parse_args(["datasets"]).verbose is False


@pytest.mark.parametrize("argv, level", [([], "3"), (["--verbose"], None)])
def test_tensorflow_start_up_logs_are_quiet_unless_verbose(
    argv, level, monkeypatch, capsys
):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert cli.main([*argv, "datasets"]) == 0
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == level
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own wins
    assert cli.main(["datasets"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_a_quoted_tilde_in_out_and_to_is_the_home_folder(tmp_path, monkeypatch):
    # The shell leaves a quoted "~" alone: it made a folder named "~" here.
    monkeypatch.setenv("HOME", str(tmp_path))
    parser = cli.build_parser()
    assert parser.parse_args(["train", "vit", "--out", "~/r"]).out == f"{tmp_path}/r"
    run = tmp_path / "run"
    run.mkdir()
    args = parser.parse_args(["export", "~/run", "--to", "~/saved"])
    assert (args.run_dir, args.to) == (str(run), f"{tmp_path}/saved")


def test_a_file_given_as_dir_is_named_a_file(tmp_path, capsys):
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"")
    code, err = refused(["evaluate", str(model_file)], capsys)
    assert code == 2
    assert "expected a run folder (the --out of `zoo train`); received " in err
    assert "which is a file" in err
