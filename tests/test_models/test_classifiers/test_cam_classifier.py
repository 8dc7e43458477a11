"""CAM head and classifier: Eq. 2-4 shapes, losses from the config list, predictions."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmhfpl.models import CAMHead
from mmhfpl.models.losses import gap_bce_loss
from mmhfpl.registry import MODELS
from tests.conftest import REPO


def _samples(labels: list[list[int]]) -> list[DataSample]:
    return [DataSample().set_gt_label(torch.tensor(lab)) for lab in labels]


def test_head_scores_are_a_1x1_conv_and_gap():
    head = CAMHead(num_classes=3, in_channels=4)
    head.init_weights()
    feats = (torch.randn(2, 4, 5, 6), )
    scores = head(feats)
    weight = head.conv_cls.weight[:, :, 0, 0]
    torch.testing.assert_close(scores, torch.einsum('ck,bkhw->bchw', weight, feats[0]))
    losses = head.loss(feats, _samples([[0, 2], [1]]))
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    torch.testing.assert_close(losses['loss_gap_bce'], gap_bce_loss(scores, labels))


def test_head_predicts_only_the_raw_cam_and_image_scores():
    head = CAMHead(num_classes=3, in_channels=4)
    feats = (torch.randn(2, 4, 5, 6), )
    samples = head.predict(feats)
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.cam, head(feats)[i])
        torch.testing.assert_close(sample.pred_score, torch.sigmoid(sample.cam.mean((1, 2))))
        # The contract: raw scores only; normalising and resizing belong to the reader.
        assert set(sample.keys()) == {'cam', 'pred_score', 'pred_label'}


def test_head_rejects_duplicate_loss_names_and_empty_lists():
    head = CAMHead(num_classes=2, in_channels=3,
                   losses=[dict(type='GAPBCELoss'), dict(type='GAPBCELoss')])
    with pytest.raises(KeyError, match='loss_gap_bce'):
        head.loss(torch.randn(1, 3, 4, 4), _samples([[0]]))
    with pytest.raises(ValueError, match='at least one loss'):
        CAMHead(num_classes=2, in_channels=3, losses=[])


@pytest.mark.parametrize('config', ['configs/cam/cam_r18_toy.py', 'configs/cam/cam_r50_voc.py'])
def test_classifier_from_config_trains_and_predicts(config):
    cfg = Config.fromfile(str(REPO / config))
    cfg.model.backbone.pop('init_cfg', None)  # no ImageNet weights here
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    batch = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                         for _ in range(2)],
                 data_samples=_samples([[0], [1, 3]]))
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total)
    assert model.head.conv_cls.weight.grad is not None
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch), mode='predict')
    stride = 8 if 'toy' in config else 16
    assert out[0].cam.shape == (cfg.model.head.num_classes, 64 // stride, 64 // stride)


@pytest.mark.parametrize('mean, std', [((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
                                       ((10.0, 20.0, 30.0), (2.0, 3.0, 4.0))])
def test_losses_see_the_images_whatever_the_preprocessor_normalisation(mean, std, monkeypatch):
    """FSL's colours come from the model's data preprocessor, not from a copy of its config."""
    cfg = Config.fromfile(str(REPO / 'configs/cam/cam_hfpl_r18_toy.py'))
    cfg.model.data_preprocessor.update(mean=list(mean), std=list(std))
    with DefaultScope.overwrite_default_scope('mmhfpl'):
        model = MODELS.build(cfg.model)
    images = [torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=_samples([[0], [1]])),
                                   training=True)
    rgb = torch.stack(images).flip(1).float() / 255  # to_rgb=True: BGR -> RGB
    torch.testing.assert_close(model.input_images(data['inputs']), rgb, atol=1e-5, rtol=0)
    seen = []
    fsl = model.head.losses[-1]
    monkeypatch.setattr(fsl, 'rgb_images', lambda imgs, size: seen.append(imgs) or
                        type(fsl).rgb_images(fsl, imgs, size))
    model(**data, mode='loss')
    torch.testing.assert_close(seen[0], rgb, atol=1e-5, rtol=0)
