"""Imported last by the forkserver's preload list, and nowhere else.

``gc.freeze()`` moves every object the forkserver has imported (numpy,
scikit-learn, the estimators' modules) to a permanent generation that the
garbage collector never visits. Workers forked from it then do not write to
those objects' headers when they collect, so the pages stay shared between
the forkserver and every worker instead of being copied into each one.
"""

import gc
import sys

if "multiprocessing.forkserver" in sys.modules and sys.argv[:1] == ["-c"]:
    gc.freeze()
