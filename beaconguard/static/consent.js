/* beaconguard tag activation: <script type="text/plain" data-consent="marketing" data-src="...">
   and <img|iframe data-consent="..." data-src="..."> stay inert until their category is
   granted, then load without a page reload. Listens for the "bg:consent" event. */
(function (d) {
  var me = d.currentScript, src = me && me.src || "";
  var endpoint = me && me.getAttribute("data-endpoint") ||
    src.replace(/\/static\/consent\.js(\?.*)?$/, "/consent") || "/_bg/consent";

  function activate(granted) {
    d.querySelectorAll('script[type="text/plain"][data-consent]').forEach(function (old) {
      if (!granted[old.getAttribute("data-consent")]) return;
      var s = d.createElement("script");
      for (var i = 0; i < old.attributes.length; i++) {
        var a = old.attributes[i];
        if (!/^(type|data-consent|data-src|data-type)$/.test(a.name)) s.setAttribute(a.name, a.value);
      }
      s.type = old.getAttribute("data-type") || "text/javascript";
      if (old.hasAttribute("data-src")) s.src = old.getAttribute("data-src");
      else s.text = old.text;
      old.parentNode.replaceChild(s, old);
    });
    d.querySelectorAll("[data-consent][data-src]:not(script)").forEach(function (el) {
      if (!granted[el.getAttribute("data-consent")]) return;
      el.src = el.getAttribute("data-src");
      el.removeAttribute("data-src");
    });
  }

  d.addEventListener("bg:consent", function (e) {
    window.bgConsent = e.detail;
    if (e.detail && e.detail.decisions) activate(e.detail.decisions);
  });

  fetch(endpoint, { credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (r) { return r.json(); })
    .then(function (state) {
      state.endpoint = endpoint;
      d.dispatchEvent(new CustomEvent("bg:consent", { detail: state }));
    })
    .catch(function () { /* no state: nothing is activated */ });
})(document);
