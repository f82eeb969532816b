"""SQL only through parameters: no statement is built from data.

Every `execute`/`executemany`/`executescript` call, the stores' `execute_many`
and `_query`, and every SQLAlchemy `text()` in src/carbonlens is read (with the
AST). Its SQL must be a literal, or built (f-string, `+`, `%`, `.format`,
`.join`) only from module constants (UPPER_CASE names), other literals and
lookups in dicts of literals. A name is followed to its assignments in the same
function or module. What is left over must be in `ALLOWED` (by function, so an
entry survives its module being moved), each with the reason its pieces cannot
come from a user.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "carbonlens"
CALLS = {"execute", "executemany", "executescript", "execute_many", "_query", "text"}
ALLOWED: dict[tuple[str, str], str] = {
    # (function, what is interpolated): why no user can choose it
    ("_copy_table", "table"): "store salvage: one of the constant TABLES of the schema",
    ("_copy_table", "row[1]"): "store salvage: a column from PRAGMA table_info of our schema",
}
_WRAPPERS = {"text", "encode"}  # text(sql), sql.encode(): the SQL is their argument


def _assignments(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """What each name is assigned in `scope` (functions defined there map to no value)."""
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.FunctionDef) and scope is not node:
            found.setdefault(node.name, [])
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for name, value in pairs:
                    if isinstance(name, ast.Name):
                        found.setdefault(name.id, []).append(value)
        elif (
            isinstance(node, ast.AnnAssign | ast.AugAssign)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            found.setdefault(node.target.id, []).append(node.value)
    return found


def _is_constant_name(name: str) -> bool:
    return name.lstrip("_").isupper()


def _data_names(expr: ast.expr, local: dict[str, list[ast.expr]], seen: set[str]) -> Iterator[str]:
    """Names in `expr` that may carry data into an SQL text (empty: built from constants)."""
    if isinstance(expr, ast.Constant):
        return
    if isinstance(expr, ast.JoinedStr):
        for part in expr.values:
            if isinstance(part, ast.FormattedValue):
                yield from _data_names(part.value, local, seen)
    elif isinstance(expr, ast.BinOp):
        yield from _data_names(expr.left, local, seen)
        yield from _data_names(expr.right, local, seen)
    elif isinstance(expr, ast.Name):
        if _is_constant_name(expr.id) or expr.id in seen:
            return
        if expr.id not in local:
            yield expr.id  # a parameter or loop variable: its origin is not visible here
            return
        for value in local[expr.id]:
            yield from _data_names(value, local, seen | {expr.id})
    elif isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in ("join", "format"):
            yield from _data_names(func.value, local, seen)
        elif not (isinstance(func, ast.Name) and (func.id == "len" or func.id in local)):
            yield ast.unparse(func)  # only len() and this module's own functions are followed
            return
        for arg in expr.args:
            yield from _data_names(arg, local, seen)
    elif isinstance(expr, ast.GeneratorExp | ast.ListComp):
        yield from _data_names(expr.elt, local, seen)
    elif isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
        # a lookup in a dict of literal SQL pieces (`clauses[name]`) picks one of them
        tables = local.get(expr.value.id, [])
        if not tables or not all(
            isinstance(t, ast.Dict) and all(isinstance(v, ast.Constant) for v in t.values)
            for t in tables
        ):
            yield ast.unparse(expr)
    elif isinstance(expr, ast.IfExp):
        yield from _data_names(expr.body, local, seen)
        yield from _data_names(expr.orelse, local, seen)
    else:
        yield ast.unparse(expr)


def _sql_calls(
    node: ast.AST, enclosing: tuple[ast.FunctionDef | ast.AsyncFunctionDef, ...] = ()
) -> Iterator[tuple[ast.Call, tuple[ast.FunctionDef | ast.AsyncFunctionDef, ...]]]:
    """Every SQL call with the functions around it, outermost first."""
    for child in ast.iter_child_nodes(node):
        inner = enclosing
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = (*enclosing, child)
        elif isinstance(child, ast.Call) and child.args:
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in CALLS:
                yield child, enclosing
        yield from _sql_calls(child, inner)


def offenders() -> list[str]:
    """`module:line: names` for each SQL text that data may reach."""
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += _offenders_in(tree, str(path.relative_to(SRC)))
    return found


def _offenders_in(tree: ast.Module, rel: str) -> list[str]:
    found: set[str] = set()
    defined = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = [n for n in tree.body if not isinstance(n, defined)]
    module = _assignments(ast.Module(body=top, type_ignores=[]))  # module-level names only
    module.update({n.name: [] for n in tree.body if isinstance(n, ast.FunctionDef)})
    for call, functions in _sql_calls(tree):
        local = dict(module)
        for function in functions:  # an inner function sees its outer functions' names
            local.update(_assignments(function))
        sql = _unwrap(call.args[0])
        if isinstance(sql, ast.Name) and sql.id not in local:
            continue  # a pass-through (`def execute(self, sql, ...)`): checked at its callers
        allowed = {n for f in functions for (where, n) in ALLOWED if where == f.name}
        names = sorted(set(_data_names(sql, local, set())) - allowed)
        if names:
            found.add(f"{rel}:{call.lineno}: {', '.join(names)}")
    return sorted(found)


def _unwrap(sql: ast.expr) -> ast.expr:
    """The SQL inside `text(...)` and `....encode()` wrappers."""
    while isinstance(sql, ast.Call):
        func = sql.func
        if isinstance(func, ast.Name) and func.id in _WRAPPERS and sql.args:
            sql = sql.args[0]
        elif isinstance(func, ast.Attribute) and func.attr in _WRAPPERS:
            sql = func.value
        else:
            break
    return sql


def test_sql_is_built_from_constants_only() -> None:
    assert offenders() == []


def test_the_scan_finds_data_in_sql() -> None:
    source = """
CLAUSES = {"project": "project = :project"}
def f(conn, run_id, where):
    conn.execute(f"SELECT * FROM runs WHERE id = '{run_id}'")
    q = "SELECT * FROM runs WHERE project = " + run_id
    conn.execute(q)
    conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
    conn.execute(f"SELECT {COLUMNS} FROM runs WHERE id = ?", (run_id,))
    sql = "SELECT * FROM runs"
    sql += " WHERE " + " AND ".join(CLAUSES[k] for k in ("project",))
    conn._query(sql, {})
    sql2 = "SELECT * FROM runs"
    sql2 += " WHERE " + where
    conn.execute(text(sql2))
    conn.execute("SELECT * FROM runs WHERE name = '%s'" % run_id)
    conn.execute("SELECT * FROM {}".format(run_id))
"""
    assert _offenders_in(ast.parse(source), "m.py") == [
        "m.py:14: where",
        "m.py:15: run_id",
        "m.py:16: run_id",
        "m.py:4: run_id",
        "m.py:6: run_id",
    ]
