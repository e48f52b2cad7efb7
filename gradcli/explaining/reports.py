"""What explain and graph return: plain dataclasses (the views read them, and import nothing heavier).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..shown import Shown, brief, clipped, listed, verdict_word


@dataclass
class NodeInfo:
    """One node at the point."""

    id: int
    name: str  # a1, yhat, loss, or the symbol's own name
    op: str | None  # None for a leaf
    role: str  # one of JSON_ROLES; yhat is "intermediate" (it is the model's prediction)
    formula: str  # in its inputs' names ("w1*x1", "b + a1 + a2"); a leaf: its name
    text: str  # the sub-expression it computes, in the model's names
    value: float
    adjoint: float | None  # d loss / d node; None where the sweep does not need it


@dataclass
class EdgeInfo:
    """One edge: node `source` is input `position` of node `target`."""

    source: int
    target: int
    position: int
    partial: str | None  # "∂a1/∂w1"; None, like local and local_value, on an edge from a constant
    local: str | None  # its formula, from language/ops.py: "x1"
    local_value: float | None  # None where undefined (e.g. ∂(w**x1)/∂x1 = yhat*log(w) for w < 0)


@dataclass
class GraphView(Shown):
    """What `gradcli graph` shows: the graph with values, adjoints and local derivatives."""

    model: str
    loss: str
    loss_formula: str
    target: str
    params: dict[str, float]
    point: dict[str, float]  # inputs and target
    defaults: dict[str, float]
    loss_value: float
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    output: int  # the loss node's id
    prediction: int  # the yhat node's id
    highlight: str | None = None  # a parameter whose paths are marked
    highlight_nodes: list[int] = field(default_factory=list)
    highlight_edges: list[int] = field(default_factory=list)  # indices into edges
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # both engines' gradients at the point, judged (compare.verdicts.GradientReport), when asked for
    # (gradcli.graph(compare=True); the html page asks); in the JSON only when present
    comparison: Any = None

    def __repr__(self) -> str:
        adjoints = [f"∂{n.name} {brief(n.adjoint)}" for n in self.nodes if n.role == "parameter"]
        return (f"GraphView({clipped(self.model)}, {self.loss}, loss {brief(self.loss_value)}: "
                f"{len(self.nodes)} nodes, {len(self.edges)} edges; {listed(adjoints)})")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(_without_extras(self))
        data["edges"] = [{"from": e.source, "to": e.target, "position": e.position, "partial": e.partial,
                          "local": e.local, "local_value": e.local_value} for e in self.edges]
        data["highlight"] = None if self.highlight is None else {
            "param": self.highlight, "nodes": self.highlight_nodes, "edges": self.highlight_edges}
        del data["highlight_nodes"], data["highlight_edges"]
        return _with_extras(self, data)


def _without_extras(view: Any) -> Any:
    """The view without what was asked for beyond the graph (asdict would copy it whole, and it has its own JSON)."""
    extras = {"comparison": None} | ({"neurons": None} if hasattr(view, "neurons") else {})
    return replace(view, **extras)


def _with_extras(view: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The view's JSON with the comparison and the neuron view where they were asked for (else as before)."""
    data.pop("comparison", None)
    data.pop("neurons", None)
    if view.comparison is not None:
        data["comparison"] = view.comparison.to_dict()
    if getattr(view, "neurons", None) is not None:
        data["neurons"] = view.neurons.to_dict()
    return data


@dataclass
class PathInfo:
    """One path from the loss back to a parameter and the product of the local derivatives on it."""

    nodes: list[str]  # names, from the loss down to the parameter
    node_ids: list[int]
    edges: list[int]  # indices into the view's edges
    partials: list[str]  # ∂loss/∂a3, ∂a3/∂yhat, ...
    locals: list[str]  # their formulas
    local_values: list[float]
    product: float


@dataclass
class AdjointTerm:
    """One edge out of the parameter in the reverse sweep: adjoint of the consumer × local derivative."""

    node: str  # the consumer
    partial: str
    adjoint: float  # ∂loss/∂node
    local_value: float
    contribution: float


@dataclass
class ParamSteps:
    """Steps (1) and (3) to (5) of explain's output for one parameter."""

    param: str
    symbolic: str | None  # (1) SymPy's derivative, readable form
    symbolic_value: float
    paths: list[PathInfo]  # (3) and (4), up to max_paths
    paths_total: int
    paths_left_out: int
    path_sum: float | None  # (4); None when paths were left out
    adjoint: float  # the reverse sweep's ∂loss/∂param
    adjoint_terms: list[AdjointTerm]  # the adjoint, as the sweep formed it
    checked: str  # "path_sum" or "adjoint": which was compared with the symbolic value
    agree: bool | None  # (5); None where the point is within rounding of a kink
    derivative: Any = field(default=None, repr=False)  # SymPy expression, when asked for (LaTeX)


@dataclass
class OpCounts:
    """Arithmetic for all chosen gradients: backprop (one forward pass, one sweep) vs each derivative alone.

    Multiplications include divisions; additions include subtractions; other
    is powers, negations and functions. A local derivative costs the
    arithmetic in its formula (x1 costs nothing: it is a value at hand).
    """

    forward: dict[str, int]
    local_derivatives: int  # evaluated by the sweep: one per edge it used
    local: dict[str, int]  # the arithmetic in those local derivatives' formulas
    reverse: dict[str, int]  # adjoint × local per edge (none where the local is exactly 1); + where paths meet
    backprop_total: int
    symbolic: dict[str, int]  # SymPy's count_ops over every derivative, each evaluated separately
    symbolic_per_param: dict[str, int]
    symbolic_total: int


@dataclass
class ModeCost:
    """The arithmetic one mode of differentiation performed for the chosen gradients at one row, counted as
    its sweeps ran (engines/forward.py's Tally, graph.backprop's Sweep), in OpCounts' kinds."""

    sweeps: int  # forward mode: one per parameter; reverse mode: one (after one forward pass)
    values: int  # operations whose value was computed (forward mode computes them again in every sweep)
    local_derivatives: int  # local derivatives evaluated
    products: int  # tangent × local (forward) or adjoint × local (reverse); none where the local is exactly 1
    sums: int  # tangents (forward) or adjoints (reverse) added where paths meet
    multiplications: int  # in all: the values, the local derivatives' formulas and the products
    additions: int  # in all: the values, the formulas and the sums
    other: int  # powers, negations and functions (evaluations)
    total: int  # multiplications + additions + other


@dataclass
class Cost:
    """`explain --cost`: forward mode (one sweep per parameter) against reverse mode (one sweep), counted."""

    params: list[str]
    forward: ModeCost
    reverse: ModeCost
    forward_per_param: dict[str, int]  # each parameter's own forward sweep, in operations
    saved: int  # forward.total - reverse.total: what reverse mode saves (negative where it costs more)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reuse:
    """An adjoint the sweep computed once and several parameters' gradients used."""

    node: str
    id: int
    adjoint: float
    params: list[str]


@dataclass
class Explanation(Shown):
    """What `gradcli explain` shows."""

    view: GraphView
    steps: list[ParamSteps]
    op_counts: OpCounts
    reused: list[Reuse]
    agree: bool | None
    rtol: float
    atol: float
    max_paths: int
    order: int = 1
    of: str = "loss"  # what the paths differentiate: the loss, or g = d loss/d first (order 2)
    first: str | None = None  # order 2: the parameter of the first derivative
    cost: Cost | None = None  # explain --cost: forward mode against reverse mode, counted; in JSON only when asked

    def __repr__(self) -> str:
        view = self.view
        values = [f"{self.label(s.param)} {brief(s.adjoint)}" for s in self.steps]
        return (f"Explanation({clipped(view.model)}, {view.loss}, loss {brief(view.loss_value)}: "
                f"{listed(values, 3)}; {len(view.nodes)} nodes; {verdict_word(self.agree)})")

    def label(self, param: str) -> str:
        """∂loss/∂w1, or at order 2 ∂²loss/∂w1∂w2."""
        return f"∂loss/∂{param}" if self.order == 1 else f"∂²loss/∂{self.first}∂{param}"

    def to_dict(self) -> dict[str, Any]:
        view = self.view
        steps = []
        for s in self.steps:
            item = asdict(s)
            del item["derivative"]
            for path in item["paths"]:
                del path["edges"]
            steps.append(item)
        return {
            "model": view.model, "loss": view.loss, "loss_formula": view.loss_formula, "target": view.target,
            "params": view.params, "point": view.point, "defaults": view.defaults, "loss_value": view.loss_value,
            "intermediate_nodes": [asdict(n) for n in view.nodes if n.op is not None],
            "output": view.output,
            "parameters": steps,
            "op_counts": asdict(self.op_counts),
            "reused": [asdict(r) for r in self.reused],
            "agree": self.agree, "rtol": self.rtol, "atol": self.atol, "max_paths": self.max_paths,
            "order": self.order, "of": self.of, "first": self.first,
            "notes": view.notes, "warnings": view.warnings,
        } | ({"cost": self.cost.to_dict()} if self.cost is not None else {})


@dataclass
class Numbers:
    """A value: a number, a vector or a matrix (with the rows first over a batch). In full when it has at
    most FULL_ENTRIES entries, else summarised; its smallest and largest entry and its norm always."""

    shape: list[int]
    values: Any  # a number or nested lists (a non-finite entry is None); None when summarised
    min: float | None
    max: float | None
    norm: float | None  # sqrt of the sum of squares (Frobenius)


@dataclass
class TensorNode:
    """One node at the point: its shape, value and adjoint ∂loss/∂node (None where the sweep needs none)."""

    id: int
    name: str
    op: str | None
    role: str  # as explanation.NodeInfo's
    formula: str  # in its inputs' names: W1 @ x
    text: str
    shape: list[int]  # per row: [] a scalar, [3] a vector, [3, 2] a matrix
    batched: bool  # depends on the data rows (a row axis over a batch)
    value: Numbers
    adjoint: Numbers | None


@dataclass
class TensorEdge:
    """One edge: node `source` is input `position` of node `target`, and its vector-Jacobian product."""

    source: int
    target: int
    position: int
    vjp: str | None  # the VJP formula, G the target's adjoint: "G @ xᵀ"; None on an edge from a constant
    vjp_value: Numbers | None  # what G sends down at the point (in the source's shape); None with no adjoint
    local: str | None  # an elementwise operation's local derivative, "1 - a3**2"; None for a tensor operation
    local_value: Numbers | None


@dataclass
class TensorGraphView(Shown):
    """What `gradcli graph` shows for a model with vectors and matrices: one node per tensor operation."""

    model: str
    loss: str
    loss_formula: str
    target: str
    params: dict[str, Any]  # each parameter as written, in its shape (nested lists)
    shapes: dict[str, list[int]]  # every name's per-row shape
    gathered: dict[str, list[str]]  # a vector input -> the data columns it gathers
    point: dict[str, float]
    defaults: dict[str, Any]
    loss_value: float
    nodes: list[TensorNode]
    edges: list[TensorEdge]
    output: int
    prediction: int
    highlight: str | None = None
    highlight_nodes: list[int] = field(default_factory=list)
    highlight_edges: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    comparison: Any = None  # as GraphView's: both engines' gradients, when asked for
    # the model drawn neuron by neuron (a GraphView), when asked for and the --neurons rule allows
    neurons: Any = None

    def __repr__(self) -> str:
        shapes = [f"{name} {'x'.join(map(str, self.shapes.get(name, []))) or 'scalar'}" for name in self.params]
        return (f"TensorGraphView({clipped(self.model)}, {self.loss}, loss {brief(self.loss_value)}: "
                f"{len(self.nodes)} nodes, {len(self.edges)} edges; {listed(shapes)})")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(_without_extras(self))
        data["tensor"] = True
        data["edges"] = [{"from": e.source, "to": e.target, "position": e.position, "vjp": e.vjp,
                          "vjp_value": None if e.vjp_value is None else asdict(e.vjp_value), "local": e.local,
                          "local_value": None if e.local_value is None else asdict(e.local_value)}
                         for e in self.edges]
        data["highlight"] = None if self.highlight is None else {
            "param": self.highlight, "nodes": self.highlight_nodes, "edges": self.highlight_edges}
        del data["highlight_nodes"], data["highlight_edges"]
        return _with_extras(self, data)


@dataclass
class ForwardStep:
    """One node of the forward pass: at the point, and over the batch."""

    id: int
    name: str
    op: str
    formula: str  # W1 @ x
    text: str  # in the model's names
    shape: list[int]
    value: Numbers
    batch_name: str  # A1
    batch_formula: str  # X @ W1ᵀ
    batch_shape: str  # N x 3
    batch_value: Numbers


@dataclass
class BackwardStep:
    """One adjoint of the reverse sweep, as the sum of the VJPs that reach it: at the point and over the batch."""

    id: int
    node: str
    label: str  # δa1, or ∂loss/∂W1 for a parameter
    shape: list[int]
    formula: str  # δa2 (a sum passes its adjoint on); W2ᵀ @ δa4; δa1 @ xᵀ
    value: Numbers
    batch_label: str  # Δa1
    batch_formula: str  # Δa2; Δa4 ⊗ W2; Δa1ᵀ @ X
    batch_shape: str
    batch_value: Numbers
    chosen: bool  # a parameter asked for (--wrt)


@dataclass
class LayerGradient:
    """A chosen parameter as written: the matrix form's gradient entry by entry, against SymPy's."""

    param: str
    shape: list[int]
    entries: list[str]
    matrix_values: list[float]
    symbolic_values: list[float] | None  # None where SymPy was not used
    max_abs_diff: float | None
    agree: bool | None


@dataclass
class EntryCheck:
    """One entry followed through the scalar graph: the sum over paths against the matrix form's entry."""

    param: str  # W1[1,1]
    of: str  # W1
    matrix_value: float
    steps: ParamSteps  # the paths over the scalar graph (explanation.param_steps), checked against SymPy there
    graph_nodes: int  # nodes of the scalar graph
    symbolic: str | None  # SymPy's derivative of the written-out model; None where SymPy was not used
    symbolic_value: float | None
    agree: bool | None  # the path sum (or the sweep's adjoint, where paths were left out) = matrix_value
    symbolic_agree: bool | None

    def to_dict(self) -> dict[str, Any]:
        s = self.steps
        paths = [{k: v for k, v in asdict(p).items() if k != "edges"} for p in s.paths]
        return {"param": self.param, "of": self.of, "matrix_value": self.matrix_value, "path_sum": s.path_sum,
                "paths": paths, "paths_total": s.paths_total, "paths_left_out": s.paths_left_out,
                "adjoint": s.adjoint, "checked": s.checked, "agree": self.agree, "graph_nodes": self.graph_nodes,
                "symbolic": self.symbolic, "symbolic_value": self.symbolic_value,
                "symbolic_agree": self.symbolic_agree}


@dataclass
class MatrixCounts:
    """Arithmetic of the matrix sweep at one row, in the scalar explain's kinds, against the same sweep on
    the scalar graph and SymPy's derivatives each evaluated on its own (explanation.OpCounts)."""

    forward: dict[str, int]
    local: dict[str, int]  # the local derivatives of the elementwise operations, entry by entry
    reverse: dict[str, int]  # VJPs: matrix products, adjoint ⊙ local derivative, sums where paths meet
    multiply_adds: int  # the multiply-adds inside matrix products, forward and backward
    total: int
    scalar: Any = None  # explanation.OpCounts of the scalar graph (its symbolic part SymPy's); None without it
    symbolic: bool = False  # whether scalar's SymPy counts were made


@dataclass
class TensorExplanation(Shown):
    """What `gradcli explain` shows for a model with vectors and matrices."""

    view: TensorGraphView
    forward: list[ForwardStep]
    backward: list[BackwardStep]
    rows: int  # N, the batch's rows
    entry: EntryCheck | None
    gradients: list[LayerGradient]
    op_counts: MatrixCounts
    agree: bool | None
    rtol: float
    atol: float
    max_paths: int
    chosen: list[str]  # the entries asked for
    batch_leaves: dict[str, str] = field(default_factory=dict)  # the data over the batch: X -> "N x 2"
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        view = self.view
        grads = [f"∂{g.param} {'x'.join(map(str, g.shape)) or 'scalar'}" for g in self.gradients]
        return (f"TensorExplanation({clipped(view.model)}, {view.loss}, loss {brief(view.loss_value)}: "
                f"{self.rows:,} rows, {len(self.forward)} forward and {len(self.backward)} backward steps; "
                f"{listed(grads, 3)}; {verdict_word(self.agree)})")

    def to_dict(self) -> dict[str, Any]:
        view = self.view
        counts = asdict(self.op_counts)
        scalar = counts.pop("scalar")
        made = counts.pop("symbolic")
        return {
            "model": view.model, "loss": view.loss, "loss_formula": view.loss_formula, "target": view.target,
            "tensor": True, "params": view.params, "shapes": view.shapes, "gathered": view.gathered,
            "point": view.point,
            "defaults": view.defaults, "loss_value": view.loss_value, "rows": self.rows,
            "batch_leaves": self.batch_leaves, "forward": [asdict(s) for s in self.forward],
            "backward": [asdict(s) for s in self.backward],
            "output": view.output, "entry": None if self.entry is None else self.entry.to_dict(),
            "gradients": [asdict(g) for g in self.gradients],
            "op_counts": {"matrix": counts,
                          "scalar_graph": None if scalar is None else {
                              k: scalar[k] for k in ("forward", "local_derivatives", "local", "reverse",
                                                     "backprop_total")},
                          "symbolic": scalar["symbolic"] if scalar and made else None,
                          "symbolic_per_param": scalar["symbolic_per_param"] if scalar and made else None,
                          "symbolic_total": scalar["symbolic_total"] if scalar and made else None},
            "agree": self.agree, "rtol": self.rtol, "atol": self.atol, "max_paths": self.max_paths,
            "notes": self.notes + view.notes, "warnings": view.warnings,
        }
