"""Where the CPU time of one warm ``estimate beta-binomial`` goes, phase by phase, in one process.

CPU seconds of this process (all threads: nutpie's chains included), which a loaded machine
inflates much less than wall time. ``CHECKOUT`` (default: this one) is put first on
``sys.path``, so an older ``git worktree`` can be measured the same way::

    .venv/bin/python benchmarks/estimate_phases.py [CHECKOUT]
"""

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parents[1]))
warnings.simplefilter("ignore")
START = time.process_time()
_last = [START]


def lap(label):
    now = time.process_time()
    print(f"{label:<38} {now - _last[0]:6.2f} CPU s", flush=True)
    _last[0] = now


import pymc  # noqa: E402, F401

lap("import pymc")
import workbench.bayes as bayes  # noqa: E402

lap("import workbench.bayes (arviz_stats)")
import models  # noqa: E402

model = models.build("beta-binomial")
lap("build the model")
import nutpie  # noqa: E402, F401

lap("import nutpie (ArviZ, matplotlib)")
bayes.Estimator(model).run(seed=1)
lap("Estimator.run: MAP, ML, CM, CM-ML")
print(f"{'total':<38} {time.process_time() - START:6.2f} CPU s")
