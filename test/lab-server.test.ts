import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIdx } from '../src/index.js';
import { DATA_SUBSET, LAB_DIST, requestPath, startLabServer } from '../node/lab-server.js';
import { FASHION_MNIST_DIR } from '../node/datasets.js';
import { findWasm } from '../node/wasm-loader.js';

/** A tiny built lab, plus a secret file beside it that no request may reach. */
function fixture(): string {
  const base = mkdtempSync(join(tmpdir(), 'ngrad-lab-'));
  const root = join(base, 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>lab</title>');
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(base, 'secret.txt'), 'SECRET');
  return root;
}

/** A raw GET: fetch() would normalise '..' away before sending, which would hide the attack under test. */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('lab server: binds 127.0.0.1, serves its own files with the right content type', async () => {
  const lab = await startLabServer({ root: fixture(), port: 0 });
  try {
    const address = lab.server.address() as AddressInfo;
    assert.equal(address.address, '127.0.0.1');
    assert.equal(lab.url, `http://127.0.0.1:${address.port}/`);
    const home = await get(address.port, '/');
    assert.equal(home.status, 200);
    assert.equal(home.type, 'text/html; charset=utf-8');
    assert.match(home.body.toString(), /<title>lab/);
    assert.equal((await get(address.port, '/?task=xor&rules=bp,fa')).status, 200);
    const js = await get(address.port, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.type, 'text/javascript; charset=utf-8');
    assert.equal((await get(address.port, '/assets/app.css')).type, 'text/css; charset=utf-8');
    assert.equal((await get(address.port, '/assets/app.js', 'POST')).status, 405);
    const wasm = await get(address.port, '/kernels.wasm');
    if (findWasm()) assert.deepEqual([wasm.status, wasm.type], [200, 'application/wasm'], 'the built wasm kernels, for the worker');
    else assert.equal(wasm.status, 404);
  } finally {
    await lab.close();
  }
  const bare = await startLabServer({ root: fixture(), port: 0, wasm: null });
  try {
    assert.equal((await get((bare.server.address() as AddressInfo).port, '/kernels.wasm')).status, 404);
  } finally {
    await bare.close();
  }
});

test('lab server: traversal and odd paths get 404 and never the file outside', async () => {
  const lab = await startLabServer({ root: fixture(), port: 0 });
  const { port } = lab.server.address() as AddressInfo;
  const attacks = [
    '/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/%2e%2e%2fsecret.txt', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/%252e%252e%252fsecret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/assets\\..\\..\\secret.txt', '/%00', '/index.html%00.js',
    '/etc/passwd', '//etc/passwd', '/%2fetc%2fpasswd', `/${join(tmpdir(), 'secret.txt')}`, '/%', '/%zz', '/./index.html',
    '/assets/', '/assets', '/secret.txt', '/data/mnist/../../secret.txt', '/data/cifar/train-images.idx', '/data/mnist/train-images.idx/..',
  ];
  try {
    for (const path of attacks) {
      const r = await get(port, path);
      assert.equal(r.status, 404, `${path} → ${r.status}`);
      assert.ok(!r.body.toString().includes('SECRET'), path);
    }
    assert.equal(requestPath('/a/b.js?x=1#y'), '/a/b.js');
    assert.equal(requestPath('/%2e%2e/x'), null);
  } finally {
    await lab.close();
  }
});

test('lab server: data endpoints serve IDX subsets that parseIdx reads', async () => {
  const lab = await startLabServer({ root: fixture(), port: 0 });
  const { port } = lab.server.address() as AddressInfo;
  try {
    const images = await get(port, '/data/mnist/train-images.idx');
    assert.equal(images.status, 200);
    const parsed = parseIdx(new Uint8Array(images.body), 'train-images');
    assert.deepEqual(parsed.dims, [DATA_SUBSET.train, 28, 28]);
    const labels = parseIdx(new Uint8Array((await get(port, '/data/mnist/test-labels.idx')).body), 'test-labels');
    assert.deepEqual(labels.dims, [DATA_SUBSET.test]);
    const fashion = await get(port, '/data/fashion-mnist/test-images.idx');
    if (existsSync(FASHION_MNIST_DIR)) assert.deepEqual(parseIdx(new Uint8Array(fashion.body), 'f').dims, [DATA_SUBSET.test, 28, 28]);
    else assert.equal(fashion.status, 404);
  } finally {
    await lab.close();
  }
});

test('lab server: refuses to start without a built lab', async () => {
  await assert.rejects(startLabServer({ root: join(tmpdir(), 'ngrad-no-such-lab'), port: 0 }), /npm run lab:build/);
});

test('ngrad lab: prints its address, serves the lab, stops cleanly on SIGTERM; bad options are usage errors', { skip: existsSync(join(LAB_DIST, 'index.html')) ? false : 'the lab is not built (npm run lab:build)' }, async () => {
  const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
  const bad = spawnSync(process.execPath, [bin, 'lab', '--port', 'http'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^ngrad lab: --port needs a whole number from 0 to 65535, got 'http'/);
  const child = spawn(process.execPath, [bin, 'lab', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`ngrad lab exited early (${code}): ${out}`)));
    });
    const home = await get(Number(new URL(url).port), '/');
    assert.equal(home.status, 200);
    assert.match(home.body.toString(), /ngrad lab/);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});
