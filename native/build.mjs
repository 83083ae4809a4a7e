#!/usr/bin/env node
// Builds native/*.cc into build/llava_torch.node with g++ directly: no node-gyp, so nothing is
// downloaded (Node's own headers are used) and torch's headers get the RTTI and exceptions they
// need. Rebuilds only objects older than their sources or headers. Usage: node native/build.mjs [--force]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const buildDir = join(root, 'build');

// libtorch, in the documented order: $LIBTORCH, the system's (Debian libtorch-dev), an installed Python torch.
function findLibtorch() {
  if (process.env.LIBTORCH) {
    const base = resolve(process.env.LIBTORCH);
    if (!existsSync(join(base, 'include', 'ATen', 'ATen.h')))
      throw new Error(`LIBTORCH=${base} has no include/ATen/ATen.h: point it at an unpacked libtorch folder`);
    const cmake = join(base, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
    const abi = existsSync(cmake) ? /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(readFileSync(cmake, 'utf8'))?.[1] : undefined;
    return { source: 'LIBTORCH', include: join(base, 'include'), lib: join(base, 'lib'), cxx11Abi: abi };
  }
  if (existsSync('/usr/include/ATen/ATen.h') && existsSync('/usr/lib/x86_64-linux-gnu/libtorch_cpu.so')) {
    return { source: 'system', include: '/usr/include', lib: '/usr/lib/x86_64-linux-gnu', cxx11Abi: undefined };
  }
  try {
    const out = execFileSync(
      'python3',
      ['-c', 'import torch,os;d=os.path.dirname(torch.__file__);print(d);print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
      { encoding: 'utf8' },
    );
    const [dir, abi] = out.trim().split('\n');
    return { source: 'python', include: join(dir, 'include'), lib: join(dir, 'lib'), cxx11Abi: abi };
  } catch {
    throw new Error(
      "libtorch not found: set LIBTORCH to a libtorch folder, install Debian's libtorch-dev (bash scripts/setup.sh does), or install PyTorch for python3",
    );
  }
}

function nodeInclude() {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) throw new Error(`Node's headers (node_api.h) not found in ${candidates.join(' or ')}`);
  return found;
}

// g++ on PATH, checked before any work so that a missing compiler is named, not an ENOENT.
function findCompiler() {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('g++ not found on PATH: install a C++17 compiler (Debian: sudo apt-get install g++)');
  }
  return 'g++';
}

function run(cmd, args) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} exited with ${code}`))));
  });
}

const mtime = (p) => statSync(p).mtimeMs;

// Our own compute kernels (the files that use at::parallel_for) get -fopenmp, since at::parallel_for is an OpenMP
// pragma in ATen's headers (without it they run on one thread; torch.utils.cpp_extension compiles extensions so
// too), and -O3, since GCC 12's -O2 vectorizes only loops that need no runtime checks.
const kernelFlags = (src) => (readFileSync(src, 'utf8').includes('<ATen/Parallel.h>') ? ['-fopenmp', '-O3'] : []);

async function main() {
  const force = process.argv.includes('--force');
  const torch = findLibtorch();
  // c10d.cc includes ProcessGroupGloo.hpp, which includes Gloo's own headers: a Python or
  // LIBTORCH folder ships them beside torch's, Debian in libgloo-dev.
  if (![torch.include, '/usr/include'].some((d) => existsSync(join(d, 'gloo', 'context.h'))))
    throw new Error(
      `Gloo's headers (gloo/context.h) not found in ${torch.include} or /usr/include: install Debian's libgloo-dev (bash scripts/setup.sh does)`,
    );
  const cxx = findCompiler();
  // include_dir is relative to the current directory, whatever it is.
  const addonApi = resolve(createRequire(import.meta.url)('node-addon-api').include_dir);
  mkdirSync(buildDir, { recursive: true });
  const flags = [
    '-std=c++17',
    '-O2',
    '-fPIC',
    '-fvisibility=hidden',
    '-Wall',
    '-Wno-unused-parameter',
    // Experimental Node-API for basic finalizers, which free tensor handles during GC (addon.cc).
    '-DNAPI_EXPERIMENTAL',
    '-DNAPI_CPP_EXCEPTIONS',
    '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    ...(torch.cxx11Abi !== undefined ? [`-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi}`] : []),
    `-I${nodeInclude()}`,
    `-I${addonApi}`,
    `-I${torch.include}`,
    `-I${join(torch.include, 'torch', 'csrc', 'api', 'include')}`,
    // c10d.cc: a header Debian's libtorch-dev lacks, looked up only after the real ones.
    `-idirafter${join(nativeDir, 'c10d-compat')}`,
  ];
  const sources = readdirSync(nativeDir).filter((f) => f.endsWith('.cc'));
  const newestHeader = Math.max(
    ...readdirSync(nativeDir)
      .filter((f) => f.endsWith('.h'))
      .map((f) => mtime(join(nativeDir, f))),
  );
  const objects = sources.map((s) => ({ src: join(nativeDir, s), obj: join(buildDir, s.replace(/\.cc$/, '.o')) }));
  const stale = objects.filter(
    ({ src, obj }) => force || !existsSync(obj) || mtime(obj) < Math.max(mtime(src), newestHeader),
  );
  // Each torch translation unit takes ~1 GB and many seconds: compile at most one per core.
  const jobs = Math.max(1, Math.min(cpus().length, stale.length));
  for (let i = 0; i < stale.length; i += jobs) {
    await Promise.all(
      stale.slice(i, i + jobs).map(({ src, obj }) => {
        console.log(`native: compiling ${src.slice(root.length + 1)}`);
        return run(cxx, [...flags, ...kernelFlags(src), '-c', src, '-o', obj]);
      }),
    );
  }
  const output = join(buildDir, 'llava_torch.node');
  if (stale.length || !existsSync(output)) {
    // A CUDA libtorch registers its GPU kernels from libtorch_cuda, which we call nothing from
    // directly: --no-as-needed keeps it linked.
    const cudaLibs = ['torch_cuda', 'c10_cuda']
      .filter((l) => existsSync(join(torch.lib, `lib${l}.so`)))
      .map((l) => `-l${l}`);
    await run(cxx, [
      '-shared',
      '-fopenmp',
      '-o',
      output,
      ...objects.map((o) => o.obj),
      `-L${torch.lib}`,
      `-Wl,-rpath,${torch.lib}`,
      '-Wl,--no-as-needed',
      '-ltorch',
      '-ltorch_cpu',
      '-lc10',
      ...cudaLibs,
      '-Wl,--as-needed',
    ]);
    writeFileSync(join(buildDir, 'libtorch.json'), JSON.stringify(torch, null, 2) + '\n');
    console.log(`native: built ${output.slice(root.length + 1)} against ${torch.source} libtorch (${torch.lib})`);
  }
}

main().catch((err) => {
  console.error(`native build failed: ${err.message}`);
  process.exit(1);
});
