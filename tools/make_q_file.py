"""Write the initial T/NT proportion (Q) file of Spatial-BCE from a pseudo-label directory.

Q^c = |{i: l_i = c}| / |{i: l_i != c}| per image and foreground class (seed 003 Eq. 6), from
the dCRF-refined CAM pseudo-labels of a BCE-trained baseline. Format:
mmhfpl/pseudo_labels/tnt_ratio.py (pickle-free npz).

Example:
    python tools/make_q_file.py configs/spatial_bce/spatial_bce_r38_voc.py \
        --labels work_dirs/baseline/pl_crf_train --out work_dirs/spatial_bce/q_init.npz
"""

import argparse

from mmengine.config import Config, DictAction

from mmhfpl.pseudo_labels.dataset_access import build_split
from mmhfpl.pseudo_labels.tnt_ratio import fg_fraction, ratios_from_label_dir, save_q_file
from mmhfpl.structures import image_id
from mmhfpl.utils import merge_cfg_options, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write a Spatial-BCE Q file')
    parser.add_argument('config', help='config whose training split names the images')
    parser.add_argument('--labels', required=True, help='directory of pseudo-label PNGs')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--ann-file', help='image list (default: the training split)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.dataset.data_root=D')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    dataset = build_split(cfg, args.ann_file, loader='train_dataloader')
    ids = [image_id(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    num_classes = len(dataset.metainfo['classes']) - 1
    ratios = ratios_from_label_dir(args.labels, ids, num_classes)
    save_q_file(args.out, ratios)
    present = [fg_fraction(r)[r > 0] for r in ratios.values() if (r > 0).any()]
    mean_q = sum(float(q.mean()) for q in present) / max(len(present), 1)
    print(f'Q of {len(ratios)} images written to {args.out} '
          f'(mean foreground fraction of present classes {mean_q:.3f})')


if __name__ == '__main__':
    main()
