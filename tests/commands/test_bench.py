"""minigrad bench (the kernel speed comparison) runs end to end; figures are not asserted:
benchmarks are programs, not tests."""
import json

import pytest

from minigrad.commands import bench


# matplotlib's UserWarnings (e.g. "no artists with labels": an empty panel) fail the test; deprecations in its
# dependencies do not (pyparsing's PyparsingDeprecationWarning is a UserWarning too, under Python 3.9's matplotlib)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("error::UserWarning")
def test_quick_run_reports_json_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    bench.main(["--optimizers", "sgd,adam", "--sizes", "1000", "--dtypes", "float32", "--threads", "1",
                "--rounds", "1", "--no-torch", "--no-progress", "--json", str(out), "--plot", str(png)])
    report = json.loads(out.read_text())
    assert {(r["variant"], r["dtype"], r["elements"]) for r in report["records"]} >= {
        ("sgd", "float32", 1000), ("adam", "float32", 1000)}
    assert all(r["ms"]["cpp"] > 0 and r["ms"]["numpy"] > 0 for r in report["records"])
    assert "targets:" in capsys.readouterr().out
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def record(variant, dtype, elements, speedup, threads=4, tensors=1):
    return {"variant": variant, "dtype": dtype, "elements": elements, "speedup_vs_numpy": speedup,
            "threads": threads, "tensors": tensors}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("error::UserWarning")
def test_plot_has_a_panel_per_dtype_with_figures_and_a_line_per_variant():
    pytest.importorskip("matplotlib")
    records = [record("sgd", "float32", 1000, 2.0), record("sgd", "float32", 10_000, 4.0),
               record("adam", "float32", 1000, 3.0), record("adam", "float32", 1000, 9.0, threads=1),
               record("adam", "float32", 1000, 9.0, tensors=167)]
    fig = bench.plot(records)
    assert len(fig.axes) == 1  # no empty float64 panel
    ax = fig.axes[0]
    assert ax.get_title() == "float32, 4 threads"  # the most threads, one tensor
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("elements", "C++ speedup over the NumPy twin")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert {line.get_label(): line.get_xydata().tolist() for line in ax.get_lines()} == {
        "sgd": [[1000, 2.0], [10_000, 4.0]], "adam": [[1000, 3.0]]}
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["sgd", "adam"]
    fig = bench.plot(records + [record("adam", "float64", 1000, 1.5)])
    assert [ax.get_title() for ax in fig.axes] == ["float32, 4 threads", "float64, 4 threads"]
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["adam"]


def test_unknown_variant_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--optimizers", "no-such-optimizer"])
    assert exit_.value.code == 2 and "unknown optimizer variant(s) ['no-such-optimizer']" in capsys.readouterr().err
