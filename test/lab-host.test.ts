import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DIST, allowedHosts, isLoopback, startLabServer, type LabServer } from '../node/lab-server.js';
import { hostArgument, listenError, portNumber } from '../cli/lab.js';

/*
 * The lab server's DNS-rebinding guard (only Host headers naming the server are answered) and the
 * validation of `ngrad lab --host/--port`, including listen failures, which must be one-line errors.
 */

const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
const labBuilt = existsSync(join(LAB_DIST, 'index.html'));
const needsLab = { skip: labBuilt ? false : 'the lab is not built (npm run lab:build)' };

function fixture(): string {
  const root = join(mkdtempSync(join(tmpdir(), 'ngrad-lab-host-')), 'dist');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>lab</title>');
  return root;
}

/** A request written by hand, so that the Host header is exactly what the test says, or absent. */
function raw(port: number, headers: string[], { address = '127.0.0.1', version = '1.1', path = '/' } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port }, () => {
      socket.write(`GET ${path} HTTP/${version}\r\n${[...headers, 'Connection: close'].map((h) => `${h}\r\n`).join('')}\r\n`);
    });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => {
      const [head, ...body] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0), body: body.join('\r\n\r\n') });
    });
    socket.on('error', reject);
  });
}

async function expectRefused(port: number, headers: string[], options?: Parameters<typeof raw>[2]): Promise<void> {
  const r = await raw(port, headers, options);
  assert.equal(r.status, 403, `${JSON.stringify(headers)} → ${r.status}`);
  assert.match(r.body, /^forbidden: [^\n]*DNS rebinding[^\n]*: open http:\/\/[^\n]+\n$/, 'a one-line text body that says what to open');
  assert.ok(!r.body.includes('<title>'), 'not the page');
}

async function withServer(options: Parameters<typeof startLabServer>[0], body: (lab: LabServer, port: number) => Promise<void>): Promise<void> {
  const lab = await startLabServer({ root: fixture(), wasm: null, port: 0, ...options });
  try {
    await body(lab, (lab.server.address() as AddressInfo).port);
  } finally {
    await lab.close();
  }
}

test('allowedHosts: loopback names on loopback, the address (and name) elsewhere, every interface on a wildcard', () => {
  assert.deepEqual(allowedHosts({ address: '127.0.0.1', port: 5173 }).sort(), ['127.0.0.1:5173', '[::1]:5173', 'localhost:5173']);
  assert.deepEqual(allowedHosts({ address: '::1', port: 5173 }).sort(), ['127.0.0.1:5173', '[::1]:5173', 'localhost:5173']);
  assert.deepEqual(allowedHosts({ address: '127.0.0.1', port: 80 }).sort(), ['127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:80', 'localhost', 'localhost:80'],
    'browsers leave out port 80, and only that one');
  assert.deepEqual(allowedHosts({ address: '127.0.0.2', port: 9 }).sort(), ['127.0.0.1:9', '127.0.0.2:9', '[::1]:9', 'localhost:9']);
  assert.deepEqual(allowedHosts({ address: '127.0.0.1', port: 9 }, 'Lab.Local'), ['127.0.0.1:9', 'lab.local:9', 'localhost:9', '[::1]:9']);
  assert.deepEqual(allowedHosts({ address: '192.168.1.5', port: 9 }, '192.168.1.5'), ['192.168.1.5:9'], 'another address: only itself');
  assert.deepEqual(allowedHosts({ address: '192.168.1.5', port: 9 }, 'box.lan'), ['192.168.1.5:9', 'box.lan:9']);
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: '10.1.2.3', netmask: '255.0.0.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.1.2.3/8' },
      { address: 'fd00::2', netmask: 'ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
    ],
  } as const satisfies ReturnType<typeof networkInterfaces>;
  assert.deepEqual(allowedHosts({ address: '0.0.0.0', port: 9 }, '0.0.0.0', interfaces, 'MyBox').sort(),
    ['0.0.0.0:9', '10.1.2.3:9', '127.0.0.1:9', '[::1]:9', '[fd00::2]:9', 'localhost:9', 'mybox:9']);
  assert.ok(allowedHosts({ address: '::', port: 9 }, '::', interfaces, 'mybox').includes('[::]:9'));
  assert.ok(isLoopback('127.8.9.10') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('::') && !isLoopback('10.0.0.1') && !isLoopback('128.0.0.1'));
});

test('lab server on 127.0.0.1: answers 127.0.0.1:PORT, localhost:PORT, [::1]:PORT only; 403 for any other Host or none', async () => {
  await withServer({}, async (lab, port) => {
    assert.deepEqual([...lab.hosts].sort(), [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`]);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
      const r = await raw(port, [`Host: ${host}`]);
      assert.equal(r.status, 200, host);
      assert.match(r.body, /<title>lab/);
    }
    const attacks = [
      `Host: evil.example:${port}`, 'Host: evil.example', `Host: 127.0.0.1.evil.example:${port}`, `Host: localhost.:${port}`,
      'Host: 127.0.0.1', 'Host: localhost', `Host: 127.0.0.1:${port + 1}`, `Host: 127.0.0.1:0${port}`, `Host: [0:0:0:0:0:0:0:1]:${port}`,
      `Host: 10.0.0.1:${port}`, 'Host: ', `Host: 127.0.0.1:${port}@evil.example`, `Host: user@127.0.0.1:${port}`,
    ];
    for (const host of attacks) await expectRefused(port, [host]);
    await expectRefused(port, [], { version: '1.1' });
    await expectRefused(port, [], { version: '1.0' });
    // The guard comes first: a known path with a foreign Host gets nothing, and neither do data or HEAD.
    await expectRefused(port, [`Host: evil.example:${port}`], { path: '/index.html' });
    await expectRefused(port, [`Host: evil.example:${port}`], { path: '/data/mnist/test-labels.idx' });
    // The first Host header is the one judged (Node keeps only one); a second cannot smuggle a name in.
    await expectRefused(port, [`Host: evil.example:${port}`, `Host: 127.0.0.1:${port}`]);
    const shown = await raw(port, ['Host: evil\u00ff.example']);
    assert.equal(shown.status, 403);
    assert.ok(!/[^\x20-\x7e\n]/.test(shown.body), 'the client-chosen header is never echoed raw');
  });
});

test('lab server on ::1 answers the same loopback names', async (t) => {
  let lab: LabServer;
  try {
    lab = await startLabServer({ root: fixture(), wasm: null, port: 0, host: '::1' });
  } catch (err) {
    t.skip(`no IPv6 loopback here (${(err as NodeJS.ErrnoException).code})`);
    return;
  }
  try {
    const { port } = lab.server.address() as AddressInfo;
    assert.equal(lab.url, `http://[::1]:${port}/`);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) assert.equal((await raw(port, [`Host: ${host}`], { address: '::1' })).status, 200, host);
    await expectRefused(port, [`Host: evil.example:${port}`], { address: '::1' });
  } finally {
    await lab.close();
  }
});

test('lab server on a named host: that name too; on one non-loopback address: that address only', async (t) => {
  await withServer({ host: 'localhost' }, async (lab, port) => {
    assert.ok(isLoopback((lab.server.address() as AddressInfo).address));
    const address = (lab.server.address() as AddressInfo).address;
    assert.equal((await raw(port, [`Host: localhost:${port}`], { address })).status, 200);
    await expectRefused(port, [`Host: evil.example:${port}`], { address });
  });
  const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!external) {
    t.diagnostic('no non-loopback IPv4 interface: the one-address case is covered by allowedHosts above');
    return;
  }
  await withServer({ host: external }, async (lab, port) => {
    assert.deepEqual(lab.hosts, [`${external}:${port}`]);
    assert.equal(lab.url, `http://${external}:${port}/`);
    assert.equal((await raw(port, [`Host: ${external}:${port}`], { address: external })).status, 200);
    await expectRefused(port, [`Host: localhost:${port}`], { address: external });
    await expectRefused(port, [`Host: evil.example:${port}`], { address: external });
  });
});

test('lab server on 0.0.0.0: the loopback names, every interface address and the host name; nothing else', async () => {
  await withServer({ host: '0.0.0.0' }, async (lab, port) => {
    assert.equal(lab.url, `http://127.0.0.1:${port}/`, 'an address a browser can open');
    const addresses = Object.values(networkInterfaces()).flat().flatMap((a) => (a ? [a.family === 'IPv6' ? `[${a.address}]` : a.address] : []));
    for (const name of ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', hostname().toLowerCase(), ...addresses]) {
      assert.equal((await raw(port, [`Host: ${name}:${port}`])).status, 200, name);
    }
    await expectRefused(port, [`Host: evil.example:${port}`]);
    await expectRefused(port, []);
  });
});

// ---- ngrad lab: --host and --port, as the user sees them ----

function ngrad(args: string[], options: { uid?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, 'lab', ...args], { encoding: 'utf8', timeout: 60_000, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }) });
}

/** Exit 2; the first stderr line is the message, the rest (if any) only the usage, never a stack trace. */
function expectOneLine(r: SpawnSyncReturns<string>, message: RegExp): void {
  assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
  const [first, ...rest] = r.stderr.trimEnd().split('\n');
  assert.match(first, message);
  assert.match(first, /^ngrad lab: /);
  assert.ok(rest.length === 0 || rest[0].startsWith('usage: ngrad lab'), `only the usage after the message: ${r.stderr}`);
  assert.ok(!/^\s+at /m.test(r.stderr), 'no stack trace');
  assert.equal(r.stdout, '', 'nothing was started');
}

test('ngrad lab --port: a whole number 0 to 65535 in plain digits, else a one-line error', () => {
  const message = (bad: string) => new RegExp(`--port needs a whole number from 0 to 65535, got '${bad.replace(/[.+]/g, '\\$&')}'`);
  for (const bad of ['0x10', '1e3', '-1', '']) expectOneLine(ngrad(['--port', bad]), message(bad));
  expectOneLine(ngrad(['--port=-1']), /--port needs a whole number from 0 to 65535, got '-1'/);
  for (const bad of ['65536', '99999999', '5173.0', ' 80', '80 ', '080', '+80', 'http', '١٢٣', 'Infinity']) {
    assert.throws(() => portNumber(bad), (err: Error) => err.name === 'UsageError' && err.message.startsWith(`--port needs`) && message(bad).test(err.message), bad);
  }
  expectOneLine(ngrad(['--port']), /--port <value>' argument missing/);
  assert.equal(portNumber('0'), 0);
  assert.equal(portNumber('65535'), 65535);
});

test('ngrad lab --host: an IP address or a host name, else a one-line error', () => {
  expectOneLine(ngrad(['--host', '999.1.1.1']), /--host '999\.1\.1\.1' is not an IPv4 address \(four numbers from 0 to 255, e\.g\. 127\.0\.0\.1\)/);
  expectOneLine(ngrad(['--host', '']), /--host '' is neither an IP address nor a host name/);
  expectOneLine(ngrad(['--host', '-x']), /--host '-x' is neither/);
  const rejects = (raw: string, message: RegExp) => assert.throws(() => hostArgument(raw), (err: Error) => err.name === 'UsageError' && message.test(err.message), raw);
  rejects('1.2.3', /is not an IPv4 address/);
  rejects('256.0.0.1', /is not an IPv4 address/);
  rejects('127.0.0.1:8080', /^--host '127\.0\.0\.1:8080' includes a port: pass --host 127\.0\.0\.1 --port 8080$/);
  rejects('[::1]:8080', /includes a port: pass --host \[::1\] --port 8080$/);
  rejects('http://localhost:5173/', /is an address to open, not a host/);
  rejects('::g', /^--host '::g' is not an IPv6 address/);
  rejects('[lab.local]', /is not an IPv6 address/);
  for (const bad of ['bad_name!', 'a..b', '-lab', 'lab-', 'lab.', 'lab.123', 'a b', `${'a'.repeat(64)}.local`]) {
    rejects(bad, /is neither an IP address nor a host name: give e\.g\. 127\.0\.0\.1, ::1 or localhost$/);
  }
  assert.equal(hostArgument('[::1]'), '::1');
  assert.equal(hostArgument('0.0.0.0'), '0.0.0.0');
  assert.equal(hostArgument('my-lab-1.example'), 'my-lab-1.example');
  assert.equal(hostArgument('lab.local'), 'lab.local');
});

test('listenError: each listen failure is a one-line message naming the fix', () => {
  const fail = (code: string, syscall = 'listen') => Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
  assert.match(listenError(fail('EADDRINUSE'), '127.0.0.1', 5173)?.message ?? '', /^port 5173 is taken on 127\.0\.0\.1: .*--port 0 for any free port$/);
  assert.match(listenError(fail('EADDRNOTAVAIL'), '10.9.9.9', 5173)?.message ?? '', /^10\.9\.9\.9 is not an address of this machine: .*127\.0\.0\.1/);
  assert.match(listenError(fail('EACCES'), '127.0.0.1', 80)?.message ?? '', /^no permission to listen on port 80 \(ports below 1024 need root\): pass --port 5173/);
  assert.match(listenError(fail('ENOTFOUND', 'getaddrinfo'), 'nope.invalid', 1)?.message ?? '', /^cannot resolve --host 'nope\.invalid' \(ENOTFOUND\)/);
  assert.match(listenError(fail('EAI_AGAIN', 'getaddrinfo'), 'nope.invalid', 1)?.message ?? '', /^cannot resolve --host/);
  assert.match(listenError(fail('EAFNOSUPPORT'), '::1', 1)?.message ?? '', /no IPv6; pass --host 127\.0\.0\.1/);
  assert.match(listenError(fail('EMFILE'), '::1', 1)?.message ?? '', /^cannot listen on ::1 port 1 \(EMFILE\)/);
  for (const e of Object.values({ plain: new Error('x'), text: 'x', other: fail('EPIPE', 'write') })) assert.equal(listenError(e, 'h', 1), undefined);
});

test('ngrad lab: listen failures (taken port, foreign address, unknown name, no permission) are one-line errors', needsLab, async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as AddressInfo;
  try {
    expectOneLine(ngrad(['--port', String(port)]), new RegExp(`port ${port} is taken on 127\\.0\\.0\\.1: .*--port 0 for any free port`));
  } finally {
    busy.close();
  }
  // 203.0.113.0/24 is reserved for documentation: never an address of this machine.
  expectOneLine(ngrad(['--host', '203.0.113.7', '--port', '0']), /203\.0\.113\.7 is not an address of this machine/);
  expectOneLine(ngrad(['--host', 'no-such-host.invalid', '--port', '0']), /cannot resolve --host 'no-such-host\.invalid'/);
  // Ports below the unprivileged start need root: check as an ordinary user where that can be arranged.
  let start = 1024;
  try {
    start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    // not Linux: the classic rule, below 1024 needs root
  }
  const asNobody = process.getuid?.() === 0 ? 65534 : undefined;
  if (start > 80 && (asNobody === undefined ? process.getuid?.() !== 0 : ngrad(['--help'], { uid: asNobody }).status === 0)) {
    expectOneLine(ngrad(['--port', '80'], { uid: asNobody }), /no permission to listen on port 80 \(ports below 1024 need root\)/);
  }
});

test('ngrad lab --host 0.0.0.0 says which Host names it answers to', needsLab, async () => {
  const child = spawn(process.execPath, [bin, 'lab', '--host', '0.0.0.0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
        if (/answers to Host .*\n/.test(text)) resolve(text);
      });
      child.once('exit', (code) => reject(new Error(`ngrad lab exited early (${code}): ${text}`)));
    });
    const port = /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1];
    assert.ok(port, out);
    assert.match(out, new RegExp(`answers to Host 0\\.0\\.0\\.0:${port}, 127\\.0\\.0\\.1:${port}, localhost:${port}, \\[::1\\]:${port}.*; any other gets 403\\n`));
    assert.equal((await raw(Number(port), [`Host: localhost:${port}`])).status, 200);
    await expectRefused(Number(port), [`Host: evil.example:${port}`]);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});
