"""Common base of the affinity-based refinement models (AffinityNet, IRN)."""

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

from mmhfpl.registry import MODELS
from mmhfpl.structures import class_ids

from .random_walk import neighbour_offsets

IMAGENET_PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                             std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


class BaseAffinityRefiner(BaseModel):
    """A network predicting pair affinities on a stride-``stride`` grid within a radius.

    Subclasses implement :meth:`pair_affinity` (B, P, h, w) for the forward offsets of a
    radius (:func:`~mmhfpl.models.refine.random_walk.neighbour_offsets`) and
    :meth:`predict`. Training compares the affinities at ``radius`` with the pair labels
    ``gt_affinity`` of the data samples (``PairwiseAffinityLabels`` with the same radius
    and stride) through ``loss``.

    Modes of ``forward``: ``'loss'`` (dict of losses), ``'predict'`` (data samples with
    ``pred_sem_seg``, the refined label map at the CAM size: 0 background, c + 1 class c,
    and ``seg_logits``, the refined scores it is the argmax of) and ``'tensor'`` (the
    training-radius affinities).

    Args:
        stride: Output stride of the affinity grid.
        radius: Pair radius of training.
        loss: Config of the affinity loss.
        data_preprocessor: Defaults to an ``ImgDataPreprocessor`` with the ImageNet
            mean/std, BGR to RGB and padding to a multiple of ``stride``.
        init_cfg: Initialisation config.
    """

    def __init__(self, stride: int, radius: int, loss: dict,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(IMAGENET_PREPROCESSOR, pad_size_divisor=stride)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.stride = stride
        self.radius = radius
        self.offsets = neighbour_offsets(radius)
        self.aff_loss = MODELS.build(loss)

    @staticmethod
    def merge_test_cfg(defaults: dict, test_cfg: dict | None) -> dict:
        """``defaults`` updated by ``test_cfg``; unknown keys raise ``ValueError``."""
        unknown = set(test_cfg or {}) - set(defaults)
        if unknown:
            raise ValueError(f'unknown test_cfg keys {sorted(unknown)}; expected '
                             f'{sorted(defaults)}')
        return {**defaults, **(test_cfg or {})}

    def pair_affinity(self, inputs: Tensor, radius: int) -> Tensor:
        """(B, P, h, w) affinities in [0, 1] of the grid cells for the offsets of ``radius``."""
        raise NotImplementedError

    def predict(self, inputs: Tensor, data_samples: list[SegDataSample]) -> list[SegDataSample]:
        raise NotImplementedError

    def forward(self, inputs: Tensor, data_samples: list[SegDataSample] | None = None,
                mode: str = 'tensor') -> dict | list | Tensor:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.pair_affinity(inputs, self.radius)
        raise ValueError(f'invalid mode {mode!r}: expected loss, predict or tensor')

    def loss(self, inputs: Tensor, data_samples: list[SegDataSample]) -> dict[str, Tensor]:
        """The affinity loss of the training-radius affinities against ``gt_affinity``."""
        affinity = self.pair_affinity(inputs, self.radius)
        if any('gt_affinity' not in sample for sample in data_samples):
            raise KeyError('training samples need gt_affinity pair labels: end the train '
                           'pipeline with PairwiseAffinityLabels and PackAffinityInputs')
        labels = torch.stack([sample.gt_affinity.data for sample in data_samples])
        if labels.shape != affinity.shape:
            raise ValueError(
                f'pair labels of shape {tuple(labels.shape)} do not match the predicted '
                f'affinities {tuple(affinity.shape)}: PairwiseAffinityLabels needs '
                f'radius={self.radius} and stride={self.stride}, and inputs a multiple of the '
                'stride (crop and pad to a fixed multiple)')
        return self.aff_loss(affinity, labels.to(affinity.device))

    @staticmethod
    def sample_cams(sample: SegDataSample) -> tuple[Tensor, Tensor]:
        """The (L, H, W) float CAMs and (L,) 0-based class indices of a data sample."""
        if 'cams' not in sample or 'cam_labels' not in sample:
            raise KeyError('prediction needs the CAMs of every sample: add LoadCAMFromFile '
                           'to the test pipeline')
        return sample.cams.data.float(), sample.cam_labels

    def to_grid(self, maps: Tensor, grid_size: tuple[int, int]) -> Tensor:
        """(K, H, W) image-size maps averaged over the stride cells of the grid.

        The maps are zero-padded to the grid's extent (grid size x stride, as the inputs
        are padded) and average-pooled by the stride (PSA ``infer_aff``).
        """
        height, width = maps.shape[1:]
        extent = (grid_size[0] * self.stride, grid_size[1] * self.stride)
        if height > extent[0] or width > extent[1]:
            raise ValueError(f'CAMs of size {(height, width)} exceed the input of size {extent}: '
                             'the test pipeline must not resize the image')
        padded = F.pad(maps, (0, extent[1] - width, 0, extent[0] - height))
        return F.avg_pool2d(padded[None], self.stride)[0]

    def upsample_scores(self, scores: Tensor, image_size: tuple[int, int]) -> Tensor:
        """Bilinear upsampling of (K, h, w) grid scores by the stride, cropped to the image."""
        size = (scores.shape[1] * self.stride, scores.shape[2] * self.stride)
        full = F.interpolate(scores[None], size=size, mode='bilinear', align_corners=False)[0]
        return full[:, :image_size[0], :image_size[1]]

    @staticmethod
    def set_prediction(sample: SegDataSample, scores: Tensor, labels: Tensor) -> None:
        """Store the refined scores and their argmax label map in ``sample``.

        Args:
            sample: The data sample; gets ``seg_logits`` (PixelData (L + 1, H, W): the
                refined scores of [background, labelled classes], non-negative) and
                ``pred_sem_seg`` (PixelData (1, H, W): 0 background, c + 1 class c).
            scores: (L + 1, H, W) refined scores at the image size.
            labels: (L,) 0-based classes of the score channels after the background.
        """
        ids = torch.from_numpy(class_ids(labels.cpu().numpy())).long().to(scores.device)
        sample.seg_logits = PixelData(data=scores)
        sample.pred_sem_seg = PixelData(data=ids[scores.argmax(dim=0)][None])
