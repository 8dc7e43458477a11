"""bench_addon_overhead.py end to end at toy crops (real-width networks; timings not checked)."""

import re
import sys

import pytest
import torch

from tests.conftest import load_tool, run_tool

addon = load_tool('benchmarks/bench_addon_overhead.py')


def test_batches_hold_plausible_voc_labels():
    batch = addon.make_batch(seed=0, step=3, batch_size=2, crop=16)
    assert [tuple(x.shape) for x in batch['inputs']] == [(3, 16, 16)] * 2
    assert all(x.dtype == torch.uint8 for x in batch['inputs'])
    for sample in batch['data_samples']:
        labels = sample.gt_label.tolist()
        assert 1 <= len(labels) <= 3 and labels == sorted(set(labels))
        assert all(0 <= c < 20 for c in labels)
    again = addon.make_batch(seed=0, step=3, batch_size=2, crop=16)
    assert torch.equal(again['inputs'][1], batch['inputs'][1]), 'the same batch for A and B'


# SEAM's ResNet-38d is built twice more and trained two steps more with the peak-RSS
# children, too long for a test; the CAM run covers them.
@pytest.mark.slow
@pytest.mark.parametrize('model, crop, batch, rss', [('cam', 64, 2, True), ('seam', 32, 1, False)])
def test_compares_baseline_and_addon_steps(model, crop, batch, rss):
    result = run_tool([sys.executable, 'benchmarks/bench_addon_overhead.py', '--models', model,
                       '--crop', str(crop), '--batch-size', str(batch), '--steps', '1',
                       '--warmup', '0', '--threads', '2', *([] if rss else ['--no-rss'])],
                      timeout=300)
    out = result.stdout
    title, base_config, addon_config = addon.PAIRS[model]
    for config in (base_config, addon_config):
        row = re.search(rf'[\d.]+ ± +[\d.]+ s/step  peak RSS +(\d+ MiB|n/a)  {config}$', out,
                        re.MULTILINE)
        assert row, f'no row for {config}:\n{out}'
        assert int(row.group(1).split()[0]) > 100 if rss else row.group(1) == 'n/a'
    losses = re.findall(r'^    losses: (.*)$', out, re.MULTILINE)
    assert len(losses) == 2, out
    assert 'loss_isl' not in losses[0] and 'loss_fsl' not in losses[0], 'baseline row first'
    assert 'loss_isl' in losses[1] and 'loss_fsl' in losses[1], 'the add-on runs its losses'
    memory = r', peak RSS [\d.]+x' if rss else ''
    assert re.search(rf'^{title} {crop}x{crop}, batch {batch}: \+ISL/FSL / baseline '
                     rf'[\d.]+x \([+-][\d.]+ %\){memory}$', out, re.MULTILINE), out
