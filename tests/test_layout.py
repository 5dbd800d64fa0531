"""The package's layout rules, checked on its source: one subpackage per stage of the pipeline, imports
that flow down the stages only, no import circles, no module over 400 lines, no function over 60, a
docstring at the top of every module."""
import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ppl"
# the stages in pipeline order; a module may import from its own stage and from those before it
STAGES = ["errors", "version", "language", "model", "compiler", "inference", "results", "frontends"]
FOUNDATION = {"errors", "version"}     # modules every stage may use


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _imported(path, module):
    """The ppl modules a module imports (at any depth of its code), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "ppl":
                target = node.module.split(".")
            else:
                continue
            for alias in node.names:     # `from . import x`: x may be a module
                candidate = ".".join(target + [alias.name])
                if (PACKAGE.parent / (candidate.replace(".", os.sep) + ".py")).exists():
                    yield candidate
                else:
                    yield ".".join(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ppl":
                    yield alias.name


def _stage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_flow_down_the_pipeline():
    upward = []
    for path, module in _modules():
        here = _stage(module)
        if here is None or here == "__main__":
            continue
        for target in _imported(path, module):
            there = _stage(target)
            if there is None or there in FOUNDATION or there == here:
                continue
            if here in STAGES and there in STAGES and STAGES.index(there) > STAGES.index(here):
                upward.append("%s imports %s" % (module, target))
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    graph = {module: set(t for t in _imported(path, module) if t != module) for path, module in _modules()
             if not module.endswith("__init__") and module != "ppl.__main__"}
    state, circles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("path,module", list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_module_size_docstring_and_function_length(path, module):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    if text.strip():
        assert ast.get_docstring(tree), "%s has no docstring saying what it is for" % module
    lines = len(text.splitlines())
    assert lines <= 400, "%s has %d lines" % (module, lines)
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, "%s: functions over 60 lines: %s" % (module, long)


def test_every_stage_is_a_subpackage_with_a_docstring():
    for stage in STAGES:
        if stage in FOUNDATION:
            assert (PACKAGE / (stage + ".py")).exists()
            continue
        init = PACKAGE / stage / "__init__.py"
        assert init.exists(), stage
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), "%s/__init__.py has no docstring" % stage
    assert sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py") == \
        ["__init__.py", "__main__.py", "errors.py", "version.py"]


def test_the_readme_maps_every_module():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.find("\n## ", 5)] if "\n## " in layout[5:] else layout
    named = set()
    for line in layout.splitlines():
        words = line.split()
        if words and words[0].endswith(".py"):
            named.add(words[0].rsplit("/", 1)[-1])
    missing = sorted({p.name for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" and p.name != "__main__.py"}
                     - named)
    assert not missing, "modules the README's Layout section does not name: %s" % missing


def test_every_subpackage_is_installed():
    """pyproject.toml lists the packages a wheel ships: a subpackage left out installs a ppl that cannot
    import itself (the editable install used in development hides it)."""
    listed = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    for init in PACKAGE.rglob("__init__.py"):
        name = ".".join(init.parent.relative_to(PACKAGE.parent).parts)
        assert '"%s"' % name in listed, "%s is not in pyproject.toml's packages" % name
