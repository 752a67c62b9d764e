"""The package's layering, read from every module's imports (ast), against the one line that
states it in `cxrmt/__init__.py`'s docstring: no package imports from its right, no circles, and
function-level imports only where a heavy optional package would otherwise load."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cxrmt"
# Third-party packages slow or optional enough to be imported only where used (cv2: ~30 ms of
# every command's start, and PNG inputs no longer need it).
HEAVY = {"cv2", "tensorflow", "keras", "tf2onnx", "onnx", "onnxconverter_common", "onnxruntime",
         "tensorrt", "cuda", "pycuda", "openvino", "matplotlib", "pydicom", "highdicom",
         "nibabel", "scipy", "PIL", "torch"}


# Files shipped as data, not modules: the Triton Python models `cxrmt export --triton` copies
# into a repository, where the Python backend runs them (they may import any layer).
TEMPLATES = PACKAGE / "export" / "triton_models"


def layers() -> list:
    """The layering line of cxrmt/__init__.py: groups separated by arrows, names by commas."""
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    line = next(ln for ln in doc.splitlines() if "→" in ln)
    groups = [{n.strip() for n in group.split(",")} for group in line.strip().split("→")]
    groups[0].add("cxrmt")   # the package's own __init__ (version, re-exports) is the floor
    return groups


def module_name(path: Path) -> str:
    parts = ["cxrmt", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
           if TEMPLATES not in p.parents}


def resolve(importer: str, is_package: bool, node) -> list:
    """Absolute module names an import statement reads (a from-import of a submodule counts
    as that submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = importer.split(".")[:len(importer.split(".")) - node.level + is_package]
        base = ".".join(parts + ([node.module] if node.module else []))
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return subs or [base]


def imports_of(name: str) -> list:
    """(target, at_top_level, line) for every import in module `name`."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return [(t, id(n) not in nested, n.lineno)
            for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
            for t in resolve(name, path.name == "__init__.py", n)]


def owner(name: str) -> str:
    """The layering's name for a module: its subpackage, or the top-level module."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "cxrmt"


def layer_of(name: str) -> int:
    found = [i for i, group in enumerate(layers()) if owner(name) in group]
    assert found, f"{name}: {owner(name)} is in no layer of cxrmt/__init__.py's layering line"
    return found[0]


def own(target: str) -> str | None:
    """The cxrmt module a target names (the longest known prefix), or None for third party."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_every_package_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_from_the_right_or_across_a_layer():
    bad = []
    for name in MODULES:
        for target, _, line in imports_of(name):
            dep = own(target)
            if dep is None or owner(dep) == owner(name) or dep == "cxrmt":
                continue
            same_layer_ok = layer_of(name) == 0 and layer_of(dep) == 0
            if layer_of(dep) > layer_of(name) or (layer_of(dep) == layer_of(name)
                                                   and not same_layer_ok):
                bad.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} {name} -> {dep}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def _graph() -> dict:
    return {n: {own(t) for t, _, _ in imports_of(n) if own(t) not in (None, n)} for n in MODULES}


def test_no_circular_imports():
    graph, state, cycles = _graph(), {}, []

    def visit(n, path):
        state[n] = "open"
        for m in sorted(graph[n]):
            if state.get(m) == "open":
                cycles.append(" -> ".join(path[path.index(m):] + [m]))
            elif m not in state:
                visit(m, path + [m])
        state[n] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    # A package's __init__ re-exporting its own modules is not a circle of meaning.
    cycles = [c for c in cycles if len({owner(x) for x in c.split(" -> ")}) > 1
              or not any(x == "cxrmt." + owner(x) for x in c.split(" -> "))]
    assert not cycles, "circular imports:\n" + "\n".join(cycles)


def heavy_at_import(name: str, seen=None) -> bool:
    """Whether importing module `name` loads a heavy package (through its top-level imports)."""
    seen = set() if seen is None else seen
    if name in seen:
        return False
    seen.add(name)
    for target, top, _ in imports_of(name) if name in MODULES else []:
        if not top:
            continue
        dep = own(target)
        if dep is None and target.split(".")[0] in HEAVY:
            return True
        if dep and dep != name and heavy_at_import(dep, seen):
            return True
    return False


def is_command_module(name: str) -> bool:
    """CLI modules load each command's code when it runs, so `cxrmt --help` stays fast."""
    return owner(name) in ("cli", "commands") or name.endswith(".commands")


def is_own_submodule(package: str, dep: str | None) -> bool:
    """A package's __init__ loading one of its own submodules on first use (PEP 562), so that
    importing a light sibling (cxrmt.io.header, cxrmt.runtime's backend names) loads no more."""
    return dep is not None and MODULES[package].name == "__init__.py" and \
        dep.startswith(package + ".")


def test_function_level_imports_only_for_heavy_packages():
    bad = []
    for name in MODULES:
        if is_command_module(name):
            continue
        for target, top, line in imports_of(name):
            dep = own(target)
            if top or (dep is None and target.split(".")[0] in HEAVY) or \
                    is_own_submodule(name, dep):
                continue
            if dep is None or not heavy_at_import(dep):
                bad.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} {target}")
    assert not bad, "imports inside functions of light modules (move them to the top):\n" + \
        "\n".join(bad)


@pytest.mark.parametrize("check", [test_no_import_from_the_right_or_across_a_layer,
                                   test_no_circular_imports])
def test_the_checks_can_fail(check, monkeypatch):
    """Mutations: a runtime module importing the exporter, and a circle, are both caught."""
    fake = {"cxrmt.runtime.fake": "from cxrmt.export import commands\n",
            "cxrmt.io.fake": "import cxrmt.io.fake2\n", "cxrmt.io.fake2": "import cxrmt.io.fake\n"}
    monkeypatch.setattr(Path, "read_text", lambda p, _orig=Path.read_text, **k:
                        fake.get(module_name(p) if PACKAGE in p.parents else "", None)
                        or _orig(p, **k))
    for mod in fake:
        monkeypatch.setitem(MODULES, mod, PACKAGE / (mod.split(".", 1)[1].replace(".", "/") + ".py"))
    with pytest.raises(AssertionError):
        check()


def test_readme_states_the_same_layering():
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    line = next(ln for ln in doc.splitlines() if "→" in ln).strip()
    assert line in (PACKAGE.parent / "README.md").read_text()


def test_templates_are_data_that_no_module_imports():
    """The templates are not a package and nothing imports them (they need Triton's
    triton_python_backend_utils)."""
    assert sorted(p.name for p in TEMPLATES.glob("*.py")) == ["postprocess.py", "preprocess.py"]
    assert not (TEMPLATES / "__init__.py").exists()
    bad = [f"{n} -> {t}" for n in MODULES for t, _, _ in imports_of(n) if "triton_models" in t]
    assert not bad, "modules importing the Triton templates:\n" + "\n".join(bad)
