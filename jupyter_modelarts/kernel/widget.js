// The live cell view of a job or of the auto-stop lease where a frontend runs widgets but has
// no jupyter_modelarts extension (VS Code). Plain DOM, themed by the host's CSS variables.
// The kernel's follower of the job sets the model; this view only draws it and ticks clocks.

const FINAL = ['Completed', 'Failed', 'Terminated', 'Abnormal'];
const BLUE = 'var(--jp-brand-color1, var(--vscode-charts-blue, #1976d2))';
const GREEN = 'var(--jp-success-color1, var(--vscode-charts-green, #388e3c))';
const RED = 'var(--jp-error-color1, var(--vscode-errorForeground, #d32f2f))';
const AMBER = 'var(--jp-warn-color1, var(--vscode-charts-orange, #f57c00))';
const GREY =
  'var(--jp-layout-color3, var(--vscode-descriptionForeground, #757575))';
const COLOURS = {
  Running: BLUE,
  Completed: GREEN,
  Failed: RED,
  Abnormal: RED,
  Terminating: AMBER,
  Terminated: AMBER
};
const FONT = 'var(--jp-ui-font-family, var(--vscode-font-family, sans-serif))';
const CODE_FONT =
  'var(--jp-code-font-family, var(--vscode-editor-font-family, monospace))';
const TEXT = 'var(--jp-ui-font-color1, var(--vscode-foreground, inherit))';

function element(tag, style, parent) {
  const node = document.createElement(tag);
  node.style.cssText = style;
  parent.appendChild(node);
  return node;
}

function stopwatch(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const pad = n => String(n).padStart(2, '0');
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  return hours
    ? `${hours}:${pad(minutes)}:${pad(total % 60)}`
    : `${minutes}:${pad(total % 60)}`;
}

function box(el) {
  return element(
    'div',
    `font-family:${FONT};color:${TEXT};border-left:4px solid ${BLUE};` +
      'padding:4px 8px;line-height:1.6',
    el
  );
}

function renderJob(model, el) {
  const root = box(el);
  const head = element('div', 'display:flex;align-items:center;gap:8px', root);
  const name = element('b', '', head);
  const id = element('code', `font-family:${CODE_FONT}`, head);
  const workspace = element('span', 'opacity:0.75', head);
  const badge = element(
    'span',
    'color:#fff;border-radius:8px;padding:1px 8px;font-size:90%',
    head
  );
  const time = element('span', '', head);
  const stop = element(
    'button',
    `margin-left:auto;font-family:${FONT};color:${TEXT};cursor:pointer;` +
      'background:var(--jp-layout-color2, var(--vscode-button-secondaryBackground, #eee));' +
      `border:1px solid ${GREY};border-radius:2px;padding:0 8px`,
    head
  );
  // The kernel sends the words in its language; an older kernel sends none.
  const labels = model.get('labels') || {};
  stop.textContent = labels.stop || 'Stop';
  const tasks = element('div', '', root);
  const message = element('div', '', root);
  const log = element(
    'pre',
    `margin:4px 0 0;max-height:16em;overflow:auto;font-family:${CODE_FONT};font-size:90%`,
    root
  );
  const error = element('div', `color:${RED}`, root);

  const tick = () => {
    const job = model.get('job');
    time.textContent = job.started_at
      ? stopwatch((job.ended_at || Date.now()) - job.started_at)
      : '';
  };
  const draw = () => {
    const job = model.get('job');
    const colour = COLOURS[job.phase] || GREY;
    root.style.borderLeftColor = colour;
    name.textContent = job.name;
    id.textContent = job.id;
    // Only another workspace than the default one is worth the space.
    workspace.hidden = job.workspace_id === '0';
    workspace.textContent = (labels.workspace || 'workspace {id}').replace(
      '{id}',
      job.workspace_id
    );
    badge.textContent = job.phase;
    badge.style.background = colour;
    stop.hidden = FINAL.includes(job.phase);
    stop.disabled = job.phase === 'Terminating';
    const several = job.tasks.length > 1;
    tasks.hidden = !several;
    tasks.textContent = several
      ? job.tasks.map(t => `${t.name}: ${t.phase}`).join(' · ')
      : '';
    message.hidden = !job.message;
    message.textContent = job.message;
    const lines = model.get('lines');
    log.hidden = lines.length === 0;
    log.textContent = lines.join('\n');
    error.hidden = !model.get('error');
    error.textContent = model.get('error');
    tick();
  };
  stop.onclick = () => {
    stop.disabled = true;
    model.send({ event: 'stop' });
  };
  const events = ['change:job', 'change:lines', 'change:error'];
  events.forEach(event => model.on(event, draw));
  const timer = setInterval(tick, 1000);
  draw();
  return () => {
    clearInterval(timer);
    events.forEach(event => model.off(event, draw));
  };
}

function renderLease(model, el) {
  const root = box(el);
  const draw = () => {
    const stopAt = model.get('stop_at');
    if (!model.get('enabled')) {
      root.textContent = 'Auto-stop is off on this instance.';
      return;
    }
    if (stopAt === null) {
      root.style.borderLeftColor = BLUE;
      root.textContent = model.get('note');
      return;
    }
    const left = stopAt - Date.now();
    root.style.borderLeftColor = left < 10 * 60 * 1000 ? AMBER : BLUE;
    const at = new Date(stopAt).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit'
    });
    root.textContent =
      model.get('lease_type') === 'IDLE'
        ? `Idle auto-stop in ${stopwatch(left)}, at ${at} if nothing happens`
        : `Auto-stop in ${stopwatch(left)}, at ${at}`;
  };
  const events = [
    'change:enabled',
    'change:stop_at',
    'change:lease_type',
    'change:note'
  ];
  events.forEach(event => model.on(event, draw));
  const timer = setInterval(draw, 1000);
  draw();
  return () => {
    clearInterval(timer);
    events.forEach(event => model.off(event, draw));
  };
}

function render({ model, el }) {
  const cleanup =
    model.get('kind') === 'lease'
      ? renderLease(model, el)
      : renderJob(model, el);
  // The kernel follows a job only while a view of it is shown.
  model.send({ event: 'rendered' });
  return () => {
    cleanup();
    try {
      model.send({ event: 'removed' });
    } catch {
      // The widget was closed: nobody is left to tell.
    }
  };
}

export default { render };
