"""The status page's HTML and script, served by :mod:`maskwatch.service.web` (no external
resources)."""

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>maskwatch</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f4f4f2; color: #222; }
  header { background: #263238; color: #fff; padding: 10px 18px; }
  header h1 { font-size: 18px; margin: 0; display: inline; }
  header span { margin-left: 12px; opacity: .8; }
  main { display: flex; flex-wrap: wrap; gap: 18px; padding: 18px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px;
            box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  #live { flex: 0 1 680px; }
  #frame { position: relative; display: inline-block; cursor: crosshair; user-select: none;
           touch-action: none; line-height: 0; background: #111; max-width: 100%; }
  #view { max-width: 100%; display: block; }
  #selection { position: absolute; border: 2px dashed #00d7ff; background: rgba(0,215,255,.12);
               display: none; pointer-events: none; }
  #roi-line { font: 14px ui-monospace, monospace; width: 23em; padding: 4px; }
  #side { flex: 1 1 340px; display: flex; flex-direction: column; gap: 18px; }
  #degraded { background: #fdecea; color: #8a1c12; display: none; }
  #degraded li { margin: 2px 0; }
  .counts { font-size: 26px; }
  .mask { color: #2e7d32; } .no_mask { color: #c62828; } .mask_incorrect { color: #ef6c00; }
  table { border-collapse: collapse; } td { padding: 1px 14px 1px 0; vertical-align: top; }
  td:first-child { white-space: nowrap; color: #555; }
  td.n { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
  #events { list-style: none; padding: 0; margin: 0; max-height: 440px; overflow: auto;
            font-variant-numeric: tabular-nums; }
  #events li { padding: 2px 0; border-bottom: 1px solid #eee; }
  .hint { color: #666; font-size: 13px; }
</style>
</head>
<body>
<header><h1>maskwatch</h1><span id="device"></span><span id="frame-size"></span></header>
<main>
  <section id="live">
    <h2>Live view</h2>
    <div id="frame"><img id="view" src="stream.mjpg" alt="live view" draggable="false">
      <div id="selection"></div></div>
    <p class="hint">Drag on the picture to draw a region of interest: faces whose centre
      falls outside it are ignored.</p>
    <p><input id="roi-line" readonly aria-label="roi line for the config">
      <button id="copy" type="button">Copy</button> <span id="copied" class="hint"></span></p>
    <p class="hint">Put the line under <code>[pipeline]</code> in
      <code>/etc/maskwatch/maskwatch.toml</code>, then
      <code>sudo systemctl restart maskwatch</code>. The page never changes the config.</p>
  </section>
  <div id="side">
    <section id="degraded"><h2>Needs attention</h2><ul id="problems"></ul></section>
    <section>
      <h2>In view</h2>
      <div class="counts"><span class="mask" id="masked">0</span> masked,
        <span class="no_mask" id="unmasked">0</span> unmasked,
        <span class="mask_incorrect" id="wrongly">0</span> mask worn wrongly</div>
    </section>
    <section>
      <h2>Health</h2>
      <table id="health"></table>
    </section>
    <section>
      <h2>Last 20 events</h2>
      <ol id="events"></ol>
    </section>
  </div>
</main>
<script src="page.js"></script>
</body>
</html>
"""

PAGE_JS = r"""'use strict';
const $ = (id) => document.getElementById(id);
const STAGES = ['read', 'detect', 'crop', 'classify', 'track', 'publish'];

function fraction(value) {          // 0.25 -> "0.25", 0 -> "0.0": TOML floats
  const text = Math.min(1, Math.max(0, value)).toFixed(3).replace(/0+$/, '');
  return text.endsWith('.') ? text + '0' : text;
}

function roiLine(roi) {
  return 'roi = [' + roi.map(fraction).join(', ') + ']';
}

function cell(text, numeric) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'n';
  return td;
}

function showHealth(status) {
  const h = status.health, rows = [['frames per second', status.fps.toFixed(1)]];
  const latency = h.latency_ms || {};
  for (const stage of STAGES) {
    if (latency[stage]) {
      rows.push([stage + ', ms p50 / p95',
                 latency[stage].p50.toFixed(1) + ' / ' + latency[stage].p95.toFixed(1)]);
    }
  }
  if ('queue_depth' in h) rows.push(['events queued', String(h.queue_depth)]);
  if ('dropped_frames' in h) rows.push(['frames dropped', String(h.dropped_frames)]);
  rows.push(['CPU temperature', h.cpu_temp_c == null ? 'n/a' : h.cpu_temp_c.toFixed(1) + ' °C']);
  if ('broker_connected' in h) rows.push(['broker', h.broker_connected ? 'connected' : 'away']);
  if (h.source) rows.push(['source', h.source]);
  $('health').replaceChildren(...rows.map(([name, value]) => {
    const tr = document.createElement('tr');
    tr.append(cell(name, false), cell(value, true));
    return tr;
  }));
}

function showEvents(events) {
  $('events').replaceChildren(...events.map((e) => {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.className = e.label;
    label.textContent = e.label;
    li.append(new Date(e.time).toLocaleTimeString() + ' ' + e.type + ' #' + e.track_id + ' ',
              label, ' ' + e.score.toFixed(2));
    return li;
  }));
}

function show(status) {
  $('device').textContent = status.device;
  if (status.frame[0]) $('frame-size').textContent = status.frame.join('x');
  const inView = (status.health && status.health.in_view) || {};
  $('masked').textContent = inView.mask || 0;
  $('unmasked').textContent = inView.no_mask || 0;
  $('wrongly').textContent = inView.mask_incorrect || 0;
  showHealth(status);
  showEvents(status.events);
  $('degraded').style.display = status.degraded.length ? 'block' : 'none';
  $('problems').replaceChildren(...status.degraded.map((text) => {
    const li = document.createElement('li');
    li.textContent = text;
    return li;
  }));
  if (!$('roi-line').value) $('roi-line').value = roiLine(status.roi);
}

async function poll() {
  try {
    const response = await fetch('status.json', {cache: 'no-store'});
    if (response.ok) show(await response.json());
  } catch (error) {
    // the daemon restarting: try again on the next tick
  }
  setTimeout(poll, 1000);
}

// The live view: reconnect after the daemon restarts.
$('view').addEventListener('error', () => {
  setTimeout(() => { $('view').src = 'stream.mjpg?t=' + Date.now(); }, 2000);
});

// Drawing the region of interest, in fractions of the picture.
let start = null;
function point(event) {
  const box = $('view').getBoundingClientRect();
  return [Math.min(1, Math.max(0, (event.clientX - box.left) / box.width)),
          Math.min(1, Math.max(0, (event.clientY - box.top) / box.height))];
}
function drawSelection(a, b) {
  const box = $('view').getBoundingClientRect(), s = $('selection').style;
  s.left = Math.min(a[0], b[0]) * box.width + 'px';
  s.top = Math.min(a[1], b[1]) * box.height + 'px';
  s.width = Math.abs(a[0] - b[0]) * box.width + 'px';
  s.height = Math.abs(a[1] - b[1]) * box.height + 'px';
  s.display = 'block';
}
$('frame').addEventListener('pointerdown', (event) => {
  start = point(event);
  $('frame').setPointerCapture(event.pointerId);
  event.preventDefault();
});
$('frame').addEventListener('pointermove', (event) => {
  if (start) drawSelection(start, point(event));
});
$('frame').addEventListener('pointerup', (event) => {
  if (!start) return;
  const end = point(event);
  const roi = [Math.min(start[0], end[0]), Math.min(start[1], end[1]),
               Math.max(start[0], end[0]), Math.max(start[1], end[1])];
  start = null;
  if (roi[2] - roi[0] < 0.02 || roi[3] - roi[1] < 0.02) return;   // a click, not a region
  drawSelection([roi[0], roi[1]], [roi[2], roi[3]]);
  $('roi-line').value = roiLine(roi);
  $('copied').textContent = '';
});

// Copy: the clipboard API where the page is a secure context (localhost), else select + copy.
$('copy').addEventListener('click', async () => {
  const line = $('roi-line');
  try {
    await navigator.clipboard.writeText(line.value);
  } catch (error) {
    line.select();
    document.execCommand('copy');
  }
  $('copied').textContent = 'copied';
});

poll();
"""
