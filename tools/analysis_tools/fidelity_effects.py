"""Measure, on identical inputs, what the loss-level choices of docs/fidelity.md change.

Each row compares mmhfpl's default with the variant it documents (the paper's text or the
authors' code), on fixed inputs: a real photograph shipped with scikit-image (``chelsea``,
no download) resized to a SEAM-like 448 crop, and smooth synthetic CAMs at the 56 x 56
feature size of SEAM's ResNet-38 (output stride 8). Prints a Markdown table.

Example:
    python tools/analysis_tools/fidelity_effects.py
"""

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data as skdata

from mmhfpl.models.losses import FeatureSimilarityLoss, spatial_bce_loss, tnt_kl_loss


def _inputs(seed: int, shift: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """448 x 448 photo batch in [0, 1], smooth CAM scores (B, 3, 56, 56), labels."""
    photo = torch.from_numpy(skdata.chelsea()).permute(2, 0, 1)[None].float()
    photo = F.interpolate(photo, size=(448, 448), mode='bilinear', align_corners=False)
    images = (photo / 255.0).repeat(2, 1, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(2, 3, 7, 7, generator=gen) * 2
    scores = F.interpolate(coarse, size=(56, 56), mode='bicubic', align_corners=False) + shift
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    return images, scores, labels


def _fsl(module: FeatureSimilarityLoss, scores, labels, images):
    leaf = scores.clone().requires_grad_()
    value = module(leaf, labels, images)['loss_fsl']
    value.backward()
    return value.item(), leaf.grad


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def fsl_rows(seed: int) -> list[tuple[str, str]]:
    rows = []
    for shift, case in ((0.0, 'maps reaching 0'), (6.0, 'every map above 0')):
        images, scores, labels = _inputs(seed, shift)
        ours = _fsl(FeatureSimilarityLoss(with_background=True), scores, labels, images)
        eq4 = _fsl(FeatureSimilarityLoss(with_background=True, normalize='max'), scores,
                   labels, images)
        grad = ((ours[1] - eq4[1]).norm() / eq4[1].norm()).item()
        rows.append((f'3: FSL r gating min-max (default) vs Eq. 4 max, {case}',
                     f'value {100 * _rel(ours[0], eq4[0]):.2f} %, gradient {grad:.3f} (rel. L2)'))
    images, scores, labels = _inputs(seed, 0.0)
    ours = _fsl(FeatureSimilarityLoss(with_background=True), scores, labels, images)
    smooth = _fsl(FeatureSimilarityLoss(with_background=True, align_corners=False,
                                        antialias=True), scores, labels, images)
    grad = ((ours[1] - smooth[1]).norm() / ours[1].norm()).item()
    rows.append(('4: FSL image resize align_corners=True (default) vs antialiased',
                 f'value {100 * _rel(smooth[0], ours[0]):.2f} %, gradient {grad:.3f} (rel. L2)'))
    return rows


def _authors_kl(logits: torch.Tensor, labels: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Spatial-BCE's KLLoss (loss_functions.py) restated: eps 1e-10 on t, 1e-8 in the log."""
    p = torch.sigmoid(logits.flatten(2))
    marginal = torch.stack([1 - p, p], dim=2).mean(dim=3)  # (B, C, 2)
    target = torch.stack([1 - q, q], dim=2)
    kl = (marginal * torch.log((marginal / (target + 1e-10)).clamp(min=1e-8))).sum(2)
    return (kl * labels).sum() / labels.sum()


def kl_rows(seed: int) -> list[tuple[str, str]]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 56, 56, generator=gen) * 3 - 2
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    rows = []
    for value, case in ((0.2, 'q in (0, 1)'), (0.0, 'q = 0 (class missed by the labels)'),
                        (1.0, 'q = 1 (class fills the image)')):
        q = torch.full((2, 3), 0.2)
        q[0, 0] = value
        ours = tnt_kl_loss(logits, labels, q).item()
        authors = _authors_kl(logits, labels, q).item()
        rows.append((f'7: T/NT KL clamps (q, m to 1e-6) vs the authors\' (1e-10 on t), {case}',
                     f'mmhfpl {ours:.4f}, authors {authors:.4f} '
                     f'({100 * _rel(ours, authors):.1f} %)'))
    return rows


def sbce_rows() -> list[tuple[str, str]]:
    rows = []
    labels = torch.tensor([[0.0]])
    thresholds = torch.tensor([[0.5]])
    for raw in (1.0, 1.84, 2.5, 5.0):
        logit = torch.full((1, 1, 1, 1), raw * 10.0, requires_grad=True)  # logit scale 10
        ours = spatial_bce_loss(logit, labels, thresholds, 'prob')
        ours.backward()
        p = torch.sigmoid(logit.detach())
        authors = -torch.log((1 - p).clamp(min=1e-8))
        grad_authors = 0.0 if (1 - p).item() < 1e-8 else p.item()
        rows.append((f'8: negative term of a false positive, raw logit {raw} (x10)',
                     f'mmhfpl {ours.item():.2f} (grad {logit.grad.item():.3f}), authors '
                     f'{authors.item():.2f} (grad {grad_authors:.3f})'))
    return rows


def threshold_rows(seed: int) -> list[tuple[str, str]]:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 20, 6, 6, generator=gen) * 2
    maps = F.interpolate(coarse, size=(46, 46), mode='bicubic', align_corners=False)
    upsampled = F.interpolate(maps, size=(375, 500), mode='bilinear', align_corners=False)
    ours = torch.sigmoid(maps.mean(dim=(2, 3)) / 10)
    authors = torch.sigmoid(upsampled.mean(dim=(2, 3)) / 10)
    gap = (ours - authors).abs().max().item()
    return [('2b: threshold from the feature-size map vs the map upsampled to 375 x 500',
             f'max abs. threshold difference {gap:.1e} over 20 classes')]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    print('| row | effect |\n|---|---|')
    rows = fsl_rows(args.seed) + threshold_rows(args.seed) + kl_rows(args.seed) + sbce_rows()
    for name, effect in rows:
        print(f'| {name} | {effect} |')


if __name__ == '__main__':
    main()
