#!/usr/bin/env node
// Builds the native backend (node/native: OpenBLAS sgemm + C kernels behind N-API) as the package's
// `install` script; also runnable by hand: `node scripts/build-native.mjs`.
//
// A failed build never fails the installation: the js backend is the fallback, so we print one line
// saying why and how to fix it, and exit 0. With NGRAD_REQUIRE_NATIVE=1 (CI) a failure is an error and
// the build log is printed. NGRAD_SKIP_NATIVE=1 skips the build.
//
// NOTE: node-gyp gets --nodedir (Node's own install prefix, whose include/node holds the headers) so that
// it never tries to download headers: builds must work offline.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const gypDir = join(root, 'node', 'native');
const addonPath = join(gypDir, 'build', 'Release', 'ngrad_native.node');
const logPath = join(gypDir, 'build', 'build.log');
const nodePrefix = dirname(dirname(process.execPath));
const required = process.env.NGRAD_REQUIRE_NATIVE === '1';
const AGAIN = 'then npm rebuild ngrad (or node scripts/build-native.mjs)';
const OPENBLAS_FIX = `apt-get install libopenblas-dev, ${AGAIN}`;
const TOOLCHAIN_FIX = `apt-get install build-essential python3, ${AGAIN}`;

/** Ends the script: success, or the one-line explanation (exit 0 unless the native backend is required). */
function unavailable(reason, fix, log) {
  const logHint = log ? ` Log: ${relative(process.cwd(), logPath) || logPath}` : '';
  console.error(`ngrad: native backend unavailable (${reason}); the js backend will be used. Fix: ${fix}.${logHint}`);
  if (required) {
    if (log) console.error(log.split('\n').slice(-40).join('\n'));
    process.exit(1);
  }
  process.exit(0);
}

/** node-gyp as [command, ...args]: npm's own copy (named by npm in lifecycle scripts, or found beside
 * this Node), else one on PATH. Never `npx node-gyp`, which may try the network. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(nodePrefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const js of candidates) if (js && existsSync(js)) return [process.execPath, js];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'node-gyp'))) return [join(dir, 'node-gyp')];
  }
  return undefined;
}

/** The most telling cause in a failed build's output, with its fix. */
function diagnose(log) {
  if (/cblas\.h: No such file/.test(log)) return ['OpenBLAS headers (cblas.h) not found', OPENBLAS_FIX];
  if (/cannot find -l(open)?blas/.test(log)) return ['the linker cannot find libopenblas', OPENBLAS_FIX];
  if (/find Python|python.*not found/i.test(log)) return ['node-gyp cannot find Python 3', TOOLCHAIN_FIX];
  if (/\bmake\b.*not found|spawn make ENOENT/i.test(log)) return ['make not found', TOOLCHAIN_FIX];
  if (/\b(cc|gcc|g\+\+)\b.*not found|spawn (cc|gcc) ENOENT/i.test(log)) return ['no C compiler found', TOOLCHAIN_FIX];
  const errorLine = log.split('\n').find((l) => /error/i.test(l) && !/gyp ERR! (stack|System|command|cwd|node|not ok)/.test(l));
  return [`build failed: ${(errorLine ?? 'see the log').trim().slice(0, 160)}`, OPENBLAS_FIX];
}

if (process.env.NGRAD_SKIP_NATIVE === '1') {
  console.error('ngrad: native backend build skipped (NGRAD_SKIP_NATIVE=1); the js backend will be used.');
  process.exit(0);
}
if (!existsSync(join(nodePrefix, 'include', 'node', 'node_api.h'))) {
  unavailable(`Node headers not found in ${join(nodePrefix, 'include', 'node')}`,
    `install a Node.js that ships its headers (e.g. Debian's libnode-dev), ${AGAIN}`);
}
const nodeGyp = findNodeGyp();
if (!nodeGyp) unavailable('node-gyp not found (it ships with npm)', `install npm, ${AGAIN}`);

const [command, ...prefixArgs] = nodeGyp;
const run = spawnSync(command, [...prefixArgs, 'rebuild', '--directory', gypDir, `--nodedir=${nodePrefix}`], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
const log = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
mkdirSync(dirname(logPath), { recursive: true });
writeFileSync(logPath, log);
if (run.status !== 0 || !existsSync(addonPath)) unavailable(...diagnose(log), log);

// Loading it proves the runtime libraries resolve (libopenblas.so.0, libmvec) as well as the build.
let info;
try {
  info = createRequire(import.meta.url)(addonPath).blasInfo();
} catch (e) {
  unavailable(`built but cannot load: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`, OPENBLAS_FIX, log);
}
console.error(`ngrad: native backend built (${relative(root, addonPath)}; ${info})`);
