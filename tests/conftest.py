import os

import numpy as np
import pytest

# Subprocesses started by tests (`python -c ...`) must import the installed cxrmt, not the
# unbuilt source tree that `python -c` would find first in a checkout's working directory.
os.environ["PYTHONSAFEPATH"] = "1"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
