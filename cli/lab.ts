import { parseArgs } from 'node:util';
import { startLabServer } from '../node/lab-server.js';
import { UsageError } from './usage-error.js';

export const LAB_USAGE = `usage: ngrad lab [--port 5173] [--host 127.0.0.1]
  Serves the lab (learning rules side by side in the browser) and the MNIST and Fashion-MNIST subsets it
  trains on, then prints the address to open. Needs \`npm run lab:build\` once. Ctrl-C stops it.
  --port N    port to listen on; 0 picks a free one (default 5173)
  --host H    interface to listen on (default 127.0.0.1, this machine only)`;

export async function labCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const port = values.port === undefined ? 5173 : Number(values.port);
  if (!/^\d{1,5}$/.test(values.port ?? '5173') || port > 65535) throw new UsageError(`--port needs a whole number from 0 to 65535, got '${values.port}'`);
  const lab = await startLabServer({ port, host: values.host }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new UsageError(`port ${port} is taken: pass --port 0 for any free port`);
    throw err;
  });
  process.stdout.write(`ngrad lab: open ${lab.url} (Ctrl-C to stop)\n`);
  return new Promise<number>((resolve) => {
    const stop = () => void lab.close().then(() => resolve(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
