"""Convert the MXNet ImageNet weights of ResNet38d to an mmengine checkpoint (no mxnet needed).

Example:
    python tools/convert_resnet38d.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \\
        checkpoints/resnet38d_ilsvrc.pth

Reads the MXNet NDArray list file directly (see mmhfpl/models/backbones/mxnet_params.py
for the format and the name mapping) and writes ``{'state_dict': ..., 'meta': ...}``
atomically. Keys are bare (``conv1a.weight``, ``b2.bn_branch2a.weight``, ...) unless
``--prefix`` is given; load them with
``init_cfg=dict(type='Pretrained', checkpoint=OUT[, prefix=PREFIX])`` on ``ResNet38d``.
The ImageNet classifier (``linear1000_*``) is dropped.
"""

import argparse
import sys

from mmhfpl.models.backbones.mxnet_params import convert_resnet38d


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='MXNet .params file (ilsvrc-cls_rna-a1_cls1000_ep-0001)')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--prefix', default='',
                        help="prefix for every key, e.g. 'backbone.' (default: bare keys)")
    args = parser.parse_args()
    try:
        summary = convert_resnet38d(args.src, args.dst, prefix=args.prefix)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    ignored = ', '.join(summary['ignored']) or 'nothing'
    print(f'wrote {summary["tensors"]} tensors ({summary["params"]:,} parameters) to '
          f'{args.dst}; ignored {ignored}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
