// eo view: the map page.  Loads /_eo/map.json, shows one raster layer (variable x period) tiled by
// the server, vector overlays (scene footprints, tile grid by status, area), a graticule, a colour
// bar in physical units, and the values (time series) under a click.
/* global L */
"use strict";

(function () {
  const STATUS_COLOURS = { done: "#1a9850", skipped: "#66bd63", failed: "#d73027", empty: "#9e9e9e" };
  const state = { doc: null, variable: null, period: 0, layer: null, opacity: 1 };
  const tileEvents = { requested: 0, loaded: 0, errors: 0 };
  const eoView = { state, tileEvents, ready: false };
  window.eoView = eoView;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");

  function fmt(v) {
    if (v === null || v === undefined) return "no data";
    if (Array.isArray(v)) return v.map(fmt).join(", ");
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(6)));
  }

  function units(u) {
    return u && u !== "1" ? " " + u : "";
  }

  function variable() {
    return state.doc.variables.find((v) => v.name === state.variable);
  }

  // --- graticule: lines of latitude and longitude at a round step, redrawn as the map moves ---
  function graticule(map) {
    const group = L.layerGroup();
    const steps = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
    function draw() {
      group.clearLayers();
      const b = map.getBounds();
      const span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth());
      const step = steps.find((s) => span / s >= 3) || steps[steps.length - 1];
      const line = { color: "#b8b8b0", weight: 1, interactive: false };
      const w = Math.max(-180, b.getWest()), e = Math.min(180, b.getEast());
      const s = Math.max(-85, b.getSouth()), n = Math.min(85, b.getNorth());
      const digits = Math.max(0, -Math.floor(Math.log10(step)));
      for (let x = Math.ceil(w / step) * step; x <= e; x += step) {
        group.addLayer(L.polyline([[s, x], [n, x]], line));
        group.addLayer(L.marker([n, x], { interactive: false, icon: L.divIcon({
          className: "graticule-label", html: x.toFixed(digits) + "°", iconAnchor: [-2, -2] }) }));
      }
      for (let y = Math.ceil(s / step) * step; y <= n; y += step) {
        group.addLayer(L.polyline([[y, w], [y, e]], line));
        group.addLayer(L.marker([y, w], { interactive: false, icon: L.divIcon({
          className: "graticule-label", html: y.toFixed(digits) + "°", iconAnchor: [-2, 12] }) }));
      }
    }
    map.on("moveend", () => { if (map.hasLayer(group)) draw(); });
    group.on("add", draw);
    return group;
  }

  // --- colour bar ---
  function legend() {
    const v = variable();
    if (!v) { $("legend").innerHTML = ""; return; }
    const s = v.style;
    if (v.rgb) {
      const r = (v.ranges || []).map((x, i) => esc(v.rgb[i]) + " " + fmt(x[0]) + "–" + fmt(x[1])).join("<br>");
      $("legend").innerHTML = `<div class="colorbar" data-variable="${esc(v.name)}"><div class="name">` +
        `true colour (per-band 2–98 % stretch${units(s.units)})<br>${r}</div></div>`;
      return;
    }
    const mid = (s.vmin + s.vmax) / 2;
    $("legend").innerHTML =
      `<div class="colorbar" data-variable="${esc(v.name)}" data-vmin="${s.vmin}" data-vmax="${s.vmax}">` +
      `<div class="bar" style="background:linear-gradient(to right, ${v.stops.join(", ")})"></div>` +
      `<div class="ticks"><span>${fmt(s.vmin)}</span><span>${fmt(mid)}</span><span>${fmt(s.vmax)}</span></div>` +
      `<div class="name">${esc(s.label || v.name)} ` +
      `(${esc(s.units && s.units !== "1" ? s.units : "dimensionless")})</div></div>`;
  }

  // --- the raster layer of the chosen variable and period ---
  function showLayer(map) {
    const v = variable();
    if (state.layer) { map.removeLayer(state.layer); state.layer = null; }
    if (!v || !v.periods.length) return;
    const period = v.periods[Math.min(state.period, v.periods.length - 1)];
    const p = state.doc.periods[period];
    $("period-label").textContent = p ? p.label : "";
    $("period-label").dataset.period = String(period);
    const url = v.tiles.replace("{period}", String(period));
    const opts = { maxZoom: 22, opacity: state.opacity, className: "eo-raster", tileSize: 256 };
    if (v.bounds) opts.bounds = L.latLngBounds([v.bounds[1], v.bounds[0]], [v.bounds[3], v.bounds[2]]);
    const layer = L.tileLayer(url, opts);
    layer.on("tileloadstart", () => { tileEvents.requested += 1; });
    layer.on("tileload", () => { tileEvents.loaded += 1; });
    layer.on("tileerror", () => { tileEvents.errors += 1; });
    layer.on("load", () => { eoView.layerLoaded = url; });
    eoView.layerLoaded = null;
    eoView.layerUrl = url;
    state.layer = layer.addTo(map);
    styleTiles();
  }

  function choosePeriods() {
    const v = variable();
    const n = v ? v.periods.length : 0;
    $("period").max = String(Math.max(0, n - 1));
    state.period = Math.min(state.period, Math.max(0, n - 1));
    $("period").value = String(state.period);
    $("period-box").style.display = n > 1 ? "" : "none";
    if (n <= 1 && v && n === 1) $("period-label").textContent = state.doc.periods[v.periods[0]].label;
  }

  // --- vectors ---
  let tilesLayer = null;
  function currentPeriodIndex() {
    const v = variable();
    return v && v.periods.length ? v.periods[Math.min(state.period, v.periods.length - 1)] : 0;
  }
  function tileStatus(f) {
    const s = f.properties.status || {};
    return s[String(currentPeriodIndex())] || Object.values(s)[0] || { status: "done" };
  }
  function styleTiles() {
    if (!tilesLayer) return;
    tilesLayer.setStyle((f) => {
      const st = tileStatus(f).status;
      return { color: STATUS_COLOURS[st] || "#333", weight: 2, fillOpacity: st === "failed" ? 0.25 : 0.02 };
    });
  }

  function vectors(map, overlays) {
    const vec = state.doc.vectors || {};
    if (vec.footprints && vec.footprints.features.length) {
      overlays["Scene footprints"] = L.geoJSON(vec.footprints, {
        style: { color: "#3f51b5", weight: 1.5, fill: false, dashArray: "4 3" },
        onEachFeature: (f, l) => {
          const p = f.properties;
          const cc = p.cloud_cover === null || p.cloud_cover === undefined ? "–" : fmt(p.cloud_cover) + " %";
          l.bindTooltip(`<b>${esc(p.id)}</b><br>${esc(String(p.datetime || "").slice(0, 19))}<br>cloud ${esc(cc)}`,
            { sticky: true });
        },
      });
    }
    if (vec.tiles && vec.tiles.features.length) {
      tilesLayer = L.geoJSON(vec.tiles, {
        onEachFeature: (f, l) => {
          l.bindTooltip(() => {
            const s = tileStatus(f);
            return `tile <b>${esc(f.properties.tile)}</b>: ${esc(s.status)}` + (s.error ? `<br>${esc(s.error)}` : "");
          }, { sticky: true });
        },
      });
      overlays["Tile grid (status)"] = tilesLayer;
    }
    if (vec.area && vec.area.features.length) {
      overlays["Area"] = L.geoJSON(vec.area, { style: { color: "#111", weight: 2, fill: false, dashArray: "8 4" },
        interactive: false });
    }
    Object.values(overlays).forEach((l) => l.addTo(map));
    styleTiles();
  }

  // --- click: values (and time series) at a point ---
  function sparkline(series) {
    const pts = series.map((s, i) => [i, s.value]).filter((p) => typeof p[1] === "number");
    if (pts.length < 2) return "";
    const W = 220, H = 60, pad = 4;
    const ys = pts.map((p) => p[1]);
    const lo = Math.min(...ys), hi = Math.max(...ys), n = series.length - 1 || 1;
    const X = (i) => pad + (i / n) * (W - 2 * pad);
    const Y = (v) => H - pad - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (H - 2 * pad);
    const d = pts.map((p, k) => (k ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1)).join(" ");
    const dots = pts.map((p) => `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.5"/>`).join("");
    return `<svg class="series" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
      `<path d="${d}" fill="none" stroke="#333"/><g fill="#d73027">${dots}</g></svg>`;
  }

  async function showValues(map, latlng) {
    const lon = latlng.lng, lat = latlng.lat;
    const res = await fetch(`/_eo/point?lon=${lon}&lat=${lat}`);
    const data = await res.json();
    const period = currentPeriodIndex();
    const rows = [];
    let current = null, series = [];
    for (const [name, v] of Object.entries(data.variables)) {
      const here = v.series[period] ? v.series[period].value : null;
      if (name === state.variable) { current = here; series = v.series; }
      rows.push(`<tr data-variable="${esc(name)}"><td>${esc(name)}</td><td class="value">${esc(fmt(here))}` +
        `${here === null ? "" : esc(units(v.units))}</td></tr>`);
    }
    const html = `<div class="eo-popup" data-lon="${lon}" data-lat="${lat}" data-variable="${esc(state.variable)}"` +
      ` data-value="${current === null ? "" : esc(JSON.stringify(current))}">` +
      `<div>${lat.toFixed(5)}°, ${lon.toFixed(5)}° · ${esc(state.doc.periods[period] ? state.doc.periods[period].label : "")}</div>` +
      `<table>${rows.join("")}</table>` +
      (series.length > 1 ? `<div>${esc(state.variable)} over time</div>${sparkline(series)}` +
        `<table class="series-table">${series.map((s) => `<tr><td>${esc(s.period)}</td><td>${esc(fmt(s.value))}</td></tr>`).join("")}</table>` : "") +
      `</div>`;
    L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(html).openOn(map);
    eoView.lastPoint = data;
  }

  async function main() {
    const res = await fetch("/_eo/map.json");
    state.doc = await res.json();
    const doc = state.doc;
    document.title = "eo view: " + doc.title;
    $("title").textContent = doc.title;
    const map = L.map("map", { minZoom: 0, maxZoom: 22, zoomSnap: 0.25 });
    eoView.map = map;
    const overlays = {};
    if (doc.basemap) {
      L.tileLayer(doc.basemap.url, { attribution: doc.basemap.attribution || "", maxZoom: 22 }).addTo(map);
    }
    const b = doc.bounds || [-180, -60, 180, 75];
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [20, 20] });
    overlays["Graticule"] = graticule(map).addTo(map);
    vectors(map, overlays);
    L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);

    const select = $("variable");
    for (const v of doc.variables) {
      const o = document.createElement("option");
      o.value = v.name; o.textContent = v.name + (v.style.units && v.style.units !== "1" ? ` (${v.style.units})` : "");
      select.appendChild(o);
    }
    state.variable = doc.variables.length ? doc.variables[0].name : null;
    select.addEventListener("change", () => {
      state.variable = select.value; choosePeriods(); legend(); showLayer(map);
    });
    $("period").addEventListener("input", () => { state.period = Number($("period").value); showLayer(map); });
    $("opacity").addEventListener("input", () => {
      state.opacity = Number($("opacity").value); if (state.layer) state.layer.setOpacity(state.opacity);
    });
    if (doc.report) $("links").innerHTML = `<a id="report-link" href="/${encodeURI(doc.report)}">run report</a>`;
    if (!doc.variables.length) $("period-box").style.display = "none";
    choosePeriods(); legend(); showLayer(map);
    map.on("click", (e) => { showValues(map, e.latlng); });
    eoView.ready = true;
  }

  main().catch((err) => { console.error("eo view failed to start:", err); });
})();
