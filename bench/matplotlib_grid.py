"""A matplotlib frame grid, the way reference RVOS code draws one, timed for bench/video.ts.

Usage: python3 bench/matplotlib_grid.py OUT_DIR WIDTH HEIGHT [PASSES] < groups.json

groups.json is a list of lists of JPEG paths (one list per grid). Each grid is drawn as the
reference code does it: the frames read with PIL, one matplotlib axis per frame in one row
(`plt.subplots(1, n)`), `imshow`, the 1-based frame id written at the top-left corner of each
tile in a red box, axes off, saved as a JPEG at quality 90 of WIDTH x HEIGHT pixels (the size of
the project's grid of the same frames). Draws every grid PASSES times (default 1) and prints one JSON
object: grids, the seconds of the fastest pass, matplotlib version. The time covers reading, drawing
and writing; the Python start and imports are left out.
"""
import json
import os
import sys
import time


def main():
    out_dir, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    groups = json.load(sys.stdin)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    dpi = 100
    passes = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    best = float('inf')
    for _ in range(passes):
        t0 = time.perf_counter()
        for g, paths in enumerate(groups):
            frames = [np.array(Image.open(p).convert('RGB')) for p in paths]
            fig, axes = plt.subplots(1, len(frames), figsize=(width / dpi, height / dpi), dpi=dpi)
            axes = np.atleast_1d(axes)
            fig.subplots_adjust(left=0, right=1, top=1, bottom=0, wspace=0.01)
            for i, (ax, frame) in enumerate(zip(axes, frames)):
                ax.imshow(frame)
                ax.text(0.03, 0.97, str(i + 1), transform=ax.transAxes, color='white', fontsize=14, fontweight='bold',
                        va='top', ha='left', bbox=dict(facecolor='#d7263d', edgecolor='white', boxstyle='round,pad=0.2'))
                ax.axis('off')
            fig.savefig(os.path.join(out_dir, f'grid{g:03d}.jpg'), dpi=dpi, pil_kwargs={'quality': 90})
            plt.close(fig)
        best = min(best, time.perf_counter() - t0)
    total = best
    print(json.dumps({'grids': len(groups), 'seconds': total, 'matplotlib': matplotlib.__version__}))


if __name__ == '__main__':
    main()
