#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs, safe to run again (each step is skipped when done):
# Debian packages (libtorch, OpenBLAS's OpenMP build; python3-torch too with --bench or --test), OpenBLAS-OpenMP
# selected as the system BLAS, npm dependencies, the native addon, the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# libgloo-dev: Gloo's headers, which Debian's libtorch-dev lacks, for the c10d binding (native/c10d.cc).
packages=(g++ libtorch-dev libgloo-dev libopenblas0-openmp)
# Debian's PyTorch: the anchor of every benchmark, and the test suite's check that files we write in torch.save
# format (mm_projector.bin) load in torch.load.
[[ "${1:-}" == "--bench" || "${1:-}" == "--test" ]] && packages+=(python3-torch)
# Debian's Chromium: the web chat page's browser test (playwright-core drives it; no browser is downloaded).
[[ "${1:-}" == "--test" ]] && packages+=(chromium)
[[ -n "${LIBTORCH:-}" ]] && packages=(g++)   # a user-supplied libtorch needs no Debian one

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}. Run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# libtorch calls whatever libblas.so.3 the alternatives system points at. The reference BLAS is
# ~50x slower, and OpenBLAS's pthread build fights libtorch's OpenMP threads: pick the OpenMP build.
if [[ -z "${LIBTORCH:-}" ]]; then
  arch_dir=/usr/lib/x86_64-linux-gnu
  for lib in libblas.so.3 liblapack.so.3; do
    want="$arch_dir/openblas-openmp/$lib"
    if [[ -e "$want" && "$(readlink -f "$arch_dir/$lib")" != "$(readlink -f "$want")" ]]; then
      if [[ $(id -u) -ne 0 ]]; then
        echo "setup: $lib is not OpenBLAS-OpenMP. Run: sudo update-alternatives --set $lib-x86_64-linux-gnu $want" >&2
        exit 1
      fi
      update-alternatives --set "$lib-x86_64-linux-gnu" "$want"
    fi
  done
fi

# npm dependencies of a folder, when missing or older than its lock file: npm_ci DIR [npm ci options].
npm_ci() {
  local dir=$1
  shift
  if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    npm ci --prefix "$dir" --no-audit --no-fund "$@"
  fi
}
npm_ci .
# The benchmarks' llama.cpp anchor (bench/llama_cpp.ts), in its own folder so that the CPU build alone is installed;
# --ignore-scripts: its postinstall would download or build llama.cpp, and the prebuilt CPU package is the one used.
[[ "${1:-}" == "--bench" ]] && npm_ci bench/llama-cpp --omit=optional --ignore-scripts

node native/build.mjs
rm -rf dist   # outputs of deleted sources must not run as tests
npx tsc -p .
