"""The main job: `tools/run_pipeline.py --quick --refine` end to end, then a resumed re-run."""

import json
import sys

import pytest
from PIL import Image

from tests.conftest import run_tool


@pytest.mark.slow
def test_quick_pipeline_end_to_end_and_resume(tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'toy'
    command = [sys.executable, 'tools/run_pipeline.py', '--quick', '--refine', '--work-dir',
               str(work), '--data-root', str(data)]
    first = run_tool(command, timeout=900)
    assert 'SMOKE TEST (--quick)' in first.stdout
    # Each of the two DeepLab runs validates once (mmseg's metrics carry aAcc).
    assert (first.stdout + first.stderr).count('aAcc:') == 2
    assert '| CAM | 1 |' in first.stdout and '| CAM+ISL/FSL | 1 |' in first.stdout
    saved = json.loads((work / 'results.json').read_text())
    assert saved['protocol'].startswith('toy-v2 protocol')
    results = saved['results']
    assert set(results) == {'CAM', 'CAM+ISL/FSL'}
    for by_seed in results.values():
        row = by_seed['0']
        assert 0.05 <= row['threshold'] <= 0.95 and row['refine_method'] == 'IRN'
        assert len(json.loads((work / 'seed0' / 'cam' / 'stage2.json').read_text())['sweep']) == 19
        for stage in ('pl', 'pl_crf', 'refine', 'deeplab'):
            for key in ('J', 'F', 'J&F'):
                assert 0.0 <= row[stage][key] <= 100.0
            # mmseg rounds its metrics (DeepLab stage) to 2 decimals.
            expected = (row[stage]['J'] + row[stage]['F']) / 2
            assert abs(row[stage]['J&F'] - expected) <= 0.0051
    with Image.open(work / 'overlays.png') as figure:
        assert figure.size[0] > 500 and figure.size[1] > 300
    assert json.loads((data / 'toy_meta.json').read_text())['generator']['style'] == 'texture'
    for tag in ('pl', 'pl_crf'):
        assert len(list((work / 'seed0' / 'cam' / tag).glob('*.png'))) == 64
    assert len(list((work / 'seed0' / 'cam_hfpl' / 'irn' / 'labels').glob('*.png'))) == 64

    second = run_tool(command, timeout=900)
    logs = second.stdout + second.stderr
    assert 'training (' not in logs, 'finished stages are not run again'
    table = lambda out: out[out.index('| method'):out.index('this run:')]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)

    # Another generator style in the same work dir is refused, naming what differs.
    with pytest.raises(AssertionError, match='holds a toy set made with other generator'):
        run_tool([*command, '--style', 'uniform'], timeout=300)


@pytest.mark.slow
def test_quick_sipe_and_mctformer_with_their_own_labels_and_refinement(tmp_path):
    """SIPE: labels of its IS-CAM background, IRN with its seeds; MCTformer: AffinityNet with
    its seeds on a backbone from the CAM baseline of the same seed."""
    work, data = tmp_path / 'work', tmp_path / 'toy'
    out = run_tool([sys.executable, 'tools/run_pipeline.py', '--quick', '--refine', '--methods',
                    'sipe', 'mctformer', '--deeplab-seeds', '--work-dir', str(work),
                    '--data-root', str(data)], timeout=900)
    assert '| SIPE (IS-CAM bg) | 1 | bg map |' in out.stdout
    results = json.loads((work / 'results.json').read_text())['results']
    assert set(results) == {'SIPE', 'SIPE+ISL/FSL', 'MCTformer', 'MCTformer+ISL/FSL'}
    for name, by_seed in results.items():
        row = by_seed['0']
        assert row['refine_method'] == ('IRN' if name.startswith('SIPE') else 'AffinityNet')
        assert 'deeplab' not in row
        stages = ('pl', 'bgmap', 'bgmap_crf', 'refine') if name.startswith('SIPE') else (
            'pl', 'pl_crf', 'refine')
        for stage in stages:
            assert 0.0 <= row[stage]['J'] <= 100.0
    seeds = work / 'seed0' / 'sipe' / 'irn' / 'seeds'
    assert 'BackgroundMapSeedLabels' in (seeds / 'seed_settings.json').read_text()
    text = next((work / 'seed0' / 'mctformer' / 'affinitynet').rglob('*.py')).read_text()
    assert 'seed0/cam/stage1' in text and 'bg_threshold=0.39' in text


@pytest.mark.slow
def test_quick_pmm_shares_seams_stage1_and_trains_pspnet_on_its_masks(tmp_path):
    """PMM: SEAM's networks and CAMs, proportional pseudo-masks (no version without their
    dCRF), no refinement network, PSPNet with pretended under-fitting on the masks."""
    work, data = tmp_path / 'work', tmp_path / 'toy'
    out = run_tool([sys.executable, 'tools/run_pipeline.py', '--quick', '--methods', 'pmm',
                    '--work-dir', str(work), '--data-root', str(data)], timeout=900)
    assert '| PMM (PPG) | 1 | PPG α 11 | – | – | – |' in out.stdout
    assert 'PMM: its own stage 3 (pmm/pspnet_r18_toy_pseudo.py) on its PPG + dCRF' in out.stdout
    results = json.loads((work / 'results.json').read_text())['results']
    assert set(results) == {'PMM', 'PMM+ISL/FSL'}, 'SEAM runs only as far as PMM needs it'
    for hfpl in ('', '+ISL/FSL'):
        slug = 'seam_hfpl' if hfpl else 'seam'
        seam = json.loads((work / 'seed0' / slug / 'stage2.json').read_text())
        pmm = results['PMM' + hfpl]['0']
        assert pmm['pl'] == seam['pl'] and pmm['pl_crf'] == seam['pl_crf'], 'shared CAMs'
        assert 'ppg' not in pmm and 0.0 <= pmm['ppg_crf']['J'] <= 100.0
        assert pmm['deeplab_labels'] == 'PPG + dCRF'
        assert 0.0 <= pmm['deeplab']['J'] <= 100.0
    assert not (work / 'seed0' / 'pmm' / 'stage1').exists()
    assert len(list((work / 'seed0' / 'pmm_hfpl' / 'ppg_crf').glob('*.png'))) == 64
    text = next((work / 'seed0' / 'pmm' / 'seg').rglob('pspnet_r18_toy_pseudo.py')).read_text()
    assert 'PretendedUnderFittingLoss' in text and str(work / 'seed0' / 'pmm' / 'ppg_crf') in text


def test_paired_deltas_pair_each_seed_with_its_baseline():
    from tests.conftest import load_tool

    pipeline = load_tool('tools/run_pipeline.py')

    def row(j, f):
        return dict(pl=dict(J=j, F=f, **{'J&F': (j + f) / 2}))

    results = {'CAM': {0: row(50.0, 20.0), 1: row(60.0, 30.0), 2: row(70.0, 40.0)},
               'CAM+ISL/FSL': {0: row(51.0, 25.0), 1: row(63.0, 31.0)},
               'SEAM': {0: row(40.0, 10.0)}, 'SEAM+ISL/FSL': {0: row(45.0, 12.0)}}
    table = pipeline.paired_deltas(results)
    # Seeds 0 and 1 only (seed 2 has no +ISL/FSL row): ΔJ 1 and 3, ΔF 5 and 1.
    assert '| CAM | CAM labels, no CRF | 2 | +2.00 ± 1.41 | +3.00 ± 2.83 | +2.50 ± 0.71 |' in table
    assert 'SEAM' not in table  # one seed: no spread to report
