/* beaconguard first-party beacon: page views the server did not see, and custom events.
   <script src="/_bg/b.js" defer></script>; events: bg("signup", {plan: "pro"}). */
(function (w, d, n) {
  var s = d.currentScript, url = (s && s.getAttribute("data-endpoint")) || "/_bg/e";
  var last = location.href;
  function send(ref, e, p) {
    var b = JSON.stringify({u: location.href, r: ref || null, e: e, p: p});
    try {
      if (n.sendBeacon && n.sendBeacon(url, new Blob([b], {type: "application/json"}))) return;
    } catch (x) {}
    if (w.fetch) fetch(url, {method: "POST", body: b, keepalive: true, credentials: "omit",
      headers: {"Content-Type": "application/json"}}).catch(function () {});
  }
  // The server marks the HTML responses it counted itself (Server-Timing: bg): a page load
  // is never counted twice.
  function counted() {
    try {
      return performance.getEntriesByType("navigation")[0].serverTiming.some(
        function (t) { return t.name === "bg"; });
    } catch (x) { return false; }
  }
  function nav() {
    if (location.href === last) return;
    var ref = last;
    last = location.href;
    send(ref);
  }
  var h = w.history, push = h.pushState;
  h.pushState = function () { push.apply(h, arguments); nav(); };
  w.addEventListener("popstate", nav);
  if (!counted()) send(d.referrer);
  w.bg = function (e, p) { send(d.referrer, String(e), p); };
})(window, document, navigator);
