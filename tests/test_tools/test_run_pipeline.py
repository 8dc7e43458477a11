"""The main job: `tools/run_pipeline.py --quick --refine irn` end to end, then a resumed re-run."""

import json
import sys

import pytest
from PIL import Image

from tests.conftest import run_tool


@pytest.mark.slow
def test_quick_pipeline_end_to_end_and_resume(tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'toy'
    command = [sys.executable, 'tools/run_pipeline.py', '--quick', '--work-dir', str(work),
               '--data-root', str(data), '--refine', 'irn']
    first = run_tool(command, timeout=900)
    assert 'method' in first.stdout and '+ISL/FSL' in first.stdout
    assert 'baseline+IRN' in first.stdout and '+ISL/FSL+IRN' in first.stdout
    results = json.loads((work / 'results.json').read_text())
    assert set(results) == {'baseline', '+ISL/FSL'}
    for result in results.values():
        assert 0.1 <= result['threshold'] <= 0.5
        assert result['refine']['method'] == 'IRN'
        for row in (result, result['refine']):
            for stage in ('pl', 'pl_crf', 'deeplab'):
                for key in ('J', 'F', 'J&F'):
                    assert 0.0 <= row[stage][key] <= 100.0
                # mmseg rounds its metrics (DeepLab stage) to 2 decimals.
                expected = (row[stage]['J'] + row[stage]['F']) / 2
                assert abs(row[stage]['J&F'] - expected) <= 0.0051
    with Image.open(work / 'overlays.png') as figure:
        assert figure.size[0] > 500 and figure.size[1] > 300
    assert (data / 'toy_meta.json').exists()
    pseudo_labels = sorted((work / 'stage2' / 'baseline' / 'pl_crf').glob('*.png'))
    assert len(pseudo_labels) == 120
    refined = sorted((work / 'refine' / 'baseline' / 'irn' / 'pl_crf').glob('*.png'))
    assert len(refined) == 120

    second = run_tool(command, timeout=900)
    logs = second.stdout + second.stderr
    assert logs.count('stage-1 checkpoint present, skipping training') == 2
    assert logs.count('IRN checkpoint present, skipping training') == 2
    assert 'training DeepLab' not in logs, 'finished stages are not run again'
    table = lambda out: out[out.index('method '):out.index('figure:')]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)
