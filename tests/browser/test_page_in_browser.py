"""The HTML page (`gradcli graph|explain ... --format html`) in a real browser: headless Chromium loads each
sample page from a file:// path, and the tests read the live DOM as a learner would see it.

The DOM contract they rely on (views/page.py and views/svg.py keep it): `#graph` holds the SVG, each node a
`g.node` (data-id, data-name; `text.value`, `text.adjoint`), each edge a `g.edge` (data-edge, data-source,
data-target, data-position); buttons `#step-prev`, `#step-next`, `#step-reset` and the keys ← →; a node gets
data-shown="value" after its forward step and data-shown="adjoint" after its backward step; clicking a
parameter marks the nodes and edges on its paths `on-path`, lists them in `#paths` and their sum in
`#path-sum`; `#gradients` has a row `tr[data-param]` per parameter. A tensor model small enough for
`--neurons` has `#view-toggle` between `#graph-layers` and `#graph-neurons`.

Every test here ends with no error on the browser's console (the `browser` fixture checks it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# One worker runs them all (pyproject.toml: --dist loadgroup), so one Chromium starts, not one per worker.
pytestmark = pytest.mark.xdist_group("browser")

ALL_PAGES = ["note", "steps", "layer"]

# The layer-level drawing (a tensor page also holds the neuron-level one), else the only one.
ROOT = "(document.querySelector('#graph-layers') || document.querySelector('#graph'))"
VISIBLE = "(e => !!e && e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))"
# Per node of the drawing: its id, data-shown, and whether its value and adjoint texts are seen.
NODES = f"""
const seen = {VISIBLE};
return Array.from({ROOT}.querySelectorAll('g.node')).map(g => ({{
    id: Number(g.dataset.id), name: g.dataset.name, shown: g.getAttribute('data-shown'),
    value: seen(g.querySelector('text.value')), adjoint: seen(g.querySelector('text.adjoint')),
    value_text: (g.querySelector('text.value') || {{}}).textContent || '',
    adjoint_text: (g.querySelector('text.adjoint') || {{}}).textContent || '',
    on_path: g.classList.contains('on-path')}}));
"""
EDGES = f"""
return Array.from({ROOT}.querySelectorAll('g.edge')).map(g => ({{
    edge: Number(g.dataset.edge), source: Number(g.dataset.source), target: Number(g.dataset.target),
    position: Number(g.dataset.position), on_path: g.classList.contains('on-path')}}));
"""


def nodes(browser) -> dict[int, dict]:
    return {node["id"]: node for node in browser.execute_script(NODES)}


def edges(browser) -> list[dict]:
    return browser.execute_script(EDGES)


def text(browser, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector).text


def click(browser, selector: str) -> None:
    """A click of the mouse on the element (real input events; ~30 ms, where WebElement.click takes ~100)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    ActionChains(browser, duration=0).click(browser.find_element(By.CSS_SELECTOR, selector)).perform()


def press(browser, key: str) -> None:
    """A key pressed where the focus is, as a learner presses it (the page listens on the document)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser, duration=0).send_keys(getattr(Keys, key)).perform()


# Each node's data-shown and what #step-status says, in one round trip (stepping is most of the time here).
SHOWN = f"""
return [Array.from({ROOT}.querySelectorAll('g.node')).map(g => [Number(g.dataset.id), g.getAttribute('data-shown')]),
        document.querySelector('#step-status').textContent];
"""


def step(browser, how: str) -> tuple[dict[int, str | None], str]:
    """One step (a button's CSS selector, or a key's name), then each node's data-shown and the status."""
    if how.startswith("#"):
        click(browser, how)
    else:
        press(browser, how)
    shown, status = browser.execute_script(SHOWN)
    return dict(shown), status.strip()


def changed(before: dict[int, str | None], after: dict[int, str | None]) -> list[int]:
    return [i for i in after if after[i] != before[i]]


@pytest.fixture
def scripts_off(browser) -> Iterator:
    """The browser with JavaScript disabled (Chrome DevTools' emulation), enabled again afterwards."""
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        yield browser
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


@pytest.mark.parametrize("name", ALL_PAGES)
def test_the_page_draws_every_node_and_edge_of_the_graph_and_loads_nothing_from_elsewhere(browser, pages, name):
    graph = pages.graph(name)
    browser.get(pages.url(name))
    drawn = nodes(browser)
    assert sorted(drawn) == sorted(node["id"] for node in graph["nodes"])
    assert {i: node["name"] for i, node in drawn.items()} == {node["id"]: node["name"] for node in graph["nodes"]}
    assert sorted((e["edge"], e["source"], e["target"], e["position"]) for e in edges(browser)) == [
        (k, e["from"], e["to"], e["position"]) for k, e in enumerate(graph["edges"])]
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(("file:", "data:", "blob:")) for url in loaded), loaded


def forward_order_holds(order: list[int], graph: dict) -> None:
    """Every node comes after the nodes it reads: a topological order of the whole graph."""
    assert sorted(order) == sorted(node["id"] for node in graph["nodes"]), order
    place = {node: k for k, node in enumerate(order)}
    for edge in graph["edges"]:
        assert place[edge["from"]] < place[edge["to"]], (edge, order)


def backward_order_holds(order: list[int], graph: dict) -> None:
    """Every node with an adjoint is swept, each after every node that uses it (reverse topological)."""
    needed = {node["id"] for node in graph["nodes"] if node["adjoint"] is not None}
    assert needed <= set(order), (needed - set(order), order)
    assert len(order) == len(set(order)), order
    place = {node: k for k, node in enumerate(order)}
    for edge in graph["edges"]:
        if edge["from"] in place:
            assert place.get(edge["to"], len(order)) < place[edge["from"]], (edge, order)


@pytest.mark.parametrize("name", ALL_PAGES)
def test_stepping_reveals_every_value_then_every_adjoint_one_node_at_a_time_and_back(browser, pages, name):
    graph = pages.graph(name)
    browser.get(pages.url(name))
    assert "js" in browser.execute_script("return document.documentElement.className").split()
    start = nodes(browser)
    assert not any(node["shown"] or node["value"] or node["adjoint"] for node in start.values()), start
    shown = {i: None for i in start}
    forward, backward, said = [], [], {}
    # The forward pass with the button: one node's value per step, in topological order.
    for _ in graph["nodes"]:
        now, status = step(browser, "#step-next")
        (node,) = changed(shown, now)
        assert now[node] == "value", now
        forward.append(node)
        said[("forward", node)] = status
        shown = now
    forward_order_holds(forward, graph)
    assert all(node["value"] and not node["adjoint"] for node in nodes(browser).values())
    # The backward sweep with the → key, until a step reveals nothing more: one adjoint per step.
    for _ in range(len(graph["nodes"]) + 1):
        now, status = step(browser, "ARROW_RIGHT")
        if now == shown:
            break
        (node,) = changed(shown, now)
        assert now[node] == "adjoint", now
        backward.append(node)
        said[("backward", node)] = status
        shown = now
    backward_order_holds(backward, graph)
    seen = nodes(browser)
    for node in graph["nodes"]:
        assert seen[node["id"]]["value"], node
        if node["adjoint"] is not None:
            assert seen[node["id"]]["adjoint"], node
    assert all(said.values()), said  # every step is said in words too (#step-status, aria-live)
    # ← undoes the last step, the button the one before, and reset goes back to the start.
    now, _ = step(browser, "ARROW_LEFT")
    assert changed(shown, now) == [backward[-1]] and now[backward[-1]] == "value"
    now, _ = step(browser, "#step-prev")
    assert sorted(changed(shown, now)) == sorted(backward[-2:]) and now[backward[-2]] == "value"
    now, _ = step(browser, "#step-reset")
    assert not any(now.values()), now
    if name == "note":
        names = {node["name"]: node["id"] for node in graph["nodes"]}
        yhat = said[("forward", names["yhat"])]
        assert "yhat = b + a1 + a2 = " in yhat and yhat.endswith(" = 1.5"), yhat
        assert "∂loss/∂a1 = Σ (∂loss/∂yhat × ∂yhat/∂a1) = 1 × 1 = 1" in said[("backward", names["a1"])]
        assert "∂loss/∂w1 = Σ (∂loss/∂a1 × ∂a1/∂w1) = 1 × 1.5 = 1.5" in said[("backward", names["w1"])]


def on_path(browser) -> tuple[list[int], list[int]]:
    return (sorted(i for i, node in nodes(browser).items() if node["on_path"]),
            sorted(e["edge"] for e in edges(browser) if e["on_path"]))


def test_clicking_w1_marks_exactly_its_path_and_its_sum_is_the_gradient_both_engines_agree_on(browser, pages):
    marked = {param: pages.graph("note", "--highlight", param)["highlight"] for param in ("w1", "w2")}
    browser.get(pages.url("note"))
    assert on_path(browser) == ([], [])
    click(browser, '#graph g.node[data-name="w1"]')
    assert on_path(browser) == (sorted(marked["w1"]["nodes"]), sorted(marked["w1"]["edges"]))
    # w1's one path, loss -> a3 -> yhat -> a1 -> w1, its local derivatives 2*a3, 1, 1 and x1
    paths = text(browser, "#paths")  # the text shown: only w1's paths are
    assert "∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w1 = 1 × 1 × 1 × 1.5 = 1.5" in paths, paths
    assert "∂loss/∂w2" not in paths and "∂a1/∂w1" in paths, paths
    assert text(browser, "#path-sum").endswith("= 1.5")
    row = {cell: text(browser, f'#gradients tr[data-param="w1"] td.{cell}') for cell in ("symbolic", "backprop")}
    assert row == {"symbolic": "1.5", "backprop": "1.5"}
    verdict = text(browser, '#gradients tr[data-param="w1"] td.verdict')
    assert "agree" in verdict and "disagree" not in verdict, verdict
    # The row's button marks another parameter's paths instead: w2's gradient is 2.
    click(browser, '#gradients button.param[data-param="w2"]')
    assert on_path(browser) == (sorted(marked["w2"]["nodes"]), sorted(marked["w2"]["edges"]))
    assert text(browser, "#path-sum").endswith("= 2")


@pytest.mark.parametrize("name", ALL_PAGES)
def test_without_javascript_the_page_is_a_picture_with_every_value_and_adjoint(scripts_off, pages, name):
    graph = pages.graph(name)
    scripts_off.get(pages.url(name))
    assert "js" not in scripts_off.execute_script("return document.documentElement.className").split()
    seen = nodes(scripts_off)
    for node in graph["nodes"]:
        assert seen[node["id"]]["value"] and seen[node["id"]]["value_text"].strip(), node
        if node["adjoint"] is not None:
            assert seen[node["id"]]["adjoint"] and seen[node["id"]]["adjoint_text"].strip(), node
    if name == "note":
        w1 = next(node for node in seen.values() if node["name"] == "w1")
        assert w1["value_text"].strip().endswith("value 2") and w1["adjoint_text"].strip() == "∂loss/∂w1 = 1.5", w1
    size = scripts_off.execute_script(f"const r = {ROOT}.querySelector('svg').getBoundingClientRect();"
                                      "return [r.width, r.height];")
    assert min(size) > 100, size


def test_a_small_tensor_model_toggles_between_its_layers_and_its_neurons(browser, pages):
    neurons = pages.graph("layer", "--neurons")
    browser.get(pages.url("layer"))
    visible = f"return ['#graph-layers', '#graph-neurons'].map(s => {VISIBLE}(document.querySelector(s)))"
    assert browser.execute_script(visible) == [True, False]
    click(browser, "#view-toggle")
    assert browser.execute_script(visible) == [False, True]
    counted = browser.execute_script("const g = document.querySelector('#graph-neurons');"
                                     "return ['g.node', 'g.edge'].map(s => g.querySelectorAll(s).length)")
    assert counted == [len(neurons["nodes"]), len(neurons["edges"])]
    click(browser, "#view-toggle")
    assert browser.execute_script(visible) == [True, False]
