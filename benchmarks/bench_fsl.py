"""Feature similarity loss: straightforward all-pairs form vs mmhfpl's blocked implementation.

Run from the repository root::

    python benchmarks/bench_fsl.py            # B=8, K=21 at 56x56 and 112x112 (+ 112x112, B=1)
    python benchmarks/bench_fsl.py --quick    # small maps only
    python benchmarks/bench_fsl.py --no-compile
    python benchmarks/bench_fsl.py --no-compile --sizes 1,21,224,224 8,21,224,224 --repeats 1

Every (implementation, size) runs in a fresh subprocess on the same seeded inputs: one
warm-up call (its time is reported as "first call"; for the compiled variant it includes
compilation, with a cold inductor cache unless ``--warm-cache``), then the median of
``--repeats`` timed forward+backward calls. Peak memory is the rise of the resident set size
during a call: "first" from ``ru_maxrss`` (peak RSS after imports and input creation vs after
the warm-up call), "steady" for one call after the warm-up, by resetting the kernel's peak-RSS
counter (``/proc/self/clear_refs``) and reading ``VmHWM - VmRSS``; before that call (after the
timing) glibc's mmap threshold is pinned at 128 KiB and the heap trimmed (``mallopt``,
``malloc_trim``) so memory freed by earlier calls cannot hide this call's allocations. Ratios
use the steady peak. The straightforward
form is skipped when its estimated memory exceeds ``--mem-limit-gb``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

IMPLS = ('straightforward', 'blocked', 'blocked+compile')


def fsl_straightforward(maps: torch.Tensor, images: torch.Tensor, mu: float = 2.5,
                        sigma: float = 5.0, eps: float = 1e-6) -> torch.Tensor:
    """Eq. 9-13 transcribed directly: three ``HW x HW`` matrices per image via ``cdist``."""
    bsz, channels, height, width = maps.shape
    n = height * width
    feats = maps.flatten(2).transpose(1, 2)  # (B, N, K): a_i
    colours = images.flatten(2).transpose(1, 2)  # (B, N, 3): x_i
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
    pos = torch.stack([rows, cols], -1).reshape(n, 2).to(maps.dtype)  # p_i = (row, col)
    w = torch.exp(-torch.cdist(pos, pos).square() / (2 * sigma**2)) / (2 * math.pi * sigma**2)
    g = 0.5 * torch.cdist(feats, feats).square()  # Eq. 11
    delta = (torch.cdist(colours, colours, p=1) / 3).clamp(eps, 1 - eps)  # Eq. 13
    f = torch.tanh(mu + torch.log(delta / (1 - delta)))  # Eq. 12
    return (-(w * g * f).sum((1, 2)) / n).mean()  # Eq. 9


def make_inputs(bsz: int, channels: int, height: int, width: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    maps = torch.rand(bsz, channels, height, width, generator=gen)
    images = torch.rand(bsz, 3, height, width, generator=gen)
    return maps, images


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _status_mb(field: str) -> float | None:
    try:
        with open('/proc/self/status') as fh:
            for line in fh:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _pin_malloc() -> bool:
    """glibc: serve every allocation >= 128 KiB by mmap (returned on free), trim the heap."""
    try:
        libc = ctypes.CDLL('libc.so.6')
        return bool(libc.mallopt(-3, 131072)) and libc.malloc_trim(0) >= 0  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
        return True
    except OSError:
        return False


def run_child(args: argparse.Namespace) -> None:
    """Time one implementation on one size; print a JSON record, save value and gradient."""
    from mmhfpl.models.losses.feature_similarity_loss import feature_similarity_loss

    if args.impl == 'straightforward':
        def loss_fn(maps, images):
            return fsl_straightforward(maps, images)
    else:
        use_compile = args.impl == 'blocked+compile'

        def loss_fn(maps, images):
            return feature_similarity_loss(maps, images, use_compile=use_compile)

    maps, images = make_inputs(args.batch, args.channels, args.height, args.width, args.seed)
    maps.requires_grad_()

    def step() -> float:
        maps.grad = None
        start = time.perf_counter()
        loss = loss_fn(maps, images)
        loss.backward()
        elapsed = time.perf_counter() - start
        del loss
        return elapsed

    base = _maxrss_mb()
    first = step()
    record = {'first_s': first, 'peak_first_mb': _maxrss_mb() - base}
    times = [step() for _ in range(args.repeats)]
    record['median_s'] = statistics.median(times)
    if _pin_malloc() and _reset_peak_rss():
        rss = _status_mb('VmRSS')
        step()
        hwm = _status_mb('VmHWM')
        if rss is not None and hwm is not None:
            record['peak_steady_mb'] = hwm - rss
    maps.grad = None
    loss = loss_fn(maps, images)
    loss.backward()
    torch.save({'value': loss.detach().double(), 'grad': maps.grad.double()}, args.out)
    print(json.dumps(record))


def spawn(impl: str, size: tuple[int, int, int, int], repeats: int, out: str,
          timeout: float, cache_dir: str | None) -> dict:
    bsz, channels, height, width = size
    cmd = [sys.executable, str(Path(__file__).resolve()), '--child', '--impl', impl,
           '--batch', str(bsz), '--channels', str(channels), '--height', str(height),
           '--width', str(width), '--repeats', str(repeats), '--out', out]
    env = dict(os.environ)
    if cache_dir is not None:
        env['TORCHINDUCTOR_CACHE_DIR'] = cache_dir
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {'error': f'timed out after {timeout:.0f} s'}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ['?'])[-1]
        return {'error': f'exit {proc.returncode}: {tail[:120]}'}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def straightforward_estimate_gb(size: tuple[int, int, int, int]) -> float:
    """~8 live ``B x N x N`` float32 tensors (cdist, square, g, delta, log, f, products)."""
    bsz, _, height, width = size
    return 8 * bsz * (height * width) ** 2 * 4 / 2**30


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small maps only')
    parser.add_argument('--no-compile', action='store_true', help='skip the compiled variant')
    parser.add_argument('--warm-cache', action='store_true',
                        help='keep the default inductor cache (first compiled call is faster)')
    parser.add_argument('--repeats', type=int, default=None)
    parser.add_argument('--sizes', nargs='+', metavar='B,K,H,W',
                        help='map sizes to run instead of the default ones')
    parser.add_argument('--mem-limit-gb', type=float, default=12.0)
    parser.add_argument('--timeout', type=float, default=900.0)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--impl', choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument('--batch', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--channels', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--height', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--width', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.repeats = 5 if args.repeats is None else args.repeats
        run_child(args)
        return

    if args.sizes:
        try:
            sizes = [tuple(int(v) for v in size.split(',')) for size in args.sizes]
        except ValueError:
            parser.error(f'--sizes takes B,K,H,W integers, got {args.sizes}')
        if any(len(size) != 4 for size in sizes):
            parser.error(f'--sizes takes B,K,H,W integers, got {args.sizes}')
    elif args.quick:
        sizes = [(8, 21, 24, 24), (8, 21, 32, 28)]
    else:
        sizes = [(8, 21, 56, 56), (8, 21, 112, 112), (1, 21, 112, 112)]
    impls = [impl for impl in IMPLS if not (args.no_compile and impl == 'blocked+compile')]
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; '
          f'fwd+bwd, median of {args.repeats or 5} after one warm-up call\n')
    header = (f'{"size (B,K,H,W)":<20} {"implementation":<16} {"median s":>9} '
              f'{"first s":>8} {"steady MB":>10} {"first MB":>9} {"value rel":>10} '
              f'{"grad rel":>9}')
    print(header)
    print('-' * len(header))
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            results, saved = {}, {}
            for impl in impls:
                out = os.path.join(tmp, f'{impl}.pt')
                if impl == 'straightforward':
                    est = straightforward_estimate_gb(size)
                    if est > args.mem_limit_gb:
                        results[impl] = {'error': f'skipped: needs ~{est:.0f} GB '
                                                  f'> --mem-limit-gb {args.mem_limit_gb:g}'}
                        continue
                repeats = args.repeats or (3 if impl == 'straightforward' else 5)
                cache_dir = None if args.warm_cache else os.path.join(
                    tmp, 'inductor-' + 'x'.join(map(str, size)))
                results[impl] = spawn(impl, size, repeats, out, args.timeout, cache_dir)
                if 'error' not in results[impl]:
                    saved[impl] = torch.load(out)
            ref = saved.get('straightforward')
            for impl in impls:
                res = results[impl]
                label = f'{size}'
                if 'error' in res:
                    print(f'{label:<20} {impl:<16} {res["error"]}')
                    continue
                errs = ('', '')
                if ref is not None and impl != 'straightforward':
                    errs = (f'{rel(saved[impl]["value"], ref["value"]):.1e}',
                            f'{rel(saved[impl]["grad"], ref["grad"]):.1e}')
                elif impl == 'blocked+compile' and 'blocked' in saved:
                    errs = (f'{rel(saved[impl]["value"], saved["blocked"]["value"]):.1e}*',
                            f'{rel(saved[impl]["grad"], saved["blocked"]["grad"]):.1e}*')
                steady = res.get('peak_steady_mb')
                steady = 'n/a' if steady is None else f'{steady:.0f}'
                print(f'{label:<20} {impl:<16} {res["median_s"]:>9.3f} {res["first_s"]:>8.2f} '
                      f'{steady:>10} {res["peak_first_mb"]:>9.0f} {errs[0]:>10} {errs[1]:>9}')
            base = results.get('straightforward', {})
            for impl in impls[1:]:
                res = results[impl]
                if 'error' in base or 'error' in res or not base:
                    continue
                peak = res.get('peak_steady_mb', res['peak_first_mb'])
                floor = '>=' if peak < 1.0 else ''  # RSS is read in KiB; below 1 MB is noise
                summary.append(f'{size}: straightforward / {impl}: time '
                               f'{base["median_s"] / res["median_s"]:.1f}x, peak memory '
                               f'{floor}{base["peak_first_mb"] / max(peak, 1.0):.1f}x')
            if 'blocked' in results and 'blocked+compile' in results:
                eager, comp = results['blocked'], results['blocked+compile']
                if 'error' not in eager and 'error' not in comp:
                    summary.append(f'{size}: blocked eager / compiled: time '
                                   f'{eager["median_s"] / comp["median_s"]:.2f}x '
                                   f'(compiled first call {comp["first_s"]:.1f} s)')
    print('\nvalue/grad rel: relative error vs the straightforward form '
          '(* = vs blocked eager when the straightforward form was skipped)')
    print('steady/first MB: rise of peak RSS during a call after the warm-up / the first call')
    print('\n' + '\n'.join(summary))


if __name__ == '__main__':
    main()
