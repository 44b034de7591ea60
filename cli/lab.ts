import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { isLoopback, startLabServer } from '../node/lab-server.js';
import { UsageError } from './usage-error.js';

export const LAB_USAGE = `usage: ngrad lab [--port 5173] [--host 127.0.0.1]
  Serves the lab (learning rules side by side in the browser) and the MNIST and Fashion-MNIST subsets it
  trains on, then prints the address to open. Needs \`npm run lab:build\` once. Ctrl-C stops it.
  --port N    port to listen on, 0 to 65535; 0 picks a free one (default 5173)
  --host H    interface to listen on: an IP address or a name that resolves (default 127.0.0.1, this
              machine only; 0.0.0.0 or :: listens on every interface)
  Only requests addressed to the server by a name it knows are answered, so that a web page elsewhere
  cannot read the lab through DNS rebinding; any other Host gets 403. On a loopback address (127.0.0.1,
  ::1, localhost) those are 127.0.0.1:PORT, localhost:PORT and [::1]:PORT; on another address, that
  address and the name given to --host; on 0.0.0.0 or ::, also every address of this machine and its host
  name. ngrad lab prints the list when it is not the loopback one.`;

export async function labCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    // parseArgs will not take '-1' as a value ("argument is ambiguous"); judge it as one, which throws the
    // option's own message (no port or host starts with '-').
    const ambiguous = /^Option '--(port|host)' argument is ambiguous/.exec((err as Error).message);
    const value = ambiguous ? argv[argv.indexOf(`--${ambiguous[1]}`) + 1] : undefined;
    if (value !== undefined) (ambiguous?.[1] === 'port' ? portNumber : hostArgument)(value);
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const port = values.port === undefined ? 5173 : portNumber(values.port);
  const host = values.host === undefined ? '127.0.0.1' : hostArgument(values.host);
  const lab = await startLabServer({ port, host }).catch((err: unknown) => {
    throw listenError(err, host, port) ?? err;
  });
  process.stdout.write(`ngrad lab: open ${lab.url} (Ctrl-C to stop)\n`);
  const address = (lab.server.address() as { address: string }).address;
  if (!isLoopback(address)) process.stdout.write(`ngrad lab: answers to Host ${lab.hosts.join(', ')}; any other gets 403\n`);
  return new Promise<number>((resolve) => {
    const stop = () => void lab.close().then(() => resolve(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** --port: decimal digits only, no sign, exponent, hex, blank or leading zero; 0 to 65535.
 * NOTE: local to the lab on purpose (cli/train-options.ts has its own parsers and is being rewritten). */
export function portNumber(raw: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(raw) || Number(raw) > 65535) {
    throw new UsageError(`--port needs a whole number from 0 to 65535, got '${raw}' (0 picks a free port)`);
  }
  return Number(raw);
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens; the last one not all digits.
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*(?!\d+$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** --host: an IP address (IPv6 also in brackets) or a syntactically valid name; whether it resolves and
 * belongs to this machine is for listen to say (listenError words its answer). */
export function hostArgument(raw: string): string {
  const bare = /^\[(.*)\]$/.exec(raw)?.[1] ?? raw;
  if (isIP(bare)) return bare;
  const withPort = /^(\[(.*)\]|([^:]*)):(\d+)$/.exec(raw);
  if (withPort && (isIP(withPort[2] ?? withPort[3]) || HOST_NAME.test(withPort[3] ?? ''))) {
    throw new UsageError(`--host '${raw}' includes a port: pass --host ${withPort[1]} --port ${withPort[4]}`);
  }
  if (/^[a-z]+:\/\//i.test(raw)) throw new UsageError(`--host '${raw}' is an address to open, not a host: pass just the name or IP, e.g. --host 127.0.0.1`);
  if (/^[\d.]+$/.test(bare)) throw new UsageError(`--host '${raw}' is not an IPv4 address (four numbers from 0 to 255, e.g. 127.0.0.1)`);
  if (bare !== raw || bare.includes(':')) throw new UsageError(`--host '${raw}' is not an IPv6 address (e.g. ::1)`);
  if (!HOST_NAME.test(bare)) throw new UsageError(`--host '${raw}' is neither an IP address nor a host name: give e.g. 127.0.0.1, ::1 or localhost`);
  return bare;
}

/** A failed listen as a one-line usage error that names the fix; undefined for what is not a listen error. */
export function listenError(err: unknown, host: string, port: number): UsageError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string') return undefined;
  if (e.syscall === 'getaddrinfo') {
    return new UsageError(`cannot resolve --host '${host}' (${e.code}): check the name, or pass an IP address such as 127.0.0.1`);
  }
  switch (e.code) {
    case 'EADDRINUSE':
      return new UsageError(`port ${port} is taken on ${host}: stop what listens there, pass another --port, or --port 0 for any free port`);
    case 'EADDRNOTAVAIL':
      return new UsageError(`${host} is not an address of this machine: pass one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`);
    case 'EACCES':
      return new UsageError(`no permission to listen on port ${port}${port < 1024 ? ' (ports below 1024 need root)' : ''}: pass --port 5173, or --port 0 for any free port`);
    case 'EAFNOSUPPORT':
      return new UsageError(`cannot listen on ${host}: this machine has no IPv6; pass --host 127.0.0.1`);
    default:
      return e.syscall === 'listen' || e.syscall === 'bind'
        ? new UsageError(`cannot listen on ${host} port ${port} (${e.code}): pass another --host or --port`)
        : undefined;
  }
}
