"""examples/port_from_torch.py: a torch training script that runs on minigrad by its import lines (issue 13).
The same text with ``torch`` for ``minigrad`` in those lines trains under torch."""
import re
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
from minigrad.examples import port_from_torch  # noqa: E402

SOURCE = Path(port_from_torch.__file__).read_text()


def torch_version_of_the_script():
    """The script with torch in its import lines, and the lines that changed."""
    text = re.sub(r"^(import|from) minigrad", r"\1 torch", SOURCE, flags=re.M)
    changed = [b for a, b in zip(SOURCE.splitlines(), text.splitlines()) if a != b]
    return text, changed


def test_only_the_import_lines_name_minigrad():
    _, changed = torch_version_of_the_script()
    assert len(changed) == 6 and all(line.startswith(("import torch", "from torch")) for line in changed)


def test_trains_on_minigrad():
    assert port_from_torch.main(["--epochs", "2", "--quiet"]) > 0.6


def test_the_same_text_trains_on_torch():
    pytest.importorskip("torch")
    text, _ = torch_version_of_the_script()
    namespace = {"__name__": "port_from_torch_on_torch"}
    exec(compile(text, "port_from_torch (torch)", "exec"), namespace)
    assert namespace["main"](["--epochs", "2", "--quiet"]) > 0.6
