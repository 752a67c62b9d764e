"""Reading PNGs, building targets and registering the CLI must not pull optional packages."""

import subprocess
import sys


def test_light_imports(tmp_path):
    code = ("import sys, cxrmt.io, cxrmt.data.commands, cxrmt.data.augment, cxrmt.data.folds, "
            "cxrmt.data.targets, cxrmt.data.drr\n"
            "heavy = {'pydicom', 'nibabel', 'scipy', 'tensorflow', 'torch'} & set(sys.modules)\n"
            "assert not heavy, heavy")
    # The installed package (cwd elsewhere): the data layer uses the compiled core's window,
    # which a plain source checkout lacks.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
