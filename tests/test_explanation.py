"""`gradcli explain`: the worked example's steps, paths and their products, the check, the op counts.

The note's point by hand (docs/worked-example.md), a parameter reached by two paths,
a capped path list, bce through the logit, every kind of model the parser
accepts, random expression trees (hypothesis: path sums = backprop = SymPy),
op counts that grow linearly in d for the linear model, the LaTeX fragment,
and the installed program: output, exit codes and one-line errors.
"""

from __future__ import annotations

import io
import math
import re

import pytest
from cli_runner import one_line_error, probe
from expression_cases import EXPRESSIONS, PARAM_VALUES, plain_formulas
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from gradcli.errors import GradcliError
from gradcli.explaining.scalars import formula_cost
from gradcli.tasks.explain import explain
from gradcli.tasks.graph import graph_view
from gradcli.views.explain import explanation_json, explanation_latex, explanation_lines, explanation_text

NOTE_MODEL = "b + w1*x1 + w2*x2"
NOTE_DATA = {"x1": [1.5], "x2": [2.0], "y": [1.0]}
NOTE_PARAMS = {"b": 0.5, "w1": 2.0, "w2": -1.0}
NOTE_CLI = ["b+w1*x1+w2*x2", "--loss", "mse", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]


def note_explanation(**kwargs):
    return explain(NOTE_MODEL, "mse", data=NOTE_DATA, params=NOTE_PARAMS, **kwargs)


def steps_by_param(ex) -> dict:
    return {s.param: s for s in ex.steps}


def node(ex, name: str):
    (found,) = [n for n in ex.view.nodes if n.name == name]
    return found


# ---------------------------------------------------------------- the worked example


class TestWorkedExample:
    def test_numbers_of_the_note(self):
        ex = note_explanation()
        assert ex.agree is True
        assert ex.view.loss_value == pytest.approx(0.25, abs=1e-12)
        assert node(ex, "yhat").value == pytest.approx(1.5, abs=1e-12)  # b + w1*x1 + w2*x2 = 0.5 + 3 - 2
        assert node(ex, "a3").value == pytest.approx(0.5, abs=1e-12)  # yhat - y
        steps = steps_by_param(ex)
        assert list(steps) == ["b", "w1", "w2"]
        for name, value in {"b": 1.0, "w1": 1.5, "w2": 2.0}.items():
            s = steps[name]
            assert s.symbolic_value == pytest.approx(value, abs=1e-12)
            assert s.path_sum == pytest.approx(value, abs=1e-12)
            assert s.adjoint == pytest.approx(value, abs=1e-12)
            assert s.agree is True and s.checked == "path_sum"

    def test_old_fashioned_derivatives_are_the_notes(self):
        steps = steps_by_param(note_explanation())
        assert steps["b"].symbolic == "2*(b + w1*x1 + w2*x2 - y)"
        assert steps["w1"].symbolic == "2*x1*(b + w1*x1 + w2*x2 - y)"
        assert steps["w2"].symbolic == "2*x2*(b + w1*x1 + w2*x2 - y)"

    def test_intermediate_nodes_read_like_the_note(self):
        ex = note_explanation()
        formulas = {n.name: n.formula for n in ex.view.nodes if n.op is not None}
        assert formulas == {"a1": "w1*x1", "a2": "w2*x2", "yhat": "b + a1 + a2", "a3": "yhat - y", "loss": "a3**2"}
        assert node(ex, "a1").value == pytest.approx(3.0) and node(ex, "a2").value == pytest.approx(-2.0)
        assert node(ex, "loss").text == "(yhat - y)**2"

    def test_single_path_for_w1(self):
        s = steps_by_param(note_explanation())["w1"]
        assert s.paths_total == 1 and s.paths_left_out == 0
        (path,) = s.paths
        assert path.nodes == ["loss", "a3", "yhat", "a1", "w1"]
        assert path.partials == ["∂loss/∂a3", "∂a3/∂yhat", "∂yhat/∂a1", "∂a1/∂w1"]
        # dloss/dyhat = 2*(yhat - y) split at a3 = yhat - y; dyhat/da1 = 1; da1/dw1 = x1
        assert path.locals == ["2*a3", "1", "1", "x1"]
        assert path.local_values == pytest.approx([1.0, 1.0, 1.0, 1.5])
        assert path.product == pytest.approx(1.5)

    def test_paths_for_b_and_w2(self):
        steps = steps_by_param(note_explanation())
        assert [p.nodes for p in steps["b"].paths] == [["loss", "a3", "yhat", "b"]]
        assert [p.locals for p in steps["w2"].paths] == [["2*a3", "1", "1", "x2"]]
        assert steps["w2"].paths[0].product == pytest.approx(2.0)

    def test_adjoints_computed_once_and_reused(self):
        ex = note_explanation()
        reused = {r.node: r.params for r in ex.reused}
        assert reused == {"a3": ["b", "w1", "w2"], "yhat": ["b", "w1", "w2"]}
        assert {r.node: r.adjoint for r in ex.reused} == pytest.approx({"a3": 1.0, "yhat": 1.0})

    def test_op_counts_of_the_note(self):
        c = note_explanation().op_counts
        # The sweep walks 7 edges (loss-a3, a3-yhat, yhat-b, yhat-a1, yhat-a2, a1-w1, a2-w2); it
        # multiplies on 3 of them (2*a3, x1, x2) and passes the adjoint on where the local derivative is 1,
        # b's included (its adjoint is yhat's, as forward mode passes b's tangent on); no two paths meet.
        assert c.reverse == {"multiplications": 3, "additions": 0}
        assert c.local_derivatives == 7
        assert c.local == {"multiplications": 1, "additions": 0, "other": 0}  # 2*a3; the rest are at hand
        assert c.forward == {"multiplications": 2, "additions": 3, "other": 1}  # two products, b+a1+a2, yhat-y, **2
        assert c.backprop_total == 6 + 1 + 3
        # SymPy: 2*b + 2*w1*x1 + 2*w2*x2 - 2*y (9), 2*x1*(b + w1*x1 + w2*x2 - y) (7), and for x2 (7)
        assert c.symbolic_per_param == {"b": 9, "w1": 7, "w2": 7}
        assert c.symbolic_total == 23

    def test_wrt_chooses_the_parameters(self):
        ex = note_explanation(wrt=["w1"])
        assert [s.param for s in ex.steps] == ["w1"]
        assert ex.reused == []  # one parameter: nothing to share


# ---------------------------------------------------------------- paths


class TestPaths:
    def test_parameter_used_twice_has_two_paths_that_add_up(self):
        # d/dw (w*x1 + w**2 - y)**2 at w=0.7, x1=2, y=1: 2*0.89 * (x1 + 2w) = 1.78*2 + 1.78*1.4
        ex = explain("w*x1 + w**2", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.7})
        (s,) = ex.steps
        assert s.paths_total == 2
        assert [p.nodes for p in s.paths] == [["loss", "a3", "yhat", "a1", "w"], ["loss", "a3", "yhat", "a2", "w"]]
        assert [p.locals[-1] for p in s.paths] == ["x1", "2*w"]
        assert [p.product for p in s.paths] == pytest.approx([1.78 * 2, 1.78 * 1.4])
        assert s.path_sum == pytest.approx(6.052, abs=1e-12)
        assert s.symbolic_value == pytest.approx(6.052, abs=1e-12)
        assert s.adjoint == pytest.approx(6.052, abs=1e-12)
        assert ex.op_counts.reverse["additions"] == 1  # the two paths meet at w
        assert ex.agree is True

    def test_same_input_twice_in_one_node_is_two_edges(self):
        (s,) = explain("w*w", data={"y": [1.0]}, params={"w": 1.5}).steps
        assert s.paths_total == 2
        assert [p.partials[-1] for p in s.paths] == ["∂yhat/∂w (argument 1)", "∂yhat/∂w (argument 2)"]
        assert s.path_sum == pytest.approx(2 * (1.5**2 - 1) * 2 * 1.5)

    def test_paths_beyond_max_paths_are_counted_and_the_adjoint_stands_in(self):
        ex = explain("w+w+w+w+w", data={"y": [0.0]}, params={"w": 0.5}, max_paths=2)
        (s,) = ex.steps
        assert s.paths_total == 5 and len(s.paths) == 2 and s.paths_left_out == 3
        assert s.path_sum is None and s.checked == "adjoint"
        assert s.adjoint == pytest.approx(2 * 2.5 * 5)  # 2*(5w - y)*5
        assert [t.contribution for t in s.adjoint_terms] == pytest.approx([5.0] * 5)
        assert s.agree is True
        text = "\n".join(explanation_lines(ex))
        assert "5 (the first 2 listed, 3 left out)" in text
        assert "the reverse sweep's adjoint" in text

    def test_model_used_twice_by_a_custom_loss_multiplies_paths(self):
        # (yhat - y)**2 + yhat: every path to w goes through one of yhat's two uses
        ex = explain("w*x1 + w", "(yhat - y)**2 + yhat", data={"x1": [3.0], "y": [1.0]}, params={"w": 0.5})
        (s,) = ex.steps
        assert s.paths_total == 4
        r = 0.5 * 3 + 0.5 - 1
        assert s.path_sum == pytest.approx((2 * r + 1) * 4)
        assert ex.agree is True

    def test_bce_on_a_sigmoid_runs_through_the_logit(self):
        ex = explain("sigmoid(w*x1 + b)", "bce", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.3, "b": -0.1})
        assert ex.agree is True
        yhat = node(ex, "yhat")
        assert yhat.role == "intermediate" and yhat.adjoint is None  # off the loss path
        for s in ex.steps:
            assert all("yhat" not in p.nodes for p in s.paths)
        assert any("logit" in n and "off the loss path" in n for n in ex.view.notes)
        p = 1 / (1 + math.exp(-(0.3 * 2 - 0.1)))
        assert steps_by_param(ex)["w"].path_sum == pytest.approx((p - 1) * 2)


@pytest.mark.parametrize("model, loss", [
    ("w", "mse"),  # a single name: yhat is an identity node
    ("w", "yhat"),  # loss and model in one node
    ("tanh(sigmoid(w*x1 + b))", "mse"),  # nested functions
    ("w1/(1 + x1**2) - b/w2", "mse"),  # division, a parameter in a denominator
    ("2**w + x1**w", "mse"),  # a parameter in the exponent
    ("w*x1 + w**2 + sin(w)", "mse"),  # a parameter used three times
    ("pi*w + e - 0.5*x1", "mae"),  # constants
    ("-w*x1 + log(1 + exp(b))", "huber"),
    ("sqrt(1 + w**2) + relu(b) + softplus(w)", "(yhat - y)**4"),
    ("0.5 + 0.45*tanh(w*x1)", "bce"),
    ("sigmoid(w*x1 + b)", "bce"),
])
def test_every_kind_of_model(model, loss):
    with plain_formulas():  # numbers only: no time-bounded prettifying (see symbolic.time_limit)
        ex = explain(model, loss, data={"x1": [0.8], "y": [0.3]}, params={})
        with_sympy = explain(model, loss, data={"x1": [0.8], "y": [0.3]}, sympy_forms=True)
    assert ex.agree is True
    for s in ex.steps:
        assert s.paths and s.path_sum == pytest.approx(s.symbolic_value, rel=1e-9, abs=1e-12)
    for render in (explanation_text, explanation_json):
        out = io.StringIO()
        render(ex, out)
        assert out.getvalue()
    latex = io.StringIO()
    explanation_latex(with_sympy, latex)
    assert_latex_balanced(latex.getvalue())


class TestTeachingOutput:
    def test_no_derivative_with_respect_to_a_constant_exponent(self):
        ex = explain("w*x1**2", data={"x1": [-1.5], "y": [1.0]}, params={"w": 0.5}, sympy_forms=True)
        text = "\n".join(explanation_lines(ex))
        assert "∂a1/∂x1" not in text  # x1 is not on w's path; the power's base is not needed either
        assert not re.search(r"∂\S*/∂2\b", text), text
        latex = io.StringIO()
        explanation_latex(ex, latex)
        assert r"\partial 2}" not in latex.getvalue()
        doc = ex.to_dict()
        assert not any("∂2" in partial
                       for p in doc["parameters"] for path in p["paths"] for partial in path["partials"])


    def test_sigmoid_and_tanh_derivatives_in_terms_of_their_output(self):
        # yhat = sigmoid(a2): ∂yhat/∂a2 = yhat*(1 - yhat), σ(z)(1 - σ(z)) as taught; tanh: 1 - a**2
        ex = explain("sigmoid(w*x1 + b)", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.3, "b": -0.1},
                     wrt=["w"], sympy_forms=True)
        (path,) = ex.steps[0].paths
        s = 1 / (1 + math.exp(-0.5))
        assert dict(zip(path.partials, path.locals))["∂yhat/∂a2"] == "yhat*(1 - yhat)"
        assert dict(zip(path.partials, path.local_values))["∂yhat/∂a2"] == pytest.approx(s * (1 - s), rel=1e-15)
        assert re.search(r"∂yhat/∂a2 += yhat\*\(1 - yhat\) += 0\.2350037122", "\n".join(explanation_lines(ex)))
        latex = io.StringIO()
        explanation_latex(ex, latex)
        assert r"\hat{y} \left(1 - \hat{y}\right)" in latex.getvalue()
        inner = explain("w2*tanh(w1*x1)", data={"x1": [1.0], "y": [0.0]}, params={"w1": 0.5, "w2": 2.0}, wrt=["w1"])
        (path,) = inner.steps[0].paths
        assert dict(zip(path.partials, path.locals))["∂a2/∂a1"] == "1 - a2**2"
        assert dict(zip(path.partials, path.local_values))["∂a2/∂a1"] == pytest.approx(1 - math.tanh(0.5) ** 2)


# ---------------------------------------------------------------- random expressions


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=EXPRESSIONS, params=PARAM_VALUES, x1=st.floats(-2, 2), x2=st.floats(-2, 2), y=st.floats(-2, 2),
       loss=st.sampled_from(["mse", "huber", "(yhat-y)**4"]))
def test_random_expressions_path_sums_equal_backprop_and_sympy(model, params, x1, x2, y, loss):
    used = {name: value for name, value in params.items() if re.search(rf"\b{name}\b", model)}
    assume(used)
    note(f"model={model!r} loss={loss!r} params={used} x1={x1} x2={x2} y={y}")
    try:
        with plain_formulas():
            ex = explain(model, loss, data={"x1": [x1], "x2": [x2], "y": [y]}, params=used, max_paths=10_000,
                         rtol=1e-7, atol=1e-9)
    except GradcliError:
        assume(False)  # undefined or overflowing at this point: not this test's business
        return
    assert {s.param for s in ex.steps} == set(used)
    for s in ex.steps:
        note(f"{s.param}: paths={s.paths_total} sum={s.path_sum!r} adjoint={s.adjoint!r} sympy={s.symbolic_value!r}")
        assert s.paths_left_out == 0 and len(s.paths) == s.paths_total >= 1
        assert s.path_sum == pytest.approx(s.adjoint, rel=1e-9, abs=1e-12)
        assert s.path_sum == pytest.approx(s.symbolic_value, rel=1e-7, abs=1e-9)
        for path in s.paths:
            assert path.product == pytest.approx(math.prod(path.local_values), rel=1e-15, abs=0)
        assert s.agree is True
    assert ex.agree is True


# ---------------------------------------------------------------- calculate once, use many times


def linear_model(d: int) -> str:
    return "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, d + 1))


class TestOpCounts:
    def test_sweep_grows_linearly_in_d_and_separate_derivatives_quadratically(self):
        dims = [1, 2, 3, 4, 5, 8]
        with plain_formulas():
            counts = {d: explain(linear_model(d)).op_counts for d in dims}
        for d, c in counts.items():
            # d products and d+1 terms forward; backward 2d + 3 edges, of which d + 1 pass the adjoint
            # on (local derivative 1, b's edge among them) and d + 1 multiply (2*a, x_i for each w_i)
            assert c.local_derivatives == 2 * d + 3, d
            assert c.reverse == {"multiplications": d + 1, "additions": 0}, d
            assert c.forward == {"multiplications": d, "additions": d + 1, "other": 1}, d
            assert c.backprop_total == 3 * d + 4, d
        symbolic = [counts[d].symbolic_total for d in dims[:5]]
        steps = [b - a for a, b in zip(symbolic, symbolic[1:])]
        assert all(later > earlier for earlier, later in zip(steps, steps[1:])), symbolic  # quadratic, not linear
        assert counts[8].symbolic_total > 2 * counts[8].backprop_total

    def test_reused_adjoints_serve_every_parameter(self):
        ex = explain(linear_model(4))
        names = ["b", "w1", "w2", "w3", "w4"]
        assert {r.node: r.params for r in ex.reused} == {"a5": names, "yhat": names}

    @pytest.mark.parametrize("formula, cost", [
        ("1", {"multiplications": 0, "additions": 0, "other": 0}),
        ("-1", {"multiplications": 0, "additions": 0, "other": 0}),
        ("x1", {"multiplications": 0, "additions": 0, "other": 0}),
        ("2*a3", {"multiplications": 1, "additions": 0, "other": 0}),
        ("1 - a2**2", {"multiplications": 0, "additions": 1, "other": 1}),
        ("a2*(1 - a2)", {"multiplications": 1, "additions": 1, "other": 0}),
        ("-w/x1**2", {"multiplications": 1, "additions": 0, "other": 2}),
        ("sign(a1)", {"multiplications": 0, "additions": 0, "other": 1}),  # not our syntax: one operation
    ])
    def test_formula_cost(self, formula, cost):
        assert formula_cost(formula) == cost


# ---------------------------------------------------------------- JSON and LaTeX


def assert_latex_balanced(text: str) -> None:
    body = re.sub(r"\\[{}]", "", "\n".join(line for line in text.splitlines() if not line.startswith("%")))
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, text
    assert depth == 0, text
    assert body.count(r"\begin{align*}") == body.count(r"\end{align*}") >= 2
    assert body.count(r"\[") == body.count(r"\]")
    assert "∂" not in body  # every partial is \partial


class TestFormats:
    def test_json_per_parameter(self):
        doc = note_explanation().to_dict()
        assert doc["loss_value"] == pytest.approx(0.25)
        assert doc["output"] == [n["id"] for n in doc["intermediate_nodes"] if n["name"] == "loss"][0]
        w1 = {p["param"]: p for p in doc["parameters"]}["w1"]
        assert w1["symbolic"] == "2*x1*(b + w1*x1 + w2*x2 - y)"
        assert w1["symbolic_value"] == pytest.approx(1.5)
        (path,) = w1["paths"]
        assert set(path) == {"nodes", "node_ids", "partials", "locals", "local_values", "product"}
        assert path["nodes"] == ["loss", "a3", "yhat", "a1", "w1"]
        assert w1["path_sum"] == pytest.approx(1.5) and w1["agree"] is True
        assert doc["op_counts"]["reverse"] == {"multiplications": 3, "additions": 0}
        assert {n["role"] for n in doc["intermediate_nodes"]} == {"intermediate", "loss"}

    def test_latex_fragment(self):
        out = io.StringIO()
        explanation_latex(note_explanation(wrt=["w1"], sympy_forms=True), out)
        text = out.getvalue()
        assert_latex_balanced(text)
        assert (r"\frac{\partial \mathrm{loss}}{\partial w_{1}} &= "
                r"2 x_{1} \left(b + w_{1} x_{1} + w_{2} x_{2} - y\right) = 1.5") in text
        assert r"\hat{y} &= b + a_{1} + a_{2} = 1.5" in text
        assert r"\frac{\partial a_{1}}{\partial w_{1}} &= x_{1} = 1.5" in text
        assert r"\mathrm{loss} \to a_{3} \to \hat{y} \to a_{1} \to w_{1} &: 1 \cdot 1 \cdot 1 \cdot 1.5 = 1.5" in text
        assert "\\begin{document}" not in text  # a fragment


# ---------------------------------------------------------------- LaTeX documents and long formulas


def latex_of(ex, standalone: bool = True) -> str:
    out = io.StringIO()
    explanation_latex(ex, out, standalone=standalone)
    return out.getvalue()


def display_lines(text: str) -> list[str]:
    """The source lines inside align* environments, each one line of a display."""
    found, inside = [], False
    for line in text.splitlines():
        if line.startswith(r"\end{align*}"):
            inside = False
        if inside:
            found.append(line)
        if line.startswith(r"\begin{align*}"):
            inside = True
    return found


def assert_document(text: str) -> None:
    r"""A whole document whose environments, braces and \left/\right pairs balance, line by line."""
    lines = [line for line in text.splitlines() if not line.startswith("%")]
    assert lines[0] == r"\documentclass{article}" and r"\usepackage{amsmath}" in lines[:4], lines[:4]
    assert r"\begin{document}" in lines and lines[-1] == r"\end{document}"
    assert_latex_balanced(text)
    for name in set(re.findall(r"\\begin\{(\w+\*?)\}", text)):
        assert text.count(rf"\begin{{{name}}}") == text.count(rf"\end{{{name}}}"), name
    for line in display_lines(text):
        lefts, rights = len(re.findall(r"\\left\b", line)), len(re.findall(r"\\right\b", line))
        assert lefts == rights, line  # each line of a broken display closes what it opens


LONG_MODEL = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, 31))


class TestLatexDocument:
    def test_the_note_as_a_document(self):
        text = latex_of(note_explanation(sympy_forms=True))
        assert_document(text)
        assert r"\\" + "\n&\\quad" not in text  # short formulas stay on one line
        assert r"\frac{\partial a_{3}}{\partial \hat{y}} &= 1" + " \\\\\n" in text  # said once, not = 1 = 1
        fragment = latex_of(note_explanation(sympy_forms=True), standalone=False)
        assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
        preamble = ("%", r"\documentclass", r"\usepackage", r"\allowdisplaybreaks", r"\setlength", r"\begin{document}",
                    r"\end{document}")
        assert [line for line in fragment.splitlines() if not line.startswith("%")] == [
            line for line in text.splitlines() if not line.startswith(preamble)]  # the same body

    def test_long_formulas_are_broken_over_lines(self):
        from gradcli.views.explain_latex import TEX_LINE, tex_width

        ex = explain(LONG_MODEL, wrt=["w1"], sympy_forms=True)
        text = latex_of(ex)
        assert_document(text)
        lines = display_lines(text)
        continued = [line for line in lines if line.startswith(r"&\quad")]
        assert len(continued) >= 4, text  # the model, and w1's derivative 2*x1*(b + ... + w30*x30 - y)
        assert all(line.endswith(" \\\\") for line in lines if lines.index(line) + 1 < len(lines)
                   and lines[lines.index(line) + 1].startswith(r"&\quad"))
        for line in lines:
            assert len(line) <= 250, line
            shown = re.sub(r"\\(left|right)\.|^.*?&=?|\\quad|\s*\\\\$", "", line)
            assert tex_width(shown) <= TEX_LINE + 1, line
        # the derivative's sum is cut inside its parentheses: \right. ends the line, \left. opens the next
        assert re.search(r"\\right\. \\\\\n&\\quad \\left\. \{\}\+ ", text), text

    def test_a_fraction_too_wide_for_a_line_is_written_with_a_slash(self):
        from gradcli.views.explain_latex import tex_pieces

        wide = r"\frac{" + " + ".join(f"a_{{{i}}}" for i in range(30)) + r"}{b}"
        pieces = tex_pieces(wide)
        assert pieces[0][0].startswith(r"\left(a_{0}") and len(pieces) == 30
        assert r"\right) / b" in pieces[-1][0]
        assert tex_pieces(r"\frac{a + b}{c}") == [(r"\frac{a + b}{c}", 0)]  # narrow: kept
        assert [t for t, _ in tex_pieces(r"e^{" + " + ".join(f"x_{{{i}}}" for i in range(20)) + "}")][:2] == [
            r"\exp\left(x_{0}", "+ x_{1}"]

    def test_sigmoid_argument_and_cases_break_where_they_may(self):
        from gradcli.views.explain_latex import tex_pieces

        # SymPy's braces around a function's argument go, so that the sum inside may break
        assert [t for t, _ in tex_pieces(r"\operatorname{sigmoid}{\left(b + w\right)}")] == [
            r"\operatorname{sigmoid}\left(b", r"+ w\right)"]
        # never inside a cases environment, a \frac's arguments or a subscript
        assert len(tex_pieces(r"\begin{cases} a + b & \text{for}\: c \end{cases} + d")) == 2
        assert len(tex_pieces(r"\frac{a + b}{c - d} x_{i + 1}")) == 2  # one break: between the factors
        assert tex_pieces(r"- y + 1") == [("- y", 0), ("+ 1", 0)]  # a leading minus is a sign


def pdflatex() -> str:
    import shutil

    found = shutil.which("pdflatex")
    if found is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base)")
    return found


@pytest.mark.parametrize("model, kwargs", [
    (NOTE_MODEL, {"data": NOTE_DATA, "params": NOTE_PARAMS}),
    (LONG_MODEL, {"wrt": ["w1", "w30"]}),
    ("sigmoid(" + LONG_MODEL + ")", {"wrt": ["w1"]}),
    (None, {"model_file": "samples/long_model.txt"}),
    ("sigmoid(w*x1 + b)", {"loss": "bce"}),
    ("*".join(["w"] * 40), {"data": {"y": [1.0]}, "params": {"w": 1.0}}),
], ids=["note", "30-terms", "sigmoid-30", "long_model", "bce", "deep"])
def test_pdflatex_compiles_the_document_with_nothing_too_wide(model, kwargs, tmp_path):
    import subprocess
    from pathlib import Path

    program = pdflatex()
    kwargs = dict(kwargs)
    loss = kwargs.pop("loss", "mse")
    if "model_file" in kwargs:
        kwargs["model_file"] = Path(__file__).resolve().parents[1] / kwargs["model_file"]
    (tmp_path / "steps.tex").write_text(latex_of(explain(model, loss, sympy_forms=True, **kwargs)))
    proc = subprocess.run([program, "-interaction=nonstopmode", "-halt-on-error", "steps.tex"], cwd=tmp_path,
                          capture_output=True, timeout=120, check=False)
    log = (tmp_path / "steps.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert (tmp_path / "steps.pdf").stat().st_size > 1000
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)


# ---------------------------------------------------------------- bad input (library)


class TestBadInput:
    @pytest.mark.parametrize("kwargs, needle", [
        ({"wrt": ["q"]}, "--wrt 'q' is not a parameter of this model (parameters: b, w1, w2)"),
        ({"max_paths": 0}, "--max-paths must be between 1 and 10,000"),
        ({"max_paths": 10_001}, "--max-paths must be between 1 and 10,000"),
        ({"row": 2}, "--row 2 is out of range"),
        ({"rtol": -1.0}, "--rtol"),
    ])
    def test_errors(self, kwargs, needle):
        with pytest.raises(GradcliError, match=re.escape(needle)):
            note_explanation(**kwargs)

    def test_several_rows_need_a_row(self):
        data = {"x1": [1.0, 2.0], "y": [0.0, 1.0]}
        with pytest.raises(GradcliError, match="the data have 2 rows; choose one with --row N"):
            explain("w*x1", data=data)
        (s,) = explain("w*x1", data=data, params={"w": 0.5}, row=2).steps
        assert s.path_sum == pytest.approx(2 * (0.5 * 2 - 1) * 2)
        with pytest.raises(GradcliError, match="--highlight 'q' is not a parameter of this model"):
            graph_view("w*x1", data=data, row=1, highlight="q")


# ---------------------------------------------------------------- the installed program


class TestProgram:
    def test_the_note_for_w1(self, gradcli):
        result = gradcli("explain", *NOTE_CLI, "--wrt", "w1")
        assert result.code == 0, result
        assert result.err == ""
        out = result.out
        assert "∂loss/∂w1  = 2*x1*(b + w1*x1 + w2*x2 - y)  = 1.5" in out
        assert "yhat  = b + a1 + a2  = 1.5" in out
        assert "∂loss/∂w1 = ∂loss/∂a3 · ∂a3/∂yhat · ∂yhat/∂a1 · ∂a1/∂w1" in out
        assert re.search(r"∂a1/∂w1 += x1 += 1\.5", out)
        assert re.search(r"loss → a3 → yhat → a1 → w1: +1 × 1 × 1 × 1\.5 += 1\.5", out)
        assert "sum over paths = 1.5" in out
        assert "✓" in out and "every check passes" in out

    def test_reuse_and_counts_for_all_parameters(self, gradcli):
        result = gradcli("explain", *NOTE_CLI)
        assert result.code == 0, result
        assert re.search(r"∂loss/∂yhat = 1 +by b, w1, w2", result.out)
        assert "3 multiplications (adjoint × local derivative; a local derivative of 1 passes the adjoint on), " \
               "0 additions" in result.out
        assert "23 operations" in result.out

    def test_json_and_latex(self, gradcli):
        result = gradcli("explain", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7", "--format", "json")
        assert result.code == 0, result
        (w,) = result.json()["parameters"]
        assert [p["product"] for p in w["paths"]] == pytest.approx([3.56, 2.492])
        assert w["path_sum"] == pytest.approx(6.052)
        latex = gradcli("explain", *NOTE_CLI, "--format", "latex")
        assert latex.code == 0, latex
        assert_latex_balanced(latex.out)
        document = gradcli("explain", *NOTE_CLI, "--format", "latex", "--standalone")
        assert document.code == 0, document
        assert_document(document.out)

    def test_a_failed_check_exits_1(self, gradcli):
        # With no tolerance at all, the float path sum -0.11199999999999999 is not SymPy's exact -0.112.
        result = gradcli("explain", "w*x1", "--data", "x1=0.2,y=0.3", "--params", "w=0.1", "--rtol", "0", "--atol", "0")
        assert result.code == 1, result
        assert "✗" in result.out and "a check failed" in result.out
        doc = gradcli("explain", "w*x1", "--data", "x1=0.2,y=0.3", "--params", "w=0.1", "--rtol", "0", "--atol", "0",
                      "-f", "json")
        assert doc.code == 1 and doc.json()["agree"] is False

    def test_row_of_a_csv(self, gradcli, tmp_path):
        (tmp_path / "points.csv").write_text("x1,y\n1,0\n2,1\n")
        result = gradcli("explain", "w*x1", "--data", "points.csv", "--params", "w=0.5", "--row", "2", "-f", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["point"] == {"x1": 2.0, "y": 1.0}
        assert doc["parameters"][0]["path_sum"] == pytest.approx(2 * (0.5 * 2 - 1) * 2)

    @pytest.mark.parametrize("args, needle", [
        (["explain", *NOTE_CLI, "--wrt", "q"], "parameters: b, w1, w2"),
        (["explain", *NOTE_CLI, "--max-paths", "0"], "--max-paths"),
        (["explain", *NOTE_CLI, "--max-paths", "many"], "--max-paths"),
        (["explain", *NOTE_CLI, "--format", "pdf"], "--format"),
        (["explain", *NOTE_CLI, "--standalone"], "--standalone makes a LaTeX document: it needs --format latex"),
        (["explain", *NOTE_CLI, "--row", "2"], "--row 2 is out of range"),
        (["explain", "w*x1", "--data", "two.csv"], "choose one with --row N"),
        (["explain"], "no model"),
        (["explain", "w*", "--data", "x1=1,y=2"], "invalid syntax"),
        (["explain", "w*x1", "--data", "x1=nan,y=2"], "nan"),
    ], ids=["unknown-wrt", "zero-paths", "paths-not-a-number", "bad-format", "standalone-text", "row-out-of-range",
            "many-rows", "no-model", "syntax", "nan"])
    def test_bad_input(self, gradcli, tmp_path, args, needle):
        (tmp_path / "two.csv").write_text("x1,y\n1,0\n2,1\n")
        one_line_error(gradcli(*args), needle)

    def test_help_has_an_example_and_starts_light(self, gradcli, tmp_path):
        result = gradcli("explain", "--help")
        assert result.code == 0 and "Example" in result.out and "--max-paths" in result.out
        found = probe(["explain", "--help"], tmp_path)
        assert found["code"] in (0, None) and not found["sympy"] and not found["numpy"], found
