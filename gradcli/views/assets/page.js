// gradcli's page: step through the forward pass and the backward sweep, click a parameter to see its paths.
// Hand-written, no library, no network. The facts come from the JSON in #gradcli-data; the picture is the
// inline SVG (g.node#node-ID, g.edge#edge-K), the panels are in the page already.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var source = document.getElementById("gradcli-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var steps = data.steps;
  var at = 0;  // how many steps are done
  var stepped = document.querySelector(".stepped");
  var status = document.getElementById("step-status");
  var items = document.querySelectorAll("#steps li");

  function node(id) { return stepped ? stepped.querySelector('[id="node-' + id + '"]') : null; }
  function edge(k) { return stepped ? stepped.querySelector('[id="edge-' + k + '"]') : null; }

  // The step at which each edge's local derivative is computed, its number shown: the backward step of the
  // node it feeds (that node's adjoint times it goes to the edge's source), else that node's forward step.
  var edgeStep = data.edges.map(function (e) {
    var k, found = -1;
    for (k = 0; k < steps.length; k++) {
      if (steps[k].node === e.target && (steps[k].phase === "backward" || found < 0)) { found = k; }
    }
    return found;
  });

  // The step's node: class current, aria-current and the words "▶ this step" above it; unmarked() clears them.
  function unmarked() {
    var all = stepped ? stepped.querySelectorAll("g.node.current") : [];
    for (var i = 0; i < all.length; i++) {
      all[i].classList.remove("current");
      all[i].removeAttribute("aria-current");
      var mark = all[i].querySelector("text.current-mark");
      if (mark) { mark.parentNode.removeChild(mark); }
    }
  }

  function marked(g) {
    var shape = g.querySelector(".shape");
    g.classList.add("current");
    g.setAttribute("aria-current", "step");
    if (!shape) { return; }
    var mark = document.createElementNS(g.namespaceURI, "text");  // the SVG namespace, no address written
    mark.setAttribute("class", "current-mark");
    mark.setAttribute("x", shape.getAttribute("x"));
    mark.setAttribute("y", String(Number(shape.getAttribute("y")) - 4));
    mark.textContent = "▶ this step";
    g.appendChild(mark);
  }

  function show() {
    var all = stepped ? stepped.querySelectorAll("g.node") : [];
    var i;
    unmarked();
    for (i = 0; i < all.length; i++) { all[i].removeAttribute("data-shown"); }
    for (i = 0; i < at; i++) {
      var g = node(steps[i].node);
      if (g) { g.setAttribute("data-shown", steps[i].phase === "forward" ? "value" : "adjoint"); }
    }
    for (i = 0; i < edgeStep.length; i++) {
      var e = edge(i);
      if (!e) { continue; }
      if (edgeStep[i] >= 0 && edgeStep[i] < at) { e.setAttribute("data-shown", "local"); } else { e.removeAttribute("data-shown"); }
    }
    for (i = 0; i < items.length; i++) {
      items[i].classList.toggle("future", i >= at);
      items[i].classList.toggle("current", i === at - 1);
      if (i === at - 1) { items[i].setAttribute("aria-current", "step"); } else { items[i].removeAttribute("aria-current"); }
    }
    if (at > 0) {
      var current = node(steps[at - 1].node);
      if (current) { marked(current); }
      keepInList(items[at - 1]);
      status.textContent = "Step " + at + " of " + steps.length + ", " + steps[at - 1].phase + ": " + steps[at - 1].text;
    } else {
      status.textContent = "Step 0 of " + steps.length + ": press Next (or →) to start the forward pass. " +
        "An edge's number appears when the backward sweep reaches the node it feeds.";
    }
    document.getElementById("step-prev").disabled = at === 0;
    document.getElementById("step-next").disabled = at === steps.length;
  }

  // The current step's line kept in sight inside its own scrolling list. (scrollIntoView would scroll the
  // window too, and the drawing and the buttons would leave the screen while the learner steps.)
  function keepInList(item) {
    var list = document.getElementById("steps");
    if (!list || !item) { return; }
    var top = item.offsetTop, bottom = top + item.offsetHeight;
    if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
      list.scrollTop = top - list.clientHeight / 2;
    }
  }

  function go(to) { at = Math.max(0, Math.min(steps.length, to)); show(); }

  function choose(name) {
    var facts = data.params[name];
    if (!facts) { return; }
    var before = document.querySelectorAll(".on-path");
    var i;
    unmarked();  // the paths alone are marked now: no step's node beside them (Next marks the next step again)
    for (i = 0; i < before.length; i++) { before[i].classList.remove("on-path"); }
    for (i = 0; i < facts.nodes.length; i++) { var g = node(facts.nodes[i]); if (g) { g.classList.add("on-path"); } }
    for (i = 0; i < facts.edges.length; i++) { var e = edge(facts.edges[i]); if (e) { e.classList.add("on-path"); } }
    var sections = document.querySelectorAll("#paths .param-paths");
    for (i = 0; i < sections.length; i++) {
      var mine = sections[i].getAttribute("data-param") === name;
      sections[i].hidden = !mine;
      sections[i].classList.toggle("selected", mine);
    }
    var rows = document.querySelectorAll("#gradients tr[data-param]");
    for (i = 0; i < rows.length; i++) { rows[i].classList.toggle("selected", rows[i].getAttribute("data-param") === name); }
    var buttons = document.querySelectorAll("button.param");
    for (i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", buttons[i].getAttribute("data-param") === name ? "true" : "false");
    }
    document.getElementById("path-sum").textContent = facts.sum;
    status.textContent = "Paths of " + name + " marked: " + facts.sum;
  }

  document.getElementById("step-next").addEventListener("click", function () { go(at + 1); });
  document.getElementById("step-prev").addEventListener("click", function () { go(at - 1); });
  document.getElementById("step-reset").addEventListener("click", function () { go(0); });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    if (event.key === "ArrowRight") { go(at + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { go(at - 1); event.preventDefault(); }
  });

  var buttons = document.querySelectorAll("button.param");
  var i;
  for (i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener("click", function (event) { choose(event.currentTarget.getAttribute("data-param")); });
  }
  Object.keys(data.params).forEach(function (name) {
    var g = node(data.params[name].node);
    if (!g) { return; }
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", "Show the paths from the loss to " + name);
    g.style.cursor = "pointer";
    g.addEventListener("click", function () { choose(name); });
    g.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { choose(name); event.preventDefault(); }
    });
  });
  var sections = document.querySelectorAll("#paths .param-paths");
  for (i = 0; i < sections.length; i++) { sections[i].hidden = true; }
  document.getElementById("path-sum").textContent = "Click a parameter (in the graph or the table) to mark its paths.";
  if (data.highlight && data.params[data.highlight]) { choose(data.highlight); }

  var toggle = document.getElementById("view-toggle");
  if (toggle) {
    var layers = document.getElementById("graph-layers");
    var neurons = document.getElementById("graph-neurons");
    neurons.hidden = true;
    toggle.addEventListener("click", function () {
      var toNeurons = neurons.hidden;
      neurons.hidden = !toNeurons;
      layers.hidden = toNeurons;
      toggle.setAttribute("aria-pressed", toNeurons ? "true" : "false");
      toggle.textContent = toNeurons ? "Show the layer-level graph" : "Show the neuron-level graph";
      status.textContent = toNeurons ? "Showing the graph neuron by neuron, every value shown."
        : "Showing the graph layer by layer.";
    });
  }
  show();
}());
