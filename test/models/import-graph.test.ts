// The model files form no import cycle: the model classes call the checkpoint loaders and pass
// themselves in, and the loaders import the classes as types only. Read from the TypeScript
// sources (the compiled folder may hold files of sources since deleted); an import that names
// types only (`import type`, or every specifier marked `type`) is erased by tsc and left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const modelsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'models'); // from dist/test/models

const IMPORT =
  /^\s*(?:import|export)\s+(type\s+)?(\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+['"](\.\/[^'"]+)\.js['"]|^\s*import\s+['"](\.\/[^'"]+)\.js['"]/gm;

/** Whether an import or re-export statement survives compilation. */
function isValueImport(typeKeyword: string | undefined, clause: string | undefined): boolean {
  if (typeKeyword) return false;
  const braces = clause?.match(/\{([^}]*)\}/)?.[1];
  if (clause === undefined || braces === undefined || /^\s*\w+\s*,/.test(clause)) return true; // *, default, side effect
  const specifiers = braces
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return specifiers.some((x) => !x.startsWith('type '));
}

/** file -> the files of the same folder it imports or re-exports at run time. */
function importGraph(files: Map<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const targets = [...text.matchAll(IMPORT)]
      .filter((m) => isValueImport(m[1], m[2]))
      .map((m) => `${(m[3] ?? m[4])!.slice(2)}.ts`)
      .filter((target) => files.has(target));
    graph.set(file, targets);
  }
  return graph;
}

/** A cycle as a list of files (first = last), or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

test('the graph reader keeps value imports and re-exports, and drops type-only ones', () => {
  const graph = importGraph(
    new Map([
      [
        'a.ts',
        "import { x, type Y } from './b.js';\nimport type { Z } from './c.js';\nimport { type W } from './d.js';",
      ],
      ['b.ts', "export * from './c.js';\nexport type { V } from './d.js';\nimport './e.js';"],
      ['c.ts', "export {\n  p,\n  q,\n} from './d.js';\nimport { r } from '../elsewhere/x.js';"],
      ['d.ts', ''],
      ['e.ts', ''],
    ]),
  );
  assert.deepEqual(Object.fromEntries(graph), {
    'a.ts': ['b.ts'],
    'b.ts': ['c.ts', 'e.ts'],
    'c.ts': ['d.ts'],
    'd.ts': [],
    'e.ts': [],
  });
});

test('the cycle finder finds a planted cycle (so that an empty answer means something)', () => {
  const planted = new Map([
    ['a.js', ['b.js']],
    ['b.js', ['c.js']],
    ['c.js', ['a.js']],
    ['d.js', ['a.js']],
  ]);
  assert.deepEqual(findCycle(planted), ['a.js', 'b.js', 'c.js', 'a.js']);
  assert.equal(
    findCycle(
      new Map([
        ['a.js', ['b.js']],
        ['b.js', []],
      ]),
    ),
    undefined,
  );
});

test('src/models has no import cycle (type-only imports excluded)', () => {
  const files = new Map(
    readdirSync(modelsDir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [f, readFileSync(join(modelsDir, f), 'utf8')]),
  );
  const graph = importGraph(files);
  assert.ok(graph.size >= 10, `read ${graph.size} model sources from ${modelsDir}`);
  assert.ok(graph.get('index.ts')!.includes('llava.ts'), 'the graph sees re-exports');
  assert.ok(graph.get('llava.ts')!.includes('hf-layout.ts'), 'the graph sees the model calling its loader');
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.join(' -> ')}`);
});
