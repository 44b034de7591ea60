import type { ConvLayerBench } from './conv.js';
import type { Profile } from './profile.js';

/** The conv benchmark of one backend, with the GEMM rates it is compared with. */
export interface ConvReport {
  backend: string;
  /** This backend's best GEMM rate in the run, and the run's best over all backends (the peak). */
  ownPeakGflops: number;
  peakGflops: number;
  layers: ConvLayerBench[];
}

/** GEMM FLOPs over seconds of every conv / locally connected layer of one net, forward and backward. */
export function convTotals(layers: readonly ConvLayerBench[], net: string): { gflop: number; seconds: number; gflops: number } {
  const convs = layers.filter((r) => r.net === net && r.forwardGflop > 0);
  const gflop = convs.reduce((n, r) => n + 3 * r.forwardGflop, 0);
  const seconds = convs.reduce((n, r) => n + r.forward.seconds + r.backward.seconds, 0);
  return { gflop, seconds, gflops: gflop / seconds };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The three largest shares of a pass's time, e.g. 'im2col 52 %, gemmBatched 43 %, transposeBlocks 4 %'. */
function topShares(share: Profile): string {
  return Object.entries(share).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${(100 * v).toFixed(0)} %`).join(', ');
}

export function convMarkdown(reports: readonly ConvReport[]): string[] {
  const lines = [
    '## Conv, locally connected and pooling layers (batch 100)',
    '',
    'Each layer alone on random data, best of rounds: forward, and backward = parameter gradients + input error',
    '(the input error of a first layer included, which training skips). FLOPs counted: the GEMMs the layer needs,',
    '2·m·n·k each: forward 2·B·P·out·K for a conv2d or local2d layer (P output positions, K = C·k·k values a',
    'patch), backward twice that (dW and the input error); pooling, im2col / col2im, transposes and biases are',
    'not counted. "% of peak" is of the run\'s best GEMM rate; "own" of this backend\'s best. "time in" is where',
    'the pass spends its time, per Backend method (from a separate, wrapped series).',
    '',
  ];
  for (const r of reports) {
    lines.push(
      `### ${r.backend} (own GEMM best ${r.ownPeakGflops.toFixed(1)} GFLOP/s, peak ${r.peakGflops.toFixed(1)} GFLOP/s)`,
      '',
      '| net | layer | fwd ms | fwd GFLOP/s | % of peak (own) | bwd ms | bwd GFLOP/s | % of peak (own) | forward time in | backward time in |',
      '|---|---|---:|---:|---:|---:|---:|---:|---|---|',
    );
    for (const l of r.layers) {
      const rate = (gflops: number) => (l.forwardGflop > 0 ? gflops.toFixed(1) : '–');
      const frac = (gflops: number) => (l.forwardGflop > 0 ? `${pct(gflops / r.peakGflops)} (${pct(gflops / r.ownPeakGflops)})` : '–');
      lines.push(`| ${l.net} | ${l.layer} | ${(1e3 * l.forward.seconds).toFixed(2)} | ${rate(l.forward.gflops)} | ${frac(l.forward.gflops)} | ` +
        `${(1e3 * l.backward.seconds).toFixed(2)} | ${rate(l.backward.gflops)} | ${frac(l.backward.gflops)} | ${topShares(l.forward.share)} | ${topShares(l.backward.share)} |`);
    }
    const nets = [...new Set(r.layers.map((l) => l.net))];
    lines.push('', ...nets.map((net) => {
      const t = convTotals(r.layers, net);
      return `- ${net}, all conv layers forward + backward: ${t.gflop.toFixed(3)} GFLOP in ${(1e3 * t.seconds).toFixed(2)} ms = ` +
        `${t.gflops.toFixed(1)} GFLOP/s, ${pct(t.gflops / r.peakGflops)} of peak (${pct(t.gflops / r.ownPeakGflops)} of own).`;
    }), '');
  }
  return lines;
}

/** Target lines: the conv layers' GEMM work on native at ≥ 50 % of the run's peak. */
export function convTargetLines(reports: readonly ConvReport[]): string[] {
  const native = reports.find((r) => r.backend === 'native');
  if (!native) return ['- conv layers\' GEMM work ≥ 50 % of peak: not measured (native backend unavailable).'];
  const nets = [...new Set(native.layers.map((l) => l.net))];
  return nets.map((net) => {
    const t = convTotals(native.layers, net), f = t.gflops / native.peakGflops;
    const verdict = f >= 0.5 ? 'met' : `**missed** by ${(100 * (0.5 - f)).toFixed(1)} points (${(0.5 * native.peakGflops / t.gflops).toFixed(1)}× too slow)`;
    return `- ${net} conv layers' GEMM work (native, forward + backward) ≥ 50 % of peak: ${pct(f)} (${t.gflops.toFixed(1)} GFLOP/s), ${verdict}.`;
  });
}

/** 'gemmBatched 41 %, im2col 24 %, …' over a profile of seconds. */
export function profileLine(profile: Profile, totalSeconds: number): string {
  const inside = Object.values(profile).reduce((a, b) => a + b, 0);
  const parts = Object.entries(profile).sort((a, b) => b[1] - a[1]).filter(([, s]) => s / totalSeconds >= 0.005)
    .map(([k, s]) => `${k} ${pct(s / totalSeconds)}`);
  return [...parts, `outside the backend ${pct(Math.max(0, 1 - inside / totalSeconds))}`].join(', ');
}
