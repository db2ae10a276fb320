// apps/bench.cpp — tttrec's benchmark program: prints one JSON object per line, per measurement.
//
// The program is a list of named sections (see kSections at the bottom). Each section is a function
// that prints its own lines; `--only a,b` runs a subset, `--list` names them. Later parts of the
// project (TTT layers, data parsing) add a section here.
//
// Sections so far:
//   peak    the machine's measured fma peak (GFLOP/s) on one core and on all threads: tight loops
//           of independent fma chains, through the engine's tt::simd::fma and through the raw
//           intrinsic (they must agree), i.e. what no real kernel can beat. Every frac_of_peak is
//           against the better of the two.
//   matmul  sgemm on the shapes of the recommender (M x N x K), 1 thread and all threads, as GFLOP/s
//           and as a fraction of the peak, next to the naive sgemm_ref and (if built with OpenBLAS)
//           cblas_sgemm as a yardstick. Also tt::matmul on TTT-sized batches of 16x16 products.
//   ttt     forward+backward of one TTT layer (model/ttt.hpp) at B=128, L=50, C=64, 4 heads,
//           mini-batch b = 8 and 16: {TTT-Linear, TTT-MLP} x {general, fast} inner loop, 1 thread
//           and all threads.
//           The backward is backward(y, dy) with a fixed random dy, i.e. every parameter's gradient.
//   train-ttt, train-ttt-primal, train-sasrec, infer-ttt, infer-sasrec
//           the performance issue's benchmark configurations, the same models, data layout, loss,
//           optimizer and timing policy as the PyTorch peer ../shared/bench/ttt4rec_torch.py (see
//           apps/bench_models.hpp): 3,416 items, C=64, L=50, batch 128, CE over all items at every
//           position, Adam; `ttt` = 2 blocks of TTT-Linear (4 heads, mini-batch 16) + SwiGLU with the
//           dual-form loop, `ttt-primal` the same model with the general nested-autodiff loop,
//           `sasrec` the peer's SASRec; inference = full-ranking scores for 256 users. Each prints
//           sequences (or users) per second, model GFLOP/s and the process's peak RSS (getrusage:
//           per process, so run one configuration per process for a meaningful RSS, e.g.
//           `bench --only train-ttt --threads 2`). apps/bench_vs_torch.sh runs them against the peer.
//   train-rec
//           training throughput of registry recommenders (model/registry.hpp) on the same data and
//           sizes (3,416 items, C=64, L=50, batch 128, Adam): each model's published defaults and its
//           own loss() (histories right-padded, as the recommenders take them), timed with the same
//           policy. --models picks them (default narm,bert4rec,mamba4rec); a name the registry does
//           not have gives a "skipped" line. Prints train sequences/s, parameters and peak RSS.
//   data    load throughput (lines/s) of the largest interaction file in the shared data directory:
//           cold (read + parse + preprocess, no dataset cache) and from the binary cache
//           (data/throughput.hpp). Directory: --data-dir, else $TTTREC_SHARED_DATA, else
//           ../shared/data next to the source tree; the section is skipped when it is absent.
//
// Timing: one warm-up call, then repeated calls until >= 0.3 s (and >= 3 calls); we report the
// median and the best call. GFLOP/s counts 2*M*N*K flops per GEMM.
// NOTE: on a shared, busy machine wall-clock numbers mostly measure the other processes. So every
// line also carries the 1-minute load average, and single-thread lines add `gflops_cpu`: the same
// median measured with this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which excludes the time the
// thread was descheduled; compare it with `peak_gflops_cpu`, measured the same way.
//
// Usage: bench [--only SECTION[,SECTION...]] [--list] [--quick] [--threads N] [--steps N] [--warmup N]
//              [--data-dir DIR] [--models NAME[,NAME...]]
//   --quick    shorter timing (0.05 s per point; 1 warm-up and 3 timed steps for the models), for smoke tests.
//   --threads  threads for the model sections and the "all threads" lines (default: all cores).
//   --models   the registry models of train-rec (default narm,bert4rec,mamba4rec).
//   --steps, --warmup  exactly N timed steps / N warm-up steps in the model sections (default: the
//              peer's policy, 3 warm-up then up to 15 timed within 25 s), e.g. for a long perf record.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>
#include <xsimd/xsimd.hpp>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>

#include "apps/bench_models.hpp"
#include "autodiff/grad.hpp"
#include "data/throughput.hpp"
#include "model/optim.hpp"
#include "model/registry.hpp"
#include "model/ttt.hpp"
#include "tensor/matmul.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/simd.hpp"
#include "tensor/tensor.hpp"

#ifdef TTTREC_HAVE_CBLAS
#include <cblas.h>
#endif

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

double g_min_seconds = 0.3;

struct Timing {
    double median_s = 0, best_s = 0;
    double cpu_median_s = 0;  // CPU time of the calling thread only: meaningful for 1-thread runs
    double proc_cpu_median_s = 0;  // CPU time of the whole process (every thread), per call
    int reps = 0;  // samples (each sample may be several calls)
};

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double load_average() {
    std::ifstream f("/proc/loadavg");
    double l = -1;
    f >> l;
    return l;
}

// Warm up once, then call fn until the total time reaches min_seconds (at least min_reps samples).
Timing time_it(const std::function<void()>& fn, double min_seconds, int min_reps = 3) {
    const auto w0 = clock_type::now();
    fn();
    // Each sample is `inner` calls lasting >= ~1 ms, so that clock resolution and clock_gettime's
    // own cost do not distort microsecond-scale calls (a 64^3 GEMM takes ~3 us).
    const double first = std::chrono::duration<double>(clock_type::now() - w0).count();
    const int inner = static_cast<int>(std::clamp(1e-3 / std::max(first, 1e-9), 1.0, 1e5));
    std::vector<double> t, cpu, proc;
    double total = 0;
    while (total < min_seconds || static_cast<int>(t.size()) < min_reps) {
        const double c0 = thread_cpu_seconds(), p0 = process_cpu_seconds();
        const auto t0 = clock_type::now();
        for (int i = 0; i < inner; ++i) fn();
        const double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
        cpu.push_back((thread_cpu_seconds() - c0) / inner);
        proc.push_back((process_cpu_seconds() - p0) / inner);
        t.push_back(dt / inner);
        total += dt;
    }
    std::sort(t.begin(), t.end());
    std::sort(cpu.begin(), cpu.end());
    std::sort(proc.begin(), proc.end());
    return {t[t.size() / 2], t.front(), cpu[cpu.size() / 2], proc[proc.size() / 2], static_cast<int>(t.size())};
}

void emit(const json& j) { std::cout << j.dump() << std::endl; }

// ---------------------------------------------------------------------------------------------
// peak: the fma roofline of this machine
//
// Two probes, both counting 2 flops per lane per fma:
//   * `project`: kChains chains of tt::simd::fma on xsimd batches, the fma every engine kernel calls;
//   * `raw`: kRawChains chains of the FMA intrinsic itself (_mm512_fmadd_ps / _mm256_fmadd_ps), written
//     without xsimd or tt::simd, so that a project fma that silently stops being one instruction (as
//     xsimd 8.1's fma on AVX-512 is: a vmulps and a vaddps) shows up as a gap between the two lines
//     instead of a peak that is half the truth and kernels that look twice as good as they are. In a
//     build without an FMA instruction (portable SSE2) the raw probe is a multiply plus an add.
// The peak every frac_of_peak below divides by is the better of the two (they agree on a sound build).

using batch = xsimd::batch<float>;

// Independent accumulators, each a dependent fma chain: enough of them to cover the fma latency
// times the number of fma ports (Zen/Intel: 4 cycles x 2 ports = 8), so the loop is bound by fma
// throughput only. Operands stay in registers; values stay finite (x*m + a with m < 1 converges).
constexpr int kChains = 12;
constexpr int kRawChains = 16;

double fma_loop(int64_t iters) {
    batch acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = batch(static_cast<float>(c) * 0.01f);
    const batch m(0.999f), a(0.001f);
    for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
        for (int c = 0; c < kChains; ++c) acc[c] = tt::simd::fma(acc[c], m, a);
    }
    batch s = acc[0];
    for (int c = 1; c < kChains; ++c) s += acc[c];
    alignas(64) float lanes[batch::size];
    s.store_aligned(lanes);
    return static_cast<double>(lanes[0]);
}

#if defined(__AVX512F__)
using raw_reg = __m512;
constexpr int kRawLanes = 16;
constexpr const char* kRawProbe = "_mm512_fmadd_ps";
inline raw_reg raw_set(float v) { return _mm512_set1_ps(v); }
inline raw_reg raw_fma(raw_reg x, raw_reg y, raw_reg z) { return _mm512_fmadd_ps(x, y, z); }
inline float raw_first(raw_reg x) { return _mm512_cvtss_f32(x); }
#elif defined(__FMA__) && defined(__AVX__)
using raw_reg = __m256;
constexpr int kRawLanes = 8;
constexpr const char* kRawProbe = "_mm256_fmadd_ps";
inline raw_reg raw_set(float v) { return _mm256_set1_ps(v); }
inline raw_reg raw_fma(raw_reg x, raw_reg y, raw_reg z) { return _mm256_fmadd_ps(x, y, z); }
inline float raw_first(raw_reg x) { return _mm256_cvtss_f32(x); }
#elif defined(__SSE2__)
using raw_reg = __m128;
constexpr int kRawLanes = 4;
constexpr const char* kRawProbe = "_mm_mul_ps + _mm_add_ps (no FMA instruction in this build)";
inline raw_reg raw_set(float v) { return _mm_set1_ps(v); }
inline raw_reg raw_fma(raw_reg x, raw_reg y, raw_reg z) { return _mm_add_ps(_mm_mul_ps(x, y), z); }
inline float raw_first(raw_reg x) { return _mm_cvtss_f32(x); }
#else
using raw_reg = float;
constexpr int kRawLanes = 1;
constexpr const char* kRawProbe = "std::fma (scalar)";
inline raw_reg raw_set(float v) { return v; }
inline raw_reg raw_fma(raw_reg x, raw_reg y, raw_reg z) { return std::fma(x, y, z); }
inline float raw_first(raw_reg x) { return x; }
#endif

double raw_fma_loop(int64_t iters) {
    raw_reg acc[kRawChains];
    for (int c = 0; c < kRawChains; ++c) acc[c] = raw_set(static_cast<float>(c) * 0.01f);
    const raw_reg m = raw_set(0.999f), a = raw_set(0.001f);
    for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
        for (int c = 0; c < kRawChains; ++c) acc[c] = raw_fma(acc[c], m, a);
    }
    float s = 0;
    for (int c = 0; c < kRawChains; ++c) s += raw_first(acc[c]);
    return static_cast<double>(s);
}

enum class Probe { project, raw };

// The instrument's own check: the core clock, from a chain of dependent integer adds (one cycle
// each on any x86 core), timed by this thread's CPU time. peak / clock = flops per cycle, which
// cannot exceed what the core's FMA units can issue (e.g. 32 for two 256-bit FMA pipes, which is
// what a 512-bit FMA occupies on Zen 4; 64 for two 512-bit pipes): a higher figure is a miscount.
double clock_ghz() {
#if defined(__x86_64__)
    const int64_t n = 200'000'000;
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        uint64_t x = 0;
        const double c0 = thread_cpu_seconds();
        for (int64_t i = 0; i < n; ++i) asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
        best = std::max(best, 4.0 * static_cast<double>(n) / (thread_cpu_seconds() - c0) / 1e9);
    }
    return best;
#else
    return 0;  // unknown
#endif
}

// Best of 5 runs; with use_cpu_time (1 thread only) timed by this thread's CPU time.
double measure_probe_gflops(Probe probe, int threads, bool use_cpu_time = false) {
    const int64_t iters = 2'000'000;
    const double fmas_per_iter = probe == Probe::project ? kChains * static_cast<double>(batch::size)
                                                         : kRawChains * static_cast<double>(kRawLanes);
    const double flops = 2.0 * fmas_per_iter * static_cast<double>(iters);
    const auto loop = probe == Probe::project ? fma_loop : raw_fma_loop;
    volatile double sink = 0;
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
        const double c0 = thread_cpu_seconds();
        const auto t0 = clock_type::now();
        if (threads == 1) {
            sink = sink + loop(iters);
        } else {
            double s = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : s) schedule(static, 1)
            for (int t = 0; t < threads; ++t) s += loop(iters);
            sink = sink + s;
        }
        const double dt = use_cpu_time ? thread_cpu_seconds() - c0
                                       : std::chrono::duration<double>(clock_type::now() - t0).count();
        best = std::min(best, dt);
    }
    return flops * threads / best / 1e9;
}

// The true peak: the better probe (see above).
double measure_peak_gflops(int threads, bool use_cpu_time = false) {
    return std::max(measure_probe_gflops(Probe::project, threads, use_cpu_time),
                    measure_probe_gflops(Probe::raw, threads, use_cpu_time));
}

// The per-core peak every frac_of_peak divides by: the better of wall-clock and CPU-time timing.
// CPU time cannot over-report (it only leaves out the time the thread was descheduled), while a
// wall-clock probe on a busy machine under-reports, which made kernels look better than the peak.
double peak_per_core_cpu() {
    static double p = measure_peak_gflops(1, true);
    return p;
}
double peak_per_core() {
    static double p = std::max(measure_peak_gflops(1), peak_per_core_cpu());
    return p;
}

void section_peak() {
    const tt::SgemmConfig cfg = tt::sgemm_config();
    const int nt = tt::num_threads();
    const double p1 = measure_probe_gflops(Probe::project, 1), r1 = measure_probe_gflops(Probe::raw, 1);
    const double pn = measure_probe_gflops(Probe::project, nt), rn = measure_probe_gflops(Probe::raw, nt);
    const double p1c = measure_probe_gflops(Probe::project, 1, true), r1c = measure_probe_gflops(Probe::raw, 1, true);
    const double ghz = clock_ghz(), pc = peak_per_core_cpu();
    emit({{"section", "peak"},
          {"arch", cfg.arch},
          {"simd_width", cfg.simd_width},
          {"project_fma", tt::simd::kHardwareFma ? "one FMA instruction" : "per-lane std::fma (no FMA instruction)"},
          {"fma_chains", kChains},
          {"raw_probe", kRawProbe},
          {"raw_chains", kRawChains},
          {"project_gflops_1thread", p1},
          {"raw_gflops_1thread", r1},
          // The same two probes timed by this thread's CPU time (robust to a busy machine).
          {"project_gflops_cpu", p1c},
          {"raw_gflops_cpu", r1c},
          {"project_over_raw_cpu", p1c / r1c},
          {"peak_gflops_1thread", peak_per_core()},  // what every frac_of_peak divides by (x threads)
          {"peak_gflops_cpu", pc},
          {"clock_ghz_estimate", ghz},
          {"flops_per_cycle", ghz > 0 ? json(pc / ghz) : json(nullptr)},
          {"threads", nt},
          {"project_gflops_all_threads", pn},
          {"raw_gflops_all_threads", rn},
          {"peak_gflops_all_threads", std::max(pn, rn)},
          {"loadavg", load_average()}});
}

// ---------------------------------------------------------------------------------------------
// matmul

// Fills with small uniform values, deterministically.
std::vector<float> random_vec(int64_t n, uint64_t seed) {
    tt::Rng rng(seed);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = rng.uniform() * 2.0f - 1.0f;
    return v;
}

struct MmShape {
    int64_t M, N, K;
    bool trans_a, trans_b;
    const char* what;
};

void bench_sgemm(const MmShape& s, int threads) {
    const int64_t M = s.M, N = s.N, K = s.K;
    // Operands stored as the flags say: op(A) (M,K) is A (M,K) or A (K,M); op(B) likewise.
    const int64_t lda = s.trans_a ? M : K, ldb = s.trans_b ? K : N;
    const std::vector<float> A = random_vec(M * K, 1), B = random_vec(K * N, 2);
    std::vector<float> C(static_cast<std::size_t>(M * N), 0.0f);
    const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);

    tt::set_num_threads(threads);
    const Timing t = time_it(
        [&] { tt::sgemm(s.trans_a, s.trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N); },
        g_min_seconds);
    const double peak = peak_per_core() * threads;
    json j = {{"section", "matmul"},
              {"op", "sgemm"},
              {"shape", s.what},
              {"M", M},
              {"N", N},
              {"K", K},
              {"trans_a", s.trans_a},
              {"trans_b", s.trans_b},
              {"threads", threads},
              {"gflops", flops / t.median_s / 1e9},
              {"gflops_best", flops / t.best_s / 1e9},
              {"ms_median", t.median_s * 1e3},
              {"reps", t.reps},
              {"peak_gflops", peak},
              {"frac_of_peak", flops / t.median_s / 1e9 / peak},
              {"loadavg", load_average()}};
    if (threads == 1) {
        j["gflops_cpu"] = flops / t.cpu_median_s / 1e9;
        j["peak_gflops_cpu"] = peak_per_core_cpu();
        j["frac_of_peak_cpu"] = flops / t.cpu_median_s / 1e9 / peak_per_core_cpu();
    } else {
        // flops per second of CPU time summed over the process's threads. Against the 1-thread line's
        // gflops_cpu it tells, on a busy machine where the wall-clock figure mostly measures waiting
        // for a core, whether the threads slow each other down (memory, caches): equal means that with
        // the cores to themselves `threads` threads would run `threads` times faster. (Only if every
        // thread gets work: a call split into one rectangle runs on one thread. Idle pool workers spin
        // briefly before sleeping, so it errs low.)
        j["gflops_per_cpu_s"] = flops / t.proc_cpu_median_s / 1e9;
    }

    // The naive reference is single-threaded and ~100x slower: time it only in the 1-thread line,
    // and on at most 512 rows of M (GFLOP/s does not depend on M for a triple loop), once.
    if (threads == 1) {
        const int64_t rows = std::min<int64_t>(M, 512);
        const double rflops = flops * static_cast<double>(rows) / static_cast<double>(M);
        // op(A) rows [0, rows): for trans_a they are the first `rows` columns of A, same lda.
        const Timing r = time_it(
            [&] {
                tt::sgemm_ref(s.trans_a, s.trans_b, rows, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N);
            },
            0.0, 1);
        j["ref_gflops"] = rflops / r.median_s / 1e9;
        j["ref_rows_timed"] = rows;
        j["ref_reps"] = r.reps;
    }
#ifdef TTTREC_HAVE_CBLAS
    openblas_set_num_threads(threads);
    const Timing c = time_it(
        [&] {
            cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
                        static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, A.data(),
                        static_cast<int>(lda), B.data(), static_cast<int>(ldb), 0.0f, C.data(), static_cast<int>(N));
        },
        g_min_seconds);
    j["openblas_gflops"] = flops / c.median_s / 1e9;
#endif
    emit(j);
}

// tt::matmul on a batch of small products, the TTT inner-loop shape: (B*H, K, f) x (B*H, f, f).
void bench_batched(int64_t nbatch, int64_t n, bool trans_a, bool trans_b, int threads) {
    tt::Rng rng(3);
    const tt::Tensor a = tt::Tensor::randn({nbatch, n, n}, rng), b = tt::Tensor::randn({nbatch, n, n}, rng);
    tt::set_num_threads(threads);
    const Timing t = time_it([&] { (void)tt::matmul(a, b, trans_a, trans_b); }, g_min_seconds);
    const double flops = 2.0 * static_cast<double>(nbatch * n * n * n);
    const double peak = peak_per_core() * threads;
    json j = {{"section", "matmul"},
              {"op", "tt::matmul batched"},
              {"shape", "TTT inner products: batch=128*4 heads"},
              {"batch", nbatch},
              {"M", n},
              {"N", n},
              {"K", n},
              {"trans_a", trans_a},
              {"trans_b", trans_b},
              {"threads", threads},
              {"gflops", flops / t.median_s / 1e9},
              {"us_median", t.median_s * 1e6},
              {"reps", t.reps},
              {"peak_gflops", peak},
              {"frac_of_peak", flops / t.median_s / 1e9 / peak},
              {"loadavg", load_average()}};
    if (threads == 1) {
        j["gflops_cpu"] = flops / t.cpu_median_s / 1e9;
        j["frac_of_peak_cpu"] = flops / t.cpu_median_s / 1e9 / peak_per_core_cpu();
    }
    emit(j);
}

void section_matmul() {
    const int all = tt::num_threads();
    const tt::SgemmConfig cfg = tt::sgemm_config();
    emit({{"section", "matmul"},
          {"config", {{"arch", cfg.arch}, {"simd_width", cfg.simd_width}, {"mr", cfg.mr}, {"nr", cfg.nr},
                      {"kc", cfg.kc}, {"nc", cfg.nc}, {"kc_narrow", cfg.kc_narrow}}},
          {"peak_gflops_1thread", peak_per_core()},
          {"peak_gflops_cpu", peak_per_core_cpu()},
#ifdef TTTREC_HAVE_CBLAS
          {"openblas", true},
#else
          {"openblas", false},
#endif
          {"ref_note", "sgemm_ref (naive, double accumulation) timed once, 1 thread, on <= 512 rows of M"}});
    const std::vector<MmShape> shapes = {
        {64, 64, 64, false, false, "64^3"},
        {512, 512, 512, false, false, "512^3"},
        {6400, 64, 64, false, false, "tokens x d x d (projection)"},
        {6400, 3416, 64, false, false, "tokens x items x d"},
        {6400, 3416, 64, false, true, "logits = H E^T"},
        {6400, 64, 3416, false, false, "dH = dlogits E"},
        {3416, 64, 6400, true, false, "dE = dlogits^T H"},
    };
    std::vector<int> thread_counts = {1};
    if (all > 1) thread_counts.push_back(all);
    for (const MmShape& s : shapes)
        for (int th : thread_counts) bench_sgemm(s, th);
    for (int th : thread_counts)
        for (int f = 0; f < 4; ++f) bench_batched(512, 16, f & 1, f & 2, th);
    tt::set_num_threads(all);
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// ttt: one TTT layer, forward + backward (issue "TTT layers", item 6)

void bench_ttt_layer(tt::model::InnerModel inner, tt::model::InnerLoop loop, int64_t mini_batch, int threads) {
    using namespace tt::model;
    tt::set_num_threads(threads);
    const int64_t B = 128, L = 50, C = 64, H = 4;
    TTTConfig cfg;
    cfg.width = C;
    cfg.heads = H;
    cfg.mini_batch = mini_batch;
    cfg.inner = inner;
    cfg.loop = loop;
    cfg.rope_theta = 1000.0f;
    tt::Rng rng(1);
    TTTLayer layer(cfg, rng);
    ParamList params;
    layer.parameters(params);
    const tt::Tensor x = tt::Tensor::randn(tt::Shape{B, L, C}, rng);   // (B,L,C)
    const tt::Tensor dy = tt::Tensor::randn(tt::Shape{B, L, C}, rng);  // (B,L,C)
    auto step = [&] {
        tt::ad::Var xv(x, true);
        tt::ad::Var y = layer.forward(xv);
        tt::ad::backward(y, tt::ad::constant(dy));
        for (auto& [name, p] : params) p.zero_grad();
    };
    // The general loop (nested autodiff, per-token weights) takes seconds per call: time it once.
    const Timing t = time_it(step, g_min_seconds, loop == InnerLoop::General ? 1 : 3);
    emit({{"section", "ttt"},
          {"inner", inner == InnerModel::Linear ? "linear" : "mlp"},
          {"loop", loop == InnerLoop::Fast ? "fast" : "general"},
          {"B", B}, {"L", L}, {"C", C}, {"heads", H}, {"mini_batch", mini_batch},
          {"threads", tt::num_threads()},
          {"fwd_bwd_ms_median", t.median_s * 1e3},
          {"fwd_bwd_ms_best", t.best_s * 1e3},
          {"seq_per_s", static_cast<double>(B) / t.median_s},
          {"reps", t.reps}});
}

void section_ttt() {
    using tt::model::InnerLoop;
    using tt::model::InnerModel;
    const int all = tt::num_threads();
    std::vector<int> thread_counts = {1};
    if (all > 1) thread_counts.push_back(all);
    for (int th : thread_counts)
        for (InnerModel inner : {InnerModel::Linear, InnerModel::MLP})
            for (int64_t b : {8, 16})
                for (InnerLoop loop : {InnerLoop::General, InnerLoop::Fast}) bench_ttt_layer(inner, loop, b, th);
    tt::set_num_threads(all);
}

// ---------------------------------------------------------------------------------------------
// train-* / infer-*: the performance issue's configurations against the PyTorch peer

// The peer's timing policy (ttt4rec_torch.py run_train / run_infer): `warmup` untimed steps, then
// timed steps until `steps` of them (>= 5) or until `budget_s` has passed; report the median.
struct StepPolicy {
    int warmup = 3;
    int steps = 15;
    double budget_s = 25.0;
};
StepPolicy g_policy;

// Median and best of per-step wall times, steps timed as the peer does.
Timing time_steps(const std::function<void()>& step, int max_steps) {
    for (int i = 0; i < g_policy.warmup; ++i) step();
    std::vector<double> t;
    const auto start = clock_type::now();
    const int min_steps = std::min(5, max_steps);
    while (static_cast<int>(t.size()) < max_steps &&
           (static_cast<int>(t.size()) < min_steps ||
            std::chrono::duration<double>(clock_type::now() - start).count() < g_policy.budget_s)) {
        const auto t0 = clock_type::now();
        step();
        t.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    std::vector<double> sorted = t;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    return {median, sorted.front(), 0.0, 0.0, static_cast<int>(n)};  // no CPU times here
}

// Peak resident set of this process so far, in MB (Linux reports ru_maxrss in KB).
double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Page faults (minor: a fresh page mapped in) and CPU seconds of the whole process so far. Per
// step, they tell allocator churn (every fault is a 4 KiB page touched for the first time) and
// lost wall time (CPU time of all threads, spinning included, against the wall clock).
struct ProcessCounters {
    double minor_faults = 0, cpu_s = 0;
    static ProcessCounters now() {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        const auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
        return {static_cast<double>(u.ru_minflt), sec(u.ru_utime) + sec(u.ru_stime)};
    }
};

tt::bench::PeerConfig peer_config(const std::string& model, const std::string& variant) {
    tt::bench::PeerConfig c;
    c.model = model;
    c.variant = variant;
    return c;
}

json model_line(const char* section, const char* tag, const tt::bench::PeerConfig& c) {
    return {{"section", section},
            {"tag", tag},
            {"model", c.model},
            {"variant", c.model == "ttt" ? c.variant : "-"},
            {"L", c.L},
            {"d", c.C},
            {"blocks", c.blocks},
            {"heads", c.model == "ttt" ? c.heads : 1},
            {"mb", c.mini_batch},
            {"threads", tt::num_threads()}};
}

void bench_train(const char* section, const char* tag, const tt::bench::PeerConfig& c) {
    using namespace tt;
    const int64_t B = 128;
    const bench::PeerData data = bench::make_ml1m_like(c.L, 0);
    Rng init(0), dropout_rng(3), pick(1);
    std::unique_ptr<bench::PeerModel> model = bench::make_peer_model(c, init);
    model::ParamList params;
    model->parameters(params);
    model::Adam opt(params, {.lr = 1e-3f});
    const model::Ctx ctx{true, &dropout_rng};

    // Each step trains on a fresh random batch (users drawn with replacement, as the peer does);
    // drawing and copying the batch is outside the timed region on both sides.
    IntTensor x, y;
    auto next_batch = [&] {
        std::vector<int64_t> users(static_cast<std::size_t>(B));
        for (auto& u : users) u = static_cast<int64_t>(pick.below(bench::kUsers));
        x = bench::gather_users(data.train_inputs, c.L, users);
        y = bench::gather_users(data.train_targets, c.L, users);
    };
    float last_loss = 0;
    auto step = [&] {
        opt.zero_grad();
        ad::Var loss = model->loss(x, y, ctx);
        ad::backward(loss, ad::Var(), {.retain_graph = false});  // frees activations as it goes
        opt.step();
        last_loss = loss.item();
    };
    // The peer's policy (see time_steps), with a new batch drawn before each timer starts.
    std::vector<double> times;
    for (int i = 0; i < g_policy.warmup; ++i) {
        next_batch();
        step();
    }
    const ProcessCounters before = ProcessCounters::now();
    const auto start = clock_type::now();
    const int min_steps = std::min(5, g_policy.steps);
    while (static_cast<int>(times.size()) < g_policy.steps &&
           (static_cast<int>(times.size()) < min_steps ||
            std::chrono::duration<double>(clock_type::now() - start).count() < g_policy.budget_s)) {
        next_batch();
        const auto t0 = clock_type::now();
        step();
        times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    const ProcessCounters after = ProcessCounters::now();
    std::sort(times.begin(), times.end());
    const std::size_t n = times.size();
    const double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    const double flops = bench::train_step_flops(c, B);
    json j = model_line(section, tag, c);
    j.update({{"mode", "train"},
              {"train_batch", B},
              {"train_step_s_median", med},
              {"train_step_s_min", times.front()},
              {"train_steps_timed", static_cast<int>(n)},
              {"train_seq_per_s", static_cast<double>(B) / med},
              {"train_tok_per_s", static_cast<double>(B * c.L) / med},
              {"model_gflop_per_step", flops / 1e9},
              {"gflops", flops / med / 1e9},
              {"loss_last", last_loss},
              {"minor_faults_per_step", (after.minor_faults - before.minor_faults) / static_cast<double>(n)},
              {"cpu_s_per_step", (after.cpu_s - before.cpu_s) / static_cast<double>(n)},
              {"n_params", [&] {
                   int64_t k = 0;
                   for (const auto& [name, p] : params) k += p.numel();
                   return k;
               }()},
              {"peak_rss_mb", peak_rss_mb()},
              {"loadavg", load_average()}});
    emit(j);
}

void bench_infer(const char* section, const char* tag, const tt::bench::PeerConfig& c) {
    using namespace tt;
    const int64_t B = 256;
    const bench::PeerData data = bench::make_ml1m_like(c.L, 0);
    Rng init(0), pick(2);
    std::unique_ptr<bench::PeerModel> model = bench::make_peer_model(c, init);
    IntTensor x;
    Tensor scores;
    auto next_batch = [&] {
        std::vector<int64_t> users(static_cast<std::size_t>(B));
        for (auto& u : users) u = static_cast<int64_t>(pick.below(bench::kUsers));
        x = bench::gather_users(data.eval_inputs, c.L, users);
    };
    next_batch();
    // The peer redraws the users for every rep too (outside its timer); the cost of a batch does
    // not depend on which users are in it, so one batch is timed here.
    const Timing t = time_steps([&] { scores = model->score_last(x); }, std::max(g_policy.steps, 20));
    TT_CHECK(scores.shape() == (Shape{B, c.items + 1}), "infer: scores of shape " + scores.shape().str());
    const double flops = bench::inference_flops(c, B);
    json j = model_line(section, tag, c);
    j.update({{"mode", "infer"},
              {"infer_batch", B},
              {"infer_s_median", t.median_s},
              {"infer_s_min", t.best_s},
              {"infer_reps", t.reps},
              {"infer_users_per_s", static_cast<double>(B) / t.median_s},
              {"model_gflop_per_batch", flops / 1e9},
              {"gflops", flops / t.median_s / 1e9},
              {"peak_rss_mb", peak_rss_mb()},
              {"loadavg", load_average()}});
    emit(j);
}

void section_train_ttt() { bench_train("train-ttt", "ttt", peer_config("ttt", "dual")); }
void section_train_ttt_primal() { bench_train("train-ttt-primal", "ttt_primal", peer_config("ttt", "primal")); }
void section_train_sasrec() { bench_train("train-sasrec", "sasrec", peer_config("sasrec", "dual")); }
void section_infer_ttt() { bench_infer("infer-ttt", "ttt_infer", peer_config("ttt", "dual")); }
void section_infer_sasrec() { bench_infer("infer-sasrec", "sasrec_infer", peer_config("sasrec", "dual")); }

// ---------------------------------------------------------------------------------------------
// train-rec: registry recommenders on the benchmark data

std::string g_rec_models = "narm,bert4rec,mamba4rec";  // --models

void bench_train_rec(const std::string& name) {
    using namespace tt;
    const int64_t B = 128;
    model::RecConfig cfg;
    try {
        cfg = bench::rec_bench_config(name);
    } catch (const std::invalid_argument& e) {
        emit({{"section", "train-rec"}, {"model", name}, {"skipped", e.what()}});
        return;
    }
    const bench::PeerData data = bench::make_ml1m_like(cfg.max_len, 0);
    Rng init(0), dropout_rng(3), pick(1), negatives(4);
    std::unique_ptr<model::Recommender> m = model::make_recommender(cfg, init);
    model::ParamList params;
    m->parameters(params);
    model::Adam opt(params, {.lr = 1e-3f});
    const model::Ctx ctx{true, &dropout_rng};

    // A fresh random batch per step (users with replacement), drawn outside the timed region.
    model::TrainBatch batch;
    auto next_batch = [&] {
        std::vector<int64_t> users(static_cast<std::size_t>(B));
        for (auto& u : users) u = static_cast<int64_t>(pick.below(bench::kUsers));
        batch = bench::rec_train_batch(data, users, m->train_negatives(), cfg.every_position, negatives);
    };
    float last_loss = 0;
    auto step = [&] {
        opt.zero_grad();
        ad::Var loss = m->loss(batch, ctx);
        ad::backward(loss, ad::Var(), {.retain_graph = false});
        opt.step();
        last_loss = loss.item();
    };
    for (int i = 0; i < g_policy.warmup; ++i) {
        next_batch();
        step();
    }
    std::vector<double> times;
    const ProcessCounters before = ProcessCounters::now();
    const auto start = clock_type::now();
    const int min_steps = std::min(5, g_policy.steps);
    while (static_cast<int>(times.size()) < g_policy.steps &&
           (static_cast<int>(times.size()) < min_steps ||
            std::chrono::duration<double>(clock_type::now() - start).count() < g_policy.budget_s)) {
        next_batch();
        const auto t0 = clock_type::now();
        step();
        times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    const ProcessCounters after = ProcessCounters::now();
    std::sort(times.begin(), times.end());
    const std::size_t n = times.size();
    const double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    int64_t n_params = 0;
    for (const auto& [pname, p] : params) n_params += p.numel();
    emit({{"section", "train-rec"},
          {"model", name},
          {"config", cfg.describe()},
          {"L", cfg.max_len},
          {"d", cfg.dim},
          {"items", cfg.n_items},
          {"threads", tt::num_threads()},
          {"mode", "train"},
          {"train_batch", B},
          {"train_step_s_median", med},
          {"train_step_s_min", times.front()},
          {"train_steps_timed", static_cast<int>(n)},
          {"train_seq_per_s", static_cast<double>(B) / med},
          {"loss_last", last_loss},
          {"cpu_s_per_step", (after.cpu_s - before.cpu_s) / static_cast<double>(n)},
          {"n_params", n_params},
          {"peak_rss_mb", peak_rss_mb()},
          {"loadavg", load_average()}});
}

void section_train_rec() {
    std::stringstream ss(g_rec_models);
    for (std::string name; std::getline(ss, name, ',');)
        if (!name.empty()) bench_train_rec(name);
}

// ---------------------------------------------------------------------------------------------
// data: parse + preprocess throughput, cold and from the binary cache

std::string g_data_dir;  // --data-dir

std::string shared_data_dir() {
    if (!g_data_dir.empty()) return g_data_dir;
    if (const char* d = std::getenv("TTTREC_SHARED_DATA"); d && *d) return d;
    // __FILE__ is relative to the build directory (= this binary's parent's parent) under meson.
    std::filesystem::path here = __FILE__;
    if (here.is_relative()) here = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / here;
    here = here.lexically_normal();  // <root>/apps/bench.cpp
    return (here.parent_path().parent_path().parent_path() / "shared" / "data").string();
}

void section_data() {
    const std::string dir = shared_data_dir();
    if (!std::filesystem::is_directory(dir)) {
        emit({{"section", "data"}, {"skipped", dir + " is absent (set --data-dir or TTTREC_SHARED_DATA)"}});
        return;
    }
    const std::string path = tt::data::largest_interaction_file(dir);
    const tt::data::LoadThroughput t = tt::data::measure_load_throughput(path, g_min_seconds);
    emit({{"section", "data"},
          {"file", path},
          {"format", std::string(tt::data::format_name(t.format))},
          {"bytes", t.bytes},
          {"lines", t.lines},
          {"interactions", t.interactions},
          {"runs", t.runs},
          {"cold_s", t.cold_s},
          {"cold_lines_per_s", t.cold_lines_per_s()},
          {"cold_mb_per_s", static_cast<double>(t.bytes) / t.cold_s / 1e6},
          {"cache_s", t.cache_s},
          {"cache_lines_per_s", t.cache_lines_per_s()},
          {"cache_speedup", t.cold_s / t.cache_s}});
}

struct Section {
    const char* name;
    void (*run)();
};
const Section kSections[] = {
    {"peak", section_peak},
    {"matmul", section_matmul},
    {"ttt", section_ttt},
    {"train-ttt", section_train_ttt},
    {"train-ttt-primal", section_train_ttt_primal},
    {"train-sasrec", section_train_sasrec},
    {"infer-ttt", section_infer_ttt},
    {"infer-sasrec", section_infer_sasrec},
    {"train-rec", section_train_rec},
    {"data", section_data},
};

void usage(std::ostream& os) {
    os << "usage: bench [--only SECTION[,SECTION...]] [--list] [--quick] [--threads N] [--steps N] [--warmup N]\n"
          "             [--data-dir DIR] [--models NAME[,NAME...]]\nsections:";
    for (const Section& s : kSections) os << ' ' << s.name;
    os << '\n';
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> only;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            return 0;
        } else if (arg == "--list") {
            for (const Section& s : kSections) std::cout << s.name << '\n';
            return 0;
        } else if (arg == "--quick") {
            g_min_seconds = 0.05;
            g_policy = {1, 3, 1.0};
        } else if ((arg == "--steps" || arg == "--warmup") && i + 1 < argc) {
            const std::string v = argv[++i];
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < (arg == "--steps" ? 1 : 0) || n > 100000) {
                std::cerr << "bench: " << arg << " needs a count in [" << (arg == "--steps" ? 1 : 0) << ", 100000], got '" << v << "'\n";
                return 2;
            }
            if (arg == "--steps") {
                g_policy.steps = static_cast<int>(n);
                g_policy.budget_s = 1e9;  // exactly n timed steps (profiling)
            } else {
                g_policy.warmup = static_cast<int>(n);
            }
        } else if (arg == "--threads" && i + 1 < argc) {
            const std::string v = argv[++i];
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 0 || n > 1024) {
                std::cerr << "bench: --threads needs a count in [0, 1024] (0 = all cores), got '" << v << "'\n";
                return 2;
            }
            threads = static_cast<int>(n);
        } else if (arg == "--data-dir" && i + 1 < argc) {
            g_data_dir = argv[++i];
            if (!std::filesystem::is_directory(g_data_dir)) {
                std::cerr << "bench: --data-dir " << g_data_dir << " is not a directory\n";
                usage(std::cerr);
                return 2;
            }
        } else if (arg == "--models" && i + 1 < argc) {
            g_rec_models = argv[++i];
        } else if (arg == "--only" && i + 1 < argc) {
            std::stringstream ss(argv[++i]);
            for (std::string name; std::getline(ss, name, ',');) only.push_back(name);
        } else {
            std::cerr << "bench: unknown argument '" << arg << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    for (const std::string& name : only) {
        const bool known = std::any_of(std::begin(kSections), std::end(kSections),
                                       [&](const Section& s) { return name == s.name; });
        if (!known) {
            std::cerr << "bench: unknown section '" << name << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    tt::set_num_threads(threads);  // all cores (0), unless --threads or a section says otherwise
    for (const Section& s : kSections)
        if (only.empty() || std::find(only.begin(), only.end(), s.name) != only.end()) s.run();
    return 0;
}
