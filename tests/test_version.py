"""One version source: cxrmt/__init__.py. The installed distribution, the compiled core and the
C library's cxrmt_version() must all say the same."""
import ctypes
import importlib.metadata
import json
import re
from pathlib import Path

import cxrmt
from cxrmt import kernels as k

ROOT = Path(__file__).resolve().parents[1]


def test_distribution_and_core_report_the_package_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", cxrmt.__version__)
    assert importlib.metadata.version("cxrmt") == cxrmt.__version__
    info = k.build_info()
    info = json.loads(info) if isinstance(info, str) else info
    assert info["version"] == cxrmt.__version__


def test_c_library_reports_the_package_version():
    lib = ctypes.CDLL(str(k.library_path()))
    lib.cxrmt_version.restype = ctypes.c_char_p
    assert lib.cxrmt_version().decode() == cxrmt.__version__


def test_no_second_version_literal():
    """pyproject.toml and CMakeLists.txt read the version; neither writes one down."""
    assert re.search(r'^version\s*=', (ROOT / "pyproject.toml").read_text(), re.M) is None
    assert "project(cxrmt VERSION ${cxrmt_version}" in (ROOT / "CMakeLists.txt").read_text()
