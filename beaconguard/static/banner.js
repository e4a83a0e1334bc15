/* beaconguard consent banner: accept all, reject all, choose per category, reopen with any
   element carrying data-consent-open. No framework, no CDN. Needs consent.js on the page. */
(function (d) {
  var me = d.currentScript, base = (me && me.src || "").replace(/\/banner\.js(\?.*)?$/, "");
  var root, error, shown = false, current = null, opener = null;

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  function build(state) {
    var css = el("link", { rel: "stylesheet", href: base + "/banner.css" });
    d.head.appendChild(css);
    root = el("section", { id: "bg-banner", role: "dialog", "aria-labelledby": "bg-title",
                           "aria-describedby": "bg-text", hidden: "" });
    root.appendChild(el("h2", { id: "bg-title", tabindex: "-1" }, state.banner.title));
    root.appendChild(el("p", { id: "bg-text" }, state.banner.text));
    var form = el("form", { id: "bg-form" });
    var list = el("fieldset", { id: "bg-choices", hidden: "" });
    list.appendChild(el("legend", {}, "Choose per category"));
    state.categories.forEach(function (c) {
      var id = "bg-cat-" + c.name, row = el("div", { "class": "bg-row" });
      var box = el("input", { type: "checkbox", id: id, name: c.name });
      if (c.required) { box.checked = true; box.disabled = true; }
      row.appendChild(box);
      var label = el("label", { "for": id }, c.label);
      row.appendChild(label);
      row.appendChild(el("p", { "class": "bg-desc", id: id + "-desc" }, c.description));
      box.setAttribute("aria-describedby", id + "-desc");
      list.appendChild(row);
    });
    form.appendChild(list);
    var actions = el("div", { "class": "bg-actions" });
    var accept = el("button", { type: "button", id: "bg-accept" }, "Accept all");
    var reject = el("button", { type: "button", id: "bg-reject" }, "Reject all");
    var choose = el("button", { type: "button", id: "bg-choose", "aria-expanded": "false",
                                "aria-controls": "bg-choices" }, "Choose");
    var save = el("button", { type: "submit", id: "bg-save", hidden: "" }, "Save choices");
    [accept, reject, choose, save].forEach(function (b) { actions.appendChild(b); });
    form.appendChild(actions);
    error = el("p", { id: "bg-error", role: "alert", hidden: "" });
    form.appendChild(error);
    root.appendChild(form);
    d.body.appendChild(root);

    accept.onclick = function () { decide({ all: true }); };
    reject.onclick = function () { decide({ all: false }); };
    choose.onclick = function () {
      list.hidden = !list.hidden; save.hidden = list.hidden;
      choose.setAttribute("aria-expanded", String(!list.hidden));
    };
    form.onsubmit = function (e) {
      e.preventDefault();
      var body = {};
      state.categories.forEach(function (c) {
        if (!c.required) body[c.name] = d.getElementById("bg-cat-" + c.name).checked;
      });
      decide(body);
    };
    // Escape closes a reopened banner; the first one waits for an answer.
    d.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && shown && current.decided) hide();
    });
  }

  function show() {
    if (!root) return;
    state.categories.forEach(function (c) {
      if (!c.required) d.getElementById("bg-cat-" + c.name).checked = !!current.decisions[c.name];
    });
    error.hidden = true;
    if (!shown) opener = d.activeElement;
    root.hidden = false; shown = true;
    d.getElementById("bg-title").focus();
  }
  function hide() {
    root.hidden = true; shown = false;
    // Back to where the visitor was (the reopen link, say), if it is still there.
    if (opener && opener !== d.body && opener.focus && d.contains(opener)) opener.focus();
    opener = null;
  }

  function send(method, body) {
    return fetch(current.endpoint, {
      method: method, credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: body && JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }

  function decide(body) {
    var before = current.decisions, optional = state.categories.filter(function (c) {
      return !c.required;
    });
    var none = optional.every(function (c) { return !(body.all || body[c.name]); });
    var had = optional.some(function (c) { return before[c.name]; });
    // Rejecting everything once granted is "withdraw everything": DELETE expires every
    // optional cookie (and sends Clear-Site-Data if configured, which would also wipe a
    // cookie set in its own response), then the rejection is recorded.
    var first = none && had ? send("DELETE") : Promise.resolve();
    first.then(function () { return send("POST", body); }).then(function (next) {
      next.endpoint = current.endpoint;
      hide();
      var withdrawn = Object.keys(before).some(function (k) { return before[k] && !next.decisions[k]; });
      // A page's CSP cannot be widened in place, and a started script cannot be stopped.
      if (next.reload || withdrawn) { location.reload(); return; }
      d.dispatchEvent(new CustomEvent("bg:consent", { detail: next }));
    }).catch(function () {
      error.textContent = "Your choice could not be saved. Please try again.";
      error.hidden = false;
    });
  }

  var state;
  function receive(next) {
    current = next;
    if (!root) { state = current; build(current); }
    if (!current.decided && !shown) show();
  }
  d.addEventListener("bg:consent", function (e) { receive(e.detail); });
  // consent.js may have had its answer before this deferred script ran (a slow download
  // of this file lets the event loop deliver the fetch first): pick up what it kept.
  if (window.bgConsent) receive(window.bgConsent);
  d.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest("[data-consent-open]");
    if (t && root) { e.preventDefault(); show(); }
  });
})(document);
