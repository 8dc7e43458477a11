"""Two torch jobs on one CPU: how much each slows down, by thread setting, side by side.

Runs a small conv-net training loop (the toy CAM network's size: ResNet-18 at half width,
batch 8, 112x112) alone and then as two concurrent processes, under each setting:

* ``default``: every process uses torch's default thread count (all cores) and OpenMP's
  default waiting (threads spin before they sleep);
* ``passive``: the same threads with ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep);
* ``spin10k``: the same threads spinning 10,000 times before they sleep
  (``GOMP_SPINCOUNT``; GNU OpenMP's default is 300,000);
* ``shared``: one thread per process (``OMP_NUM_THREADS=1``).

Prints seconds per iteration and the slowdown against one process alone with default
settings. Ratios, not absolute times, are the point: they show what a second heavy job (a
benchmark beside the test suite, two ranks of ``dist_train.sh``) costs.

Example:
    python benchmarks/bench_oversubscription.py --iters 30
"""

import argparse
import json
import os
import subprocess
import sys
import time

WORKER = r'''
import json, sys, time, torch
from mmpretrain.models import ResNet
torch.manual_seed(0)
net = ResNet(depth=18, base_channels=32, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
             out_indices=(3, ))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
x = torch.randn(8, 3, 112, 112)
for _ in range(3):  # warm-up
    net(x)[0].mean().backward(); opt.step(); opt.zero_grad()
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    net(x)[0].mean().backward(); opt.step(); opt.zero_grad()
print(json.dumps(dict(seconds=(time.perf_counter() - start) / int(sys.argv[1]),
                      threads=torch.get_num_threads())))
'''


def run(processes: int, env_update: dict, iters: int) -> list[dict]:
    """Start ``processes`` workers at once; return their per-iteration times."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')}
    env.update(env_update)
    procs = [subprocess.Popen([sys.executable, '-c', WORKER, str(iters)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=30)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    settings = {
        'default': {},
        'passive': {'OMP_WAIT_POLICY': 'PASSIVE'},
        'spin10k': {'GOMP_SPINCOUNT': '10000'},
        'shared': {'OMP_NUM_THREADS': '1'},
    }
    start = time.time()
    alone = run(1, {}, args.iters)[0]['seconds']
    print(f'{cores} cores; one process alone (default): {alone:.3f} s/iteration')
    print('| setting | processes | threads each | s/iteration (mean) | slowdown vs alone |')
    print('|---|---|---|---|---|')
    for name, env in settings.items():
        for processes in (1, 2, 3):
            results = run(processes, env, args.iters)
            mean = sum(r['seconds'] for r in results) / len(results)
            print(f'| {name} | {processes} | {results[0]["threads"]} | {mean:.3f} | '
                  f'{mean / alone:.2f}x |')
    print(f'total {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
