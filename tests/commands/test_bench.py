"""minigrad bench (the kernel speed comparison) runs end to end; figures are not asserted:
benchmarks are programs, not tests."""
import json

import pytest

from minigrad.commands import bench


@pytest.mark.filterwarnings("error")  # e.g. matplotlib's "no artists with labels": an empty panel
def test_quick_run_reports_json_and_plots_only_dtypes_with_figures(tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    bench.main(["--optimizers", "sgd,adam", "--sizes", "1000", "--dtypes", "float32", "--threads", "1",
                "--rounds", "1", "--no-torch", "--no-progress", "--json", str(out), "--plot", str(png)])
    report = json.loads(out.read_text())
    assert {(r["variant"], r["dtype"], r["elements"]) for r in report["records"]} >= {
        ("sgd", "float32", 1000), ("adam", "float32", 1000)}
    assert all(r["ms"]["cpp"] > 0 and r["ms"]["numpy"] > 0 for r in report["records"])
    assert "targets:" in capsys.readouterr().out
    height, width = image.imread(png).shape[:2]
    assert width < 1.5 * height  # one panel (float32), not an empty float64 one beside it


def test_unknown_variant_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--optimizers", "adamax"])
    assert exit_.value.code == 2 and "unknown optimizer variant(s) ['adamax']" in capsys.readouterr().err
