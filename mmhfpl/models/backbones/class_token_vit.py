"""A ViT with one class token per class that returns its attention maps (MCTformer)."""

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor, nn

from mmhfpl.registry import MODELS


def attention_with_weights(attn: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """mmpretrain ``MultiheadAttention.forward`` that also returns the attention weights.

    mmpretrain computes attention with the fused ``scaled_dot_product_attention``, which
    gives no weights; this is the same computation written out: softmax(q kᵀ · d^-½) per
    head, attention dropout, the weighted values, the projection and the layer's dropout /
    drop-path / layer scale.

    Returns:
        The layer's output (B, N, D) and the weights (B, heads, N, N) before dropout.
    """
    if getattr(attn, 'v_shortcut', False):
        raise NotImplementedError('attention with v_shortcut is not supported')
    batch, tokens, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, tokens, 3, attn.num_heads, attn.head_dims)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    scale = getattr(attn, 'scale', None) or attn.head_dims ** -0.5
    weights = ((q @ k.transpose(-2, -1)) * scale).softmax(dim=-1)
    dropped = F.dropout(weights, attn.attn_drop, training=attn.training)
    out = (dropped @ v).transpose(1, 2).reshape(batch, tokens, attn.embed_dims)
    out = attn.out_drop(attn.gamma1(attn.proj_drop(attn.proj(out))))
    return out, weights


@MODELS.register_module()
class ClassTokenViT(VisionTransformer):
    """mmpretrain's ``VisionTransformer`` with ``num_class_tokens`` class tokens (MCTformer).

    The C class tokens (``cls_token`` of shape (1, C, D)) and their position embeddings
    precede the patch tokens; every layer's attention weights are kept (averaged over the
    heads). As in MCTformer's code, no final LayerNorm is applied (``final_norm=False``) and
    position embeddings are resized bicubically to the input's patch grid, so inputs of
    any size work (patch embedding without padding: the remainder of a side that is not a
    multiple of the patch size is dropped, as the authors' convolution does).

    ``forward`` returns ``(class_tokens, patch_map, attentions)``: (B, C, D), (B, D, h, w)
    and (L, B, N, N) with N = C + h·w, the head-averaged attention of each of the L layers.

    Load ImageNet DeiT weights converted by
    ``tools/model_converters/deit_to_class_token_vit.py`` (class token and its position
    embedding tiled C times, as MCTformer's ``main.py --finetune``).

    Args:
        num_class_tokens: C, the number of class tokens (the number of classes).
        **kwargs: Arguments of ``mmpretrain.VisionTransformer`` (e.g. ``arch='deit-small'``,
            ``img_size``, ``drop_path_rate``); ``with_cls_token``, ``out_type`` and
            ``final_norm`` are fixed.
    """

    def __init__(self, num_class_tokens: int, **kwargs) -> None:
        for fixed in ('with_cls_token', 'out_type', 'final_norm'):
            if fixed in kwargs:
                raise TypeError(f'ClassTokenViT fixes {fixed}; do not set it')
        if num_class_tokens < 1:
            raise ValueError(f'num_class_tokens must be >= 1, got {num_class_tokens}')
        patch_cfg = dict(padding=0, **kwargs.pop('patch_cfg', {}))
        super().__init__(with_cls_token=True, out_type='raw', final_norm=False,
                         patch_cfg=patch_cfg, **kwargs)
        self.num_class_tokens = num_class_tokens
        self.num_extra_tokens = num_class_tokens
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.cls_token = nn.Parameter(torch.zeros(1, num_class_tokens, self.embed_dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, num_patches + num_class_tokens, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            trunc_normal_(self.cls_token, std=0.02)  # the authors' initialisation
            trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        batch = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(batch, -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, patch_resolution,
                                 mode=self.interpolate_mode,
                                 num_extra_tokens=self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        attentions = []
        for layer in self.layers:
            out, weights = attention_with_weights(layer.attn, layer.ln1(x))
            x = layer.ffn(layer.ln2(x + out), identity=x + out)
            attentions.append(weights.mean(dim=1))
        tokens = x[:, :self.num_class_tokens]
        patches = x[:, self.num_class_tokens:].transpose(1, 2).reshape(
            batch, -1, *patch_resolution)
        return tokens, patches, torch.stack(attentions)
