"""SIPE's general-specific consistency loss (SIPE Eq. 7) against its formula, gradcheck."""

import pytest
import torch

from mmhfpl.models.losses import GeneralSpecificConsistencyLoss, general_specific_consistency_loss


def test_gsc_loss_matches_the_formula():
    generator = torch.Generator().manual_seed(0)
    cams = torch.rand(2, 3, 4, 5, generator=generator)
    is_cams = torch.rand(2, 3, 4, 5, generator=generator) * 3
    expected = 0.0
    for b in range(2):
        for k in range(3):
            peak = is_cams[b, k].max()
            expected += (cams[b, k] - is_cams[b, k] / (peak + 1e-5)).abs().sum()
    expected /= cams.numel()
    assert general_specific_consistency_loss(cams, is_cams).item() == pytest.approx(
        expected.item(), rel=1e-6)
    loss = GeneralSpecificConsistencyLoss(loss_weight=0.5)(cams, is_cams)
    assert set(loss) == {'loss_gsc'}
    assert loss['loss_gsc'].item() == pytest.approx(0.5 * expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match='shape'):
        general_specific_consistency_loss(cams, is_cams[:, :2])


def test_gsc_loss_gradcheck():
    generator = torch.Generator().manual_seed(1)
    # Values away from the kinks of |.| and of the maximum.
    cams = torch.rand(1, 2, 3, 3, generator=generator, dtype=torch.float64).requires_grad_()
    is_cams = (torch.rand(1, 2, 3, 3, generator=generator, dtype=torch.float64) + 2
               ).requires_grad_()
    assert torch.autograd.gradcheck(general_specific_consistency_loss, (cams, is_cams))
