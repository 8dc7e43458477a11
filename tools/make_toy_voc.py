"""Write the toy VOC-layout benchmark (see mmhfpl/datasets/toy_voc.py for its design).

Example:
    python tools/make_toy_voc.py data/toy_voc
    python tools/make_toy_voc.py data/toy_small --num-train 40 --num-val 10 --size 64
"""

import argparse
import dataclasses
import time

from mmhfpl.datasets.toy_voc import TOY_CLASSES, ToyVOCConfig, make_toy_voc


def parse_args() -> argparse.Namespace:
    defaults = ToyVOCConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output directory (VOC layout)')
    parser.add_argument('--num-train', type=int, default=defaults.num_train)
    parser.add_argument('--num-val', type=int, default=defaults.num_val)
    parser.add_argument('--size', type=int, default=defaults.image_size, help='image side')
    parser.add_argument('--max-objects', type=int, default=defaults.max_objects)
    parser.add_argument('--touch-prob', type=float, default=defaults.touch_prob)
    parser.add_argument('--cooccur-prob', type=float, default=defaults.cooccur_prob)
    parser.add_argument('--empty-fraction', type=float, default=defaults.empty_fraction)
    parser.add_argument('--void-width', type=int, default=defaults.void_width)
    parser.add_argument('--seed', type=int, default=defaults.seed)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    scale = args.size / ToyVOCConfig.image_size
    low, high = ToyVOCConfig.radius_range
    cfg = dataclasses.replace(
        ToyVOCConfig(), num_train=args.num_train, num_val=args.num_val, image_size=args.size,
        radius_range=(low * scale, high * scale), max_objects=args.max_objects,
        touch_prob=args.touch_prob, cooccur_prob=args.cooccur_prob,
        empty_fraction=args.empty_fraction, void_width=args.void_width, seed=args.seed)
    start = time.time()
    splits = make_toy_voc(args.root, cfg)
    print(f'wrote {len(splits["train"])} train / {len(splits["val"])} val images of '
          f'{cfg.image_size}x{cfg.image_size} with {len(TOY_CLASSES) - 1} classes to '
          f'{args.root} in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
