"""Test-time augmentation followed by a dense CRF, as PMM and seed 000 test their
segmentation models."""

from dataclasses import asdict

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.utils import SampleList
from PIL import Image

from mmhfpl.pseudo_labels.crf import CRFConfig, dense_crf
from mmhfpl.registry import MODELS

#: The dCRF of PMM's test (WSSS_MMSeg ``EncoderDecoder.DenseCRF``): 10 iterations, Gaussian
#: kernel sxy 1 / compat 3, bilateral kernel sxy 67 / srgb 3 / compat 4.
PMM_TEST_CRF = dict(iterations=10, gaussian_sxy=1, gaussian_compat=3, bilateral_sxy=67,
                    bilateral_srgb=3, bilateral_compat=4)


@MODELS.register_module()
class DenseCRFSegTTAModel(SegTTAModel):
    """mmseg's ``SegTTAModel`` whose averaged class probabilities are refined by a dCRF.

    The views' ``seg_logits`` (already resized to the original image and un-flipped by the
    segmentor) are fused into class probabilities: ``fuse='probs'`` averages their softmax
    (mmseg's TTA model, PMM's ``aug_test``), ``fuse='logits'`` averages the logits and
    takes one softmax (seed 000's ``eval_final_voc.py``). The probabilities and the RGB
    image read from the sample's ``img_path`` then go through
    :func:`~mmhfpl.pseudo_labels.crf.dense_crf`, whose argmax is ``pred_sem_seg``. Use it
    with mmseg's TTA switch, e.g. in a config::

        tta_model = dict(type='mmhfpl.DenseCRFSegTTAModel')  # PMM's kernels
        # python tools/test.py CONFIG CHECKPOINT --tta

    Args:
        module: The segmentor config or module.
        crf: Overrides of :data:`PMM_TEST_CRF` (keys of
            :class:`~mmhfpl.pseudo_labels.crf.CRFConfig`).
        fuse: ``'probs'`` or ``'logits'`` (see above).
        data_preprocessor: As ``mmengine.model.BaseTTAModel``.
    """

    def __init__(self, module: dict | torch.nn.Module, crf: dict | None = None,
                 fuse: str = 'probs', data_preprocessor: dict | None = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if fuse not in ('probs', 'logits'):
            raise ValueError(f"fuse must be 'probs' or 'logits', got {fuse!r}")
        self.crf = CRFConfig(**{**PMM_TEST_CRF, **(crf or {})})
        self.fuse = fuse

    def merge_preds(self, data_samples_list: list[SampleList]) -> SampleList:
        """Fuse the views' probabilities, refine them with the dCRF, take the argmax."""
        if self.module.out_channels == 1:
            raise ValueError('DenseCRFSegTTAModel needs a softmax segmentor '
                             '(out_channels > 1)')
        predictions = []
        for views in data_samples_list:
            logits = torch.stack([view.seg_logits.data.float() for view in views])
            if self.fuse == 'logits':
                probs = logits.mean(dim=0).softmax(dim=0)
            else:
                probs = logits.softmax(dim=1).mean(dim=0)
            probs = probs.cpu().numpy()
            path = views[0].img_path
            with Image.open(path) as handle:
                image = np.asarray(handle.convert('RGB'))
            if image.shape[:2] != probs.shape[1:]:
                raise ValueError(f'{path}: image size {image.shape[:2]} differs from the '
                                 f'prediction size {probs.shape[1:]} (the segmentor must '
                                 'resize its logits to the original image)')
            refined = dense_crf(image, probs, **asdict(self.crf))
            sample = views[-1]
            label = torch.from_numpy(refined.argmax(axis=0)).to(views[0].seg_logits.data.device)
            sample.set_data({'pred_sem_seg': PixelData(data=label[None])})
            if hasattr(views[0], 'gt_sem_seg'):
                sample.set_data({'gt_sem_seg': views[0].gt_sem_seg})
            sample.set_metainfo({'img_path': path})
            predictions.append(sample)
        return predictions
