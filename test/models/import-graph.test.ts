// The model files form no import cycle: the model classes call the checkpoint loaders and pass
// themselves in, and the loaders import the classes as types only. Read from the compiled files,
// where `import type` is already gone, so the graph is the one Node actually loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const modelsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'models'); // dist/src/models

/** file -> the files of the same folder it imports or re-exports at run time. */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s*['"](\.[^'"]+)['"]/gm)]
      .concat([...text.matchAll(/^\s*import\s*['"](\.[^'"]+)['"]/gm)])
      .map((m) => resolve(dir, m[1]!))
      .filter((p) => dirname(p) === resolve(dir))
      .map((p) => p.slice(resolve(dir).length + 1));
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
  const graph = importGraph(modelsDir);
  assert.ok(graph.size >= 10, `read ${graph.size} compiled model files from ${modelsDir}`);
  assert.ok(graph.get('index.js')!.includes('llava.js'), 'the graph sees re-exports');
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.join(' -> ')}`);
});
