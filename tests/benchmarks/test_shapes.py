"""The named benchmark shapes live in lstmkit.shapes alone: `lstmkit bench` and the scripts read them."""

import re
import sys
from pathlib import Path

from lstmkit import bench, shapes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

NAMED = sorted({s for v in vars(shapes).values() if isinstance(v, tuple) for s in (v if isinstance(v[0], tuple) else [v])})


def test_lstmkit_bench_defaults_to_the_named_cpu_shapes():
    assert tuple(bench.DEFAULT_SHAPES) == shapes.CPU
    assert shapes.CPU[0] == shapes.IMDB == (128, 500, 32, 32)


def test_the_gpu_script_reads_the_named_shapes():
    import gpu_recurrence

    assert list(gpu_recurrence.SHAPES.values()) == list(shapes.GPU)
    assert list(gpu_recurrence.QUICK_SHAPES.values()) == list(shapes.GPU_QUICK)


def test_no_script_writes_a_named_shape_again():
    """A copy of a shape's numbers drifts from the list; the scripts say shapes.X instead."""
    files = [*sorted((ROOT / "benchmarks").glob("*.py")), ROOT / "src/lstmkit/bench.py", ROOT / "src/lstmkit/cli.py"]
    assert len(NAMED) >= 8
    for f in files:
        text = f.read_text()
        for shape in NAMED:
            pattern = r"\(\s*" + r"\s*,\s*".join(map(str, shape)) + r"\s*\)"
            assert not re.search(pattern, text), f"{f.relative_to(ROOT)} writes {shape} again: use lstmkit.shapes"
