"""Convert an official DeiT checkpoint to mmhfpl's ClassTokenViT with C class tokens.

Example (MCTformer on VOC loads DeiT-S):
    python tools/model_converters/convert_deit_class_tokens.py \\
        deit_small_patch16_224-cd65a155.pth checkpoints/deit-s_20cls.pth --num-classes 20

As MCTformer's ``main.py --finetune``: the ImageNet class token and the position embedding
of the class token are tiled C times; the patch embedding, the blocks and the position
embeddings of the patches keep their values; the ImageNet head (``head``, ``head_dist``) and
the final LayerNorm (MCTformer applies none) are dropped. Keys are renamed from timm's layout
to mmpretrain's ``VisionTransformer`` (``blocks.i.norm1`` -> ``layers.i.ln1``, ``mlp.fc1`` ->
``ffn.layers.0.0``, ...) and prefixed with ``backbone.``; load the result with
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``. The input is read
with ``torch.load(weights_only=True)``; the output ``{'state_dict', 'meta'}`` is written
atomically.
"""

import argparse
import re

import torch

from mmhfpl.structures import atomic_save

#: timm DeiT key pattern -> mmpretrain VisionTransformer key.
RENAMES = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.', r'layers.\1.attn.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
)
DROPPED = re.compile(r'^(head|head_dist|norm|dist_token)(\.|$)')


def convert(state_dict: dict[str, torch.Tensor], num_classes: int) -> dict[str, torch.Tensor]:
    """The ClassTokenViT state dict (keys without prefix) of a timm DeiT state dict."""
    if num_classes < 1:
        raise ValueError(f'num_classes must be >= 1, got {num_classes}')
    for key in ('cls_token', 'pos_embed', 'patch_embed.proj.weight'):
        if key not in state_dict:
            raise KeyError(f'not a DeiT/ViT checkpoint: no {key!r} (found '
                           f'{sorted(state_dict)[:5]}...)')
    extra = 2 if 'dist_token' in state_dict else 1
    converted = {}
    for key, value in state_dict.items():
        if DROPPED.match(key):
            continue
        if key == 'cls_token':
            converted[key] = value.repeat(1, num_classes, 1)
        elif key == 'pos_embed':
            converted[key] = torch.cat([value[:, :1].repeat(1, num_classes, 1),
                                        value[:, extra:]], dim=1)
        else:
            for pattern, replacement in RENAMES:
                key = re.sub(pattern, replacement, key)
            if not re.match(r'^(patch_embed|layers)\.', key):
                raise KeyError(f'unexpected DeiT key {key!r}')
            converted[key] = value
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official DeiT checkpoint (.pth, {"model": ...})')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--num-classes', type=int, required=True,
                        help='class tokens C (20 for VOC, 80 for COCO)')
    args = parser.parse_args()
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = checkpoint.get('model', checkpoint)
    converted = {f'backbone.{k}': v for k, v in convert(state_dict, args.num_classes).items()}
    atomic_save(lambda tmp: torch.save(
        dict(state_dict=converted, meta=dict(source=args.src, num_classes=args.num_classes)),
        tmp), args.dst, '.pth.tmp')
    print(f'{args.dst}: {len(converted)} tensors, {args.num_classes} class tokens')


if __name__ == '__main__':
    main()
