#!/usr/bin/env bash
# Runs a command as on an AVX2-only CPU: CPUID (through bench/cpuid_avx2.c, preloaded) and glibc's
# own dispatch report no AVX-512, AMX, AVX-VNNI or BF16, so numpy, ONNX Runtime, PyTorch and faiss
# pick their AVX2 kernels. Clock, caches and memory stay this host's: the figures isolate what the
# instruction set changes. Needs Linux's CPUID faulting (CPU flag cpuid_fault) and a C compiler.
#   bench/avx2_only.sh COMMAND [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
grep -qw cpuid_fault /proc/cpuinfo || { echo "avx2_only.sh: this CPU or VM has no CPUID faulting (flag cpuid_fault): cannot mask CPUID here" >&2; exit 2; }
lib="${XDG_CACHE_HOME:-$HOME/.cache}/hippo/cpuid_avx2.so"
if [ ! -f "$lib" ] || [ "$here/cpuid_avx2.c" -nt "$lib" ]; then
    mkdir -p "$(dirname "$lib")"
    cc -O2 -shared -fPIC -o "$lib" "$here/cpuid_avx2.c" -ldl
fi
masked="AVX512F,AVX512CD,AVX512BW,AVX512DQ,AVX512VL,AVX512_VNNI,AVX512_BF16,AVX512_FP16,AVX512_IFMA,AVX512_VBMI,AVX512_VBMI2,AVX512_BITALG,AVX512_VPOPCNTDQ,AVX_VNNI,AMX_BF16,AMX_TILE,AMX_INT8"
export GLIBC_TUNABLES="glibc.cpu.hwcaps=-${masked//,/,-}${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
