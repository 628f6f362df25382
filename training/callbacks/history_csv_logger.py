"""Keras' `CSVLogger`, whose appended rows keep to the file's columns."""

import csv
import io

import keras

from training.callbacks.atomic_checkpoints import write_text_atomically


class HistoryCSVLogger(keras.callbacks.CSVLogger):
    """`keras.callbacks.CSVLogger` that appends under the file's own header.

    Keras' logger picks its columns from the first epoch it logs and, when
    appending, writes no header: a resumed run whose epochs log another set
    of keys (a metric or throughput key added since the run began) wrote
    rows of another width under the old header, shifting values into the
    wrong columns (tokens per second read as ``val_loss``). Here an appended
    row follows the header; keys the header lacks are added to it, the
    earlier rows getting ``NA`` there, as Keras writes for a missing key.

    Args:
        filename: The CSV file.
        separator: The column separator.
        append: Add to an existing file instead of starting a new one.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from training.callbacks import HistoryCSVLogger
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> x, y = np.ones((4, 2)), np.ones((4, 1))
        >>> model.compile(loss="mse")
        >>> logger = HistoryCSVLogger("history.csv")
        >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
        >>> model.compile(loss="mse", metrics=["mae"])  # one key more
        >>> logger = HistoryCSVLogger("history.csv", append=True)
        >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
        >>> header, first, second = open("history.csv").read().split()
        >>> header, first.endswith(",NA"), second.endswith(",NA")
        ('epoch,loss,val_loss,mae', True, False)
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None and self.append and not self.append_header:
            self.keys = self._header_keys_with(logs or {})
        super().on_epoch_end(epoch, logs)

    def _header_keys_with(self, logs):
        """The file's columns, widened (file rewritten) by keys it lacks."""
        with open(self.filename, newline="") as handle:
            rows = list(csv.reader(handle, delimiter=self.sep))
        header = rows[0][1:]  # without "epoch"
        new_keys = sorted(set(logs) - set(header))
        if not new_keys:
            return header
        keys = header + new_keys
        filler = ["NA"] * len(new_keys)
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.sep)
        writer.writerow(["epoch", *keys])
        writer.writerows(row + filler for row in rows[1:])
        # Keras' open handle appends to the old file: swap files, then reopen.
        self.csv_file.close()
        write_text_atomically(self.filename, text.getvalue())
        self.csv_file = open(self.filename, "a")  # Keras closes it at train end
        return keys
