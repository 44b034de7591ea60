/** One colour per rule slot (Okabe–Ito, distinguishable with the common colour-vision deficiencies). */
export const RULE_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7'] as const;

