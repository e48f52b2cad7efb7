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

import gradcli
from gradcli.views.page import page_html

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

ACCESSIBLE = """
const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id);
return {twice: ids.filter((id, k) => ids.indexOf(id) !== k),
        unnamed: Array.from(document.querySelectorAll('#graph svg')).filter(svg => svg.getAttribute('role') !== 'img'
            || !(svg.getAttribute('aria-labelledby') || '').trim()
            || svg.getAttribute('aria-labelledby').trim().split(/ +/).some(id => !document.getElementById(id)))
            .map(svg => svg.outerHTML.slice(0, 120)),
        untitled: document.querySelectorAll('#graph g.node:not(:has(> title))').length};
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


# Each node's data-shown, what #step-status says and how far the window is scrolled, in one round trip
# (stepping is most of the time here).
SHOWN = f"""
return [Array.from({ROOT}.querySelectorAll('g.node')).map(g => [Number(g.dataset.id), g.getAttribute('data-shown')]),
        document.querySelector('#step-status').textContent, window.scrollY];
"""


def step(browser, how: str) -> tuple[dict[int, str | None], str]:
    """One step (a button's CSS selector, or a key's name), then each node's data-shown and the status.

    The window must not scroll: the learner keeps the drawing and the buttons in sight while stepping."""
    if how.startswith("#"):
        click(browser, how)
    else:
        press(browser, how)
    shown, status, scrolled = browser.execute_script(SHOWN)
    assert scrolled == 0, f"the step ({how}: {status.strip()!r}) scrolled the window by {scrolled} px"
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
def test_the_page_draws_every_node_and_edge_of_the_graph_names_them_and_loads_nothing_from_elsewhere(
        browser, pages, name):
    graph = pages.graph(name)
    browser.get(pages.url(name))
    drawn = nodes(browser)
    assert sorted(drawn) == sorted(node["id"] for node in graph["nodes"])
    assert {i: node["name"] for i, node in drawn.items()} == {node["id"]: node["name"] for node in graph["nodes"]}
    assert sorted((e["edge"], e["source"], e["target"], e["position"]) for e in edges(browser)) == [
        (k, e["from"], e["to"], e["position"]) for k, e in enumerate(graph["edges"])]
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(("file:", "data:", "blob:")) for url in loaded), loaded
    # For a screen reader: ids unique, each drawing names its title and description, each node has its title.
    assert browser.execute_script(ACCESSIBLE) == {"twice": [], "unnamed": [], "untitled": 0}


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
    # and the line of the last step is in sight in the list of steps, scrolled within itself
    assert browser.execute_script("""const list = document.getElementById('steps').getBoundingClientRect();
        const line = document.querySelector('#steps li[aria-current="step"]').getBoundingClientRect();
        return line.top >= list.top && line.bottom <= list.bottom;""")
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


# Each parameter clicked, its paths by hand. The note (b + w1*x1 + w2*x2 at x1=1.5, x2=2, y=1; b=0.5, w1=2,
# w2=-1): yhat = 1.5, a3 = yhat - y = 0.5, ∂loss/∂a3 = 2*a3 = 1, one path to w1 ending in ∂a1/∂w1 = x1 = 1.5.
# The explain page (w*x1 + w**2 at x1=2, y=1; w=0.7): yhat = 1.4 + 0.49 = 1.89, ∂loss/∂a3 = 2*0.89 = 1.78,
# and two paths to w, through w*x1 (∂/∂w = x1 = 2) and w**2 (∂/∂w = 2*w = 1.4): 3.56 + 2.492 = 6.052.
CLICKED = [
    ("note", "w1", ["∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w1 = 1 × 1 × 1 × 1.5 = 1.5"], "1.5"),
    ("steps", "w", ["∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w = 1.78 × 1 × 1 × 2 = 3.56",
                    "∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a2 × ∂a2/∂w = 1.78 × 1 × 1 × 1.4 = 2.492"], "6.052"),
]


@pytest.mark.parametrize(("name", "param", "paths", "gradient"), CLICKED)
def test_clicking_a_parameter_marks_exactly_its_paths_whose_sum_is_the_gradient_both_engines_agree_on(
        browser, pages, name, param, paths, gradient):
    marked = pages.graph(name, "--highlight", param)["highlight"]
    browser.get(pages.url(name))
    assert on_path(browser) == ([], [])
    click(browser, f'#graph g.node[data-name="{param}"]')
    assert on_path(browser) == (sorted(marked["nodes"]), sorted(marked["edges"]))
    shown = text(browser, "#paths").splitlines()  # the text shown: only this parameter's paths are
    assert [line for line in shown if line.startswith("∂loss/∂a3 × ")] == paths, shown
    assert text(browser, "#path-sum").endswith(f"= {gradient}")
    row = {cell: text(browser, f'#gradients tr[data-param="{param}"] td.{cell}') for cell in ("symbolic", "backprop")}
    assert row == {"symbolic": gradient, "backprop": gradient}
    verdict = text(browser, f'#gradients tr[data-param="{param}"] td.verdict')
    assert "agree" in verdict and "disagree" not in verdict, verdict


def test_a_parameters_button_in_the_table_marks_its_paths_instead(browser, pages):
    marked = {param: pages.graph("note", "--highlight", param)["highlight"] for param in ("w1", "w2")}
    browser.get(pages.url("note"))
    click(browser, '#gradients button.param[data-param="w2"]')
    assert on_path(browser) == (sorted(marked["w2"]["nodes"]), sorted(marked["w2"]["edges"]))
    assert text(browser, "#path-sum").endswith("= 2")  # ∂loss/∂a2 × ∂a2/∂w2 = 1 × x2
    click(browser, '#gradients button.param[data-param="w1"]')
    assert on_path(browser) == (sorted(marked["w1"]["nodes"]), sorted(marked["w1"]["edges"]))
    assert text(browser, "#path-sum").endswith("= 1.5")


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
    assert all(e["number"] is not False for e in scripts_off.execute_script(LOCALS))  # every edge's number too
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


def test_the_iframe_safe_page_steps_and_marks_paths_inside_a_notebooks_sandboxed_iframe(browser, pages):
    """page_html(iframe_safe=True), as a notebook shows it: an <iframe srcdoc sandbox="allow-scripts"> in a
    page of its own; its script runs in there, apart from the notebook's page."""
    view = gradcli.graph("b+w1*x1+w2*x2", data={"x1": [1.5], "x2": [2], "y": [1]},
                         params={"b": 0.5, "w1": 2, "w2": -1}, compare=True)
    notebook = pages.folder / "notebook.html"
    notebook.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><p id="cell">a cell</p>'
                        f"{page_html(view, iframe_safe=True)}</body></html>", encoding="utf-8")
    browser.get(notebook.as_uri())
    try:
        assert browser.execute_script("return document.querySelectorAll('#graph, #step-next').length") == 0
        browser.switch_to.frame(browser.find_element("css selector", "iframe"))
        now, _ = step(browser, "#step-next")
        assert list(now.values()).count("value") == 1 and not any(shown == "adjoint" for shown in now.values())
        click(browser, '#graph g.node[data-name="w1"]')
        assert text(browser, "#path-sum").endswith("= 1.5")
    finally:
        browser.switch_to.default_content()


# The drawing's box on the screen, its loss node's, and how big its 11 px text is drawn.
FITS = """
const graph = document.querySelector('#graph'), svg = graph.querySelector('svg');
const box = r => [r.left, r.top, r.right, r.bottom];
const loss = svg.querySelector('g.node.role-loss');
return {window: [window.innerWidth, window.innerHeight], loss: box(loss.getBoundingClientRect()),
        nodes: Array.from(svg.querySelectorAll('g.node')).map(g => box(g.getBoundingClientRect())),
        svg: box(svg.getBoundingClientRect()), graph: box(graph.getBoundingClientRect()),
        scrolls: [graph.scrollWidth - graph.clientWidth, graph.scrollHeight - graph.clientHeight],
        scale: svg.getBoundingClientRect().height / svg.viewBox.baseVal.height};
"""


def inside(box: list[float], outer: list[float]) -> bool:
    """Box (left, top, right, bottom) within outer, give or take half a pixel of rounding."""
    return all(box[k] >= outer[k] - 0.5 for k in (0, 1)) and all(box[k] <= outer[k] + 0.5 for k in (2, 3))


def test_the_whole_drawing_loss_included_is_seen_at_1280x800_when_the_page_opens_and_stays_legible(browser, pages):
    """The note's drawing is taller than the window below the title (743 px drawn at 100%): it is shrunk to fit,
    not cut by its box nor left below the fold, and its text (11 px) is still drawn at 9 px or more."""
    # the viewport itself 1280x800, as docs/screenshots.py takes it (the window of that size has less room inside)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        browser.get(pages.url("note"))
        seen = browser.execute_script(FITS)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    screen = [0, 0, *seen["window"]]
    assert seen["window"] == [1280, 800], seen["window"]
    assert inside(seen["loss"], screen), seen
    assert all(inside(node, screen) for node in seen["nodes"]), seen
    assert inside(seen["svg"], seen["graph"]) and seen["scrolls"] == [0, 0], seen  # nothing cut off in its box
    assert 11 * seen["scale"] >= 9, seen


# Per edge of the drawing: its target, whether its formula and its number (if it has one) are seen.
LOCALS = f"""
const seen = {VISIBLE};
return Array.from({ROOT}.querySelectorAll('g.edge')).filter(g => g.querySelector('text.local')).map(g => ({{
    edge: Number(g.dataset.edge), target: Number(g.dataset.target),
    formula: seen(g.querySelector('text.local')),
    number: g.querySelector('tspan.number') ? seen(g.querySelector('tspan.number')) : null}}));
"""


def test_an_edges_number_appears_when_the_backward_sweep_reaches_the_node_it_feeds_not_before(browser, pages):
    """∂a1/∂w1 = x1 = 1.5: its formula is seen from the start, its number 1.5 only from a1's backward step on (the
    sweep computes the local derivatives of a node's inputs when it reaches the node). ∂yhat/∂b = 1 has no
    number apart from its formula."""
    browser.get(pages.url("note"))
    numbered = {e["edge"] for e in browser.execute_script(LOCALS) if e["number"] is not None}
    graph = pages.graph("note")
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    # a local derivative whose formula is not a constant: x1, w1, x2, w2 into a1 and a2, and 2*a3 into the loss
    assert sorted((names[e["from"]], names[e["to"]]) for k, e in enumerate(graph["edges"]) if k in numbered) == [
        ("a3", "loss"), ("w1", "a1"), ("w2", "a2"), ("x1", "a1"), ("x2", "a2")]
    shown: dict[int, str | None] = {}
    for k in range(len(graph["nodes"]) * 2 + 1):
        if k:
            shown, _ = step(browser, "#step-next")
        locals_ = browser.execute_script(LOCALS)
        assert all(e["formula"] for e in locals_), locals_
        assert {e["edge"] for e in locals_ if e["number"]} == {
            e["edge"] for e in locals_ if e["number"] is not None and shown.get(e["target"]) == "adjoint"}, (k, locals_)
    assert all(e["number"] is not False for e in browser.execute_script(LOCALS))  # after the sweep: every number
    step(browser, "#step-reset")
    assert not any(e["number"] for e in browser.execute_script(LOCALS))


MARKS = f"""
const marks = g => ['on-path', 'current', 'highlight'].filter(c => g.classList.contains(c));
return Array.from({ROOT}.querySelectorAll('g.node')).map(g => [g.dataset.name, marks(g),
    g.getAttribute('aria-current'), (g.querySelector('text.current-mark') || {{}}).textContent || '',
    getComputedStyle(g.querySelector('rect.shape')).strokeDasharray]);
"""


def test_the_steps_node_is_marked_apart_from_a_parameters_paths_and_unmarked_when_one_is_clicked(browser, pages):
    """After the sweep b (its last step) is marked as the step's: class current, aria-current, "▶ this step", a
    solid border; clicking w1 marks its paths (dashed) and nothing else: b is no longer marked."""
    browser.get(pages.url("note"))
    browser.execute_script("for (let k = 0; k < 100; k++) document.getElementById('step-next').click();")
    marks = {name: rest for name, *rest in browser.execute_script(MARKS)}
    assert marks["b"][:3] == [["current"], "step", "▶ this step"] and marks["b"][3] == "none", marks["b"]
    assert [name for name, rest in marks.items() if rest[0] or rest[1] or rest[2]] == ["b"], marks
    click(browser, '#graph g.node[data-name="w1"]')
    marks = {name: rest for name, *rest in browser.execute_script(MARKS)}
    path = {node["name"] for node in pages.graph("note", "--highlight", "w1")["nodes"]
            if node["id"] in pages.graph("note", "--highlight", "w1")["highlight"]["nodes"]}
    assert {name for name, rest in marks.items() if rest[0]} == path and "b" not in path, marks
    assert all(rest[0] == ["on-path"] and rest[1] is None and not rest[2] and rest[3] != "none"
               for name, rest in marks.items() if name in path), marks
    assert not any(rest[1] or rest[2] for rest in marks.values()), marks


def test_a_long_model_wraps_instead_of_scrolling_the_page_sideways_and_its_warning_is_seen(browser, pages):
    """83 characters of model with no space: the title wraps at 1280 px (it made the page 1,349 px wide); the
    kink's warning (stderr) is on the page, where the reader sees it."""
    browser.get(pages.url("long"))
    seen = browser.execute_script(f"""
        const warnings = document.getElementById('warnings');
        return {{page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
                 title: document.querySelector('h1').scrollWidth <= document.querySelector('h1').clientWidth,
                 warned: {VISIBLE}(warnings) ? warnings.textContent : null,
                 svg: Array.from(document.querySelectorAll('#graph text.warning')).map(t => t.textContent)}};""")
    assert seen["page"] <= seen["window"] and seen["title"], seen
    assert seen["warned"] and "relu(b) is at its kink" in seen["warned"], seen
    assert seen["svg"] and seen["svg"][0].startswith("warning: relu(b) is at its kink"), seen
