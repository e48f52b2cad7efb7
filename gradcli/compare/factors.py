"""What a wrong claim of a derivative misses (`gradcli check`): a constant ratio to the derivative, or the
chain-rule factors and paths it leaves out, found by comparing its factors with the graph's local
derivatives at the points where it differs."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engines.reading import count_paths, local_formula, node_formula, partial_name, paths
from ..language.expr import Binary, Num, Unary, substitute, to_text
from ..language.problem import YHAT

FACTOR_POINTS = 12  # points at which factors are compared
MAX_PATHS = 10  # with more paths than this, nothing is said about paths


@dataclass
class PathFactor:
    """A local derivative on the path from the loss to wrt, as explain names it."""

    partial: str  # "∂a1/∂w1"
    formula: str  # "x1", in the graph's node names
    where: list[str] = field(default_factory=list)  # the nodes the formula names: "a3 = yhat - y"

    def text(self) -> str:
        where = f" (where {', '.join(self.where)})" if self.where else ""
        return f"{self.partial} = {self.formula}{where}"


@dataclass
class Factors:
    """The claim's factors against the chain rule's; empty lists where nothing was found wrong."""

    paths: int  # paths from the loss to wrt
    claim_factors: list[str]  # the claim's factors as written (numbers and signs gathered in `constant`)
    constant: float
    matched: list[tuple[str, str]]  # (claim factor, "∂a3/∂yhat") equal up to a constant
    missing: list[PathFactor]  # chain-rule factors no claim factor matches
    extra: list[str]  # claim factors no chain-rule factor matches
    missing_paths: list[str]  # with several paths: the paths the claim leaves out ("loss → a3 → ... → w")



def constant_ratio(found: Any) -> float | None:
    """claim / derivative when it is one number (other than 1 and 0) at every point compared."""

    usable = found.compared & (found.derivative != 0)
    if usable.sum() < 2 or (found.compared & (found.derivative == 0) & (found.claim != 0)).any():
        return None
    ratios = found.claim[usable] / found.derivative[usable]
    r = float(np.median(ratios))
    if r == 0 or not math.isfinite(r) or not np.all(np.abs(ratios - r) <= 1e-7 * abs(r)) or abs(r - 1) <= 1e-7:
        return None
    return r


def _flatten(claim: Any) -> tuple[float, list[Any]]:
    """A product as its constant (numbers and signs multiplied) and its other factors, as written."""
    constant, factors, stack = 1.0, [], [claim]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary) and node.op == "mul":
            stack += [node.right, node.left]
        elif isinstance(node, Unary) and node.op == "neg":
            constant, stack = -constant, stack + [node.operand]
        elif isinstance(node, Num):
            constant *= node.value
        else:
            factors.append(node)
    return constant, factors


def _proportional(a: Any, b: Any) -> bool:
    """b = r a at every point for one number r != 0 (a and b are not constant)."""

    with np.errstate(all="ignore"):
        usable = np.abs(a) > 1e-12
        if usable.sum() < 2:
            return False
        r = float(np.median(b[usable] / a[usable]))
        if r == 0 or not math.isfinite(r):
            return False
        return bool(np.all(np.abs(b - r * a) <= 1e-7 * (np.abs(b) + np.abs(r * a)) + 1e-12))


def _constant(values: Any) -> bool:

    return bool(np.all(np.abs(values - values[0]) <= 1e-9 * (abs(values[0]) + 1e-300)))


def missing_factors(graph: Any, problem: Any, written: Any, name: str, found: Any, columns: Mapping[str, Any],
                    known: list[str], evaluator: Callable[[Any], Any]) -> Factors | None:
    """The claim's factors against the local derivatives along the path(s) from the loss to wrt.

    None when the claim is not a product, or when with several paths it is not one or a few of them.
    """

    constant, written_factors = _flatten(written)
    if len(written_factors) + (constant != 1.0) < 2:
        return None  # not a product: nothing to compare factor by factor
    chosen = np.flatnonzero(found.compared)[:FACTOR_POINTS]
    if len(chosen) < 2:
        return None
    at = {n: np.asarray(columns[n])[chosen] for n in known}
    evaluate = evaluator(substitute(written, YHAT, problem.model))
    here = evaluate(at, len(chosen), with_locals=True)
    assert here.locals is not None
    leaf = graph.leaf(name)
    total = count_paths(graph, leaf.id)
    if total > MAX_PATHS:
        return None
    walked = paths(graph, leaf.id, MAX_PATHS)

    def values_of(edge: Any) -> Any:
        return np.broadcast_to(here.locals[edge], (len(chosen),)).astype(np.float64)

    claim_texts = [to_text(f) for f in written_factors]
    report = Factors(total, claim_texts, constant, [], [], [], [])
    if total > 1:  # the claim may be some of the paths' products, and not the others
        products = [np.prod([values_of(e) for e in path], axis=0) for path in walked]
        claim_values = here.claim
        for size in range(1, total):
            for subset in itertools.combinations(range(total), size):
                if np.allclose(sum(products[i] for i in subset), claim_values, rtol=1e-7, atol=1e-10):
                    report.missing_paths = [_path_text(graph, walked[i]) for i in range(total) if i not in subset]
                    return report
        return None

    (path,) = walked
    claim_values = []
    for factor in written_factors:
        per_point = evaluator(substitute(factor, YHAT, problem.model))
        claim_values.append(per_point(at, len(chosen)).claim)
    unmatched = [i for i, v in enumerate(claim_values) if np.isfinite(v).all() and not _constant(v)]
    for edge in path:
        local = values_of(edge)
        if not np.isfinite(local).all() or _constant(local):
            continue  # a number: part of the constant, whatever the claim's constant is
        partial = partial_name(graph, edge.source, edge.target, edge.position)
        match = next((i for i in unmatched if _proportional(local, claim_values[i])), None)
        if match is not None:
            unmatched.remove(match)
            report.matched.append((claim_texts[match], partial))
            continue
        formula = local_formula(graph, edge)
        tokens = set(_names_in(formula))
        where = [f"{node.name} = {node_formula(graph, node)}" for node in graph.nodes
                 if node.op is not None and node.name in tokens]
        report.missing.append(PathFactor(partial, formula, where))
    report.extra = [claim_texts[i] for i in unmatched]
    if not report.matched and (report.missing or report.extra):
        return None  # no clean match: the claim is written some other way
    return report


def _path_text(graph: Any, path: Any) -> str:
    """loss → a3 → yhat → a2 → w, with the product of its local derivatives: 2*a3 × 1 × 1 × 2*w."""
    nodes = " → ".join([graph.nodes[graph.output].name] + [graph.nodes[edge.source].name for edge in path])
    return f"{nodes} (the product {' × '.join(local_formula(graph, edge) for edge in path)})"


def _names_in(formula: str) -> list[str]:

    return re.findall(r"[A-Za-z][A-Za-z0-9_]*", formula)
