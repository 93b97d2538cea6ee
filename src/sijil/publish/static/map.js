// Draws the incident map from data/map.json as an SVG with a link per place.
// Our own few lines instead of a map library; no tile server. Where the data
// cannot be loaded (a page opened from file://), the static image stays.
"use strict";
(function () {
  var figure = document.getElementById("map");
  if (!figure || !window.fetch) { return; }
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  fetch(figure.getAttribute("data-src")).then(function (r) {
    if (!r.ok) { throw new Error("map data " + r.status); }
    return r.json();
  }).then(function (data) {
    var svg = el("svg", { viewBox: "0 0 " + data.width + " " + data.height, role: "img" });
    svg.appendChild(el("path", { d: data.outline, "class": "outline" }));
    data.points.forEach(function (p) {
      var codes = p[3];
      var link = el("a", { href: "incident/" + codes[0] + ".html" });
      var dot = el("circle", { cx: p[0], cy: p[1], r: p[2], "class": "point" });
      var title = document.createElementNS(NS, "title");
      title.textContent = codes.slice(0, 12).join(" · ") + (codes.length > 12 ? " …" : "");
      dot.appendChild(title);
      link.appendChild(dot);
      svg.appendChild(link);
    });
    var img = figure.querySelector("img");
    figure.replaceChild(svg, img);
    figure.setAttribute("data-drawn", String(data.points.length));
  }).catch(function () { figure.setAttribute("data-drawn", "static"); });
})();
