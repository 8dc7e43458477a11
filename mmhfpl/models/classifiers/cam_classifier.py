"""Stage-1 classifier producing CAMs, on mmpretrain's ``ImageClassifier``."""

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.structures import DataSample

from mmhfpl.registry import MODELS


@MODELS.register_module()
class CAMClassifier(ImageClassifier):
    """An mmpretrain ``ImageClassifier`` whose head sees the input images and size.

    Any mmpretrain backbone works (e.g. ``mmpretrain.ResNet`` with output stride 16
    through ``strides``/``dilations``). Losses such as FSL need the input images in
    [0, 1], which ``ImageClassifier`` does not pass to its head; that, and the head's
    ``cam_fusion`` rule, is all this class adds.

    Args:
        backbone: Backbone config.
        head: Head config, e.g. ``CAMHead``.
        neck: Optional neck between backbone and head (must keep spatial maps).
        data_preprocessor: Defaults to ``mmpretrain.ClsDataPreprocessor``.
        **kwargs: Other arguments of ``ImageClassifier``.
    """

    def __init__(self, backbone: dict, head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, **kwargs) -> None:
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, **kwargs)

    @property
    def cam_fusion(self) -> str:
        """How CAM generation combines the TTA views: the head's rule (``'irn'`` if none)."""
        return getattr(self.head, 'cam_fusion', 'irn')

    def input_images(self, inputs: torch.Tensor) -> torch.Tensor:
        """The batch as images in [0, 1]: the data preprocessor's normalisation undone.

        This is what the losses receive as ``images`` (FSL's colours), so they follow the
        preprocessor's ``mean``/``std`` whatever the config sets. The channel order is the
        preprocessor's (RGB with ``to_rgb=True``).
        """
        preprocessor = self.data_preprocessor
        if getattr(preprocessor, '_enable_normalize', False):
            inputs = inputs * preprocessor.std + preprocessor.mean
        return (inputs / 255.0).clamp(0.0, 1.0)

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict:
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples, images=self.input_images(inputs))

    def predict(self, inputs: torch.Tensor,
                data_samples: list[DataSample] | None = None) -> list[DataSample]:
        feats = self.extract_feat(inputs)
        return self.head.predict(feats, data_samples)
