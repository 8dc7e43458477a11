"""PMM's pretended under-fitting loss against the authors' cross_entropy (pus_type='clamp'),
gradcheck, and use inside an mmseg decode head."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from mmhfpl.models.decode_losses import PretendedUnderFittingLoss, pretended_under_fitting
from mmhfpl.registry import MODELS


def _authors(pred, label, beta, k, ignore_index=255):
    """WSSS_MMSeg mmseg/models/losses/cross_entropy_loss.py: cross_entropy, pus 'clamp'."""
    loss = F.cross_entropy(pred, label, reduction='none', ignore_index=ignore_index)
    if loss.mean() < beta:
        loss = torch.clamp(loss, 0, k)
    return loss.mean()  # weight_reduce_loss(reduction='mean', avg_factor=None)


@pytest.mark.parametrize('scale', [0.2, 5.0])  # a confident model (clamped) and an unsure one
def test_matches_the_authors_loss(scale):
    generator = torch.Generator().manual_seed(0)
    label = torch.randint(0, 4, (2, 6, 7), generator=generator)
    label[0, :2] = 255
    pred = torch.randn(2, 4, 6, 7, generator=generator) * scale
    pred = pred + 6.0 * F.one_hot(label.clamp(max=3), 4).permute(0, 3, 1, 2) * (scale < 1)
    loss = PretendedUnderFittingLoss(beta=0.5, k=0.5)(pred, label, ignore_index=255)
    torch.testing.assert_close(loss, _authors(pred, label, 0.5, 0.5))
    plain = F.cross_entropy(pred, label, reduction='none', ignore_index=255)
    clamped = plain.mean() < 0.5
    assert clamped == (scale < 1), 'the example covers both branches'
    if not clamped:
        torch.testing.assert_close(loss, plain.mean())


def test_clamp_formula_and_gradcheck():
    losses = torch.tensor([0.1, 0.3, 2.0, 0.0])
    assert pretended_under_fitting(losses, 0.5, 0.5).tolist() == pytest.approx(
        [0.1, 0.3, 2.0, 0.0])  # mean 0.6 >= beta: unchanged
    assert pretended_under_fitting(losses, 0.7, 0.5).tolist() == pytest.approx(
        [0.1, 0.3, 0.5, 0.0])
    generator = torch.Generator().manual_seed(1)
    pred = torch.randn(1, 3, 2, 3, generator=generator, dtype=torch.float64) * 3
    pred.requires_grad_()
    label = torch.randint(0, 3, (1, 2, 3), generator=generator)
    loss = PretendedUnderFittingLoss(beta=10.0, k=0.5)  # always clamped
    per_pixel = F.cross_entropy(pred.detach(), label, reduction='none')
    assert ((per_pixel - 0.5).abs() > 1e-3).all(), 'no pixel sits on the clamp'
    assert torch.autograd.gradcheck(lambda p: loss(p, label), (pred, ))


def test_registered_for_mmseg_decode_heads():
    with DefaultScope.overwrite_default_scope('mmseg'):  # as in an mmseg config
        head = MODELS.build(dict(
            type='mmseg.FCNHead', in_channels=8, channels=8, num_convs=1, num_classes=3,
            loss_decode=dict(type='mmhfpl.PretendedUnderFittingLoss', beta=0.5, k=0.5)))
    assert isinstance(head.loss_decode, PretendedUnderFittingLoss)
    assert head.loss_decode.loss_name == 'loss_ce'
    with pytest.raises(ValueError, match='softmax'):
        PretendedUnderFittingLoss(use_sigmoid=True)
