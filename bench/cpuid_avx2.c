/* LD_PRELOAD shim: the process (and every process it starts with the same environment) sees a
 * CPU without AVX-512, AMX, AVX-VNNI or BF16 in CPUID, so numpy, ONNX Runtime, PyTorch and
 * faiss dispatch to their AVX2 kernels, as on an AVX2-only laptop. Linux's CPUID faulting
 * (arch_prctl ARCH_SET_CPUID; CPU flag cpuid_fault) turns each CPUID instruction into a SIGSEGV;
 * the handler runs the real CPUID, clears those bits and steps over the instruction. SIGSEGV
 * handlers installed later by the program are kept and called for every other fault.
 * Built and used by bench/avx2_only.sh. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

static struct sigaction program_handler; /* the program's own SIGSEGV disposition */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static void set_cpuid_faulting(int on) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

static void mask(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    if (leaf == 7 && subleaf == 0) {
        *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && subleaf == 1) {
        *a &= ~((1u << 4) | (1u << 5)); /* AVX-VNNI, AVX512_BF16 */
    }
    (void)d;
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (info->si_code == SI_KERNEL && ip[0] == 0x0F && ip[1] == 0xA2) {
        uint32_t a, b, c, d, leaf = (uint32_t)regs[REG_RAX], subleaf = (uint32_t)regs[REG_RCX];
        set_cpuid_faulting(0);
        __cpuid_count(leaf, subleaf, a, b, c, d);
        set_cpuid_faulting(1);
        mask(leaf, subleaf, &a, &b, &c, &d);
        regs[REG_RAX] = a, regs[REG_RBX] = b, regs[REG_RCX] = c, regs[REG_RDX] = d;
        regs[REG_RIP] += 2;
        return;
    }
    if (program_handler.sa_flags & SA_SIGINFO && program_handler.sa_sigaction) {
        program_handler.sa_sigaction(sig, info, context);
    } else if (program_handler.sa_handler != SIG_DFL && program_handler.sa_handler != SIG_IGN) {
        program_handler.sa_handler(sig);
    } else { /* a real fault: die of it as the program would have */
        struct sigaction fallback = {.sa_handler = SIG_DFL};
        real_sigaction(SIGSEGV, &fallback, NULL);
    }
}

/* The program's sigaction(SIGSEGV, ...) is recorded, not installed: ours stays first. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV) return real_sigaction(sig, act, old);
    if (old) *old = program_handler;
    if (act) program_handler = *act;
    return 0;
}

__attribute__((constructor)) static void install(void) {
    real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_segv;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&ours.sa_mask);
    real_sigaction(SIGSEGV, &ours, NULL);
    set_cpuid_faulting(1);
}
