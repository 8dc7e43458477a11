"""Loading an image's stage-2 CAM file inside a data pipeline."""

import os.path as osp

import numpy as np
from mmcv.transforms import BaseTransform

from mmhfpl.registry import TRANSFORMS
from mmhfpl.structures import image_id, load_cam_file


@TRANSFORMS.register_module()
class LoadCAMFromFile(BaseTransform):
    """Load ``<cam_dir>/<image id>.npz`` (format: :mod:`mmhfpl.pseudo_labels.cam_io`).

    The image id is the file stem of ``img_path``. The CAMs must be of the image as
    loaded, so place this transform right after ``LoadImageFromFile``, before any
    geometric transform; the seed-label transforms then turn the CAMs into a
    ``gt_seg_map`` that the geometric transforms move along with the image.

    **Required keys:** ``img_path``; optional ``img`` / ``img_shape`` (size check) and
    ``gt_label`` (the image-level labels of ``WSSSSegDataset``, label check).

    **Added keys:** ``cams`` (L, H, W) float32 max-normalised CAMs, ``cam_labels``
    (L,) int64 0-based class indices and ``cam_path`` (the file read); ``cam_background``
    (H, W) float32 when the file holds a background map (SIPE).

    Args:
        cam_dir: Directory of the CAM files.
        check_labels: Require the CAM file to hold exactly the image's labelled classes
            (``gt_label``) when the sample has them.

    Raises:
        FileNotFoundError: The CAM file does not exist.
        ValueError: The file is invalid, its size differs from the image's or its
            classes differ from the image labels; the message names the file.
    """

    def __init__(self, cam_dir: str, check_labels: bool = True) -> None:
        self.cam_dir = cam_dir
        self.check_labels = check_labels

    def transform(self, results: dict) -> dict:
        path = osp.join(self.cam_dir, image_id(results['img_path']) + '.npz')
        record = load_cam_file(path)
        if 'img' in results:
            size = tuple(results['img'].shape[:2])
        else:
            size = tuple(results.get('img_shape', record.image_size))
        if size != record.image_size:
            raise ValueError(f'{path}: CAMs of size {record.image_size} do not match the image '
                             f'{results["img_path"]} of size {size}')
        if self.check_labels and 'gt_label' in results:
            expected = set(np.asarray(results['gt_label']).reshape(-1).tolist())
            found = set(record.labels.tolist())
            if expected != found:
                raise ValueError(
                    f'{path}: CAM classes {sorted(found)} differ from the image labels '
                    f'{sorted(expected)} (missing {sorted(expected - found)}, '
                    f'unexpected {sorted(found - expected)})')
        results['cams'] = record.cams
        results['cam_labels'] = record.labels
        results['cam_path'] = path
        if record.background is not None:
            results['cam_background'] = record.background
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cam_dir={self.cam_dir!r}, '
                f'check_labels={self.check_labels})')
