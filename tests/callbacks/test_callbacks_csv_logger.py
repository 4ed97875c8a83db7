"""CSVLogger: header, rows, flushing, closing, append, separator."""

import csv

from ndgrad.callbacks import CSVLogger, LambdaCallback


def read_rows(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_one_row_per_epoch_under_a_sorted_header(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    fit(model, [CSVLogger(path)], train=[1.0, 0.5], val=[1.5, 0.75])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(rows) == 3 and [row[0] for row in rows[1:]] == ["0", "1"]
    values = [[float(v) for v in row] for row in rows[1:]]
    assert values[1][1:] == [0.6, 0.5, 0.65, 0.75]
    assert path.read_text().count("\n") == 3 and "\r" not in path.read_text()


def test_each_row_is_on_disk_when_the_epoch_ends_and_the_file_is_closed_after(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    rows_seen, opened = [], []

    def peek(epoch, logs):
        rows_seen.append(len(read_rows(path)))
        opened.append(logger.csv_file)

    fit(model, [logger, LambdaCallback(on_epoch_end=peek)], train=[1.0, 0.5, 0.25], val=[1.0] * 3)
    assert rows_seen == [2, 3, 4]
    assert opened[0] is opened[-1] and opened[0].closed and logger.csv_file is None


def test_append_adds_rows_under_the_existing_header(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    fit(model, [CSVLogger(path, append=True)], train=[1.0], val=[2.0])  # new file: header
    fit(model, [CSVLogger(path, append=True)], train=[0.5, 0.25], val=[1.0, 0.5])
    rows = read_rows(path)
    assert rows[0][0] == "epoch" and [row[0] for row in rows[1:]] == ["0", "0", "1"]
    assert [row[2] for row in rows[1:]] == ["1.0", "0.5", "0.25"]


def test_without_append_the_file_is_overwritten(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old contents\n")
    fit(model, [CSVLogger(path)], train=[1.0], val=[2.0])
    assert len(read_rows(path)) == 2 and "old" not in path.read_text()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fit(model, [CSVLogger(empty, append=True)], train=[1.0], val=[2.0])
    assert read_rows(empty)[0][0] == "epoch"  # an empty file gets its header


def test_separator(model, fit, tmp_path):
    path = tmp_path / "log.tsv"
    fit(model, [CSVLogger(path, separator="\t")], train=[1.0], val=[2.0])
    assert path.read_text().splitlines()[0] == "epoch\taccuracy\tloss\tval_accuracy\tval_loss"


def test_val_columns_are_kept_for_epochs_without_validation(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    fit(model, [CSVLogger(path)], train=[1.0, 0.5])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows[1][3:] == ["NA", "NA"]


def test_rows_end_in_a_bare_newline(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    fit(model, [CSVLogger(str(path))], train=[0.5, 0.25])
    assert path.read_bytes().count(b"\r") == 0 and path.read_bytes().count(b"\n") == 3
