import os
import sys
from pathlib import Path

# The independent numpy/OpenCV references live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# Subprocesses must import the installed cxrmt, not the unbuilt source tree in the checkout.
os.environ["PYTHONSAFEPATH"] = "1"
