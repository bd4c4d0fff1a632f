"""The import graph: dependencies flow one way (DESIGN.md §3; README "Layering").

Every module under ``src/canbao`` is parsed with :mod:`ast` (nothing is imported), and every
``import`` / ``from … import`` statement counts, wherever it is: a lazy import inside a function
is a dependency too. The rules:

1. No core package imports a face or a tool: ``canbao.plan``, ``canbao.cli``, ``canbao.web`` or
   ``canbao.synth``. Core packages: standards, profile, warehouse, ingest, registry, coverage,
   collection, and store, audit, ledger, cases, notify, selfservice, compliance when they exist.
   No exception for the demo steps that live inside core packages (``canbao.<core>.demo``):
   what they need of ``canbao.synth`` (e.g. the next month's extract) the top-level
   ``canbao.demo``, a face that may import anything, hands them.
2. ``canbao.standards`` imports nothing of ours except itself and ``canbao.errors`` (the shared
   exception hierarchy, a leaf: it imports ``canbao.standards.masking`` only inside a function,
   to mask a crash report). Today standards imports no ``canbao.errors`` at all.
3. ``canbao.profile`` sits just above standards: it imports only standards, errors and
   warehouse (the data-directory layout and writer lock).
4. ``canbao.ingest`` imports neither registry, coverage, collection, audit, ledger nor plan.
5. ``canbao.registry`` imports neither coverage, collection, audit, ledger nor plan.

The plan sits on top of coverage and collection: it defines what an actuals source provides
(:mod:`canbao.plan.actuals`) and they provide it without importing it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

CORE = (
    "standards", "profile", "warehouse", "ingest", "registry", "coverage", "collection",
    "store", "audit", "ledger", "cases", "notify", "selfservice", "compliance",
)  # fmt: skip
FACES_AND_TOOLS = ("plan", "cli", "web", "synth")
SHARED = ("errors",)  # what standards may import besides itself


@dataclass(frozen=True)
class Rule:
    package: str  # the importing package (canbao.<package>)
    forbidden: tuple[str, ...] = ()  # packages it must not import
    only: tuple[str, ...] | None = None  # when set: the only packages of ours it may import
    why: str = ""


RULES = (
    *(Rule(p, FACES_AND_TOOLS, why="core packages never import a face or a tool") for p in CORE),
    Rule("standards", only=("standards", *SHARED), why="standards imports nothing of ours"),
    Rule("profile", only=("profile", "standards", "errors", "warehouse"), why="profile is low"),
    Rule("ingest", ("registry", "coverage", "collection", "audit", "ledger", "plan")),
    Rule("registry", ("coverage", "collection", "audit", "ledger", "plan")),
)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, name: str) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(root: Path, path: Path, top: str = "canbao") -> Iterator[tuple[int, str]]:
    """(line, module) for every import of a ``top`` module in ``path`` (relative imports
    resolved; ``from pkg import name`` counts as ``pkg.name`` when that is a module)."""
    me = module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == top or alias.name.startswith(top + "."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod != top and not mod.startswith(top + "."):
                continue
            subs = [f"{mod}.{a.name}" for a in node.names if _is_module(root, f"{mod}.{a.name}")]
            for name in subs or [mod]:
                yield node.lineno, name


def _package(module: str) -> str | None:
    """``canbao.coverage.api`` → ``coverage``; a top-level module → its name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(root: Path, top: str = "canbao") -> list[str]:
    """Every import that breaks a rule, as ``module:line imports target (why)``."""
    out: list[str] = []
    for path in sorted((root / top).rglob("*.py")):
        me = module_name(root, path)
        mine = _package(me)
        if mine is None:
            continue
        for line, target in imports_of(root, path, top):
            theirs = _package(target)
            if theirs is None or theirs == mine:
                continue
            for rule in RULES:
                if rule.package != mine:
                    continue
                bad = theirs in rule.forbidden or (
                    rule.only is not None and theirs not in rule.only
                )
                if bad:
                    why = rule.why or f"{mine} must not import {theirs}"
                    out.append(f"{me}:{line} imports {target} ({why})")
    return out


def test_the_import_graph_flows_one_way() -> None:
    found = violations(SRC)
    assert found == [], "\n".join(found)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checker_finds_violations(tmp_path: Path) -> None:
    """The same checker on a tiny synthetic tree: every kind of violation is found, nothing
    allowed is reported."""
    root = _tree(
        tmp_path,
        {
            "canbao/__init__.py": "",
            "canbao/errors.py": "from canbao.standards import masking\n",
            "canbao/standards/__init__.py": "",
            "canbao/standards/masking.py": "from canbao import errors\n",  # allowed (shared)
            "canbao/standards/bad.py": "from canbao.ingest import kinds\n",  # rule 2
            "canbao/ingest/__init__.py": "",
            "canbao/ingest/kinds.py": "from canbao.standards import masking\n",  # allowed
            "canbao/ingest/up.py": "import canbao.registry.api\n",  # rule 4
            "canbao/registry/__init__.py": "",
            "canbao/registry/api.py": "from canbao.ingest import kinds\n",  # allowed
            "canbao/registry/demo.py": "from canbao.synth.month import x\n",  # no exception
            "canbao/registry/oops.py": "def f():\n    from canbao.synth import generate\n",
            "canbao/coverage/__init__.py": "",
            "canbao/coverage/actuals.py": "def f():\n    from canbao.plan.units import u\n",
            "canbao/coverage/demo.py": "from canbao.plan import api\n",  # demo, still not plan
            "canbao/collection/__init__.py": "",
            "canbao/collection/actuals.py": "from ..plan import model\n",  # relative
            "canbao/profile/__init__.py": "from canbao.registry import api\n",  # rule 3
            "canbao/plan/__init__.py": "",
            "canbao/plan/api.py": "from canbao.coverage import actuals\n",  # allowed
            "canbao/plan/model.py": "",
            "canbao/plan/units.py": "",
            "canbao/synth/__init__.py": "",
            "canbao/synth/generate.py": "",
            "canbao/synth/month.py": "",
            "canbao/demo.py": "from canbao.synth import generate\nfrom canbao.plan import api\n",
            "canbao/cli/__init__.py": "from canbao.plan import api\n",
        },
    )
    found = {v.split(" (")[0] for v in violations(root)}
    assert found == {
        "canbao.standards.bad:1 imports canbao.ingest.kinds",
        "canbao.ingest.up:1 imports canbao.registry.api",
        "canbao.registry.demo:1 imports canbao.synth.month",
        "canbao.registry.oops:2 imports canbao.synth.generate",
        "canbao.coverage.actuals:2 imports canbao.plan.units",
        "canbao.coverage.demo:1 imports canbao.plan.api",
        "canbao.collection.actuals:1 imports canbao.plan.model",
        "canbao.profile:1 imports canbao.registry.api",
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import canbao.plan.units as u\n", ["canbao.plan.units"]),
        ("from canbao import plan\n", ["canbao.plan"]),
        ("from canbao.plan import units, NAME\n", ["canbao.plan.units"]),
        ("from . import sibling\n", ["canbao.coverage.sibling"]),
        ("from .. import errors\n", ["canbao.errors"]),
        ("import polars\nfrom typing import Any\n", []),
    ],
)
def test_imports_are_resolved(tmp_path: Path, source: str, expected: list[str]) -> None:
    root = _tree(
        tmp_path,
        {
            "canbao/__init__.py": "",
            "canbao/errors.py": "",
            "canbao/plan/__init__.py": "",
            "canbao/plan/units.py": "",
            "canbao/coverage/__init__.py": "",
            "canbao/coverage/sibling.py": "",
            "canbao/coverage/mod.py": source,
        },
    )
    got = [m for _, m in imports_of(root, root / "canbao/coverage/mod.py")]
    assert got == expected
