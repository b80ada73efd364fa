"""The safe formula compiler: grammar, rejection of everything else, numeric rules."""

from __future__ import annotations

import ast
import keyword
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eo.errors import FormulaError
from eo.spectral import catalogue
from eo.spectral.formula import compile_formula

SYMBOLS = ("N", "R", "G", "L", "RE1")
ARRAY_SYMBOLS = ("N", "R", "G", "RE1")  # L is bound to a float64 scalar, like a constant

# --- an independent expression tree: (kind, ...) tuples, rendered to text and evaluated with numpy ---

Tree = tuple[Any, ...]
BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4, "leaf": 5}


def _prec(tree: Tree) -> int:
    return PRECEDENCE[tree[1]] if tree[0] == "bin" else PRECEDENCE["neg" if tree[0] == "neg" else "leaf"]


def render(tree: Tree, extra: Callable[[], bool]) -> str:
    """Python text with only the parentheses precedence needs (plus random redundant ones)."""
    kind = tree[0]
    if kind == "num":
        text = repr(tree[1])
    elif kind == "name":
        text = tree[1]
    elif kind == "neg":
        inner = render(tree[1], extra)
        text = "-" + (f"({inner})" if _prec(tree[1]) < PRECEDENCE["neg"] else inner)
    else:
        _, op, left, right = tree
        p = PRECEDENCE[op]
        lt, rt = render(left, extra), render(right, extra)
        right_assoc = op == "**"
        if _prec(left) < p or (right_assoc and _prec(left) <= p):
            lt = f"({lt})"
        if _prec(right) < p or (not right_assoc and _prec(right) <= p):
            rt = f"({rt})"
        text = f"{lt} {op} {rt}"
    return f"({text})" if extra() else text


def reference(tree: Tree, env: dict[str, Any]) -> Any:
    """Evaluate with the documented rules: scalar-scalar float64, scalar meeting array as float32."""
    kind = tree[0]
    if kind == "num":
        return np.float64(tree[1])
    if kind == "name":
        return env[tree[1]]
    if kind == "neg":
        return -reference(tree[1], env)
    a, b = reference(tree[2], env), reference(tree[3], env)
    if np.ndim(a) == 0 and np.ndim(b) != 0:
        a = np.float32(a)
    if np.ndim(b) == 0 and np.ndim(a) != 0:
        b = np.float32(b)
    return BINARY[tree[1]](a, b)


leaves = st.one_of(
    st.sampled_from(SYMBOLS).map(lambda s: ("name", s)),
    st.integers(0, 20).map(lambda v: ("num", v)),
    st.floats(0.0, 10.0, allow_nan=False).map(lambda v: ("num", v)),
)
trees = st.recursive(
    leaves,
    lambda sub: st.one_of(
        sub.map(lambda t: ("neg", t)),
        st.tuples(st.just("bin"), st.sampled_from(list(BINARY)), sub, sub),
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def env() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {s: rng.uniform(-1.0, 1.5, size=64).astype(np.float32) for s in ARRAY_SYMBOLS}
    out["N"][:3] = [0.0, -0.0, np.nan]
    out["L"] = np.float64(0.5)
    return out


@settings(max_examples=300, deadline=None)
@given(tree=trees, parens=st.randoms(use_true_random=False))
def test_compiler_agrees_with_reference_evaluation(env: dict[str, Any], tree: Tree, parens: Any) -> None:
    text = render(tree, lambda: parens.random() < 0.15)
    formula = compile_formula(text, SYMBOLS)
    with np.errstate(all="ignore"):
        expected = reference(tree, env)
    got = formula.evaluate(env)
    assert np.shape(got) == np.shape(expected)
    if np.ndim(expected):
        assert got.dtype == np.float32, text
    np.testing.assert_array_equal(got, expected, err_msg=text)  # NaN positions must match too


def test_float32_arrays_stay_float32_and_constants_fold_in_float64() -> None:
    n = np.array([0.5, 0.25], dtype=np.float32)
    out = compile_formula("(1.0 + L) * N / (N + 0.1)", {"N", "L"}).evaluate({"N": n, "L": np.float64(0.5)})
    assert out.dtype == np.float32
    scalar = compile_formula("(lambdaN - lambdaR) / 3", {"lambdaN", "lambdaR"}).evaluate(
        {"lambdaN": 832.8, "lambdaR": 664.6}
    )
    assert isinstance(scalar, np.float64)
    assert scalar == (832.8 - 664.6) / 3


def test_division_by_zero_gives_inf_nan_without_warning() -> None:
    n = np.array([1.0, 0.0, -1.0], dtype=np.float32)
    with np.errstate(all="raise"):
        out = compile_formula("N / (N - N)", {"N"}).evaluate({"N": n})
    assert np.isposinf(out[0]) and np.isnan(out[1]) and np.isneginf(out[2])


def test_whitelisted_function_is_called() -> None:
    f = compile_formula("exp(-N) + 1", {"N"}, functions={"exp": np.exp})
    n = np.array([0.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(f.evaluate({"N": n}), np.exp(-n) + 1, rtol=1e-6)
    assert f.names == {"N"}


def test_missing_value_at_evaluation() -> None:
    with pytest.raises(FormulaError, match="needs values for \\['R'\\]"):
        compile_formula("N - R", {"N", "R"}).evaluate({"N": 1.0})


REJECTED = [
    "N.real",
    "N.__class__",
    "__import__('os').system('true')",
    "open('x')",
    "sqrt(N)",
    "exp(N)",  # exp is not whitelisted for catalogue formulas
    "N[0]",
    "N[0:2]",
    "lambda: N",
    "(lambda x: x)(N)",
    "N if R else G",
    "N < R",
    "N == R",
    "N and R",
    "not N",
    "~N",
    "N // R",
    "N % R",
    "N @ R",
    "N << 1",
    "[N, R]",
    "(N, R)",
    "{N: R}",
    "'text'",
    "b'bytes'",
    "True",
    "None",
    "1j",
    "X + N",
    "n + R",  # names are case-sensitive
    "[x for x in N]",
    "N +",
    "N = 1",
    "f'{N}'",
    "(N := 1)",
    "*N",
    "",
]


@pytest.mark.parametrize("text", REJECTED)
def test_rejects_everything_outside_the_grammar(text: str) -> None:
    with pytest.raises(FormulaError):
        compile_formula(text, SYMBOLS)


@pytest.mark.parametrize("text", ["exp(N, R)", "exp(x=N)", "exp(*N)", "np.exp(N)", "exp.__call__(N)"])
def test_rejects_bad_calls_even_of_whitelisted_functions(text: str) -> None:
    with pytest.raises(FormulaError):
        compile_formula(text, SYMBOLS, functions={"exp": np.exp})


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in SYMBOLS and s not in {"True", "False", "None"} and not keyword.iskeyword(s)
)


@settings(max_examples=100, deadline=None)
@given(name=identifiers, attr=identifiers)
def test_rejects_unknown_names_attributes_and_calls(name: str, attr: str) -> None:
    for text in (f"N + {name}", f"N.{attr}", f"{name}(N)", f"N[{len(attr)}]"):
        with pytest.raises(FormulaError):
            compile_formula(text, SYMBOLS)


def test_error_message_names_the_construct_and_the_grammar() -> None:
    with pytest.raises(FormulaError, match=r"Attribute .*N\.real.* not allowed.*\+ - \* / \*\*"):
        compile_formula("N.real", SYMBOLS)
    with pytest.raises(FormulaError, match=r"unknown symbol 'X'; known symbols are"):
        compile_formula("X", SYMBOLS)


def test_every_catalogue_formula_compiles_and_uses_only_the_grammar() -> None:
    allowed = {ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant}
    allowed |= {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub}
    for rec in catalogue().values():
        f = compile_formula(rec.formula, rec.symbols)
        assert f.names == set(rec.symbols), rec.short_name
        kinds = {type(n) for n in ast.walk(ast.parse(rec.formula, mode="eval"))}
        assert kinds <= allowed, (rec.short_name, kinds - allowed)
