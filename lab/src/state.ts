import { ACTIVATION_KINDS, OPTIMIZER_NAMES, RULE_IDS, isRuleId, type ActivationKind, type OptimizerName, type RuleId } from '../../src/index.js';

/*
 * The lab's whole state as one typed table that round-trips through the address (tensorflow/playground's
 * state.ts, typed). No DOM here: Node tests import it. Every field parses defensively: a value that is
 * missing keeps its default silently; a value that is present but invalid keeps the default and adds a
 * notice, so a hostile or stale link never crashes the page and never reaches the DOM as markup.
 */

export const TASKS = ['xor', 'spirals', 'linear', 'cafeteria', 'mnist', 'fashion-mnist'] as const;
export type TaskId = (typeof TASKS)[number];
export const PANELS = ['compare', 'inside', 'cafeteria'] as const;
export type PanelId = (typeof PANELS)[number];
export const MAX_RULES = 4;
/** The network the race trains: feed-forward units, or spiking neurons (nn/spiking.ts) run for `steps` steps. */
export const NETS = ['feedforward', 'lif', 'bernoulli'] as const;
export type NetKind = (typeof NETS)[number];
/** The signals of a feed-forward net (nn/stochastic.ts): full precision, 1-bit forward activities, 2-bit
 * backward errors, or both. */
export const SIGNALS = ['full', 'fwd1', 'bwd2', 'fwd1-bwd2'] as const;
export type SignalsKind = (typeof SIGNALS)[number];

export interface Settings {
  /** Which panel is shown. */
  panel: PanelId;
  /** The task the Compare and Inside panels train on. */
  task: TaskId;
  /** Hidden layers joined by '-': widths ('16', '100-100') or, on image tasks, also convolution, locally
   * connected and pooling layers in --arch's grammar ('c6k5s2-pool2-32'); input and output come from the task. */
  hidden: string;
  /** Non-linearity of the hidden layers. */
  act: ActivationKind;
  /** Feed-forward units, or spiking LIF or Bernoulli neurons. */
  net: NetKind;
  /** A spiking net's time steps T per input (few, for the browser). */
  steps: number;
  /** Full-precision or stochastic low-precision signals (1-bit forward activities need sigmoid units). */
  signals: SignalsKind;
  /** 1–4 distinct rule ids from the registry, trained side by side. */
  rules: RuleId[];
  lr: number;
  batch: number;
  optimizer: OptimizerName;
  /** One seed: same initial forward weights and data order for every rule. */
  seed: number;
  /** Mini-batches per rule between two redraws. */
  speed: number;
  /** Cafeteria panel: true price of a portion of chips and of ketchup. */
  chips: number;
  ketchup: number;
  /** Cafeteria panel: how often ketchup portions copy chips portions, in [0, 1]. */
  correlation: number;
  /** Cafeteria panel: the delta rule's learning rate ε and the number of passes drawn. */
  deltaLr: number;
  passes: number;
}

/** How one field reads from and writes to the address. parse returns undefined for an invalid value. */
interface Field<T> {
  key: string;
  fallback: T;
  parse(text: string): T | undefined;
  format(value: T): string;
  /** What a valid value looks like, for the notice. */
  hint: string;
}

type FieldTable = { [K in keyof Settings]: Field<Settings[K]> };

function oneOf<T extends string>(key: string, values: readonly T[], fallback: T): Field<T> {
  return { key, fallback, parse: (t) => values.find((v) => v === t), format: (v) => v, hint: `expected one of ${values.join(', ')}` };
}

// NOTE: a strict decimal pattern rather than Number(text): Number accepts '', ' ', '0x1f', 'Infinity'.
const DECIMAL = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function numberIn(key: string, min: number, max: number, fallback: number, integer = false): Field<number> {
  return {
    key, fallback,
    parse: (t) => {
      if (t.length > 24 || !DECIMAL.test(t)) return undefined;
      const v = Number(t);
      return Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v)) ? v : undefined;
    },
    format: (v) => String(v),
    hint: `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
  };
}

const MAX_WIDTH = 1024;
const MAX_HIDDEN_LAYERS = 4;
/** Dense and image layers together (LeNet-5's hidden part has six). */
const MAX_LAYERS = 6;
/** A convolution, locally connected or pooling layer small enough for the browser (--arch's grammar). */
const IMAGE_LAYER = /^((c|lc)([1-9]|[1-5]\d|6[0-4])k[1-9](s[1-9])?(p[0-4])?|(max|avg)?pool[1-9](s[1-9])?)$/;

export const FIELDS: FieldTable = {
  panel: oneOf('panel', PANELS, 'compare'),
  task: oneOf('task', TASKS, 'xor'),
  hidden: {
    key: 'hidden', fallback: '16',
    parse: (t) => {
      const parts = t.split('-');
      const dense = parts.filter((p) => /^\d+$/.test(p)).length;
      if (parts.length > MAX_LAYERS || dense > MAX_HIDDEN_LAYERS) return undefined;
      const ok = parts.every((p) => (/^\d{1,4}$/.test(p) && +p >= 1 && +p <= MAX_WIDTH) || IMAGE_LAYER.test(p));
      return ok ? parts.map((p) => (/^\d+$/.test(p) ? String(Number(p)) : p)).join('-') : undefined;
    },
    format: (v) => v,
    hint: `expected 1–${MAX_HIDDEN_LAYERS} widths from 1 to ${MAX_WIDTH} joined by '-', and on image tasks up to ${MAX_LAYERS} layers with cOkK[sS][pP] (O ≤ 64, K ≤ 9), lcOkK…, poolK, avgpoolK`,
  },
  act: oneOf('act', ACTIVATION_KINDS, 'tanh'),
  net: oneOf('net', NETS, 'feedforward'),
  steps: numberIn('steps', 1, 200, 20, true),
  signals: oneOf('signals', SIGNALS, 'full'),
  rules: {
    key: 'rules', fallback: ['bp', 'fa'],
    parse: (t) => {
      const ids = t.split(',');
      if (ids.length < 1 || ids.length > MAX_RULES || new Set(ids).size !== ids.length) return undefined;
      return ids.every(isRuleId) ? ids : undefined;
    },
    format: (v) => v.join(','),
    hint: `expected 1–${MAX_RULES} distinct rules from ${RULE_IDS.join(', ')}, joined by ','`,
  },
  lr: numberIn('lr', 1e-6, 10, 0.1),
  batch: numberIn('batch', 1, 1000, 10, true),
  optimizer: oneOf('opt', OPTIMIZER_NAMES, 'sgd'),
  seed: numberIn('seed', 0, 2 ** 31 - 1, 1, true),
  speed: numberIn('speed', 1, 500, 10, true),
  chips: numberIn('chips', 0, 500, 50),
  ketchup: numberIn('ketchup', 0, 500, 100),
  correlation: numberIn('corr', 0, 1, 0),
  deltaLr: numberIn('eps', 1e-5, 0.1, 0.001),
  passes: numberIn('passes', 1, 200, 30, true),
};

const NAMES = Object.keys(FIELDS) as (keyof Settings)[];

export function defaultSettings(): Settings {
  const out = {} as Record<keyof Settings, unknown>;
  for (const name of NAMES) {
    const f = FIELDS[name];
    out[name] = Array.isArray(f.fallback) ? [...f.fallback] : f.fallback;
  }
  return out as Settings;
}

/** Settings read from an address, and what was wrong with it (plain text, for textContent only). */
export interface ParsedSettings {
  settings: Settings;
  notices: string[];
}

// A query longer than any the lab writes is not a link the lab made; refuse it whole rather than parse it.
const MAX_QUERY = 2000;

/** Reads settings from a query string ('?task=xor&rules=bp,fa' or without '?'); never throws. */
export function parseSettings(query: string): ParsedSettings {
  const settings = defaultSettings();
  const notices: string[] = [];
  if (query.length > MAX_QUERY) return { settings, notices: [`the address is too long (${query.length} characters); using the defaults`] };
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  } catch {
    return { settings, notices: ['the address could not be read; using the defaults'] };
  }
  const byKey = new Map(NAMES.map((n) => [FIELDS[n].key, n]));
  for (const [key, text] of params) {
    const name = byKey.get(key);
    if (!name) {
      notices.push(`ignored unknown setting '${shown(key)}'`);
      continue;
    }
    const value = FIELDS[name].parse(text);
    if (value === undefined) notices.push(`ignored ${key}='${shown(text)}': ${FIELDS[name].hint}; using ${FIELDS[name].key}=${formatValue(name, settings)}`);
    else (settings as Record<keyof Settings, unknown>)[name] = value;
  }
  return { settings, notices };
}

/** The query string for settings, without '?'; fields at their default are left out to keep links short. */
export function serializeSettings(settings: Settings): string {
  const fresh = defaultSettings();
  const params = new URLSearchParams();
  for (const name of NAMES) {
    const text = formatValue(name, settings);
    if (text !== formatValue(name, fresh)) params.set(FIELDS[name].key, text);
  }
  return params.toString();
}

export function formatValue<K extends keyof Settings>(name: K, settings: Settings): string {
  return FIELDS[name].format(settings[name]);
}

/** Echoed values are cut short: a notice should say what was wrong, not replay a payload. */
function shown(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

