/// <reference lib="webworker" />
import { createJsBackend, instantiateWasmBackend, type Backend } from '../../src/index.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { Race } from './session/race.js';
import { loadTask } from './session/tasks.js';

/*
 * The training worker: owns the Race, trains while running and posts one report per tick. The page only
 * draws, so a slow tick never freezes the controls. Rules that draw pictures (features, samples) get them drawn
 * when the race is ready, after a step, when the page asks, and every PICTURES_EVERY_MS while training.
 */

declare const self: DedicatedWorkerGlobalScope;

let race: Race | null = null;
let running = false;
/** Identifies the current run loop: a loop left over from before a pause or reset sees a newer id and stops. */
let loopId = 0;
/** Bumped by every 'configure', so a slow data load that finishes late cannot resurrect an old run. */
let generation = 0;

/** Pictures can cost as much as many updates (a sampler's chains), so a running race draws them only this often. */
const PICTURES_EVERY_MS = 3000;
let picturesAt = 0;

const post = (message: FromWorker) => self.postMessage(message);

async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(new URL(`../${path}`, self.location.href));
  if (!response.ok) throw new Error(`${path}: the server answered ${response.status}; image tasks need \`npx ngrad lab\`, which serves the data`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The wasm kernels when the server has them (`ngrad lab` serves them once built), else plain JS. */
let backend: Promise<Backend> | null = null;
function chooseBackend(): Promise<Backend> {
  backend ??= fetch(new URL('../kernels.wasm', self.location.href))
    .then(async (response) => (response.ok ? instantiateWasmBackend(await response.arrayBuffer()) : createJsBackend()))
    .catch(() => createJsBackend());
  return backend;
}

function tick(picturesNow = false): boolean {
  if (!race) return false;
  try {
    post({ type: 'progress', report: race.tick() });
    if (picturesNow || performance.now() - picturesAt >= PICTURES_EVERY_MS) postPictures();
    return true;
  } catch (err) {
    setRunning(false);
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    return false;
  }
}

/** The rules' pictures, for a race in which some rule draws them. */
function postPictures(): void {
  picturesAt = performance.now();
  if (race?.drawsPictures) post({ type: 'pictures', report: race.pictures() });
}

function loop(id: number): void {
  if (!running || id !== loopId) return;
  if (tick()) setTimeout(() => loop(id), 0); // yield between ticks so 'pause' is heard
}

function setRunning(value: boolean): void {
  running = value;
  post({ type: 'running', running });
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'configure': {
      const mine = ++generation;
      setRunning(false);
      race = null;
      try {
        const [data, be] = await Promise.all([loadTask(message.settings.task, message.settings.seed, fetchBytes), chooseBackend()]);
        if (mine !== generation) return;
        race = new Race(message.settings, data, be);
        post({ type: 'ready', task: race.info });
        postPictures(); // at the initial weights
      } catch (err) {
        if (mine === generation) post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    case 'run':
      if (race && !running) {
        setRunning(true);
        loop(++loopId);
      }
      return;
    case 'pause':
      setRunning(false);
      return;
    case 'step':
      setRunning(false);
      tick(true);
      return;
    case 'pictures':
      if (race) postPictures();
      return;
  }
};
