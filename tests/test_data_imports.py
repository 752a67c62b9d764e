"""Reading PNGs, building targets and registering the CLI must not pull optional packages."""

import os
import subprocess
import sys


def test_light_imports():
    code = ("import sys, cxrmt.io, cxrmt.data.commands, cxrmt.data.augment, cxrmt.data.folds, "
            "cxrmt.data.targets, cxrmt.data.drr\n"
            "heavy = {'pydicom', 'nibabel', 'scipy', 'tensorflow', 'torch'} & set(sys.modules)\n"
            "assert not heavy, heavy")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
