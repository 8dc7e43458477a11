"""Run the whole WSSS pipeline on the toy benchmark: baseline vs +ISL/FSL.

Examples:
    python tools/run_pipeline.py            # full demo (make demo), about 30-45 min on 2 cores
    python tools/run_pipeline.py --quick    # smoke run on a small toy set, a few minutes
    python tools/run_pipeline.py --refine affinitynet   # + AffinityNet rows (or irn)

Stages: toy data -> CAM models -> CAMs -> threshold sweep -> pseudo-labels (+dCRF) ->
DeepLab -> table (J / F / J&F) and an overlay figure. Finished steps are skipped on a re-run.
"""

import argparse

from mmhfpl.apis import PipelineSettings, run_pipeline
from mmhfpl.utils import register_all_modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small data, short schedules')
    parser.add_argument('--work-dir', help='output directory')
    parser.add_argument('--data-root', help='toy set location (written when absent)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2, help='dCRF processes')
    parser.add_argument('--refine', choices=['affinitynet', 'irn'],
                        help='also refine the CAMs with AffinityNet or IRN (extra table rows)')
    args = parser.parse_args()
    register_all_modules(init_default_scope=False)
    settings = PipelineSettings.quick_settings() if args.quick else PipelineSettings()
    if args.work_dir:
        settings.work_dir = args.work_dir
    if args.data_root:
        settings.data_root = args.data_root
    settings.seed = args.seed
    settings.workers = args.workers
    settings.refine = args.refine
    run_pipeline(settings)


if __name__ == '__main__':
    main()
