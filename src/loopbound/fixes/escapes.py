"""Whether a function lets a resource outlive its call: the test the per-call LB101 rewrite must pass.

The rewrite makes each function create its own instance and release it in `finally`. That is only
sound when nothing keeps the instance after the function returns: a `return`/`yield` of it (or of
something built from it, `AsyncSession(engine)`), an attribute or item it is stored in
(`app.state.client = client`), a nested function or lambda that captures it, a call it is handed to
that may keep it (`Repository(client)`, `asyncio.create_task(use(client))`). What an awaited
expression gives back (`(await client.get(url)).json()`) is a result, not the resource, and an
`async with` item is used and left inside the function.
"""

from __future__ import annotations

import libcst as cst


def escapes(function: cst.FunctionDef, names: set[str]) -> bool:
    """Whether any of `names` (or a local computed from one) can still be reached once `function` returns."""
    tainted = set(names)
    for _ in range(3):  # locals computed from locals computed from the resource: a few rounds reach them all
        before = len(tainted)
        finder = _EscapeFinder(tainted)
        function.body.visit(finder)
        if finder.escaped:
            return True
        if len(tainted) == before:
            return False
    return False


def carries(node: cst.CSTNode, names: set[str]) -> bool:
    """Whether evaluating node can give back one of names (or an object tied to it): a mention outside `await`."""
    if isinstance(node, cst.Await):
        return False
    if isinstance(node, cst.Name):
        return node.value in names
    return any(carries(child, names) for child in node.children)


class _EscapeFinder(cst.CSTVisitor):
    def __init__(self, tainted: set[str]) -> None:
        super().__init__()
        self.tainted = tainted
        self.escaped = False
        self.with_items: set[int] = set()
        self.assigned_values: set[int] = set()

    def _assign(self, targets: list[cst.BaseExpression], value: cst.BaseExpression | None) -> None:
        if value is None or not carries(value, self.tainted):
            return
        self.assigned_values.add(id(value))
        for target in targets:
            if isinstance(target, cst.Name):
                self.tainted.add(target.value)
            else:
                self.escaped = True  # `app.state.client = client`, `cache[key] = client`, unpacking

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assign([target.target for target in node.targets], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._assign([node.target], node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._assign([node.target], node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._assign([node.target], node.value)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None and carries(node.value, self.tainted):
            self.escaped = True

    def visit_Yield(self, node: cst.Yield) -> None:
        if node.value is not None and carries(node.value, self.tainted):
            self.escaped = True

    def visit_Global(self, node: cst.Global) -> None:
        if any(item.name.value in self.tainted for item in node.names):
            self.escaped = True

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        if any(item.name.value in self.tainted for item in node.names):
            self.escaped = True

    def visit_WithItem(self, node: cst.WithItem) -> None:
        self.with_items.add(id(node.item))

    def visit_Await(self, node: cst.Await) -> bool:
        return False  # what an awaited call gives back is a result; nothing inside is kept by the await

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.with_items or id(node) in self.assigned_values:
            return  # used inside the function (`async with`), or its result is followed as a local
        if any(_hands_out(argument.value, self.tainted) for argument in node.args):
            self.escaped = True  # handed to a callee that may keep it

    def _captures(self, node: cst.CSTNode) -> bool:
        if _mentions(node, self.tainted):
            self.escaped = True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._captures(node)

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return self._captures(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._captures(node)


def _hands_out(node: cst.CSTNode, names: set[str]) -> bool:
    """Like `carries`, but reading an attribute (`logging.info(client.base_url)`) is not handing it out; what
    an un-awaited method call gives (`create_task(client.get(url))`) still is."""
    if isinstance(node, cst.Await):
        return False
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and carries(node.func, names):
        return True
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        return False
    if isinstance(node, cst.Name):
        return node.value in names
    return any(_hands_out(child, names) for child in node.children)


def _mentions(node: cst.CSTNode, names: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value in names
    return any(_mentions(child, names) for child in node.children)
