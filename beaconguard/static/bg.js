/* beaconguard beacon; usage in beaconguard/beacon/endpoints.py */
(function (w, d, n) {
  var s = d.currentScript, m = s && /^(.*)\/b\.js(\?.*)?$/.exec(s.src);
  // beside the script that beaconguard served (so under any root path), unless told
  var base = (s && s.getAttribute("data-endpoint")) || (m ? m[1] : "/_bg");
  var a = d.createElement("a");
  a.href = base;
  var same = a.origin === location.origin, last = location.href;
  function send(ref, e, p) {
    if (!same) {  // a pixel needs no CORS
      var q = "u=" + encodeURIComponent(location.href) + "&r=" + encodeURIComponent(ref || "");
      new Image().src = base + "/b.gif?" + q + (e ? "&e=" + encodeURIComponent(e) : "");
      return;
    }
    var b = JSON.stringify({u: location.href, r: ref || null, e: e, p: p});
    try {
      if (n.sendBeacon(base + "/e", new Blob([b], {type: "application/json"}))) return;
    } catch (x) {}
    if (w.fetch) fetch(base + "/e", {method: "POST", body: b, keepalive: true,
      credentials: "omit", headers: {"Content-Type": "application/json"}})["catch"](Object);
  }
  // Server-Timing: bg marks a page load the server counted
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
  // a prerendered page is counted when it is shown, not when it is prepared
  function load() { if (!counted()) send(d.referrer); }
  if (d.prerendering) d.addEventListener("prerenderingchange", load, {once: true});
  else load();
  w.bg = function (e, p) { send(d.referrer, String(e), p); };
})(window, document, navigator);
