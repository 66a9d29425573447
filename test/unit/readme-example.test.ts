import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** The README's "Library: encrypt a field" snippet, exactly as a reader would paste it. */
function readmeSnippet(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library: encrypt a field'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README.md has no ```ts block under "## Library: encrypt a field"');
  return match[1]!;
}

describe('README library example', () => {
  it('runs as written (from the project root, with SECRETS_ENCRYPTION_KEY set) and prints no plaintext', () => {
    // A file at the project root, so './functions/core' resolves as it does for a reader.
    const dir = mkdtempSync(path.join(ROOT, '.readme-example-'));
    try {
      const file = path.join(dir, 'example.ts');
      writeFileSync(
        file,
        readmeSnippet().replace("from './functions/core'", `from '${path.join(ROOT, 'functions/core')}'`),
      );
      const out = execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), [file], {
        cwd: ROOT,
        env: { ...process.env, SECRETS_ENCRYPTION_KEY: `kek-v2:${randomBytes(32).toString('base64')}` },
        encoding: 'utf8',
      });
      expect(out).toContain("kind: 'envelope', keyId: 'kek-v2'");
      expect(out).toMatch(/ 17 \d+\n$/); // 'alice@example.com'.length, then the binary envelope's size
      expect(out).not.toContain('alice@example.com');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
