"""openunmix.evaluation.report: the results.csv, the printed table and the SDR plot of known scores."""

from helpers.scores import FRAMES, GLOBAL, read_csv, same
from openunmix.evaluation.aggregate import summarize
from openunmix.evaluation.report import format_table, plot_sdr, write_csv


def test_csv_and_table(tmp_path):
    summary = summarize(FRAMES, GLOBAL)
    write_csv(tmp_path / "results.csv", summary)
    header, rows = read_csv(tmp_path / "results.csv")
    assert header == ["target", "SDR", "SIR", "ISR", "SAR", "uSDR", "tracks"]
    for target, row in summary.items():
        assert all(same(rows[target][k], float(v)) for k, v in row.items())
    table = format_table(summary).splitlines()
    assert len(table) == 4 and table[1].split()[:2] == ["vocals", "3.50"]
    plot_sdr(tmp_path / "sdr.png", FRAMES)
    assert (tmp_path / "sdr.png").read_bytes()[:4] == b"\x89PNG"
