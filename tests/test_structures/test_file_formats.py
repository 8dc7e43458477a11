"""The bottom layer: file formats, ids and the one atomic writer."""

import os
import stat

import numpy as np
import pytest

from mmhfpl.structures import (
    CAMRecord,
    atomic_save,
    class_ids,
    image_id,
    load_label_png,
    save_cam_file,
    save_label_png,
    save_q_file,
)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize('mask, mode', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    record = CAMRecord(cams=np.zeros((1, 2, 2), np.float32), labels=np.array([3]))
    save_cam_file(tmp_path / 'a.npz', record)
    save_label_png(tmp_path / 'a.png', np.zeros((2, 2), np.uint8))
    save_q_file(tmp_path / 'q.npz', {'a': np.zeros(4, np.float32)})
    for name in ('a.npz', 'a.png', 'q.npz'):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name


def test_atomic_save_leaves_nothing_on_failure(tmp_path):
    def broken(tmp: str) -> None:
        with open(tmp, 'w') as handle:
            handle.write('partial')
        raise RuntimeError('killed while writing')

    with pytest.raises(RuntimeError, match='killed'):
        atomic_save(broken, tmp_path / 'out.txt', '.txt.tmp')
    assert os.listdir(tmp_path) == []


def test_class_ids_and_image_id():
    assert class_ids(np.array([0, 4, 19])).tolist() == [0, 1, 5, 20]
    assert class_ids(np.array([], np.int64)).tolist() == [0]
    assert class_ids(np.array([2])).dtype == np.uint8
    assert image_id('/data/VOC2012/JPEGImages/2007_000032.jpg') == '2007_000032'


def test_label_png_round_trip(tmp_path):
    label = np.array([[0, 1, 255], [20, 3, 0]], np.uint8)
    save_label_png(tmp_path / 'l.png', label)
    np.testing.assert_array_equal(load_label_png(tmp_path / 'l.png'), label)


def test_old_import_paths_still_work():
    from mmhfpl.datasets.label_io import save_label_png as old_save
    from mmhfpl.pseudo_labels.cam_io import CAMRecord as OldRecord
    from mmhfpl.pseudo_labels.tnt_ratio import save_q_file as old_q

    assert old_save is save_label_png and OldRecord is CAMRecord and old_q is save_q_file
