// Which of the x86-64 kernel builds this CPU *and operating system* can run (bindings.cpp asks
// before it offers an ISA). An instruction set is usable only if the CPU has it (CPUID) and the OS
// saves its registers on a context switch (XCR0, read with XGETBV, once CPUID.1:ECX.OSXSAVE says
// the OS enabled XSAVE): a CPU with AVX-512 under an OS or hypervisor that does not save the ZMM and
// mask registers faults on the first AVX-512 instruction.
//
//  - GCC and Clang (Linux, macOS, MinGW): __builtin_cpu_supports, whose runtimes (libgcc's
//    cpuinfo, compiler-rt's cpu_model) already gate AVX/AVX2/FMA on XCR0 bits 1-2 and AVX-512 on
//    bits 1-2 and 5-7 (on macOS compiler-rt trusts the kernel's lazy AVX-512 state save instead).
//  - MSVC (and clang-cl, which defines _MSC_VER): no __builtin_cpu_supports, so decode_x86() below
//    does the same checks on __cpuid/__cpuidex and _xgetbv.
// decode_x86() is a pure function of the CPUID/XGETBV values so that it can be checked on any
// x86-64 host against the compiler's own detection (.ci/check-cpu-dispatch does).
#pragma once
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__) || ((defined(_M_X64) || defined(_M_IX86)) && !defined(_M_ARM64EC))
#define MINIGRAD_X86 1
#endif

#if defined(MINIGRAD_X86) && defined(_MSC_VER)
#include <intrin.h>
#endif

namespace minigrad {
namespace cpu {

struct X86Isa {
  bool avx2_fma = false;  // AVX2 and FMA, with the YMM state saved by the OS
  bool avx512 = false;    // AVX-512 F, VL, BW and DQ (and FMA), with the ZMM/opmask state saved
};

// cpuid(leaf, subleaf, regs) fills regs[4] = {eax, ebx, ecx, edx}; xgetbv0() returns XCR0.
template <typename Cpuid, typename Xgetbv0>
X86Isa decode_x86(Cpuid cpuid, Xgetbv0 xgetbv0) {
  X86Isa isa;
  uint32_t r[4] = {0, 0, 0, 0};
  cpuid(0u, 0u, r);
  const uint32_t max_leaf = r[0];
  if (max_leaf < 1) return isa;
  cpuid(1u, 0u, r);
  const uint32_t ecx1 = r[2];
  const bool fma = (ecx1 >> 12) & 1;
  const bool osxsave = (ecx1 >> 27) & 1;
  if (!osxsave) return isa;  // the OS did not enable XSAVE (and XGETBV would fault)
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;    // SSE (bit 1) and AVX (bit 2) state
  const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;  // + opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7)
  if (!ymm_saved || max_leaf < 7) return isa;
  cpuid(7u, 0u, r);
  const uint32_t ebx7 = r[1];
  const bool avx2 = (ebx7 >> 5) & 1;
  const bool avx512f = (ebx7 >> 16) & 1, avx512dq = (ebx7 >> 17) & 1;
  const bool avx512bw = (ebx7 >> 30) & 1, avx512vl = (ebx7 >> 31) & 1;
  isa.avx2_fma = avx2 && fma;
  isa.avx512 = zmm_saved && fma && avx512f && avx512vl && avx512bw && avx512dq;
  return isa;
}

#if defined(MINIGRAD_X86) && defined(_MSC_VER)
inline X86Isa detect_x86() {
  static const X86Isa isa = decode_x86(
      [](uint32_t leaf, uint32_t subleaf, uint32_t* regs) {
        int out[4];
        __cpuidex(out, static_cast<int>(leaf), static_cast<int>(subleaf));
        for (int i = 0; i < 4; ++i) regs[i] = static_cast<uint32_t>(out[i]);
      },
      []() -> uint64_t {
#if defined(__clang__)  // clang-cl: its _xgetbv needs the xsave target feature; the instruction does not
        uint32_t eax, edx;
        __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
        return (static_cast<uint64_t>(edx) << 32) | eax;
#else
        return _xgetbv(0);
#endif
      });
  return isa;
}
#endif

// The questions bindings.cpp asks, on every compiler.
inline bool has_avx2_fma() {
#if defined(MINIGRAD_X86) && defined(_MSC_VER)
  return detect_x86().avx2_fma;
#elif defined(MINIGRAD_X86) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;  // not x86: CMakeLists.txt builds no x86 kernels here (bindings.cpp checks)
#endif
}

inline bool has_avx512() {
#if defined(MINIGRAD_X86) && defined(_MSC_VER)
  return detect_x86().avx512;
#elif defined(MINIGRAD_X86) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace cpu
}  // namespace minigrad
