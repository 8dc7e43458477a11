"""ResNet38d backbone and the MXNet .params converter (no mxnet involved)."""

import re
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from mmhfpl.models.backbones.resnet38d import ResNet38d
from mmhfpl.registry import MODELS
from tests.conftest import REPO, load_tool

converter = load_tool('tools/model_converters/convert_resnet38d.py')
convert_resnet38d = converter.convert_resnet38d
load_mxnet_params = converter.load_mxnet_params
read_ndarray_list = converter.read_ndarray_list
resnet38d_shapes = converter.resnet38d_shapes
resnet38d_to_mxnet_name = converter.resnet38d_to_mxnet_name

CHANNELS = (64, 128, 256, 512, 1024, 2048, 4096)
STRIDES = (1, 2, 4, 8, 8, 8, 8)


# --- an independent writer of the MXNet NDArray list format -------------------------------
# uint64 0x112, uint64 0, uint64 n, n arrays, uint64 n, n x (uint64 len, utf-8 bytes).
# Array: V2/V3 = uint32 0xF993FAC9/A, int32 stype 0, int32 ndim, int64 dims;
#        V1 = uint32 0xF993FAC8, int32 ndim, int64 dims;  legacy = uint32 ndim, uint32 dims;
# then int32 dev_type, int32 dev_id, int32 type flag (0 f32, 1 f64, 2 f16), raw data.
FLAGS = {np.dtype('float32'): 0, np.dtype('float64'): 1, np.dtype('float16'): 2,
         np.dtype('int32'): 4}


def write_params(path, named: dict, layout: str = 'v2') -> None:
    with open(path, 'wb') as f:
        f.write(struct.pack('<QQQ', 0x112, 0, len(named)))
        for array in named.values():
            array = np.ascontiguousarray(array)
            ndim = array.ndim
            if layout in ('v2', 'v3'):
                magic = 0xF993FAC9 if layout == 'v2' else 0xF993FACA
                f.write(struct.pack(f'<Iii{ndim}q', magic, 0, ndim, *array.shape))
            elif layout == 'v1':
                f.write(struct.pack(f'<Ii{ndim}q', 0xF993FAC8, ndim, *array.shape))
            else:
                f.write(struct.pack(f'<I{ndim}I', ndim, *array.shape))
            f.write(struct.pack('<iii', 1, 0, FLAGS[array.dtype]))  # cpu(0), dtype
            f.write(array.astype(array.dtype.newbyteorder('<')).tobytes())
        f.write(struct.pack('<Q', len(named)))
        for name in named:
            raw = name.encode()
            f.write(struct.pack('<Q', len(raw)) + raw)


def mxnet_name(key: str) -> str:
    name = resnet38d_to_mxnet_name(key)
    return ('aux:' if 'moving' in name else 'arg:') + name


@pytest.fixture(scope='module')
def full_params(tmp_path_factory):
    """A .params file with every ResNet38d weight (random values) plus the ImageNet FC."""
    gen = torch.Generator().manual_seed(0)
    expected = {key: torch.randn(shape, generator=gen)
                for key, shape in resnet38d_shapes().items()
                if not key.endswith('num_batches_tracked')}
    named = {mxnet_name(key): value.numpy() for key, value in expected.items()}
    named['arg:linear1000_weight'] = np.zeros((1000, 4096), np.float32)
    named['arg:linear1000_bias'] = np.zeros(1000, np.float32)
    path = tmp_path_factory.mktemp('mxnet') / 'ilsvrc-cls_rna-a1_cls1000_ep-0001.params'
    write_params(path, named)
    del named
    yield path, expected
    path.unlink()  # 420 MB; pytest keeps old temporary folders around


@pytest.fixture
def big_output(tmp_path):
    """Folder for a converted full checkpoint, emptied after the test."""
    folder = tmp_path / 'ckpt'
    yield folder
    for path in folder.glob('*'):
        path.unlink()


def tiny_named(shapes=None) -> dict:
    """Every MXNet name of ResNet38d with 1-element arrays (key checks precede shapes)."""
    shapes = shapes or resnet38d_shapes()
    return {mxnet_name(key): np.zeros(1, np.float32) for key in shapes
            if not key.endswith('num_batches_tracked')}


# --- backbone -----------------------------------------------------------------------------
def meta_model(**kwargs) -> ResNet38d:
    """A ResNet38d without storage, for tests of structure and flags only."""
    with torch.device('meta'):
        return ResNet38d(**kwargs)


@pytest.fixture(scope='module')
def all_stages():
    """A model returning every stage, an input and its outputs (eval mode)."""
    torch.manual_seed(0)
    model = ResNet38d(out_indices=tuple(range(7))).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        return model, x, model(x)


def test_stage_shapes_and_output_stride(all_stages):
    _, _, outs = all_stages
    assert [tuple(o.shape) for o in outs] == [(2, c, 32 // s, 32 // s)
                                              for c, s in zip(CHANNELS, STRIDES, strict=True)]
    assert all((o >= 0).all() for o in outs)  # every output is ReLU(BN(.))


def test_out_indices_select_and_match_full_forward(all_stages):
    model, x, full = all_stages
    with torch.no_grad():
        try:
            model.out_indices = meta_model(out_indices=(4, 2)).out_indices
            selected = model(x)
            model.out_indices = meta_model(out_indices=-1).out_indices
            final = model(x)
        finally:
            model.out_indices = tuple(range(7))
    assert len(selected) == 2 and len(final) == 1
    torch.testing.assert_close(selected[0], full[2])
    torch.testing.assert_close(selected[1], full[4])
    torch.testing.assert_close(final[0], full[6])
    # output i is ReLU of the BN the next stage applies to stage i's output
    assert model.output_norm(2) is model.b4.bn_branch2a
    assert model.output_norm(6) is model.bn7


def test_layout_matches_affinitynet():
    model = meta_model()
    assert meta_model(out_indices=(4, 2)).out_indices == (2, 4)
    assert model.arch_stage_names[3] == ('b4', 'b4_1', 'b4_2', 'b4_3', 'b4_4', 'b4_5')
    assert model.arch_stage_names[6] == ('b7', 'bn7')
    assert model.b5.conv_branch2a.dilation == (1, 1)
    assert model.b5.conv_branch2b1.dilation == (2, 2)
    assert model.b5_2.conv_branch2a.dilation == (2, 2)
    assert model.b6.conv_branch2b1.dilation == (4, 4) and model.b6.dropout_2b1.p == 0.3
    assert model.b7.conv_branch2b2.out_channels == 4096 and model.b7.dropout_2b2.p == 0.5
    assert not hasattr(model.b2_1, 'conv_branch1') and hasattr(model.b5, 'conv_branch1')
    assert meta_model(dropout=False).b7.dropout_2b1.p == 0.0
    params = sum(p.numel() for p in model.parameters())
    assert 104e6 < params < 106e6
    with pytest.raises(ValueError, match='out_indices'):
        meta_model(out_indices=(7, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        meta_model(frozen_stages=7)


@pytest.mark.parametrize('frozen_stages', [-1, 0, 2])
def test_frozen_stages(frozen_stages):
    model = meta_model(frozen_stages=frozen_stages)
    model.train()
    frozen = {name for index, names in enumerate(model.arch_stage_names) for name in names
              if index <= frozen_stages}
    assert frozen == {-1: set(), 0: {'conv1a'},
                      2: {'conv1a', 'b2', 'b2_1', 'b2_2', 'b3', 'b3_1', 'b3_2'}}[frozen_stages]
    for name, param in model.named_parameters():
        assert param.requires_grad == (name.split('.')[0] not in frozen), name
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm):
            assert module.training == (name.split('.')[0] not in frozen), name


def test_frozen_stages_survive_train_and_norm_eval():
    model = meta_model(frozen_stages=6, norm_eval=True)
    model.train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.bn7.training

    model = meta_model(norm_eval=True, norm_cfg=dict(type='BN', requires_grad=False))
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert not any(p.requires_grad for m in bns for p in m.parameters())
    assert model.b2.conv_branch2a.weight.requires_grad and model.b6.dropout_2b1.training
    model.eval()
    model.train(True)
    assert not any(m.training for m in bns)


def test_norm_eval_keeps_running_stats_while_training():
    model = ResNet38d(out_indices=(1, ), norm_eval=True)
    model.train()
    before = model.b2.bn_branch2a.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.b2.bn_branch2a.running_mean, before)


def test_stage_bn_runs_once_per_forward():
    """The BN shared by an output and the next block updates its statistics once."""
    model = ResNet38d(out_indices=(1, 2))
    model.train()
    model(torch.randn(2, 3, 32, 32))
    assert int(model.b3.bn_branch2a.num_batches_tracked) == 1
    assert int(model.b4.bn_branch2a.num_batches_tracked) == 1
    assert int(model.b4_1.bn_branch2a.num_batches_tracked) == 0  # not reached


def test_build_from_config_in_mmhfpl_and_mmpretrain_scope():
    cfg = dict(out_indices=(3, 4, 5, 6), frozen_stages=1, norm_eval=True)
    with DefaultScope.overwrite_default_scope('mmhfpl'), torch.device('meta'):
        model = MODELS.build(dict(type='ResNet38d', **cfg))
    assert isinstance(model, ResNet38d) and model.out_indices == (3, 4, 5, 6)
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'), torch.device('meta'):
        model = PRETRAIN_MODELS.build(dict(type='mmhfpl.ResNet38d', **cfg))
    assert isinstance(model, ResNet38d) and model.frozen_stages == 1


# --- converter ----------------------------------------------------------------------------
def ademxapp_names() -> set[str]:
    """MXNet names of model A1 from the authors' symbol rules (independent of the module)."""
    names = {'conv1a_weight', *(f'bn7_{p}' for p in ('gamma', 'beta', 'moving_mean',
                                                     'moving_var'))}
    for stage, num_blocks in ((2, 3), (3, 3), (4, 6), (5, 3), (6, 1), (7, 1)):
        branches = ['branch2a', 'branch2b1'] + (['branch2b2'] if stage >= 6 else [])
        for block in ['a'] + [f'b{k}' for k in range(1, num_blocks)]:
            names |= {f'res{stage}{block}_{b}_weight' for b in branches}
            names |= {f'bn{stage}{block}_{b}_{p}' for b in branches
                      for p in ('gamma', 'beta', 'moving_mean', 'moving_var')}
        names.add(f'res{stage}a_branch1_weight')
    return names


def test_mapping_covers_exactly_the_mxnet_names():
    mapped = {resnet38d_to_mxnet_name(key) for key in resnet38d_shapes()} - {None}
    assert mapped == ademxapp_names()
    assert resnet38d_to_mxnet_name('b4_5.conv_branch2b1.weight') == 'res4b5_branch2b1_weight'
    assert resnet38d_to_mxnet_name('b5.bn_branch2a.running_var') == 'bn5a_branch2a_moving_var'
    assert resnet38d_to_mxnet_name('b6.conv_branch1.weight') == 'res6a_branch1_weight'
    assert resnet38d_to_mxnet_name('bn7.bias') == 'bn7_beta'


def test_cli_round_trip_into_pretrained_init(full_params, big_output):
    src, expected = full_params
    out = big_output / 'resnet38d.pth'
    result = subprocess.run([sys.executable, 'tools/model_converters/convert_resnet38d.py',
                             str(src), str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'linear1000_bias, linear1000_weight' in result.stdout
    assert [p.name for p in out.parent.iterdir()] == ['resnet38d.pth']  # no temp file left

    # mmengine's Pretrained init below loads with torch's default weights_only=True
    checkpoint = torch.load(out, map_location='cpu', weights_only=True, mmap=True)
    assert checkpoint['meta']['prefix'] == ''
    model = ResNet38d(init_cfg=dict(type='Pretrained', checkpoint=str(out)))
    model.init_weights()
    state = model.state_dict()
    assert set(state) == set(checkpoint['state_dict'])
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_api_prefix_loads_with_pretrained_prefix(full_params, big_output):
    src, expected = full_params
    out = big_output / 'prefixed.pth'
    summary = convert_resnet38d(src, out, prefix='backbone.')
    assert summary['tensors'] == len(resnet38d_shapes())
    assert summary['params'] == sum(v.numel() for v in expected.values())
    model = ResNet38d(init_cfg=dict(type='Pretrained', checkpoint=str(out), prefix='backbone.'))
    model.init_weights()
    state = model.state_dict()
    for key in ('conv1a.weight', 'b4_5.bn_branch2b1.running_var', 'b7.conv_branch2b2.weight',
                'bn7.bias', 'b6.conv_branch1.weight'):
        assert torch.equal(state[key], expected[key]), key


@pytest.mark.parametrize('layout', ['v2', 'v3', 'v1', 'legacy'])
def test_reader_layouts_and_dtypes(tmp_path, layout):
    named = {'arg:w': np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
             'aux:bn_moving_var': np.linspace(0, 1, 5).astype(np.float64),
             'h': np.array([0.5, -2.0], np.float16)}
    path = tmp_path / f'{layout}.params'
    write_params(path, named, layout)
    arrays, names = read_ndarray_list(path)
    assert names == list(named)
    for array, value in zip(arrays, named.values(), strict=True):
        assert array.dtype == value.dtype and np.array_equal(array, value)
    assert list(load_mxnet_params(path)) == ['w', 'bn_moving_var', 'h']


def test_truncated_file_names_the_file(tmp_path):
    named = {'arg:w': np.ones((4, 4), np.float32)}
    good = tmp_path / 'good.params'
    write_params(good, named)
    data = good.read_bytes()
    for cut in (10, 40, len(data) - 70, len(data) - 1):
        bad = tmp_path / f'cut{cut}.params'
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=rf'{re.escape(str(bad))}.*truncated'):
            read_ndarray_list(bad)
    extra = tmp_path / 'extra.params'
    extra.write_bytes(data + b'\0')
    with pytest.raises(ValueError, match='unexpected bytes'):
        read_ndarray_list(extra)


def test_bad_magic_and_dtype_name_the_file(tmp_path):
    named = {'arg:w': np.ones(3, np.float32)}
    good = tmp_path / 'good.params'
    write_params(good, named)
    data = bytearray(good.read_bytes())
    bad_list = tmp_path / 'not_params.pth'
    bad_list.write_bytes(b'PK\x03\x04' + bytes(data[4:]))
    with pytest.raises(ValueError, match=rf'{re.escape(str(bad_list))}.*bad list magic'):
        read_ndarray_list(bad_list)
    bad_array = tmp_path / 'bad_array.params'
    bad_array.write_bytes(bytes(data[:24]) + struct.pack('<I', 0xDEADBEEF) + bytes(data[28:]))
    with pytest.raises(ValueError, match=rf'{re.escape(str(bad_array))}.*bad magic 0xDEADBEEF'):
        read_ndarray_list(bad_array)
    ints = tmp_path / 'ints.params'
    write_params(ints, {'arg:w': np.ones(3, np.int32)})
    flag = r'unsupported dtype flag 4 \(int32\)'
    with pytest.raises(ValueError, match=rf'{re.escape(str(ints))}.*{flag}'):
        read_ndarray_list(ints)
    with pytest.raises(ValueError, match=rf'{re.escape(str(ints))}.*unsupported dtype'):
        convert_resnet38d(ints, tmp_path / 'never.pth')
    assert not (tmp_path / 'never.pth').exists()


def test_missing_unknown_and_misshaped_keys_are_reported(tmp_path):
    named = tiny_named()
    del named['aux:bn4b3_branch2b1_moving_var']
    named['arg:res8a_branch2a_weight'] = np.zeros(1, np.float32)
    path = tmp_path / 'keys.params'
    write_params(path, named)
    with pytest.raises(ValueError) as info:
        convert_resnet38d(path, tmp_path / 'out.pth')
    message = str(info.value)
    assert str(path) in message
    assert 'missing parameters: bn4b3_branch2b1_moving_var' in message
    assert 'unknown parameters (not in ResNet38d): res8a_branch2a_weight' in message

    write_params(path, tiny_named())  # every key present, all shapes wrong
    with pytest.raises(ValueError, match=r'shape mismatches: conv1a_weight \(1,\) != '
                                         r'conv1a.weight \(64, 3, 3, 3\)'):
        convert_resnet38d(path, tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()


def test_cli_reports_errors(tmp_path, monkeypatch, capsys):
    tool = converter
    bad = tmp_path / 'bad.params'
    bad.write_bytes(b'\x00' * 8)
    monkeypatch.setattr(sys, 'argv', ['convert_resnet38d.py', str(bad), str(tmp_path / 'o.pth')])
    assert tool.main() == 1
    err = capsys.readouterr().err
    assert f'error: {bad}' in err and 'truncated' in err
    assert not (tmp_path / 'o.pth').exists()
