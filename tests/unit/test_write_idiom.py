"""The web layer writes one way: ``with writing():`` (web/transactions.py) begins, commits and rolls
back every change a request makes, and takes SQLite's write lock; no view does it by hand."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
BY_HAND = {"commit", "rollback", "begin", "begin_write", "start_write"}


def _calls_by_hand(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in BY_HAND:
                found.append(f"{path.relative_to(WEB.parent)}:{node.lineno} {name}()")
    return found


def test_no_view_commits_rolls_back_or_locks_by_hand() -> None:
    files = [p for p in WEB.rglob("*.py") if p.name != "transactions.py"]
    assert len(files) > 20  # the walk found the web package
    assert [hit for path in files for hit in _calls_by_hand(path)] == []


def test_the_one_place_does_all_three() -> None:
    names = {
        name for name in _calls_by_hand(WEB / "transactions.py") for name in [name.split()[-1]]
    }
    assert {"commit()", "rollback()"} <= names
