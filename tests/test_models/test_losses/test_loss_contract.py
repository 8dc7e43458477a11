"""One loss contract: every registered loss returns a dict of named, weighted terms."""

import inspect

import pytest
import torch

import mmhfpl.models.losses as losses
from mmhfpl.models.losses import CAMLoss, WSSSLoss
from mmhfpl.models.losses.cam_loss import sum_terms
from mmhfpl.registry import MODELS


def test_every_registered_loss_follows_the_contract():
    registered = [cls for name, cls in MODELS.module_dict.items()
                  if inspect.getmodule(cls).__name__.startswith('mmhfpl.models.losses')]
    names = {cls.__name__ for cls in registered}
    assert {'GAPBCELoss', 'ImportanceSamplingLoss', 'FeatureSimilarityLoss', 'SpatialBCELoss',
            'TNTProportionKLLoss', 'AffinityLoss', 'EquivariantRegularizationLoss',
            'EquivariantCrossRegularizationLoss', 'AdaptiveMinPoolingLoss'} <= names
    for cls in registered:
        assert issubclass(cls, WSSSLoss), cls
        loss = cls(loss_weight=0.5, loss_name='loss_x')
        assert loss.loss_name == 'loss_x' and loss.loss_weight == 0.5
        # A misspelt option fails when the model is built, naming the loss and its options.
        with pytest.raises(TypeError, match=rf'{cls.__name__} got unknown options '
                                            r"\['loss_wieght'\]; its options .*loss_weight"):
            MODELS.build(dict(type=f'mmhfpl.{cls.__name__}', loss_wieght=0.5))
    cam_losses = {cls.__name__ for cls in registered if issubclass(cls, CAMLoss)}
    assert cam_losses == {'GAPBCELoss', 'ImportanceSamplingLoss', 'FeatureSimilarityLoss'}
    assert set(losses.__all__) >= {'WSSSLoss', 'CAMLoss'}


def test_one_term_result_and_summing_branches():
    loss = WSSSLoss(loss_weight=2.0, loss_name='loss_y')
    value = torch.tensor(1.5)
    assert loss.weighted(value) == {'loss_y': torch.tensor(3.0)}
    total = sum_terms({'loss_a': torch.tensor(1.0)}, {'loss_a': torch.tensor(2.0),
                                                       'loss_b': torch.tensor(4.0)})
    assert total == {'loss_a': torch.tensor(3.0), 'loss_b': torch.tensor(4.0)}
