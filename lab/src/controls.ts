import { ACTIVATION_KINDS, OPTIMIZER_NAMES, RULE_IDS, RULES, isRuleId, type RuleId } from '../../src/index.js';
import { h } from './dom.js';
import { needsSigmoid } from './session/network-kind.js';
import { describeLabOptions } from './session/rule-options.js';
import { FIELDS, formatValue, MAX_RULES, NETS, SIGNALS, TASKS, type Settings } from './state.js';

const TASK_NAMES: Record<(typeof TASKS)[number], string> = {
  xor: 'XOR (4 points)', spirals: 'Two spirals', linear: 'Linear teacher (30→10)', cafeteria: 'Cafeteria (meal prices)',
  mnist: 'MNIST (5,000 / 1,000)', 'fashion-mnist': 'Fashion-MNIST (5,000 / 1,000)',
};

const NET_NAMES: Record<(typeof NETS)[number], string> = { feedforward: 'feed-forward units', lif: 'spiking, LIF neurons', bernoulli: 'spiking, Bernoulli neurons' };
const SIGNAL_NAMES: Record<(typeof SIGNALS)[number], string> = {
  full: 'full precision', fwd1: '1-bit forward', bwd2: '2-bit backward', 'fwd1-bwd2': '1-bit forward, 2-bit backward',
};

/**
 * The settings form of the Compare and Inside panels. Every control is named after its field in the
 * state table; a change hands back a whole new Settings (the table is the only state).
 */
export function buildControls(container: HTMLElement, settings: Settings, onChange: (next: Settings) => void): void {
  container.replaceChildren();
  const change = (patch: Partial<Settings>) => onChange({ ...settings, ...patch });

  const select = (name: string, label: string, values: readonly string[], current: string, names?: Record<string, string>) => {
    const el = h('select', { name, 'aria-label': label }, values.map((v) => h('option', { value: v }, [names?.[v] ?? v])));
    el.value = current;
    return { el, row: h('label', {}, [label, ' ', el]) };
  };
  const numberInput = (name: keyof Settings, label: string, step: string) => {
    const el = h('input', { name, type: 'text', inputmode: 'decimal', size: '6', 'data-step': step });
    el.value = formatValue(name, settings);
    el.addEventListener('change', () => {
      const value = FIELDS[name].parse(el.value.trim());
      if (value === undefined) {
        el.setCustomValidity(FIELDS[name].hint);
        el.reportValidity();
        return;
      }
      el.setCustomValidity('');
      change({ [name]: value });
    });
    return h('label', {}, [label, ' ', el]);
  };

  const task = select('task', 'Task', TASKS, settings.task, TASK_NAMES);
  task.el.addEventListener('change', () => change({ task: task.el.value as Settings['task'] }));
  const act = select('act', 'Activation', ACTIVATION_KINDS, settings.act);
  act.el.addEventListener('change', () => change({ act: act.el.value as Settings['act'] }));
  const opt = select('opt', 'Optimizer', OPTIMIZER_NAMES, settings.optimizer);
  opt.el.addEventListener('change', () => change({ optimizer: opt.el.value as Settings['optimizer'] }));

  const net = select('net', 'Network', NETS, settings.net, NET_NAMES);
  net.el.addEventListener('change', () => change({ net: net.el.value as Settings['net'] }));
  net.row.title = 'Spiking nets: dense layers whose hidden neurons spike for T steps per input; the output reads the last layer\'s rates out';
  const steps = numberInput('steps', 'Time steps T', '');
  steps.hidden = settings.net === 'feedforward';
  // 1-bit forward activities are samples of logistic units, so choosing them switches the activation to sigmoid
  // (the Activation control shows it); a link that asks for them with another activation is refused with the reason.
  const signals = select('signals', 'Signals', SIGNALS, settings.signals, SIGNAL_NAMES);
  signals.row.title = 'Stochastic, unbiased low-precision signals (Hinton 2007): hidden units send samples of {0, 1}, errors 2 bits; 1-bit forward needs sigmoid units';
  signals.el.addEventListener('change', () => {
    const value = signals.el.value as Settings['signals'];
    change({ signals: value, ...(needsSigmoid(value) && settings.net === 'feedforward' && { act: 'sigmoid' as const }) });
  });

  container.append(
    h('div', { class: 'row' }, [task.row, numberInput('hidden', 'Hidden layers', ''), act.row]),
    h('div', { class: 'row' }, [net.row, steps, signals.row]),
    h('div', { class: 'row' }, [
      numberInput('lr', 'Learning rate', ''), numberInput('batch', 'Batch', ''), opt.row,
      numberInput('seed', 'Seed', ''), numberInput('speed', 'Batches per redraw', ''),
    ]),
    buildRulePicker(settings.rules, (rules) => change({ rules })),
  );
}

/** Up to four rule slots; every registered rule is offered, with its title, paper and summary. */
function buildRulePicker(rules: readonly RuleId[], onChange: (rules: RuleId[]) => void): HTMLElement {
  const slots = Array.from({ length: MAX_RULES }, (_, i) => rules[i] ?? '');
  const picker = h('div', { class: 'rules' });
  slots.forEach((current, i) => {
    const options = [h('option', { value: '' }, [i === 0 ? '(choose a rule)' : '(none)'])];
    for (const id of RULE_IDS) options.push(h('option', { value: id }, [`${id} — ${RULES[id].title}`]));
    const el = h('select', { name: `rule${i + 1}`, 'aria-label': `Rule ${i + 1}` }, options);
    el.value = current;
    el.addEventListener('change', () => {
      const next = slots.map((s, k) => (k === i ? el.value : s)).filter((s): s is RuleId => isRuleId(s));
      const distinct = [...new Set(next)];
      if (distinct.length) onChange(distinct);
      else el.value = current;
    });
    const labOptions = isRuleId(current) ? describeLabOptions(current) : '';
    const info = isRuleId(current)
      ? h('div', { class: 'rule-info' }, [
        h('strong', {}, [RULES[current].title]), h('div', { class: 'paper' }, [RULES[current].paper]), h('p', {}, [RULES[current].summary]),
        ...(labOptions ? [h('p', { class: 'lab-options' }, [`In the lab: ${labOptions}.`])] : []),
      ])
      : h('div', { class: 'rule-info empty' });
    picker.append(h('div', { class: `slot slot${i}` }, [h('label', {}, [`Rule ${i + 1} `, el]), info]));
  });
  return picker;
}
