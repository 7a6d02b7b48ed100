/*
 * Progressive enhancement: turns a [data-map] element into a Leaflet map.
 * The page already lists the same cities and labs in a table, so the map is
 * an extra. Without background tiles (blocked, offline, or none configured)
 * the outlines and points still show on a plain background.
 */
(function () {
  "use strict";
  if (!window.L) { return; }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function sensorPopup(props, labels) {
    var html = "<strong>" + escapeHtml(props.name) + "</strong><dl class=\"stadslab-popup\">";
    function row(label, value) {
      html += "<dt>" + escapeHtml(label) + "</dt><dd>" + escapeHtml(value || labels.unknown || "") + "</dd>";
    }
    row(labels.purpose, props.purpose);
    row(labels.owner, props.owner);
    row(labels.personal, props.personal ? labels.yes : labels.no);
    row(labels.legal_ground, props.legal_ground);
    row(labels.retention, props.retention);
    html += "</dl>";
    if (props.privacy_url && /^https?:\/\//.test(props.privacy_url)) {
      html += '<a href="' + escapeHtml(props.privacy_url) + '" rel="noopener">' + escapeHtml(labels.privacy) + "</a><br>";
    }
    html += '<a href="' + escapeHtml(props.url) + '">' + escapeHtml(labels.open) + "</a>";
    return html;
  }

  function popup(props, labels) {
    if (props.kind === "sensor") { return sensorPopup(props, labels); }
    if (props.kind === "asset" || props.kind === "coverage") {
      var text = "<strong>" + escapeHtml(props.name) + "</strong><br>" + escapeHtml(props.summary || "");
      if (props.url) { text += '<br><a href="' + escapeHtml(props.url) + '">' + escapeHtml(labels.open) + "</a>"; }
      return text;
    }
    var html = "<strong>" + escapeHtml(props.name) + "</strong>";
    if (props.kind === "lab") {
      html += "<br>" + escapeHtml(labels.lab) + " · " + escapeHtml(props.city);
    } else {
      html += "<br>" + escapeHtml(labels.labs) + ": " + props.labs + " · " + escapeHtml(labels.projects) + ": " + props.projects;
    }
    html += '<br><a href="' + escapeHtml(props.url) + '">' + escapeHtml(labels.open) + "</a>";
    return html;
  }

  function draw(container) {
    var source = document.getElementById(container.getAttribute("data-map"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var labels = data.labels || {};
    container.hidden = false;
    var map = L.map(container, { scrollWheelZoom: false, zoomSnap: 0.25 });
    map.setView([52.2, 5.3], 7);

    var tiles = container.getAttribute("data-tiles");
    if (tiles) {
      var failed = false;
      var layer = L.tileLayer(tiles, { maxZoom: 19, attribution: container.getAttribute("data-attribution") || "" });
      layer.on("tileerror", function () {
        if (failed) { return; }
        failed = true;
        container.classList.add("stadslab-map--no-tiles");
        var note = L.control({ position: "bottomleft" });
        note.onAdd = function () {
          var div = L.DomUtil.create("div", "stadslab-map__notice");
          div.textContent = labels.tiles_failed || "";
          return div;
        };
        note.addTo(map);
      });
      layer.addTo(map);
    }

    var outlines = L.geoJSON(data, {
      filter: function (f) { return f.properties.kind === "city" || f.properties.kind === "coverage"; },
      style: function (f) {
        if (f.properties.kind === "coverage") {  // measured LoRaWAN coverage: darker with more gateways heard
          var n = Math.min(f.properties.gateways || 1, 4);
          return { color: "#1d6b3a", weight: 1, fillColor: "#1d6b3a", fillOpacity: 0.15 + 0.12 * n };
        }
        return { color: "#0b4f6c", weight: 2, fillColor: "#0b4f6c", fillOpacity: 0.12 };
      },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(escapeHtml(f.properties.name), { sticky: true });
        lyr.bindPopup(popup(f.properties, labels));
      }
    }).addTo(map);

    var points = L.geoJSON(data, {
      filter: function (f) {
        var kind = f.properties.kind;
        return kind === "lab" || kind === "city-point" || kind === "sensor" || kind === "asset";
      },
      pointToLayer: function (f, latlng) {
        if (f.properties.kind === "sensor") {
          // Sensors that process personal data are drawn as larger accent dots, the others as white dots.
          var personal = f.properties.personal;
          return L.circleMarker(latlng, {
            radius: personal ? 8 : 6, weight: 2, color: "#073a50", fillColor: personal ? "#ffc93c" : "#ffffff",
            fillOpacity: 1, className: "stadslab-marker-sensor" + (personal ? " stadslab-marker-personal" : "")
          });
        }
        if (f.properties.kind === "asset") {
          return L.circleMarker(latlng, { radius: 6, weight: 2, color: "#073a50", fillColor: "#ffffff", fillOpacity: 1,
                                          className: "stadslab-marker-asset" });
        }
        var lab = f.properties.kind === "lab";
        return L.circleMarker(latlng, {
          radius: lab ? 7 : 4, weight: 2, color: lab ? "#073a50" : "#0b4f6c",
          fillColor: lab ? "#ffc93c" : "#ffffff", fillOpacity: 1, className: lab ? "stadslab-marker-lab" : "stadslab-marker-city"
        });
      },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(escapeHtml(f.properties.name));
        lyr.bindPopup(popup(f.properties, labels));
      }
    }).addTo(map);

    var bounds = outlines.getBounds();
    if (points.getLayers().length) { bounds.extend(points.getBounds()); }
    // No animation: the first view is simply there (and "ready" means drawn, not halfway a zoom).
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 13, animate: false }); }
    container.setAttribute("data-map-ready", "true");
  }

  function init() {
    var containers = document.querySelectorAll("[data-map]");
    for (var i = 0; i < containers.length; i++) {
      try { draw(containers[i]); } catch (err) { containers[i].hidden = true; }
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
