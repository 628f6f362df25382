"""Appended history rows keep to the columns of the file's header."""

import csv

import pytest

from tests.training.conftest import tiny_regressor
from training.callbacks import HistoryCSVLogger, ThroughputLogger, standard_callbacks
from training.callbacks.training_curve_plot import read_history_csv


def fit_one_epoch(data, csv_path, append, extra_callbacks=()):
    x, y = data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    logger = HistoryCSVLogger(str(csv_path), append=append)
    return model.fit(
        x[:48],
        y[:48],
        validation_data=(x[48:], y[48:]),
        batch_size=16,
        verbose=0,
        callbacks=[*extra_callbacks, logger],
    )


def rows_of(csv_path):
    with open(csv_path, newline="") as file:
        return list(csv.DictReader(file))


def test_a_resumed_session_with_a_new_key_widens_the_header(regression_data, tmp_path):
    csv_path = tmp_path / "history.csv"
    first = fit_one_epoch(regression_data, csv_path, append=False)
    # As a run resumed by a version that logs tokens per second.
    throughput = ThroughputLogger(batch_size=16, tokens_per_example=3.0)
    second = fit_one_epoch(regression_data, csv_path, True, [throughput])
    rows = rows_of(csv_path)
    assert all(None not in row for row in rows)  # no value beyond the header
    assert [row["tokens_per_second"] for row in rows][0] == "NA"
    assert float(rows[1]["tokens_per_second"]) == pytest.approx(
        second.history["tokens_per_second"][0]
    )
    for row, history in zip(rows, (first, second)):
        assert float(row["val_loss"]) == pytest.approx(history.history["val_loss"][0])
    assert len(read_history_csv(csv_path)["val_loss"]) == 2


def test_a_resumed_session_without_a_key_writes_na_for_it(regression_data, tmp_path):
    csv_path = tmp_path / "history.csv"
    throughput = ThroughputLogger(batch_size=16, tokens_per_example=3.0)
    fit_one_epoch(regression_data, csv_path, False, [throughput])
    second = fit_one_epoch(regression_data, csv_path, append=True)
    rows = rows_of(csv_path)
    assert all(None not in row for row in rows)
    assert rows[1]["tokens_per_second"] == "NA"
    assert float(rows[1]["val_loss"]) == pytest.approx(second.history["val_loss"][0])


def test_standard_callbacks_log_history_with_it(tmp_path):
    callbacks = standard_callbacks(str(tmp_path), tensorboard=False)
    assert any(isinstance(callback, HistoryCSVLogger) for callback in callbacks)
