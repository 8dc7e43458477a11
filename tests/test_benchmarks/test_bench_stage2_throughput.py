"""benchmarks/bench_stage2_throughput.py end to end at a tiny size (no timing is checked)."""

import sys

import pytest

from tests.conftest import run_tool

#: (stage, setting) of every row, in order. A 70x45 image padded to a multiple of 8
#: (AffinityNet's inputs) is a 6x9 grid at stride 8; padded to a multiple of 16 (IRN's) a
#: 12x20 grid at stride 4.
EXPECTED_ROWS = [
    ('CAMs cam_r50_voc', '1 process, 2 threads'),
    ('CAMs cam_r50_voc', '2 ranks, 1 thread each'),
    ('dCRF pseudo-labels', '1 worker'),
    ('dCRF pseudo-labels', '2 workers'),
    ('dCRF pseudo-labels', '2 ranks, 1 worker each'),
    ('random walk AffinityNet', '6x9 grid, 3 maps, radius 5, beta 8, 64 steps, 2 threads'),
    ('random walk IRN', '12x20 grid, 2 maps, radius 5, beta 10, 256 steps, 2 threads'),
]


@pytest.mark.slow
def test_tiny_run_prints_every_row() -> None:
    result = run_tool([sys.executable, 'benchmarks/bench_stage2_throughput.py',
                       '--num-images', '2', '--image-size', '70', '45',
                       '--configs', 'configs/cam/cam_r50_voc.py', '--scales', '1.0',
                       '--walk-repeats', '1'], timeout=300)
    rows = [[cell.strip() for cell in line.strip('|').split('|')]
            for line in result.stdout.splitlines()
            if line.startswith('| ') and not line.startswith('| stage |')]
    assert [tuple(row[:2]) for row in rows] == EXPECTED_ROWS
    for stage, _, images, per_image, rate, _, peak_rss in rows:
        assert int(images) == (1 if stage.startswith('random walk') else 2)
        assert float(per_image) > 0 and float(rate) > 0
        assert float(peak_rss.split()[0]) > 0
    # a ratio against the first row of each tool stage; none for the walks
    assert [bool(row[5]) for row in rows] == [False, True, False, True, True, False, False]
    assert 'dCRF labels identical in the 3 settings: yes' in result.stdout
