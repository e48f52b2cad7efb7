"""Tests of the safe expression parser (gradcli.language.expr) and of hostile model text through the CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cli_runner import run_program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.errors import GradcliError, ParseError
from gradcli.language.expr import (
    MAX_DEPTH,
    MAX_FILE_LENGTH,
    MAX_LENGTH,
    MAX_NODES,
    Binary,
    Call,
    Expr,
    Num,
    Sym,
    Unary,
    parse,
    symbols,
    to_text,
)

FUNCTIONS = ["abs", "cos", "exp", "log", "relu", "sigmoid", "sin", "softplus", "sqrt", "tan", "tanh"]


def parse_file(text: str) -> Expr:
    """Parse as the CLI does for --model-file text."""
    return parse(text, what="model", max_length=MAX_FILE_LENGTH)


def parse_error(text: str, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text, **kwargs)
    return info.value


# ---------------------------------------------------------------- accepted syntax


class TestAcceptedSyntax:
    """Text users write parses into the right tree, with Python's precedence and ^ as power."""

    @pytest.mark.parametrize(
        "text, same_as",
        [
            ("2^3^2", "2**(3**2)"),  # right-associative
            ("x^y^z", "x**(y**z)"),
            ("x ^ y", "x**y"),
            ("-x^2", "-(x**2)"),  # power binds tighter than unary minus
            ("-2^2", "-(2**2)"),
            ("a + b^2", "a + (b**2)"),
            ("a*b^2", "a*(b**2)"),
            ("a/b^c", "a/(b**c)"),
            ("x^-2", "x**(-2)"),
            ("2*x^2 + 3", "2*x**2 + 3"),
            ("(a + b)^2", "(a + b)**2"),
            ("a - b - c", "(a - b) - c"),
            ("a / b / c", "(a / b) / c"),
            ("a + b*c", "a + (b*c)"),
            ("-x*y", "(-x)*y"),
            ("+x", "x"),
            ("  w  *  x1  ", "w*x1"),
            ("sin ( x )", "sin(x)"),
        ],
    )
    def test_same_tree_as(self, text, same_as):
        assert parse(text) == parse(same_as)

    def test_caret_is_power_never_xor(self):
        assert parse("x^y") == Binary("pow", Sym("x"), Sym("y"))
        assert parse("2^3^2") != parse("(2^3)^2")
        assert parse("2^3^2") == Binary("pow", Num(2.0, "2"), Binary("pow", Num(3.0, "3"), Num(2.0, "2")))

    def test_unary_minus_of_power(self):
        assert parse("-x^2") == Unary("neg", Binary("pow", Sym("x"), Num(2.0, "2")))
        assert parse("(-x)^2") == Binary("pow", Unary("neg", Sym("x")), Num(2.0, "2"))

    def test_sum_with_power_term(self):
        assert parse("a + b^2") == Binary("add", Sym("a"), Binary("pow", Sym("b"), Num(2.0, "2")))

    @pytest.mark.parametrize(
        "text, value",
        [
            ("2", 2.0),
            ("0.5", 0.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e-3", 0.001),
            ("1E3", 1000.0),
            ("2.5e+2", 250.0),
            ("5.e-3", 0.005),
            ("0", 0.0),
            ("1e-400", 0.0),  # underflow to 0 is harmless
        ],
    )
    def test_decimal_numbers(self, text, value):
        tree = parse(text)
        assert tree == Num(value, text)
        assert to_text(tree) == text  # printed as written

    @pytest.mark.parametrize("name, value", [("pi", 3.141592653589793), ("e", 2.718281828459045)])
    def test_constants_become_numbers(self, name, value):
        assert parse(name) == Num(value, name)
        assert symbols(parse(f"w*{name} + b")) == ["w", "b"]

    @pytest.mark.parametrize("name", ["x", "w1", "X_2", "x_", "e1", "pi2", "a" * 100])
    def test_names(self, name):
        assert parse(name) == Sym(name)

    @pytest.mark.parametrize("fn", FUNCTIONS)
    def test_each_function(self, fn):
        assert parse(f"{fn}(w*x)") == Call(fn, (Binary("mul", Sym("w"), Sym("x")),))

    def test_symbols_in_order_of_first_appearance(self):
        assert symbols(parse("b + w1*x1 + w2*x2 + w1^2 + sin(pi*x1)")) == ["b", "w1", "x1", "w2", "x2"]

    def test_offsets_point_into_the_users_text(self):
        tree = parse("  a ^ b")
        assert isinstance(tree, Binary)
        assert (tree.left.offset, tree.right.offset) == (2, 6)

    @pytest.mark.parametrize(
        "text, printed",
        [
            ("2^3^2", "2**3**2"),
            ("(2^3)^2", "(2**3)**2"),
            ("-x^2", "-x**2"),
            ("(-x)^2", "(-x)**2"),
            ("a - (b - c)", "a - (b - c)"),
            ("a/(b*c)", "a/(b*c)"),
            ("(a + b)*c", "(a + b)*c"),
            ("x^-2", "x**(-2)"),
            ("- -x", "-(-x)"),
            ("sigmoid(b+w*x1)", "sigmoid(b + w*x1)"),
        ],
    )
    def test_to_text(self, text, printed):
        assert to_text(parse(text)) == printed
        assert parse(printed) == parse(text)

    def test_wrapped_file_text(self):
        text = "b +\r\n\tw1*x1\n  + w2*x2\n"
        assert parse_file(text) == parse("b + w1*x1 + w2*x2")

    def test_nesting_up_to_the_limit(self):
        inner = "x"
        assert parse("(" * MAX_DEPTH + inner + ")" * MAX_DEPTH) == Sym("x")
        assert symbols(parse("sin(" * MAX_DEPTH + inner + ")" * MAX_DEPTH)) == ["x"]
        assert symbols(parse("-" * MAX_DEPTH + inner)) == ["x"]
        assert symbols(parse("^".join(["x"] * (MAX_DEPTH + 1)))) == ["x"]  # 100 powers

    def test_chains_of_plus_times_do_not_count_as_nesting(self):
        assert symbols(parse(" + ".join(f"w{i}*x{i}" for i in range(400)))) == [
            n for i in range(400) for n in (f"w{i}", f"x{i}")
        ]
        assert symbols(parse("/".join(["x"] * 800))) == ["x"]

    def test_inline_length_limit_is_inclusive(self):
        assert parse("x" * MAX_LENGTH) == Sym("x" * MAX_LENGTH)

    @pytest.mark.parametrize("text", ["2^996/2^995", "x^1000", "x^-1000", "1e300", "exp(690)", "tan(pi/2)"])
    def test_constants_within_limits(self, text):
        parse(text)


# ---------------------------------------------------------------- rejected syntax


class TestRejected:
    """Everything outside the whitelist is a ParseError with a useful message and offset."""

    @pytest.mark.parametrize(
        "text, offset",
        [
            ("x.real", 0),
            ("x[0]", 0),
            ("x[1:2]", 0),
            ("lambda: 1", 0),
            ("[x for x in y]", 0),
            ("{x for x in y}", 0),
            ("(x for x in y)", 0),
            ("sin(x=1)", None),
            ("'abc'", 0),
            ('"abc"', 0),
            ("b'abc'", 0),
            ("f'{x}'", 0),
            ("x < y", 0),
            ("x == y", 0),
            ("x and y", 0),
            ("not x", 0),
            ("(x := 1)", 1),
            ("x = 1", 2),
            ("import os", 0),
            ("x; y", 1),
            ("1 if x else 2", 0),
            ("x, y", 0),
            ("[x]", 0),
            ("{'a': 1}", 0),
            ("()", 0),
            ("None", 0),
            ("True", 0),
            ("...", 0),
            ("~x", 0),
            ("x // y", 0),
            ("x % y", 0),
            ("x | y", 0),
            ("x & y", 0),
            ("x << 1", 0),
            ("sin(*x)", 4),
            ("sin(x)(y)", 0),
            ("(lambda: 1)()", 0),
            ("await x", 0),
            ("x y", 2),
            ("2x", 0),
        ],
    )
    def test_construct_rejected(self, text, offset):
        err = parse_error(text, what="model")
        assert isinstance(err, GradcliError)
        if offset is not None:
            assert err.offset == offset
            assert str(err).endswith(f"at column {offset + 1}")  # people count from 1

    @pytest.mark.parametrize("text", ["0x10", "0o17", "0b101", "1_000", "1j", "2.5J", "1e3j"])
    def test_only_decimal_numbers(self, text):
        err = parse_error(f"w + {text}")
        assert err.offset == 4

    def test_unknown_function_points_at_it_and_lists_known_ones(self):
        err = parse_error("w + foo(x)")
        assert err.offset == 4
        assert "foo" in str(err)
        for fn in FUNCTIONS:
            assert fn in str(err)

    @pytest.mark.parametrize(
        "text", ["__import__('os')", "eval('1')", "exec('x')", "open('f')", "getattr(x, 'y')", "pi(x)", "x(1)",
                 "Symbol('x')", "sympify('x')"]
    )
    def test_calls_to_other_names(self, text):
        err = parse_error(text)
        assert err.offset == 0
        assert "unknown function" in str(err)

    @pytest.mark.parametrize("text, offset", [("sin()", 0), ("sin(x, y)", 0), ("x + exp(1, 2)", 4)])
    def test_functions_take_one_argument(self, text, offset):
        err = parse_error(text)
        assert err.offset == offset
        assert "one argument" in str(err)

    def test_function_name_without_call(self):
        err = parse_error("w*sin")
        assert err.offset == 2
        assert "sin(" in str(err)

    @pytest.mark.parametrize("text, offset", [("_x", 0), ("w + __x", 4), ("__class__", 0), ("w*_", 2)])
    def test_names_with_leading_underscore(self, text, offset):
        assert parse_error(text).offset == offset

    @pytest.mark.parametrize(
        "text, offset, shown",
        [
            ("w + \uff57", 4, "\\uff57"),  # fullwidth w, which Python folds to 'w'
            ("\u00a0x", 0, "\\xa0"),
            ("x\u200b", 1, "\\u200b"),
            ("\U0001d465", 0, "\\U0001d465"),
            ("caf\u00e9", 3, "\\xe9"),
        ],
    )
    def test_non_ascii(self, text, offset, shown):
        err = parse_error(text)
        assert err.offset == offset
        assert shown in str(err)
        assert str(err).isascii()

    @pytest.mark.parametrize(
        "text, offset, shown",
        [("\x00x", 0, "\\x00"), ("x\x1b[31m", 1, "\\x1b"), ("x\n+ y", 1, "\\n"), ("x\t+ y", 1, "\\t"),
         ("x\r", 1, "\\r"), ("x\x07", 1, "\\x07"), ("x\x7f", 1, "\\x7f")],
    )
    def test_control_characters_inline(self, text, offset, shown):
        err = parse_error(text)
        assert err.offset == offset
        assert shown in str(err)
        assert str(err).isprintable()

    @pytest.mark.parametrize("text, offset", [("x\x00", 1), ("x +\n\x1b", 4), ("x\x0c", 1)])
    def test_control_characters_in_a_file(self, text, offset):
        with pytest.raises(ParseError) as info:
            parse_file(text)
        assert info.value.offset == offset

    @pytest.mark.parametrize("text, offset", [("w +", 3), ("w + ", 3), ("  w +  ", 5), ("x^", 2), ("x ^ ^ 2", 4),
                                              ("(w + x", 0), ("w + x)", 5), ("1..2", 2)])
    def test_incomplete_text_points_at_the_problem(self, text, offset):
        assert parse_error(text).offset == offset

    @pytest.mark.parametrize("text", ["", "   "])
    def test_empty(self, text):
        assert "empty" in str(parse_error(text, what="model"))

    def test_empty_file(self):
        with pytest.raises(ParseError, match="empty"):
            parse_file("\n\t\r\n")

    def test_length_limits(self):
        err = parse_error("x" * (MAX_LENGTH + 1), what="model")
        assert "10,001" in str(err) and "10,000" in str(err)
        assert len(str(err)) < 200
        with pytest.raises(ParseError, match="65,536"):
            parse_file("x" * (MAX_FILE_LENGTH + 1))
        parse_file(" + ".join(f"weight{i}*input{i}" for i in range(800)))  # over 10,000 characters: fine in a file

    @pytest.mark.parametrize(
        "text, offset",
        [
            ("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), MAX_DEPTH),
            ("sin(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), None),
            ("-" * (MAX_DEPTH + 1) + "x", None),
            ("^".join(["x"] * (MAX_DEPTH + 2)), None),
            ("(" * 4999 + "x" + ")" * 4999, MAX_DEPTH),
        ],
    )
    def test_nesting_limit(self, text, offset):
        err = parse_error(text)
        assert "nested" in str(err)
        if offset is not None:
            assert err.offset == offset

    @pytest.mark.parametrize("text", ["-" * 5000 + "x", "-" * 9000 + "x"])
    def test_deep_unary_minus_is_a_parse_error(self, text):
        parse_error(text)  # too deep for ast.parse (RecursionError) or for MAX_DEPTH: either way a ParseError

    @pytest.mark.parametrize("text", ["+" * 5000 + "x", "x+" * 4999 + "x", "x*" * 4999 + "x"])
    def test_long_chains_parse_or_fail_cleanly(self, text):
        # Python's parser may give up on these (RecursionError), which must become a ParseError.
        try:
            parse(text)
        except ParseError as err:
            assert "too" in str(err)

    def test_too_many_parts(self):
        group = "(" + "+".join(["x"] * 500) + ")"
        with pytest.raises(ParseError, match=f"{MAX_NODES:,}"):
            parse_file("+".join([group] * 40))

    @pytest.mark.parametrize(
        "text, offset",
        [
            ("9**9**9", 3),
            ("9^9^9", 2),
            ("((9**9)**9999)**9999", 9),
            ("2^1001", 2),
            ("x^-1001", 2),
            ("x^1000.5", 2),
            ("x^(10^4)", 3),  # the exponent 10^4 starts inside the parentheses
            ("2^3^4^5", 4),
        ],
    )
    def test_huge_constant_exponents(self, text, offset):
        err = parse_error(text)
        assert "exponent" in str(err)
        assert err.offset == offset

    @pytest.mark.parametrize(
        "text",
        ["1/0", "w + 1/(1 - 1)", "log(-1)", "log(0)", "sqrt(-1)", "0^-1", "(-8)^(1/3)", "10.0**400", "2^1000",
         "exp(1000)", "1e400", "1e300*10", "x + 1e999"],
    )
    def test_undefined_or_overflowing_constants(self, text):
        err = parse_error(text)
        assert err.offset is not None

    def test_very_long_integer_literal(self):
        parse_error("1" * 5000)

    def test_long_integer_literal_that_overflows_a_float(self):
        err = parse_error("1" * 400 + "*x")
        assert err.offset == 0

    def test_comment_is_not_silently_accepted(self):
        parse_error("w*x1 # + b")

    def test_comment_in_a_file_does_not_drop_later_lines(self):
        try:
            tree = parse_file("w*x1   # slope\n+ b\n")
        except ParseError:
            return  # rejecting comments is fine too
        assert "b" in symbols(tree)

    def test_messages_are_one_printable_line(self):
        for text in ["x\x1b[31m", "w + foo(x)", "'\\n'", "x" * 20_000, "\x00" * 50]:
            err = parse_error(text)
            assert str(err).isprintable() and len(str(err)) < 300


# ---------------------------------------------------------------- property tests

_EXPR_ALPHABET = "xw12.+-*/^()e "


def _check_text(text: str) -> None:
    try:
        tree = parse(text)
    except ParseError as err:
        assert err.offset is None or 0 <= err.offset <= len(text)
        assert str(err).isprintable()
        return
    printed = to_text(tree)
    again = parse(printed)
    assert to_text(again) == printed
    assert again == tree


_atoms = st.sampled_from(["x", "w1", "b", "2", "0.5", "1.", ".5", "1e-3", "3E2", "pi", "e"])
_expressions = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^", "**", " + ", " ^ "]), inner).map("".join),
        inner.map(lambda a: f"({a})"),
        inner.map(lambda a: f"-{a}"),
        inner.map(lambda a: f"+{a}"),
        st.tuples(st.sampled_from(FUNCTIONS), inner).map(lambda p: f"{p[0]}({p[1]})"),
    ),
    max_leaves=12,
)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
class TestProperties:
    """Any text is a tree or a ParseError, never another exception; printing and parsing again gives the same
    tree."""

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
    def test_printable_ascii(self, text):
        _check_text(text)

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet=_EXPR_ALPHABET, max_size=30))
    def test_expression_characters(self, text):
        _check_text(text)

    @settings(max_examples=300, deadline=None)
    @given(_expressions)
    def test_well_formed_expressions(self, text):
        _check_text(text)

    @settings(max_examples=100, deadline=None)
    @given(st.text(max_size=20))
    def test_any_unicode(self, text):
        try:
            parse(text)
        except ParseError as err:
            assert str(err).isascii()

    @pytest.mark.parametrize("text", ["x + (x - x)", "a*(b/c)", "a + (b + c)"])
    def test_exact_round_trip(self, text):
        tree = parse(text)
        assert parse(to_text(tree)) == tree


# ---------------------------------------------------------------- the real CLI


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The program's own entry point in a process of its own (cli_runner's fork of this one, where the parser
    is the same code as in a fresh interpreter, without the ~0.4 s of start-up each of these ~60 runs paid)."""
    ran = run_program(list(args), cwd, stdin if stdin is not None else b"", timeout=20)
    return subprocess.CompletedProcess(args, ran.code, ran.out.encode(), ran.err.encode())


def assert_one_line_error(result: subprocess.CompletedProcess) -> str:
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert result.stdout == b""
    assert "Traceback" not in stderr
    assert stderr.startswith("gradcli: error: ")
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    line = stderr[:-1]
    assert line.isascii() and line.isprintable(), repr(line)  # nothing raw from the user's text
    return line


HOSTILE_MODELS = [
    "__import__('os').system('touch CANARY')",
    "exec(\"import os; os.system('touch CANARY')\")",
    "eval(\"__import__('os').system('touch CANARY')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('touch CANARY', shell=True)",
    "open('CANARY', 'w')",
    "open('CANARY', 'w').write('x')",
    "(lambda: __import__('os').system('touch CANARY'))()",
    "f\"{__import__('os').system('touch CANARY')}\"",
    "x + __import__('os').system('touch CANARY')",
    "import os; os.system('touch CANARY')",
    "x; __import__('os').system('touch CANARY')",
    "(x := __import__('os').system('touch CANARY'))",
    "sin(__import__('os').system('touch CANARY'))",
    "sin(x=__import__('os').system('touch CANARY'))",
    "Symbol('x').__class__.__init__.__globals__['os'].system('touch CANARY')",
    "sympify(\"__import__('os').system('touch CANARY')\")",
    "S(\"__import__('os').system('touch CANARY')\")",
    "Lambda(x, __import__('os').system('touch CANARY'))",
    "x.subs(x, __import__('os').system('touch CANARY'))",
    "\uff3f\uff3fimport\uff3f\uff3f('os').system('touch CANARY')",
    "__builtins__.open('CANARY', 'w')",
    "globals()['__builtins__']",
]


class TestCliHostileInput:
    """Hostile models through the installed `gradcli grad`: exit 2, one stderr line, nothing run."""

    @pytest.mark.parametrize("model", HOSTILE_MODELS)
    def test_injection_inline(self, model, tmp_path):
        assert_one_line_error(run_cli("grad", model, "--data", "x=1,y=2", cwd=tmp_path))
        assert not (tmp_path / "CANARY").exists()

    @pytest.mark.parametrize("model", HOSTILE_MODELS[:6])
    def test_injection_through_model_file_and_stdin(self, model, tmp_path):
        path = tmp_path / "model.txt"
        path.write_text(model + "\n", encoding="utf-8")
        assert_one_line_error(run_cli("grad", "--model-file", str(path), cwd=tmp_path))
        assert_one_line_error(run_cli("grad", "--model-file", "-", cwd=tmp_path, stdin=model.encode()))
        assert not (tmp_path / "CANARY").exists()

    def test_injection_as_a_loss(self, tmp_path):
        result = run_cli("grad", "w*x", "--loss", "__import__('os').system('touch CANARY')", cwd=tmp_path)
        assert_one_line_error(result)
        assert not (tmp_path / "CANARY").exists()

    @pytest.mark.parametrize("model", ["9**9**9", "9^9^9", "((9**9)**9999)**9999", "w*x^(10^10)"])
    def test_huge_exponents(self, model, tmp_path):
        assert "exponent" in assert_one_line_error(run_cli("grad", model, cwd=tmp_path))

    def test_deep_parentheses_inline(self, tmp_path):
        line = assert_one_line_error(run_cli("grad", "(" * 4999 + "x" + ")" * 4999, cwd=tmp_path))
        assert "nested" in line
        line = assert_one_line_error(run_cli("grad", "(" * 5000 + "x" + ")" * 5000, cwd=tmp_path))
        assert "10,000" in line  # over the inline length limit before any parsing

    def test_deep_parentheses_in_a_file(self, tmp_path):
        path = tmp_path / "deep.txt"
        path.write_text("(" * 5000 + "x" + ")" * 5000)
        assert "nested" in assert_one_line_error(run_cli("grad", "--model-file", str(path), cwd=tmp_path))

    @pytest.mark.parametrize("model", ["-" * 9000 + "x", "-x^" * 3000 + "x"])
    def test_deeply_nested_without_parentheses(self, model, tmp_path):
        assert_one_line_error(run_cli("grad", model, cwd=tmp_path))

    def test_100000_characters_through_model_file(self, tmp_path):
        path = tmp_path / "big.txt"
        path.write_text("x+" * 50_000)
        line = assert_one_line_error(run_cli("grad", "--model-file", str(path), cwd=tmp_path))
        assert "65,536" in line

    def test_100000_characters_through_stdin(self, tmp_path):
        result = run_cli("grad", "--model-file", "-", cwd=tmp_path, stdin=b"x+" * 50_000)
        assert "65,536" in assert_one_line_error(result)

    def test_long_inline_model_message_is_short(self, tmp_path):
        line = assert_one_line_error(run_cli("grad", "w" * 20_000, cwd=tmp_path))
        assert len(line) < 300
        assert "20,000" in line

    @pytest.mark.parametrize("model, shown", [("x\x1b[31m", "\\x1b"), ("w*x\x07", "\\x07"), ("x\x7f", "\\x7f"),
                                              ("w + \uff57", "\\uff57")])
    def test_control_and_non_ascii_characters_inline(self, model, shown, tmp_path):
        line = assert_one_line_error(run_cli("grad", model, cwd=tmp_path))
        assert shown in line

    @pytest.mark.parametrize("content", [b"w*x\x00", b"x\x1b[31m + w", b"w\x07*x", b"\x1b]0;title\x07"])
    def test_control_characters_in_model_file_and_stdin(self, content, tmp_path):
        path = tmp_path / "ctl.txt"
        path.write_bytes(content)
        for result in (run_cli("grad", "--model-file", str(path), cwd=tmp_path),
                       run_cli("grad", "--model-file", "-", cwd=tmp_path, stdin=content)):
            line = assert_one_line_error(result)
            assert "control character" in line

    def test_long_integer_literal(self, tmp_path):
        assert_one_line_error(run_cli("grad", "1" * 400 + "*x", cwd=tmp_path))

    @pytest.mark.parametrize("model", ["1and x", "1if x else 2"])
    def test_no_python_warning_on_stderr(self, model, tmp_path):
        assert_one_line_error(run_cli("grad", model, cwd=tmp_path))


class TestCliModelFile:
    """A model wrapped over several lines in --model-file (or stdin) is one expression."""

    MODEL = "b +\n    w1*x1 +\r\n\tw2*x1^2\n"

    def test_wrapped_model_file(self, tmp_path):
        path = tmp_path / "model.txt"
        path.write_text(self.MODEL, encoding="utf-8", newline="")
        result = run_cli("grad", "--model-file", str(path), "--data", "x1=1,y=2", "--format", "csv", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        params = [line.split(",")[0] for line in result.stdout.decode().splitlines()[1:]]
        assert params == ["b", "w1", "w2"]

    def test_wrapped_model_on_stdin(self, tmp_path):
        result = run_cli("grad", "--model-file", "-", "--data", "x1=1,y=2", "--format", "csv", cwd=tmp_path,
                         stdin=self.MODEL.encode())
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.decode().splitlines()) == 4

    def test_long_model_file_over_the_inline_limit(self, tmp_path):
        model = " +\n  ".join(f"(w{i} * x1)" for i in range(800))  # under the ~900-term chain limit
        assert len(model) > MAX_LENGTH
        path = tmp_path / "long.txt"
        path.write_text(model)
        result = run_cli("grad", "--model-file", str(path), "--data", "x1=1,y=2", "--wrt", "w0,w799",
                         "--format", "csv", cwd=tmp_path)
        assert result.returncode == 0, result.stderr

    def test_comment_line_does_not_drop_terms(self, tmp_path):
        path = tmp_path / "model.txt"
        path.write_text("w*x1   # slope\n+ b\n")
        result = run_cli("grad", "--model-file", str(path), "--data", "x1=1,y=2", "--format", "csv", cwd=tmp_path)
        if result.returncode == 2:
            return  # a clear error is an acceptable fix
        assert b"\nb," in result.stdout


@pytest.mark.parametrize("text, hint", [("2x1 + w", "did you mean 2*x1?"), ("b + 3.5w", "did you mean 3.5*w?"),
                                        ("1e5x", "did you mean 1e5*x?")])
def test_a_number_written_against_a_name_gets_a_hint(text, hint):
    with pytest.raises(ParseError, match=re.escape(hint)):
        parse(text)


def test_columns_in_messages_count_from_1():
    with pytest.raises(ParseError, match="at column 1$"):
        parse("*w")
