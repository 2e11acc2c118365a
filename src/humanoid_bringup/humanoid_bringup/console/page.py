# ruff: noqa: E501
"""The console's single page (HTML + CSS + JS, no external assets: works offline)."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Humanoid console</title>
<style>
  :root { --bg:#f4f5f7; --card:#fff; --ink:#1d232b; --dim:#69727d; --ok:#1a7f37;
          --bad:#c62828; --warn:#b26a00; --accent:#1f5fbf; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--ink); }
  header { position:sticky; top:0; z-index:10; display:flex; align-items:center; gap:16px;
           padding:10px 18px; background:#1d232b; color:#fff; }
  header h1 { font-size:18px; margin:0; flex:1; }
  .badge { padding:3px 10px; border-radius:12px; font-size:13px; background:#3a4450; }
  .badge.ok { background:var(--ok); } .badge.bad { background:var(--bad); }
  #estop { font-size:22px; font-weight:800; letter-spacing:1px; color:#fff;
           background:var(--bad); border:4px solid #ffd400; border-radius:50px;
           padding:14px 30px; cursor:pointer; box-shadow:0 2px 8px rgba(0,0,0,.4); }
  #estop:active { transform:scale(.97); }
  #release { display:none; font-size:14px; padding:8px 14px; border-radius:8px;
             border:2px solid #ffd400; background:#3a4450; color:#fff; cursor:pointer; }
  body.estopped #release { display:inline-block; }
  body.estopped header { background:var(--bad); }
  main { display:grid; grid-template-columns: minmax(380px, 1fr) minmax(380px, 1fr); gap:16px;
         padding:16px 18px; }
  section { background:var(--card); border-radius:10px; padding:14px 16px;
            box-shadow:0 1px 3px rgba(0,0,0,.08); }
  section h2 { font-size:14px; text-transform:uppercase; letter-spacing:.5px; color:var(--dim);
               margin:0 0 10px; }
  .wide { grid-column: 1 / -1; }
  #instruction { width:100%; font-size:17px; padding:10px; border:1px solid #c4c9d0;
                 border-radius:8px; }
  .row { display:flex; gap:12px; align-items:center; margin-top:10px; flex-wrap:wrap; }
  button.primary { background:var(--accent); color:#fff; border:0; border-radius:8px;
                   padding:9px 18px; font-size:15px; cursor:pointer; }
  button.secondary { background:#e4e7eb; border:0; border-radius:8px; padding:9px 14px;
                     cursor:pointer; }
  button:disabled { opacity:.5; cursor:not-allowed; }
  #approval { display:none; margin-top:12px; padding:10px; border-radius:8px;
              background:#fff6e0; border:1px solid #f0c36d; }
  #approval.show { display:block; }
  #approve { background:var(--ok); color:#fff; border:0; border-radius:8px; padding:9px 22px;
             font-size:15px; cursor:pointer; }
  #reject { background:var(--bad); color:#fff; border:0; border-radius:8px; padding:9px 22px;
            font-size:15px; cursor:pointer; }
  ol#plan { margin:6px 0; padding-left:26px; font-family:ui-monospace, monospace; }
  ol#plan li.current { font-weight:700; color:var(--accent); }
  ol#plan li.done { color:var(--dim); }
  .bar { height:14px; background:#e4e7eb; border-radius:7px; overflow:hidden; margin:8px 0; }
  .bar > div { height:100%; width:0; background:var(--accent); transition:width .3s; }
  #result { font-size:18px; font-weight:700; }
  #result.ok { color:var(--ok); } #result.bad { color:var(--bad); }
  #camera { width:100%; max-width:640px; aspect-ratio:4/3; background:#222; border-radius:6px;
            object-fit:contain; display:block; }
  table { border-collapse:collapse; width:100%; font-size:14px; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid #eceef1; }
  th { color:var(--dim); font-weight:600; }
  td.ok { color:var(--ok); font-weight:600; } td.bad { color:var(--bad); font-weight:600; }
  .dim { color:var(--dim); font-size:13px; }
  #error { color:var(--bad); margin-top:8px; min-height:1.2em; }
</style>
</head>
<body>
<header>
  <h1>Humanoid operator console</h1>
  <span id="conn" class="badge">connecting</span>
  <span id="safety" class="badge">safety: unknown</span>
  <button id="release" title="Release the e-stop">Release e-stop</button>
  <button id="estop" title="Emergency stop: stops the robot and ends the task">E-STOP</button>
</header>
<main>
  <section>
    <h2>Task</h2>
    <form id="task-form">
      <input id="instruction" autocomplete="off" placeholder="e.g. put the red cube in the tray">
      <div class="row">
        <label><input type="checkbox" id="require-approval" checked> require approval</label>
        <label><input type="checkbox" id="dry-run"> dry run (plan only)</label>
        <button class="primary" id="send" type="submit">Send</button>
        <button class="secondary" id="cancel" type="button" disabled>Cancel</button>
      </div>
    </form>
    <div id="error"></div>
    <h2 style="margin-top:14px">Plan</h2>
    <div id="plan-meta" class="dim">no plan yet</div>
    <ol id="plan"></ol>
    <div id="approval">
      <b>The planner waits for your approval.</b>
      <div class="row">
        <button id="approve" type="button">Approve</button>
        <button id="reject" type="button">Reject</button>
      </div>
    </div>
    <h2 style="margin-top:14px">Progress</h2>
    <div><span id="state">idle</span> <span id="status" class="dim"></span></div>
    <div class="bar"><div id="progress"></div></div>
    <h2 style="margin-top:14px">Result</h2>
    <div id="result">-</div>
    <div id="result-message" class="dim"></div>
  </section>
  <section>
    <h2>Head camera <span id="camera-meta" class="dim"></span></h2>
    <div id="no-camera" class="dim">no camera image yet (camera/color/image_raw)</div>
    <img id="camera" alt="head camera" style="display:none">
    <h2 style="margin-top:14px">Objects <span id="objects-meta" class="dim"></span></h2>
    <table><thead><tr><th>id</th><th>label</th><th>x, y, z (m)</th><th>conf.</th></tr></thead>
      <tbody id="objects"></tbody></table>
  </section>
  <section class="wide">
    <h2>Task history</h2>
    <table><thead><tr><th>#</th><th>instruction</th><th>result</th><th>message</th>
      <th>approved by</th><th>finished</th></tr></thead><tbody id="history"></tbody></table>
  </section>
</main>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
const auth = token ? {'Authorization': 'Bearer ' + token} : {};
let task = null;

function esc(s) { const d = document.createElement('div'); d.textContent = String(s); return d.innerHTML; }

async function api(path, body) {
  $('error').textContent = '';
  const r = await fetch(path, {method: 'POST', credentials: 'same-origin',
    headers: Object.assign({'Content-Type': 'application/json'}, auth),
    body: JSON.stringify(body || {})});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { $('error').textContent = data.detail || data.error || ('HTTP ' + r.status); }
  return data;
}

function renderTask(t) {
  task = t;
  const running = t && !t.done;
  $('cancel').disabled = !running;
  $('send').disabled = !!running;
  if (!t) return;
  const plan = t.plan;
  $('plan').innerHTML = '';
  if (plan && plan.steps.length) {
    $('plan-meta').textContent = 'planner: ' + plan.planner + (plan.rationale ? ' - ' + plan.rationale : '');
    plan.steps.forEach((s, i) => {
      const li = document.createElement('li');
      const args = Object.entries(s.args).map(([k, v]) => k + '=' + v).join(', ');
      const call = s.skill + '(' + args + ')';
      li.textContent = (s.text && !s.text.startsWith(s.skill + '(')) ? call + '  - ' + s.text : call;
      if (i === t.step_index && running) li.className = 'current';
      else if (i < t.step_index || (t.done && t.result && t.result.error_code === 'SUCCESS')) li.className = 'done';
      $('plan').appendChild(li);
    });
  } else {
    $('plan-meta').textContent = running ? 'planning...' : 'no plan';
  }
  $('approval').classList.toggle('show', running && t.state === 'AWAITING_APPROVAL');
  $('state').textContent = t.done ? 'done' : t.state.toLowerCase().replace('_', ' ');
  $('status').textContent = t.done ? '' : (t.status || '');
  $('progress').style.width = Math.round(100 * (t.progress || 0)) + '%';
  const res = $('result');
  res.dataset.task = t.id;
  if (t.done && t.result) {
    const ok = t.result.error_code === 'SUCCESS';
    res.textContent = t.result.error_code;
    res.className = ok ? 'ok' : 'bad';
    $('result-message').textContent = t.result.message +
      (t.result.approved_by ? ' (approved by ' + t.result.approved_by + ')' : '');
  } else {
    res.textContent = 'running: ' + t.instruction;
    res.className = '';
    $('result-message').textContent = '';
  }
}

function renderSafety(s) {
  const stopped = !!s.estopped;
  document.body.classList.toggle('estopped', stopped);
  const b = $('safety');
  const waiting = s.seen && s.ready === false;  // no joint_states yet: commands rejected
  b.textContent = stopped ? 'E-STOPPED' : (s.seen ? (s.holding ? 'holding: ' + s.reason :
    (waiting ? 'safety: waiting for joint_states' : 'safety: ok')) : 'safety: no supervisor');
  b.className = 'badge ' + (stopped || s.holding ? 'bad' : (s.seen && !waiting ? 'ok' : ''));
}

function renderObjects(o) {
  $('objects-meta').textContent = o.source ? '(' + o.source + ', ' + o.detections + ' detected in the last frame)' : '';
  $('objects').innerHTML = o.objects.map((x) =>
    '<tr><td>' + esc(x.id) + '</td><td>' + esc(x.label) + '</td><td>' +
    x.position.map((v) => v.toFixed(2)).join(', ') + '</td><td>' + x.confidence.toFixed(2) +
    '</td></tr>').join('');
}

function renderHistory(h) {
  $('history').innerHTML = h.map((x) =>
    '<tr><td>' + x.id + '</td><td>' + esc(x.instruction) + (x.dry_run ? ' <span class="dim">(dry run)</span>' : '') +
    '</td><td class="' + (x.error_code === 'SUCCESS' ? 'ok' : 'bad') + '">' + esc(x.error_code) +
    '</td><td>' + esc(x.message) + '</td><td>' + esc(x.approved_by) + '</td><td>' +
    new Date(x.finished * 1000).toLocaleTimeString() + '</td></tr>').join('');
}

function handle(ev) {
  if (ev.type === 'snapshot') {
    renderTask(ev.task); renderSafety(ev.safety); renderObjects(ev.objects); renderHistory(ev.history);
  } else if (ev.type === 'task') { renderTask(ev); }
  else if (ev.type === 'safety') { renderSafety(ev); }
  else if (ev.type === 'objects') { renderObjects(ev); }
  else if (ev.type === 'history') { renderHistory(ev.history); }
  else if (ev.type === 'camera') {
    $('camera').src = 'data:image/jpeg;base64,' + ev.jpeg;
    $('camera').style.display = 'block'; $('no-camera').style.display = 'none';
    $('camera').dataset.frames = ev.frames;
    $('camera-meta').textContent = '(' + ev.frames + ' frames)';
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(proto + location.host + '/ws' + (token ? '?token=' + encodeURIComponent(token) : ''));
  ws.onopen = () => { $('conn').textContent = 'connected'; $('conn').className = 'badge ok'; };
  ws.onclose = () => { $('conn').textContent = 'disconnected'; $('conn').className = 'badge bad';
                       setTimeout(connect, 1000); };
  ws.onmessage = (m) => handle(JSON.parse(m.data));
}

$('task-form').addEventListener('submit', (e) => {
  e.preventDefault();
  api('/api/task', {instruction: $('instruction').value,
    dry_run: $('dry-run').checked, require_approval: $('require-approval').checked});
});
$('approve').onclick = () => api('/api/approve', {approve: true});
$('reject').onclick = () => api('/api/approve', {approve: false, reason: 'rejected in the console'});
$('cancel').onclick = () => api('/api/cancel');
$('estop').onclick = () => api('/api/estop', {engage: true});
$('release').onclick = () => api('/api/estop', {engage: false});
connect();
</script>
</body>
</html>
"""
