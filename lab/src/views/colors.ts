/** One colour per rule slot (Okabe–Ito, distinguishable with the common colour-vision deficiencies). */
export const RULE_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7'] as const;

/** A value t in [−1, 1] as RGB on a white-centred scale: blue for positive, red for negative. */
export function diverging(t: number): [number, number, number] {
  return [Math.round(255 * (1 - Math.max(0, t))), Math.round(255 * (1 - Math.abs(t))), Math.round(255 * (1 + Math.min(0, t)))];
}

/** One colour per traced unit, in turn (Okabe–Ito, then two more). */
export const UNIT_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442', '#999999', '#882255'] as const;
