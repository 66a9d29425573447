import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Every `/* Precondition: … *\/` tag in functions/core/crypto is followed by a
 * `needs(…)` call and has a test whose title is the same text, under
 * test/unit/crypto; every `Precondition:` test names a tag that exists. A new
 * tag without a test, or a test left behind by a removed tag, fails here.
 */
const ROOT = path.resolve(__dirname, '../../..');
const SOURCE = path.join(ROOT, 'functions/core/crypto');
const TESTS = path.join(ROOT, 'test/unit/crypto');
const TAG = /\/\* (Precondition: [^*]*?) \*\/\n(\s*)(\S[^\n]*)/g;
const TEST_TITLE = /\b(?:test|it)\(\s*'(Precondition: (?:[^'\\]|\\.)*)'/g;

function tsFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full, suffix);
    return entry.name.endsWith(suffix) ? [full] : [];
  });
}

interface Tag {
  readonly text: string;
  readonly where: string;
  readonly nextLine: string;
}

function tags(): Tag[] {
  return tsFiles(SOURCE, '.ts').flatMap((file) => {
    const source = readFileSync(file, 'utf8');
    return [...source.matchAll(TAG)].map((m) => ({
      text: m[1]!,
      where: `${path.relative(ROOT, file)}:${source.slice(0, m.index).split('\n').length}`,
      nextLine: m[3]!,
    }));
  });
}

function testTitles(): Set<string> {
  return new Set(
    tsFiles(TESTS, '.test.ts').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(TEST_TITLE)].map((m) => m[1]!.replace(/\\(.)/g, '$1')),
    ),
  );
}

describe('tagged preconditions in functions/core/crypto', () => {
  const found = tags();

  it('the envelope parser and the cipher are tagged (a check that finds no tags proves nothing)', () => {
    const files = new Set(found.map((t) => t.where.split(':')[0]));
    expect([...files]).toEqual(
      expect.arrayContaining(['functions/core/crypto/envelope.ts', 'functions/core/crypto/envelope-cipher.ts']),
    );
    expect(found.length).toBeGreaterThanOrEqual(25);
  });

  it('every tag is a sentence followed by a needs(...) call', () => {
    const malformed = found
      .filter((t) => !t.text.endsWith('.') || !t.nextLine.startsWith('needs('))
      .map((t) => `${t.where}: "${t.text}" then "${t.nextLine}"`);
    expect(malformed).toEqual([]);
  });

  it('every tag has a test with the same title', () => {
    const titles = testTitles();
    expect(found.filter((t) => !titles.has(t.text)).map((t) => `${t.where}: ${t.text}`)).toEqual([]);
  });

  it('every Precondition test names a tag in the source', () => {
    const texts = new Set(found.map((t) => t.text));
    expect([...testTitles()].filter((title) => !texts.has(title))).toEqual([]);
  });
});
