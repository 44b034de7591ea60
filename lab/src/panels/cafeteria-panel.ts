import { CAFETERIA_COLORS, drawCafeteria } from '../cafeteria/error-surface-view.js';
import { makeMeals } from '../cafeteria/delta-rule-math.js';
import { h } from '../dom.js';
import { FIELDS, type Settings } from '../state.js';

type CafeteriaField = 'chips' | 'ketchup' | 'correlation' | 'deltaLr' | 'passes';

const SLIDERS: readonly { name: CafeteriaField; label: string; min: number; max: number; step: number }[] = [
  { name: 'chips', label: 'True price of chips', min: 0, max: 200, step: 5 },
  { name: 'ketchup', label: 'True price of ketchup', min: 0, max: 200, step: 5 },
  { name: 'correlation', label: 'How often ketchup portions copy chips portions', min: 0, max: 1, step: 0.05 },
  { name: 'deltaLr', label: 'Learning rate ε', min: 0.0002, max: 0.006, step: 0.0002 },
  { name: 'passes', label: 'Passes over the meals', min: 1, max: 100, step: 1 },
];

/**
 * The Cafeteria panel: the lecture's linear neuron learning meal prices with the delta rule, online
 * (zig-zag, one meal at a time) and batch (steepest descent, all meals at once), drawn on the error surface.
 */
export class CafeteriaPanel {
  private readonly canvas = h('canvas', { width: '420', height: '420', id: 'cafeteria-canvas' });
  private readonly caption = h('p', { class: 'caption', id: 'cafeteria-caption' });
  private readonly sliders = h('div', { class: 'sliders' });

  constructor(container: HTMLElement, private readonly onChange: (patch: Partial<Settings>) => void) {
    container.replaceChildren(
      h('p', { class: 'hint' }, [
        'Each day you buy portions of chips and ketchup; the cashier only tells you the total. A linear neuron ',
        'guesses the prices (its weights) and corrects them by the delta rule, Δwᵢ = ε xᵢ (t − y). ',
        'When chips and ketchup nearly always come together, the bowl becomes a long valley: the sum of ',
        'the two prices is learned fast, how to divide it between them very slowly.',
      ]),
      h('div', { class: 'cafeteria' }, [this.canvas, h('div', {}, [this.sliders, this.caption, legend()])]),
    );
  }

  private readonly inputs = new Map<CafeteriaField, { input: HTMLInputElement; value: HTMLOutputElement }>();

  draw(settings: Settings): void {
    if (!this.inputs.size) this.buildSliders();
    for (const [name, { input, value }] of this.inputs) {
      input.value = String(settings[name]);
      value.textContent = String(settings[name]);
    }
    const meals = makeMeals([settings.chips, settings.ketchup], settings.correlation, settings.seed);
    const drawn = drawCafeteria(this.canvas, meals, [settings.chips, settings.ketchup], settings.deltaLr, settings.passes);
    const [bc, bk] = drawn.batch[drawn.batch.length - 1];
    const [oc, ok] = drawn.online[drawn.online.length - 1];
    this.caption.textContent =
      `After ${settings.passes} passes over ${meals.n} meals — batch: chips ${bc.toFixed(1)}, ketchup ${bk.toFixed(1)}; ` +
      `online: chips ${oc.toFixed(1)}, ketchup ${ok.toFixed(1)} (true ${settings.chips}, ${settings.ketchup}). ` +
      (drawn.minimum ? '' : 'Chips and ketchup always come together here: every split of their summed price fits equally well.');
  }

  /** Built once: rebuilding a slider while it is dragged would drop the drag. */
  private buildSliders(): void {
    this.sliders.replaceChildren(...SLIDERS.map((s) => {
      const input = h('input', { type: 'range', name: s.name, min: String(s.min), max: String(s.max), step: String(s.step) });
      const value = h('output');
      this.inputs.set(s.name, { input, value });
      input.addEventListener('input', () => {
        const parsed = FIELDS[s.name].parse(input.value);
        if (parsed !== undefined) this.onChange({ [s.name]: parsed });
      });
      return h('label', {}, [s.label, input, value]);
    }));
  }
}

function legend(): HTMLElement {
  const item = (color: string, text: string) => h('li', {}, [h('span', { style: `color:${color}` }, ['■ ']), text]);
  return h('ul', { class: 'legend' }, [
    item(CAFETERIA_COLORS.batch, 'batch delta rule (one step per pass)'),
    item(CAFETERIA_COLORS.online, 'online delta rule (one step per meal)'),
    item(CAFETERIA_COLORS.truth, 'true prices'),
    item('#333', 'start (0, 0)'),
  ]);
}
