"""The SFU package is split by job with imports running one way: no module imports one that
imports it back (directly or round a circle), and "who is speaking" is one rule
(meetings/sfu/speaking.py) that the room and the recorder both read."""
import ast
from pathlib import Path

import meetings.sfu

PACKAGE = Path(meetings.sfu.__file__).parent


def imports(path):
    """The package's own modules that ``path`` imports, at any depth of the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1:
                out.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("meetings.sfu."):
                out.add(node.module.split(".")[2])
    return out


def test_it_has_no_import_circle_between_the_sfu_modules():
    graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py")}
    circles = []

    def visit(module, path):
        if module in path:
            circles.append(path[path.index(module):] + [module])
            return
        for dep in graph.get(module, ()):
            visit(dep, path + [module])

    for module in graph:
        visit(module, [])
    assert circles == []
    assert "room" not in graph["recorder"]


def test_it_decides_who_speaks_in_one_place():
    for path in PACKAGE.glob("*.py"):
        if path.stem != "speaking":
            assert "SPEAKER_THRESHOLD" not in path.read_text(), path.name
