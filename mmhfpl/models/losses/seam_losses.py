"""Deprecated module (kept one release): SEAM's losses now live one per file.

The self-supervision losses of SEAM (Wang et al., CVPR 2020, §3.2 and §3.4).

SEAM runs a siamese network on an image I and a rescaled copy A(I) (A: bilinear
downscaling by 0.3) and compares their CAMs after bringing the full-resolution one
through the same transform. With ŷ the (normalised) CAMs of the classifier, y the
CAMs revised by the pixel correlation module (PCM), superscript o for the original
branch and t for the transformed one, §3.4 defines

* equivariant regularisation ``L_ER = |A(ŷ^o) - ŷ^t|_1``;
* equivariant cross regularisation ``L_ECR = |A(y^o) - ŷ^t|_1 + |A(ŷ^o) - y^t|_1``;
* the total ``L = L_cls + L_ER + L_ECR``.

The released code (YudeWang/SEAM ``train_SEAM.py``) fixes the details implemented here:

* CAMs are normalised per image and class by :func:`min_max_normalize` (its
  ``max_norm``) at the input resolution of their branch, then masked by the image
  labels (the background channel of revised CAMs is kept);
* ``L_ER`` is the mean absolute difference over the foreground channels only;
* in ``L_ECR`` the unrevised CAM is the (detached) target: a background channel
  1 - max_c ŷ_c is prepended (:func:`append_background`) and only the largest
  foreground value of each pixel is kept (:func:`keep_top_foreground`, its
  ``max_onehot``); the L1 error is averaged over the 20% largest entries of each image
  (all channels and pixels pooled), see :func:`equivariant_cross_regularization_loss`;
* the classification loss also holds the "adaptive min-pooling" term on the revised
  CAMs (:func:`adaptive_min_pooling_loss`), which pushes the quarter of pixels with the
  weakest foreground response towards zero.

Channel layout of maps with background: channel 0 is the background, 1..C the classes.
"""

from .adaptive_min_pooling_loss import AdaptiveMinPoolingLoss, adaptive_min_pooling_loss
from .cam_posteriors import append_background, keep_top_foreground, min_max_normalize
from .equivariant_cross_regularization_loss import (
    EquivariantCrossRegularizationLoss,
    equivariant_cross_regularization_loss,
)
from .equivariant_regularization_loss import (
    EquivariantRegularizationLoss,
    equivariant_regularization_loss,
)

__all__ = [
    'AdaptiveMinPoolingLoss', 'EquivariantCrossRegularizationLoss',
    'EquivariantRegularizationLoss', 'adaptive_min_pooling_loss', 'append_background',
    'equivariant_cross_regularization_loss', 'equivariant_regularization_loss',
    'keep_top_foreground', 'min_max_normalize',
]
