"""cam_localisation: mean CAM inside vs outside each labelled class's GT, by a direct loop."""

import numpy as np
import pytest

from mmhfpl.structures import CAMRecord, load_cam_file, save_cam_file, save_label_png
from tests.conftest import load_tool

tool = load_tool('tools/analysis_tools/cam_localisation.py')


def test_inside_outside_against_a_direct_loop(tmp_path):
    rng = np.random.default_rng(0)
    expected_in, expected_out = [], []
    for k in range(3):
        gt = rng.integers(0, 4, (5, 6)).astype(np.uint8)
        gt[0, :2] = 255
        labels = np.array([0, 2])  # classes 1 and 3 of the GT
        cams = rng.random((2, 5, 6)).astype(np.float32)
        save_label_png(tmp_path / 'gt' / f'{k}.png', gt)
        path = str(tmp_path / 'cams' / f'{k}.npz')
        save_cam_file(path, CAMRecord(cams=cams, labels=labels))
        cams = load_cam_file(path).cams  # as stored (the file format may round)
        for cam, label in zip(cams, labels, strict=True):
            ins = [cam[i, j] for i in range(5) for j in range(6) if gt[i, j] == label + 1]
            out = [cam[i, j] for i in range(5) for j in range(6)
                   if gt[i, j] not in (label + 1, 255)]
            if ins and out:
                expected_in.append(np.mean(ins))
                expected_out.append(np.mean(out))
    row = tool.inside_outside(str(tmp_path / 'cams'), str(tmp_path / 'gt'), ['0', '1', '2'])
    assert row['pairs'] == len(expected_in)
    assert row['inside'] == pytest.approx(np.mean(expected_in))
    assert row['outside'] == pytest.approx(np.mean(expected_out))
    higher = np.mean(np.array(expected_in) > np.array(expected_out))
    assert row['higher_inside'] == pytest.approx(higher)

    save_label_png(tmp_path / 'gt' / '1.png', np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match='1.npz: CAM size'):
        tool.inside_outside(str(tmp_path / 'cams'), str(tmp_path / 'gt'), ['1'])
