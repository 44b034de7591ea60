import { buildControls } from './controls.js';
import { byId, h } from './dom.js';
import { History } from './history.js';
import { CafeteriaPanel } from './panels/cafeteria-panel.js';
import { CompareView } from './panels/compare-view.js';
import { InsideView } from './panels/inside-view.js';
import type { FromWorker, TaskInfo, TickReport, ToWorker } from './protocol.js';
import { PANELS, parseSettings, serializeSettings, type Settings } from './state.js';
import './style.css';

/*
 * The page: reads the settings from the address, hands training to the worker and draws what it reports.
 * The settings object is the only state that outlives a run; everything else is rebuilt from it.
 */

/** Fields that only change what is shown; every other change starts a fresh run. */
const VIEW_ONLY: ReadonlySet<keyof Settings> = new Set(['panel', 'chips', 'ketchup', 'correlation', 'deltaLr', 'passes']);

const parsed = parseSettings(location.search);
let settings = parsed.settings;
let task: TaskInfo | null = null;
let history: History | null = null;
let last: TickReport | null = null;
let drawPending = false;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (message: ToWorker) => worker.postMessage(message);

const compare = new CompareView(byId('compare-body'));
const inside = new InsideView(byId('inside-body'), () => send({ type: 'pictures' }));
const cafeteria = new CafeteriaPanel(byId('cafeteria-body'), (patch) => apply({ ...settings, ...patch }));
const status = byId('status');

showNotices(parsed.notices);
byId('controls').addEventListener('submit', (e) => e.preventDefault()); // Enter in a field must not reload
byId('start').addEventListener('click', () => send({ type: 'run' }));
byId('pause').addEventListener('click', () => send({ type: 'pause' }));
byId('step').addEventListener('click', () => send({ type: 'step' }));
byId('reset').addEventListener('click', configure);
for (const panel of PANELS) byId(`tab-${panel}`).addEventListener('click', () => apply({ ...settings, panel }));

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'ready':
      task = message.task;
      history = new History(settings.rules, task.sizes.length - 1);
      inside.reset(task, settings.rules);
      compare.describe(task);
      setStatus('ready', `ready: ${task.sizes.join('-')} network, ${task.trainSize} training and ${task.testSize} test examples (${task.backend} backend); ${task.network}` +
        task.refusals.map((r) => `; ${r.rule} cannot train it: ${r.message}`).join(''));
      showRefusals(task.refusals);
      return;
    case 'progress':
      if (!history) return;
      history.add(message.report);
      last = message.report;
      scheduleDraw();
      return;
    case 'pictures':
      if (task) inside.drawPictures(message.report);
      return;
    case 'running':
      byId('start').toggleAttribute('disabled', message.running);
      byId('pause').toggleAttribute('disabled', !message.running);
      if (task) setStatus(message.running ? 'running' : 'paused', message.running ? 'training…' : 'paused');
      return;
    case 'error':
      setStatus('error', message.message);
      return;
  }
};

window.addEventListener('resize', scheduleDraw);
apply(settings, true);

/** Takes new settings: writes them to the address, redraws the controls, retrains if needed. */
function apply(next: Settings, force = false): void {
  const retrain = force || (Object.keys(next) as (keyof Settings)[]).some((k) => !VIEW_ONLY.has(k) && String(next[k]) !== String(settings[k]));
  settings = next;
  const query = serializeSettings(settings);
  window.history.replaceState(null, '', query ? `?${query}` : location.pathname);
  for (const panel of PANELS) {
    byId(`panel-${panel}`).hidden = panel !== settings.panel;
    byId(`tab-${panel}`).setAttribute('aria-selected', String(panel === settings.panel));
  }
  byId('training').hidden = settings.panel === 'cafeteria';
  if (settings.panel === 'cafeteria') cafeteria.draw(settings);
  else scheduleDraw(); // charts drawn while hidden are fitted to their width now that they show
  if (retrain) {
    buildControls(byId('controls'), settings, (s) => apply(s));
    configure();
  }
}

function configure(): void {
  task = null;
  history = null;
  last = null;
  compare.reset();
  inside.reset(null, []);
  setStatus('loading', 'preparing the data and the networks…');
  send({ type: 'configure', settings });
}

/** Reports can arrive faster than frames; draw the latest state at most every 50 ms. */
function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  setTimeout(() => {
    drawPending = false;
    if (!history || !last || !task) return;
    compare.draw(history, last, task.classification);
    inside.draw(history, last);
    byId('progress').textContent = `update ${last.step} · epoch ${last.epoch.toFixed(2)}`;
  }, 50);
}

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

/** A rule that refuses the network says why in its slot of the rule picker (once, however often it is reset). */
function showRefusals(refusals: TaskInfo['refusals']): void {
  for (const old of document.querySelectorAll('.rule-info .refusal')) old.remove();
  for (const { rule, message } of refusals) {
    const slot = settings.rules.indexOf(rule);
    document.querySelector(`.slot${slot} .rule-info`)?.append(h('p', { class: 'refusal' }, [message]));
  }
}

function showNotices(notices: readonly string[]): void {
  const box = byId('notices');
  box.hidden = !notices.length;
  if (!notices.length) return;
  const dismiss = h('button', { type: 'button' }, ['dismiss']);
  dismiss.addEventListener('click', () => (box.hidden = true));
  box.replaceChildren(h('strong', {}, ['Some settings in the address were not valid and were replaced by defaults:']),
    h('ul', {}, notices.map((n) => h('li', {}, [n]))), dismiss);
}
