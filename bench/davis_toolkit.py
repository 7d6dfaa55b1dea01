"""Times the official DAVIS 2017 toolkit on a DAVIS-layout folder, for bench/eval.ts.

Usage: python3 bench/davis_toolkit.py TOOLKIT_DIR DAVIS_ROOT RESULTS_DIR TASK SEQ [SEQ ...]

TOOLKIT_DIR is a checkout of davis2017-evaluation (imported from there, never copied). The masks are
read with the toolkit's own readers (DAVIS.get_all_masks, Results.read_masks), then scored with its
own evaluation functions, as DAVISEvaluation.evaluate does; reading and scoring are timed apart.
Prints one JSON object: read_s, metrics_s (wall), read_cpu_s, metrics_cpu_s (CPU time of this
process, all its threads), per-object J and F (means and per frame), and the BLAS in use.
"""
import json
import sys
import time


def main():
    toolkit, root, res_dir, task = sys.argv[1:5]
    seqs = sys.argv[5:]
    sys.path.insert(0, toolkit)
    import numpy as np
    from davis2017 import utils
    from davis2017.davis import DAVIS
    from davis2017.evaluation import DAVISEvaluation
    from davis2017.results import Results

    blas = 'unknown (threadpoolctl not installed)'
    try:
        from threadpoolctl import threadpool_info
        blas = '; '.join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()) or 'none'
    except ImportError:
        pass

    dataset = DAVIS(root, task=task, subset='val', sequences=seqs, codalab=True)
    results = Results(root_dir=res_dir)
    t0 = time.perf_counter()
    c0 = time.process_time()
    loaded = []
    for seq in seqs:
        gt, void, ids = dataset.get_all_masks(seq, True)
        if task == 'semi-supervised':
            gt, ids = gt[:, 1:-1, :, :], ids[1:-1]
        res = results.read_masks(seq, ids)
        loaded.append((seq, gt, void, res))
    read_s = time.perf_counter() - t0
    read_cpu_s = time.process_time() - c0

    t0 = time.perf_counter()
    c0 = time.process_time()
    objects = []
    for seq, gt, void, res in loaded:
        if task == 'unsupervised':
            j, f = DAVISEvaluation._evaluate_unsupervised(gt, res, void, ('J', 'F'))
        else:
            j, f = DAVISEvaluation._evaluate_semisupervised(gt, res, None, ('J', 'F'))
        for ii in range(gt.shape[0]):
            jm, _, _ = utils.db_statistics(j[ii])
            fm, _, _ = utils.db_statistics(f[ii])
            objects.append({'name': f'{seq}_{ii + 1}', 'j': float(jm), 'f': float(fm), 'perFrameJ': [float(x) for x in j[ii]], 'perFrameF': [float(x) for x in f[ii]]})
    metrics_s = time.perf_counter() - t0
    metrics_cpu_s = time.process_time() - c0
    print(json.dumps({'read_s': read_s, 'metrics_s': metrics_s, 'read_cpu_s': read_cpu_s, 'metrics_cpu_s': metrics_cpu_s, 'objects': objects, 'blas': blas, 'numpy': np.__version__}))


if __name__ == '__main__':
    main()
