/** Learning rate as a function of training progress (epochs, fractional). */
export type ScheduleConfig =
  | { kind: 'constant' }
  /** lr · gamma^floor(epoch / every) */
  | { kind: 'step'; every: number; gamma: number }
  /** Cosine annealing from lr to lr·minFactor over `epochs` (Loshchilov & Hutter 2017, without restarts). */
  | { kind: 'cosine'; epochs: number; minFactor: number };

export function learningRate(base: number, schedule: ScheduleConfig, epoch: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * Math.pow(schedule.gamma, Math.floor(epoch / schedule.every));
    case 'cosine': {
      const t = Math.min(1, epoch / schedule.epochs);
      return base * (schedule.minFactor + (1 - schedule.minFactor) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
  }
}

/** Parses 'constant', 'step:EVERY:GAMMA' or 'cosine' / 'cosine:MINFACTOR' (cosine spans `epochs`). */
export function parseSchedule(text: string, epochs: number): ScheduleConfig {
  if (text === 'constant') return { kind: 'constant' };
  const step = /^step:(\d+):([0-9.eE+-]+)$/.exec(text);
  if (step && Number(step[1]) > 0 && Number(step[2]) > 0) {
    return { kind: 'step', every: Number(step[1]), gamma: Number(step[2]) };
  }
  const cos = /^cosine(?::([0-9.eE+-]+))?$/.exec(text);
  if (cos) {
    const minFactor = cos[1] === undefined ? 0 : Number(cos[1]);
    if (minFactor >= 0 && minFactor <= 1) return { kind: 'cosine', epochs, minFactor };
  }
  throw new Error(`bad schedule '${text}' (use constant, step:EVERY:GAMMA such as step:10:0.5, or cosine[:MINFACTOR])`);
}
