"""ClassTokenViT: attention weights against mmpretrain's fused attention and a direct
softmax, C class tokens, position embeddings of any input size."""

import pytest
import torch
from mmpretrain.models.backbones import VisionTransformer

from mmhfpl.models.backbones import ClassTokenViT, attention_with_weights

TINY = dict(embed_dims=32, num_layers=3, num_heads=4, feedforward_channels=64)


def _vit(**kwargs) -> ClassTokenViT:
    torch.manual_seed(0)
    model = ClassTokenViT(num_class_tokens=kwargs.pop('tokens', 5), arch=TINY, img_size=32,
                          patch_size=8, **kwargs)
    model.init_weights()
    model.eval()  # mmpretrain's train() returns None
    return model


def test_attention_with_weights_matches_mmpretrain_and_the_softmax():
    model = _vit()
    attn = model.layers[0].attn
    x = torch.randn(2, 9, 32)
    out, weights = attention_with_weights(attn, x)
    torch.testing.assert_close(out, attn(x), rtol=1e-5, atol=1e-6)
    q, k, _ = attn.qkv(x).reshape(2, 9, 3, 4, 8).permute(2, 0, 3, 1, 4)
    for b in range(2):
        for h in range(4):
            logits = torch.stack([torch.stack([q[b, h, i] @ k[b, h, j] / 8 ** 0.5
                                               for j in range(9)]) for i in range(9)])
            torch.testing.assert_close(weights[b, h], logits.softmax(dim=-1))


def test_layers_match_mmpretrain_and_return_head_averaged_attention():
    model = _vit(tokens=1)
    reference = VisionTransformer(arch=TINY, img_size=32, patch_size=8, out_type='raw',
                                  final_norm=False, patch_cfg=dict(padding=0))
    reference.load_state_dict(model.state_dict())
    reference.eval()
    assert not reference.training
    x = torch.randn(2, 3, 32, 32)
    tokens, patches, attentions = model(x)
    raw = reference(x)[0]  # (B, 1 + 16, D): the same layers, one class token
    torch.testing.assert_close(tokens, raw[:, :1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(patches.flatten(2).transpose(1, 2), raw[:, 1:], rtol=1e-5,
                               atol=1e-5)
    assert attentions.shape == (3, 2, 17, 17)
    torch.testing.assert_close(attentions.sum(-1), torch.ones(3, 2, 17))


def test_class_tokens_and_inputs_of_any_size():
    model = _vit(tokens=5)
    assert model.cls_token.shape == (1, 5, 32) and model.pos_embed.shape == (1, 5 + 16, 32)
    assert model.cls_token.abs().sum() > 0  # trunc-normal, as the authors
    tokens, patches, attentions = model(torch.randn(1, 3, 44, 60))
    # 44 x 60 pixels: the 8-pixel patches cover 5 x 7 (the remainder is dropped).
    assert tokens.shape == (1, 5, 32) and patches.shape == (1, 32, 5, 7)
    assert attentions.shape == (3, 1, 5 + 35, 5 + 35)
    with pytest.raises(TypeError, match='fixes final_norm'):
        ClassTokenViT(num_class_tokens=2, arch=TINY, final_norm=True)
    with pytest.raises(ValueError, match='num_class_tokens'):
        ClassTokenViT(num_class_tokens=0, arch=TINY)
