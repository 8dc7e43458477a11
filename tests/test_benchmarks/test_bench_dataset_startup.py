"""bench_dataset_startup.py end to end on a tiny shaped tree (its timings are not checked)."""

import re
import sys

import pytest

from tests.conftest import load_tool, run_tool

shaped = load_tool('benchmarks/make_shaped_tree.py')


@pytest.mark.parametrize('layout', ['voc', 'coco'])
def test_compares_no_cache_cold_and_warm_builds(layout, tmp_path):
    root = tmp_path / layout
    shaped.make_shaped_tree(str(root), layout, 6, workers=1, size=(96, 72))
    result = run_tool([sys.executable, 'benchmarks/bench_dataset_startup.py', '--root',
                       str(root), '--layout', layout, '--threads', '1', '2'], timeout=120)
    out = result.stdout
    assert f'over {root}: 6 images' in out
    for threads in (1, 2):
        for build in ('no cache', 'cold', 'warm'):
            assert re.search(rf'^\s+{threads}\s+{build}\s+[\d.]+\s+\d+\s+[\d.]+\s+\d+\s+True$',
                             out, re.MULTILINE), f'no {build} row for {threads} threads:\n{out}'
        assert re.search(rf'^{threads} threads: no cache / warm [\d.]+x \(scan [\d.]+x\), '
                         r'cold / warm [\d.]+x', out, re.MULTILINE), out
    cache = re.search(r'^scan cache (\S+\.scan\.json): [\d.]+ MiB \((\d+) bytes per image\)',
                      out, re.MULTILINE)
    assert cache and int(cache.group(2)) > 0, out
    assert cache.group(1).startswith(str(root)), 'the cache lies next to the list file'
