"""SIPE's image-specific prototypes: seeds, prototypes and IS-CAM against direct per-pixel
loops over the formulas of the authors' ``resnet50_SIPE.py`` on tiny tensors."""

import math

import pytest
import torch

from mmhfpl.models.layers import (
    ImageSpecificPrototypes,
    cam_with_background,
    image_prototypes,
    prototype_activation,
    seed_correlation_iou,
    structure_seeds,
)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / (norm + 1e-5) for v in vector]


def _loop_iou(cams: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """IoU_k(i) = Σ_j ρ_ij m_kj / (Σ_j ρ_ij + Σ_j m_kj - Σ_j ρ_ij m_kj), pixel by pixel."""
    batch, channels, height, width = cams.shape
    out = torch.zeros(batch, channels, height, width, dtype=torch.float64)
    pixels = [(y, x) for y in range(height) for x in range(width)]
    for b in range(batch):
        units = {p: _unit(feature[b, :, p[0], p[1]].tolist()) for p in pixels}
        for k in range(channels):
            mass = sum(float(cams[b, k, y, x]) for y, x in pixels)
            for i in pixels:
                rho = [max(0.0, sum(a * c for a, c in zip(units[i], units[j], strict=True)))
                       for j in pixels]
                inter = sum(r * float(cams[b, k, j[0], j[1]])
                            for r, j in zip(rho, pixels, strict=True))
                out[b, k, i[0], i[1]] = inter / (sum(rho) + mass - inter)
    return out


def _example(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    cams = torch.rand(2, 3, 3, 4, generator=generator, dtype=torch.float64)
    feature = torch.randn(2, 5, 3, 4, generator=generator, dtype=torch.float64)
    return cams, feature


def test_seed_iou_matches_the_per_pixel_formula():
    cams, feature = _example()
    torch.testing.assert_close(seed_correlation_iou(cams, feature), _loop_iou(cams, feature))


def test_seeds_take_the_best_channel_with_background_halved_and_are_masked():
    cams, feature = _example(1)
    valid = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dtype=torch.float64)[..., None,
                                                                                  None]
    seeds = structure_seeds(cams, feature, valid, bg_weight=0.5)
    iou = _loop_iou(cams, feature)
    for b in range(2):
        for y in range(3):
            for x in range(4):
                weighted = [0.5 * iou[b, 0, y, x].item()] + iou[b, 1:, y, x].tolist()
                best = max(range(3), key=lambda k: weighted[k])
                expected = [1.0 if k == best and valid[b, k, 0, 0] else 0.0 for k in range(3)]
                assert seeds[b, :, y, x].tolist() == expected
    assert seeds[0, 2].sum() == 0 and seeds[1, 1].sum() == 0  # absent classes seed nothing


def test_prototypes_and_is_cam_match_the_definitions():
    cams, feature = _example(2)
    seeds = structure_seeds(cams, feature, torch.ones(1, 3, 1, 1, dtype=torch.float64))
    prototypes = image_prototypes(seeds, feature)
    is_cam = prototype_activation(prototypes, feature)
    for b in range(2):
        for k in range(3):
            members = [(y, x) for y in range(3) for x in range(4) if seeds[b, k, y, x] == 1]
            # The authors average over all h*w pixels (adaptive average pooling).
            expected = sum((feature[b, :, y, x] for y, x in members),
                           torch.zeros(5, dtype=torch.float64)) / 12
            torch.testing.assert_close(prototypes[b, k], expected)
            for y in range(3):
                for x in range(4):
                    f, p = feature[b, :, y, x], prototypes[b, k]
                    cos = (f @ p) / max(f.norm() * p.norm(), 1e-8) if p.norm() > 0 else 0.0
                    assert is_cam[b, k, y, x].item() == pytest.approx(max(0.0, float(cos)),
                                                                     abs=1e-9)
    empty = torch.zeros(1, 2, 5, dtype=torch.float64)
    assert prototype_activation(empty, feature[:1]).abs().sum() == 0  # no seed: IS-CAM 0


def test_cam_with_background():
    scores = torch.tensor([[[[2.0, -1.0]], [[1.0, 4.0]]]])  # (1, 2, 1, 2)
    out = cam_with_background(scores)
    r = torch.tensor([[2.0, 0.0], [1.0, 4.0]]) / (torch.tensor([[2.0], [4.0]]) + 1e-5)
    torch.testing.assert_close(out[0, 1:, 0], r)
    torch.testing.assert_close(out[0, 0, 0], 1 - r.amax(dim=0))


def test_module_detaches_stages_and_sizes_the_hierarchical_feature():
    torch.manual_seed(0)
    module = ImageSpecificPrototypes(in_channels=(4, 6, 8), out_channels=(2, 3, 4),
                                     size_index=1)
    stages = [torch.randn(1, 4, 8, 8, requires_grad=True),
              torch.randn(1, 6, 4, 4, requires_grad=True),
              torch.randn(1, 8, 2, 2, requires_grad=True)]
    feature = module.hierarchical_feature(stages)
    assert feature.shape == (1, 9, 4, 4)
    norms = torch.linalg.vector_norm(feature[:, 2:5], dim=1)  # the unresized side
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-4, rtol=0)
    cams = torch.rand(1, 3, 4, 4)
    is_cam, seeds = module(cams, feature, torch.ones(1, 3, 1, 1))
    is_cam.sum().backward()
    assert all(stage.grad is None for stage in stages)
    assert all(side.weight.grad is not None for side in module.sides)
    assert seeds.sum() == 16 and not seeds.requires_grad
    with pytest.raises(ValueError, match='side convolutions but 2'):
        module.hierarchical_feature(stages[:2])
    with pytest.raises(ValueError, match='one of each'):
        ImageSpecificPrototypes(in_channels=(4, 6), out_channels=(2, ))
