"""Every third-party module imported under src/ is a declared dependency of the package.

The imports are read from the source (module level and inside functions alike) with ``ast``;
each top-level module name is mapped to the distribution that installs it
(``importlib.metadata.packages_distributions``) and must be listed in pyproject.toml: in
``dependencies``, or, for the optional backends of :data:`OPTIONAL`, in their extra. An optional
module must only be imported inside functions, so ``import segr1...`` works without it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "segr1"
OPTIONAL = {
    "sam2": "sam2",
    "hydra": "sam2",
    "qwen_vl_utils": "released",
    "gradio": "serve",
}  # module -> extra


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: {_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    return {_name(r) for r in project["dependencies"]}, extras


def _walk(node: ast.AST, in_function: bool):
    """(node, inside a function body) for every node under ``node``."""
    for child in ast.iter_child_nodes(node):
        yield child, in_function
        inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from _walk(child, inner)


def imports() -> dict[str, list[tuple[Path, int, bool]]]:
    """top-level module -> [(file, line, imported at import time)] for every absolute import;
    only an import inside a function body is lazy (a module-level ``try`` or ``if`` is not)."""
    found: dict[str, list[tuple[Path, int, bool]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node, in_function in _walk(tree, False):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], []).append(
                    (path, node.lineno, not in_function)
                )
    return found


def third_party(found: dict) -> dict:
    return {
        m: where
        for m, where in found.items()
        if m not in sys.stdlib_module_names and m not in ("segr1", "__future__")
    }


def test_every_imported_module_is_declared():
    core, extras = declared()
    dists = packages_distributions()
    problems = []
    for module, where in sorted(third_party(imports()).items()):
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not names:
            problems.append(f"{module}: not installed, so its distribution is unknown ({where[0]})")
            continue
        allowed = extras[OPTIONAL[module]] if module in OPTIONAL else core
        if not names & allowed:
            places = ", ".join(f"{p.relative_to(ROOT)}:{n}" for p, n, _ in where[:3])
            problems.append(f"{module} (from {'/'.join(sorted(names))}) is undeclared: {places}")
    assert not problems, "\n".join(problems)


def test_optional_modules_are_imported_lazily():
    found = imports()
    eager = [
        f"{p.relative_to(ROOT)}:{n} imports {m} at import time"
        for m in OPTIONAL
        for p, n, top in found.get(m, [])
        if top
    ]
    assert not eager, "\n".join(eager)


def test_the_check_is_not_vacuous():
    """scipy (imported by the weighted F-measure) and cv2 (imported inside functions) are seen."""
    found = imports()
    assert {"scipy", "cv2", "torch", "transformers"} <= set(third_party(found))
    assert any(eager for *_, eager in found["scipy"])  # weighted_f.py imports it at import time
    assert not any(eager for *_, eager in found["qwen_vl_utils"])
    assert "scipy" in declared()[0]
