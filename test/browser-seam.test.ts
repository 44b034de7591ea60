import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('library code under src/ has no Node-only imports and no unseeded randomness', () => {
  const files = sourceFiles(srcDir);
  assert.ok(files.length > 10, `found ${files.length} source files`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /from ['"](node:|fs['"]|path['"]|os['"]|child_process|worker_threads)/, `${file} imports a Node module`);
    assert.doesNotMatch(text, /\bprocess\.|\bBuffer\b|require\(/, `${file} uses a Node global`);
    assert.doesNotMatch(text, /Math\.random/, `${file} uses Math.random`);
  }
});
