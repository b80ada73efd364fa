"""A small safe compiler for spectral-index formulas.

Formulas of the Awesome Spectral Indices catalogue are arithmetic over band symbols and
constants, e.g. ``"(N - R) / (N + R + L) * (1.0 + L)"``.  The text is parsed with
:func:`ast.parse` in ``"eval"`` mode and walked once; every node must be one of a short
whitelist, and the result is a tree of Python closures.  Nothing is passed to
``eval``/``exec`` and no code object is built from the text.

Allowed grammar (everything the 280 catalogue formulas use, checked against spyndex 0.12):

- numbers (int or float literals), names from the caller's symbol table;
- binary ``+ - * / **``, unary ``-`` and ``+``, parentheses;
- calls of the functions in the ``functions`` mapping given to :func:`compile_formula`
  (none by default: the catalogue calls no function; the kernel of kernel indices uses
  ``exp``, see :mod:`eo.spectral.kernels`).

Comparisons, boolean operators, attribute access, subscripts, lambdas, keyword
arguments and any other syntax raise :class:`eo.errors.FormulaError`.

Numeric rules (float32 out)
---------------------------
Literals and constants are float64 *scalars*; an operation between two scalars is done in
float64 (as spyndex does with Python floats).  When a scalar meets an array it is cast to
``numpy.float32`` first, so float32 arrays stay float32 (NumPy 2 treats NumPy scalars as
strongly typed: a float64 scalar would otherwise promote the array).  Division by zero
and invalid powers give ``inf``/``nan`` like NumPy, without warnings.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eo.errors import FormulaError

#: A compiled node: maps an environment (symbol -> float32 array or float64 scalar) to a value.
Node = Callable[[Mapping[str, Any]], Any]

#: Binary operators allowed in formulas.
BINARY_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}

#: Unary operators allowed in formulas.
UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}

#: Longest formula text accepted (the longest catalogue formula has ~300 characters).
MAX_FORMULA_LENGTH = 2000
#: Deepest nesting of operations a formula may have (the catalogue's deepest has about 10).
MAX_FORMULA_DEPTH = 100


@dataclass(frozen=True)
class Formula:
    """A compiled formula: call :meth:`evaluate` with every name of :attr:`names` bound."""

    text: str
    """The source text."""
    names: frozenset[str]
    """Symbols (bands, constants) the formula reads."""
    _root: Node = field(repr=False, compare=False)

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate elementwise with NumPy.

        Parameters
        ----------
        env
            Symbol -> value.  Arrays should be float32 (the result is then float32);
            scalars are used as float64 until they meet an array.

        Returns
        -------
        numpy.ndarray or numpy.float64
            A float32 array if any operand is an array, else a float64 scalar.
        """
        missing = self.names - env.keys()
        if missing:
            raise FormulaError(f"formula {self.text!r} needs values for {sorted(missing)}; got {sorted(env)}")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._root(env)


def compile_formula(
    text: str,
    symbols: Collection[str],
    functions: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Formula:
    """Parse and compile ``text`` into a :class:`Formula`.

    Parameters
    ----------
    text
        The formula, in Python expression syntax restricted to the grammar of this module.
    symbols
        Names the formula may read (band symbols, constants).
    functions
        One-argument elementwise functions the formula may call, by name (e.g.
        ``{"exp": numpy.exp}``).  None (the default) allows no call.

    Raises
    ------
    eo.errors.FormulaError
        On a syntax error, a construct outside the grammar or a name outside ``symbols``.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string; got {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"formula is {len(text)} characters long; at most {MAX_FORMULA_LENGTH} are accepted"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, MemoryError, RecursionError) as err:
        why = err.msg if isinstance(err, SyntaxError) else "it nests too deeply"
        raise FormulaError(f"formula {text!r} is not a valid expression: {why}") from None
    depth = _depth(tree)
    if depth > MAX_FORMULA_DEPTH:
        raise FormulaError(
            f"formula nests operations {depth} levels deep; at most {MAX_FORMULA_DEPTH} are accepted"
        )
    compiler = _Compiler(text, frozenset(symbols), dict(functions or {}))
    root = compiler.visit(tree.body)
    return Formula(text=text, names=frozenset(compiler.names), _root=root)


def _depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, measured without recursion."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
    return deepest


def _combine(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """Apply a binary operator: scalar-scalar in float64, scalar-array with the scalar as float32."""
    a_scalar, b_scalar = np.ndim(a) == 0, np.ndim(b) == 0
    if a_scalar and b_scalar:
        return op(np.float64(a), np.float64(b))
    if a_scalar:
        a = np.float32(a)
    elif b_scalar:
        b = np.float32(b)
    return op(a, b)


class _Compiler:
    """Walk an ``ast`` expression and build closures; anything not handled is rejected."""

    def __init__(self, text: str, symbols: frozenset[str], functions: dict[str, Callable[[Any], Any]]):
        self.text = text
        self.symbols = symbols
        self.functions = functions
        self.names: set[str] = set()

    def reject(self, node: ast.AST, what: str) -> FormulaError:
        col = getattr(node, "col_offset", None)
        where = f" at column {col}" if col is not None else ""
        return FormulaError(
            f"formula {self.text!r}: {what}{where} is not allowed; formulas may use numbers, band symbols "
            "and constants, + - * / **, unary minus and parentheses"
            + (f", and the functions {sorted(self.functions)}" if self.functions else "")
        )

    def visit(self, node: ast.AST) -> Node:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise self.reject(node, f"{type(node).__name__} ({ast.unparse(node)!r})")
        result: Node = method(node)
        return result

    def visit_Constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.reject(node, f"the literal {value!r}")
        scalar = np.float64(value)
        return lambda env: scalar

    def visit_Name(self, node: ast.Name) -> Node:
        name = node.id
        if name not in self.symbols:
            raise FormulaError(
                f"formula {self.text!r}: unknown symbol {name!r}; known symbols are {sorted(self.symbols)}"
            )
        self.names.add(name)
        return lambda env: env[name]

    def visit_BinOp(self, node: ast.BinOp) -> Node:
        op = BINARY_OPERATORS.get(type(node.op))
        if op is None:
            raise self.reject(node, f"the operator {type(node.op).__name__}")
        left, right = self.visit(node.left), self.visit(node.right)
        return lambda env: _combine(op, left(env), right(env))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node:
        op = UNARY_OPERATORS.get(type(node.op))
        if op is None:
            raise self.reject(node, f"the operator {type(node.op).__name__}")
        operand = self.visit(node.operand)
        return lambda env: op(operand(env))

    def visit_Call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            raise self.reject(node, f"the call {ast.unparse(node)!r}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.reject(
                node, f"the call {ast.unparse(node)!r} (functions take one positional argument)"
            )
        func = self.functions[node.func.id]
        arg = self.visit(node.args[0])
        return lambda env: func(arg(env))
