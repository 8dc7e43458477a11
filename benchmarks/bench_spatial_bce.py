"""Spatial-BCE probability phase: straightforward (authors') form vs mmhfpl's implementation.

Run from the repository root::

    python benchmarks/bench_spatial_bce.py              # B=8, C=20, 46x46, 1 thread
    python benchmarks/bench_spatial_bce.py --threads 2 --repeats 50

Both variants compute forward + backward of the probability-phase loss (seed 003 Eq. 1-5)
with the adaptive thresholds of Algorithm 1 computed inside, on the same seeded inputs:

* straightforward: a transcription of the authors' form -- a full descending sort of every
  image-class probability map, a Python loop building one index mask per (image, class) pair,
  thresholds stacked to full (B, C, HW) maps and every term evaluated on all B*C*HW entries;
* mmhfpl: :func:`select_thresholds` (partial selection on the positive maps only) followed by
  :func:`spatial_bce_loss` (R evaluated on the positive maps only).

Labels have 1-3 positive classes per image, target fractions q ~ U(0.05, 0.5). After
``--warmup`` untimed calls of each, the two run alternately ``--repeats`` times and the
medians are reported with their ratio, together with the loss and gradient differences.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mmhfpl.models.losses.spatial_bce_loss import (  # noqa: E402
    select_thresholds,
    spatial_bce_loss,
)


def spatial_bce_straightforward(logits: torch.Tensor, labels: torch.Tensor, q: torch.Tensor,
                                eps: float = 1e-4) -> torch.Tensor:
    """Probability phase of Eq. 1-5 with percentile thresholds, as in the authors' code.

    Differences to their code, so that both variants compute the spec's value: the rank is
    clamped into [0, HW - 1], the threshold into [eps, 1 - eps] (theirs: at least 1e-4 only).
    """
    b, c, h, w = logits.shape
    n = h * w
    x = logits.view(b, c, n)
    p = torch.sigmoid(x)
    ordered = torch.sort(p.detach().view(b * c, n), dim=1, descending=True).values
    index = (q.double() * n).floor().clamp(0, n - 1).long().view(-1)
    mask = torch.zeros(b * c, n, dtype=torch.bool)
    for i in range(b * c):
        mask[i, index[i]] = True
    t = torch.masked_select(ordered, mask).view(b, c)
    t = torch.stack([t for _ in range(n)], dim=2).clamp(eps, 1 - eps)
    y = torch.stack([labels for _ in range(n)], dim=2)
    low = (p <= t) * y
    high = (p > t) * y
    r_low = (1 - (p - t) ** 2 / t**2) * low
    r_high = (1 - (p - t) ** 2 / (1 - t) ** 2) * high
    negative = -(1 - y) * torch.log((1 - p).clamp(min=1e-8))
    return (r_low + r_high + negative).mean()


def spatial_bce_mmhfpl(logits: torch.Tensor, labels: torch.Tensor,
                       q: torch.Tensor) -> torch.Tensor:
    thresholds = select_thresholds(torch.sigmoid(logits.detach()), labels, q)
    return spatial_bce_loss(logits, labels, thresholds, 'prob')


def make_inputs(batch: int, classes: int, size: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.zeros(batch, classes)
    logits = 2.0 * torch.randn(batch, classes, size, size, generator=gen) - 3.0
    for b in range(batch):
        count = int(torch.randint(1, 4, (1,), generator=gen))
        for c in torch.randperm(classes, generator=gen)[:count].tolist():
            labels[b, c] = 1.0
            top, left = torch.randint(0, size // 2, (2,), generator=gen).tolist()
            extent = int(torch.randint(size // 4, size // 2, (1,), generator=gen))
            logits[b, c, top:top + extent, left:left + extent] += 6.0  # an object blob
    q = (0.05 + 0.45 * torch.rand(batch, classes, generator=gen)) * labels
    return logits, labels, q


def run(fn, logits, labels, q):
    x = logits.clone().requires_grad_(True)
    start = time.perf_counter()
    loss = fn(x, labels, q)
    loss.backward()
    return time.perf_counter() - start, loss.detach(), x.grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--classes', type=int, default=20)
    parser.add_argument('--size', type=int, default=46)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    logits, labels, q = make_inputs(args.batch, args.classes, args.size)
    variants = {'straightforward': spatial_bce_straightforward, 'mmhfpl': spatial_bce_mmhfpl}
    for fn in variants.values():
        for _ in range(args.warmup):
            run(fn, logits, labels, q)
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            times[name].append(run(fn, logits, labels, q)[0])
    results = {name: run(fn, logits, labels, q) for name, fn in variants.items()}

    load = ' '.join(f'{v:.2f}' for v in os.getloadavg())
    print(f'B={args.batch} C={args.classes} {args.size}x{args.size}, '
          f'{int(labels.sum())} positive labels, threads={args.threads}, '
          f'{args.repeats} repeats, load average {load}')
    for name, values in times.items():
        print(f'{name:>16}: median {1e3 * statistics.median(values):8.3f} ms '
              f'(min {1e3 * min(values):.3f} ms)')
    ratio = statistics.median(times['straightforward']) / statistics.median(times['mmhfpl'])
    print(f'{"speed-up":>16}: {ratio:.1f}x')
    (_, ref_loss, ref_grad), (_, loss, grad) = results['straightforward'], results['mmhfpl']
    print(f'{"loss":>16}: {ref_loss.item():.8f} vs {loss.item():.8f} '
          f'(|diff| {abs(ref_loss - loss).item():.2e})')
    print(f'{"grad":>16}: max |diff| {(ref_grad - grad).abs().max().item():.2e} '
          f'(max |grad| {ref_grad.abs().max().item():.2e})')


if __name__ == '__main__':
    main()
