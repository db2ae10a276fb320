// tensor/matmul.cpp — sgemm (packed, blocked, threaded xsimd micro-kernel), sgemm_ref, tt::matmul.
//
// How a fast GEMM is organised (GotoBLAS / BLIS), for a student:
//
// A naive C[i][j] += A[i][k] * B[k][j] loop is limited by memory, not by arithmetic: each fma needs
// two loads. The trick is to keep a small MR x NR tile of C in *registers* (the micro-tile) and, per
// step k, to load one column of op(A) (MR floats, each broadcast to a vector) and one row of op(B)
// (NR floats = NV vectors): MR*NV fma's for MR + NV loads. With MR = 6, NV = 4 (AVX-512) that is
// 24 fma's for 10 loads, and 24 independent accumulator chains hide the fma latency (4 cycles x 2
// fma ports = 8 chains needed at least). The fma is tt::simd::fma (tensor/simd.hpp): one fused
// instruction on AVX-512 too, where xsimd 8.1's own fma is a separate multiply and add.
//
// For the micro-kernel to run at that speed its operands must sit in L1/L2, so the loops are blocked:
//   * K is cut into blocks of KC. For one K-block, a KC x nc slab of op(B) is copied ("packed") into
//     micro-panels of NR columns, each stored k-major: [k][NR] (one contiguous, aligned row of NV
//     vectors per k, zero-padded past N). The slab is sized to stay in L2 (nc = 512 KB / (4*kc)).
//     Packing is also where trans_b disappears: the kernel sees the same panels either way.
//   * Then each row-panel of MR rows of op(A) (MR x KC = 6 KB) is loaded into L1 by the first
//     micro-kernel that touches it and stays there while the kernel sweeps every B micro-panel of
//     the slab (streamed from L2).
//
//   for jc in N step nc:                    B slab (KC x nc)        -> L2
//     for pc in K step KC:                  pack B(pc:pc+KC, jc:jc+nc)
//       for ir in M step MR:                A row-panel (MR x KC)   -> L1
//         for jr in nc step NR:             micro-kernel: C(ir, jr) (+)= A(ir, pc) · Bpanel(pc, jr)
//
// The K-blocks accumulate into C: the first applies beta (C = alpha*AB + beta*C), the later ones
// add (C = alpha*AB + C).
//
// Why A is not packed (unlike textbook BLIS): with ir outside jr, each A row-panel is reused from L1
// by every B micro-panel, so the kernel can read op(A) in place through (row stride, k stride),
// which handles trans_a for free. Packing A (tried: per MC x KC block, and per MR x KC panel) cost
// 10-40% on every shape we care about (64^3, 512^3, 1024^3, 6400x64x64, 6400x3416x64) and won none:
// the packing copy is a scalar transpose, and the access it saves is already L1-resident.
// Walking C row-panel by row-panel also writes C in long runs per row, which matters when C is
// huge and K small (6400 x 3416 logits with K = 64: writing C costs as much as computing it).
//
// Small problems (the TTT layers do thousands of 16x16x16 products): when op(B) is small, not
// transposed and N is a multiple of W, even packing B is overhead, so the kernel reads B in place.
// Batches of tiny products (<= 8192 multiply-adds each) skip the blocked path altogether
// (small_gemm: plain loops, see tt::matmul).
//
// Edges: the kernel is a template over the number of rows (1..MR) and vectors (1..NV), so a 4-row
// or 16-column leftover runs a smaller kernel rather than wasting work on padding. Only columns that
// are not a whole vector (N % W != 0) go through a small aligned scratch tile.
//
// Two shapes get their own treatment (see block_depth and sgemm_threads): a C one panel wide (N <= NR,
// the gradients dH = dlogits E and dE = dlogitsᵀ H) uses deeper K-blocks, and when op(A) is also the
// transpose of a big A (dE) the problem is solved transposed, so that the big matrix is the packed one.
//
// Determinism: each C element is the same fma chain over k (in order, restarted at each K-block,
// then combined with C by the same vector update) whatever micro-tile, row count, vector count,
// thread or B layout computed it. Threads split the M x N tiles, never K, so 1 and N threads give
// bit-identical results (tested).
#include "tensor/matmul.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "tensor/simd.hpp"

#include "tensor/kernels.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

namespace tt {

namespace {

using batch = xsimd::batch<float>;
constexpr int W = static_cast<int>(batch::size);  // floats per vector: 4 sse2, 8 avx2, 16 avx512

// Register blocking. MR*NV accumulators + NV B vectors + 1 broadcast must fit in the register file:
// AVX-512 has 32 vector registers (6*4 + 4 + 1 = 29); SSE2/AVX2 have 16 (6*2 + 2 + 1 = 15).
// NOTE: on AVX-512 6 x 4 vectors beat 12 x 2 (measured on Zen 4, 1 thread, CPU time, one sitting:
// 6-9% on every sgemm shape of apps/bench, e.g. 512^3 93 -> 101 and 6400x64x64 96 -> 104 GFLOP/s
// of a 114 peak): per k it issues 6 broadcasts instead of 12, and a broadcast costs issue slots
// next to the fma's (alone in L1, a 12 x 2 loop reaches 93% of peak, 6 x 4 99%). NR = 64 is also
// exactly the width of the recommender's C = 64 products, one panel per row block.
constexpr int NV = W >= 16 ? 4 : 2;
constexpr int MR = 6;
constexpr int NR = NV * W;
// K-block depth. One B micro-panel is KC*NR*4 bytes (64 KB on AVX-512: streamed from L2, in order,
// which the prefetcher keeps ahead of) and one A row-panel MR*KC*4 (6 KB) stays in L1.
constexpr int64_t KC = 256;
// The packed B slab (kc x nc) should stay in L2 while every A row-panel sweeps across it: half of a
// 1 MB L2, leaving room for A and C.
constexpr int64_t kSlabBytes = 512 * 1024;
// op(B) is read in place (not packed) when its rows are whole vectors and packing would not pay:
//   * B is small: the whole of B stays in L1/L2 anyway (the TTT layers' 16x16 products);
//   * B is narrow (N <= 64: a row is at most four cache lines, a KC-deep block <= 64 KB stays in
//     L2 like a packed panel would) and C has few rows (M <= 256), so a packed copy would be reused
//     by only a few row panels. This is the fused cross-entropy's (64 x V) · (V x 64) per block
//     of 64 rows, which would otherwise copy the whole item table each time.
constexpr int64_t kInPlaceBMaxBytes = 8 * 1024;
constexpr int64_t kInPlaceBMaxColumns = 64;
constexpr int64_t kInPlaceBMaxRowsOfC = 256;
// Work (multiply-adds) below which an extra thread costs more than it saves (thread wake-up is a few
// microseconds; this is ~5 us of single-core work).
constexpr int64_t kMinFmaPerThread = int64_t{1} << 18;
constexpr int kRectanglesPerThread = 4;

constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// K-block depth. When op(B) is at most one micro-panel wide (N <= NR: dH = dlogits E, N = 64, K =
// 3416), a packed slab is a single panel and the slab budget is better spent on depth: every
// K-block is one more read and write of the whole of C (M x N, 1.6 MB for dH, from L3), while the
// panel is streamed from L2 either way. A panel of kSlabBytes (512 KB) is 2048 deep on AVX-512.
// (dH, 1 thread, CPU time: 0.58-0.62 of peak at depth 256, 0.76 at 1024, 0.82 at 2048.)
// Not with trans_a: an A panel is then MR floats from each of KC rows, one cache line per row, which
// the next row panel reads again; 256 lines stay in L1 for it, 2048 do not (the weight gradients
// xᵀ g, 64 x 64 with K = 6400, and the fused cross-entropy's dh ran ~10% slower at 2048).
constexpr int64_t kNarrowKC = std::max<int64_t>(KC, kSlabBytes / (NR * static_cast<int64_t>(sizeof(float))));
constexpr int64_t block_depth(bool trans_a, int64_t N) { return !trans_a && N <= NR ? kNarrowKC : KC; }
// Rows of C from which a transposed-A, one-panel-wide problem is solved transposed (sgemm_threads).
constexpr int64_t kTransposedMinRows = 512;
constexpr int64_t ceil_div(int64_t x, int64_t m) { return (x + m - 1) / m; }

// Columns of the packed B slab for a K-block of depth kc (a multiple of NR).
constexpr int64_t slab_columns(int64_t kc) {
    return std::max<int64_t>(NR, kSlabBytes / (kc * static_cast<int64_t>(sizeof(float))) / NR * NR);
}

// A growable 64-byte aligned scratch buffer, one per thread, so packing never allocates in steady
// state (the pool's worker threads live as long as the process, so thread_local buffers are reused).
class PackBuffer {
public:
    PackBuffer() = default;
    PackBuffer(const PackBuffer&) = delete;
    PackBuffer& operator=(const PackBuffer&) = delete;
    ~PackBuffer() { std::free(p_); }
    float* get(int64_t n) {
        if (n > cap_) {
            std::free(p_);
            cap_ = round_up(std::max<int64_t>(n, 1024), 16);
            p_ = static_cast<float*>(std::aligned_alloc(64, static_cast<std::size_t>(cap_) * sizeof(float)));
            if (!p_) throw std::bad_alloc();
        }
        return p_;
    }

private:
    float* p_ = nullptr;
    int64_t cap_ = 0;
};

thread_local PackBuffer tl_pack_b;
thread_local PackBuffer tl_logits_tile;  // one block of logits in the fused cross-entropy
thread_local PackBuffer tl_transposed_c;  // Cᵀ of a problem solved transposed (sgemm_threads)

// ---------------------------------------------------------------------------------------------
// Packing B

// Packs op(B)(p0:p0+kc, j0:j0+nb) into micro-panels of NR columns, each [kc][nrp] with
// nrp = NR for full panels and nrp = round_up(remaining, W) for the last one (zero-padded past nb).
// The panel starting at column jj (a multiple of NR) is at out + jj*kc.
void pack_b(bool trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nb, float* out) {
    for (int64_t jj = 0; jj < nb; jj += NR) {
        const int64_t nr = std::min<int64_t>(NR, nb - jj);
        const int64_t nrp = round_up(nr, W);
        float* dst = out + jj * kc;
        if (!trans_b) {
            // B stored (K, N): row p of the panel is contiguous in B.
            const float* src = B + p0 * ldb + j0 + jj;
            if (nr == NR) {
                for (int64_t p = 0; p < kc; ++p)
                    for (int v = 0; v < NV; ++v)
                        batch::load_unaligned(src + p * ldb + v * W).store_aligned(dst + p * NR + v * W);
            } else {
                for (int64_t p = 0; p < kc; ++p) {
                    std::memcpy(dst + p * nrp, src + p * ldb, static_cast<std::size_t>(nr) * sizeof(float));
                    std::fill(dst + p * nrp + nr, dst + (p + 1) * nrp, 0.0f);
                }
            }
        } else {
            // B stored (N, K): column j of op(B) is row j of B, contiguous in k. Transpose while
            // copying: read each B row once, scatter it down the panel column.
            const float* src = B + (j0 + jj) * ldb + p0;
            for (int64_t j = 0; j < nr; ++j) {
                const float* s = src + j * ldb;
                for (int64_t p = 0; p < kc; ++p) dst[p * nrp + j] = s[p];
            }
            if (nr < nrp)
                for (int64_t p = 0; p < kc; ++p) std::fill(dst + p * nrp + nr, dst + (p + 1) * nrp, 0.0f);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel

// The C update, the same vector arithmetic for every path (direct or through the scratch tile), so
// that results never depend on tiling: C = alpha*acc + beta*C, where beta == 0 means "do not read C".
// c = alpha * acc + (beta * c + bias): the bias joins the single rounding of the fma, so with
// alpha = 1 and beta = 0 it is exactly the matmul followed by a separate add of the bias.
inline void update_c(const batch& acc, float* c, float alpha, float beta, const batch& bias) {
    batch old = bias;
    if (beta == 1.0f)
        old += batch::load_unaligned(c);
    else if (beta != 0.0f)
        old += batch(beta) * batch::load_unaligned(c);
    simd::fma(batch(alpha), acc, old).store_unaligned(c);
}

// C(R x ncols) = alpha * op(A)(R x kc) · op(B)(kc x V*W) + beta * C (+ bias[0:ncols] on every row
// when bias != nullptr), with ncols <= V*W.
// op(A) is read in place as a[i*rs_a + p*cs_a]: rs = lda, cs = 1, or rs = 1, cs = lda when transposed.
// op(B) row p is the V vectors at b + p*rs_b: a packed panel (rs_b = V*W, aligned, kPackedB) or B
// itself (rs_b = ldb).
template <int R, int V, bool kPackedB>
void micro_kernel(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a, const float* b, int64_t rs_b, float* c,
                  int64_t ldc, float alpha, float beta, const float* bias, int ncols) {
    if constexpr (kPackedB) rs_b = V * W;
    batch acc[R][V];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[i][v] = batch(0.0f);

    for (int64_t p = 0; p < kc; ++p) {
        batch bv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v)
            bv[v] = kPackedB ? batch::load_aligned(b + v * W) : batch::load_unaligned(b + v * W);
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) {
            const batch ai(a[i * rs_a]);  // broadcast op(A)(i, p)
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) acc[i][v] = simd::fma(ai, bv[v], acc[i][v]);
        }
        a += cs_a;
        b += rs_b;
    }

    if (ncols == V * W) {
        batch bv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) bv[v] = bias ? batch::load_unaligned(bias + v * W) : batch(0.0f);
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) update_c(acc[i][v], c + i * ldc + v * W, alpha, beta, bv[v]);
    } else {
        // Right edge, N % W != 0: run the same update on aligned copies of the valid columns.
        alignas(64) float tile[V * W];
        alignas(64) float bias_tile[V * W] = {};
        const auto n = static_cast<std::size_t>(ncols);
        if (bias) std::memcpy(bias_tile, bias, n * sizeof(float));
        for (int i = 0; i < R; ++i) {
            std::fill(tile, tile + V * W, 0.0f);
            if (beta != 0.0f) std::memcpy(tile, c + i * ldc, n * sizeof(float));
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) update_c(acc[i][v], tile + v * W, alpha, beta, batch::load_aligned(bias_tile + v * W));
            std::memcpy(c + i * ldc, tile, n * sizeof(float));
        }
    }
}

using KernelFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, float,
                          float, const float*, int);

// kKernels[b packed][rows-1][vectors-1]: every edge size gets its own fully unrolled kernel.
template <bool P, int R, std::size_t... J>
constexpr std::array<KernelFn, NV> kernel_row(std::index_sequence<J...>) {
    return {{&micro_kernel<R, static_cast<int>(J) + 1, P>...}};
}
template <bool P, std::size_t... I>
constexpr std::array<std::array<KernelFn, NV>, MR> kernel_table(std::index_sequence<I...>) {
    return {{kernel_row<P, static_cast<int>(I) + 1>(std::make_index_sequence<NV>{})...}};
}
constexpr std::array<std::array<std::array<KernelFn, NV>, MR>, 2> kKernels = {
    kernel_table<false>(std::make_index_sequence<MR>{}), kernel_table<true>(std::make_index_sequence<MR>{})};

// ---------------------------------------------------------------------------------------------
// Macro-kernel: one thread's rectangle C(m0:m1, n0:n1), the whole of K.

struct Gemm {
    bool trans_a, trans_b;
    int64_t M, N, K;
    float alpha;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
    float beta;
    float* C;
    int64_t ldc;
    const float* bias;  // (N) added to every row of C with the first K-block, or nullptr
    bool pack_b;  // decided once per call from the problem shape; does not change the arithmetic
    int64_t kc;   // K-block depth (block_depth): where each element's fma chain restarts
};

void gemm_block(const Gemm& g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int64_t KC = g.kc;
    const int64_t kc_max = std::min(KC, g.K);
    const int64_t nc = slab_columns(kc_max);
    float* bp = g.pack_b ? tl_pack_b.get(kc_max * round_up(std::min(nc, n1 - n0), W)) : nullptr;
    const int64_t rs_a = g.trans_a ? 1 : g.lda, cs_a = g.trans_a ? g.lda : 1;  // op(A)(i,k) strides

    for (int64_t jc = n0; jc < n1; jc += nc) {
        const int64_t nb = std::min(nc, n1 - jc);
        for (int64_t pc = 0; pc < g.K; pc += KC) {
            const int64_t kc = std::min(KC, g.K - pc);
            const float beta = pc == 0 ? g.beta : 1.0f;  // later K-blocks accumulate
            const float* bias = pc == 0 && g.bias ? g.bias + jc : nullptr;
            if (g.pack_b) pack_b(g.trans_b, g.B, g.ldb, pc, kc, jc, nb, bp);
            for (int64_t ir = m0; ir < m1; ir += MR) {
                const auto r = static_cast<std::size_t>(std::min<int64_t>(MR, m1 - ir) - 1);
                const float* a = g.A + ir * rs_a + pc * cs_a;  // &op(A)(ir, pc)
                for (int64_t jr = 0; jr < nb; jr += NR) {
                    const int ncols = static_cast<int>(std::min<int64_t>(NR, nb - jr));
                    const auto v = static_cast<std::size_t>(ceil_div(ncols, W) - 1);
                    float* c = g.C + ir * g.ldc + jc + jr;
                    const float* bias_j = bias ? bias + jr : nullptr;
                    if (g.pack_b)
                        kKernels[1][r][v](kc, a, rs_a, cs_a, bp + jr * kc, 0, c, g.ldc, g.alpha, beta, bias_j, ncols);
                    else
                        kKernels[0][r][v](kc, a, rs_a, cs_a, g.B + pc * g.ldb + jc + jr, g.ldb, c, g.ldc, g.alpha,
                                          beta, bias_j, ncols);
                }
            }
        }
    }
}

// Tiny products: the TTT inner loops do 16x16x16 per sequence and head, and the general loop
// 1x16x16 and 16x1x16 per token (tens of thousands per step). Below this many multiply-adds the
// set-up of the blocked path (grid, edge kernels, scratch tiles) costs more than the arithmetic.
constexpr int64_t kSmallGemmMaxFma = 16 * 16 * 32;

#if defined(__AVX512F__)
inline __m512 unpacklo_64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
inline __m512 unpackhi_64(__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
// In-register transpose of 16 rows of 16 floats: interleave 32-bit pairs, then 64-bit pairs, then
// 128-bit lanes twice (the usual 4-stage butterfly, 64 shuffles for 256 floats).
void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        u[4 * i + 0] = unpacklo_64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 1] = unpackhi_64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 2] = unpacklo_64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = unpackhi_64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j) {
            t[8 * i + j] = _mm512_shuffle_f32x4(u[8 * i + j], u[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(u[8 * i + j], u[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; ++j) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}
#endif

// bt (K, N) = op(B) = Bᵀ for B stored (N, K) with row stride ldb, so that small_gemm reads op(B) by
// rows. On AVX-512 in 16 x 16 tiles through registers (masked loads and stores at the edges): the
// scalar copy took as long as the 16x16x16 product itself (bench: 54 GFLOP/s with trans_b against
// 100 without).
void transpose_b(const float* B, int64_t ldb, int64_t N, int64_t K, float* bt) {
#if defined(__AVX512F__)
    static_assert(W == 16, "AVX-512 batches are 16 floats");
    for (int64_t j0 = 0; j0 < N; j0 += 16) {
        const int64_t nj = std::min<int64_t>(16, N - j0);
        const auto jmask = static_cast<__mmask16>((1u << nj) - 1u);
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            const int64_t nk = std::min<int64_t>(16, K - k0);
            const auto kmask = static_cast<__mmask16>((1u << nk) - 1u);
            __m512 r[16];
            for (int64_t j = 0; j < 16; ++j)
                r[j] = j < nj ? _mm512_maskz_loadu_ps(kmask, B + (j0 + j) * ldb + k0) : _mm512_setzero_ps();
            transpose16(r);
            for (int64_t k = 0; k < nk; ++k) _mm512_mask_storeu_ps(bt + (k0 + k) * N + j0, jmask, r[k]);
        }
    }
#else
    for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) bt[k * N + j] = B[j * ldb + k];
#endif
}

// The first n (1..W) floats at p as a vector whose other lanes are zero, and the first n lanes of v
// stored to p: the last, partial column vector of a tiny product (N = 8 on AVX-512, the TTT K x K
// step matrices), without reading or writing past the row.
inline batch load_first(const float* p, int n) {
#if defined(__AVX512F__)
    return batch(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p));
#else
    alignas(64) float t[W] = {};
    std::copy(p, p + n, t);
    return batch::load_aligned(t);
#endif
}
inline void store_first(const batch& v, float* p, int n) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
#else
    alignas(64) float t[W];
    v.store_aligned(t);
    std::copy(t, t + n, p);
#endif
}

// One R x V-vector tile of a tiny product, C(R x cols) = op(A)(R x K) · op(B)(K x cols): R·V
// accumulators, each the fma chain over k = 0, 1, ... of one vector of C (the micro-kernel's
// arithmetic). With kTail the last vector holds only `tail` columns (lanes past it are zero and
// never stored).
template <int R, int V, bool kTail>
void small_tile(int64_t K, const float* a, int64_t rs_a, int64_t cs_a, const float* b, int64_t ldb, float* c,
                int64_t ldc, int tail) {
    batch acc[R][V];
    for (int i = 0; i < R; ++i)
        for (int v = 0; v < V; ++v) acc[i][v] = batch(0.0f);
    for (int64_t k = 0; k < K; ++k) {
        batch bv[V];
        for (int v = 0; v < V; ++v)
            bv[v] = kTail && v == V - 1 ? load_first(b + v * W, tail) : batch::load_unaligned(b + v * W);
        for (int i = 0; i < R; ++i) {
            const batch ai(a[i * rs_a]);  // broadcast op(A)(i, k)
            for (int v = 0; v < V; ++v) acc[i][v] = simd::fma(ai, bv[v], acc[i][v]);
        }
        a += cs_a;
        b += ldb;
    }
    for (int i = 0; i < R; ++i)
        for (int v = 0; v < V; ++v) {
            if (kTail && v == V - 1)
                store_first(acc[i][v], c + i * ldc + v * W, tail);
            else
                acc[i][v].store_unaligned(c + i * ldc + v * W);
        }
}

using SmallTile = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, int);

// kSmallTiles[r][v][tail]: the tile of 1, 2, 4 or 8 rows (r = log2) and v + 1 vectors.
template <int R, int... Vs>
constexpr std::array<std::array<SmallTile, 2>, sizeof...(Vs)> small_tile_row() {
    return {{{&small_tile<R, Vs + 1, false>, &small_tile<R, Vs + 1, true>}...}};
}
constexpr std::array<std::array<std::array<SmallTile, 2>, 4>, 4> kSmallTiles = {
    small_tile_row<1, 0, 1, 2, 3>(), small_tile_row<2, 0, 1, 2, 3>(), small_tile_row<4, 0, 1, 2, 3>(),
    small_tile_row<8, 0, 1, 2, 3>()};

// C (M x N) = op(A) op(B) for tiny sizes (no packing, no blocking, no threads): C is cut into
// tiles of up to 4 column vectors (the last one partial when N is not a multiple of W) and up to 8
// rows, so that a tile keeps 8-16 independent fma chains in flight (4 cycles of fma latency x 2 fma
// pipes need 8; the earlier version had 4 chains and did columns past the last whole vector in
// scalar code: the TTT-MLP's K x K products, N = 8 < W, ran entirely scalar). A transposed B is first
// copied into (K, N) rows. Each element is the same fma chain over k in order, whatever the tile,
// so results never depend on tiling or threads (and equal the earlier version's bits).
void small_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, float* C, int64_t ldc) {
    alignas(64) float bt[kSmallGemmMaxFma];  // K*N <= M*N*K <= kSmallGemmMaxFma
    if (trans_b) {
        transpose_b(B, ldb, N, K, bt);
        B = bt;
        ldb = N;
    }
    const int64_t rs_a = trans_a ? 1 : lda, cs_a = trans_a ? lda : 1;  // op(A)(i,k) = A[i*rs_a + k*cs_a]
    const int64_t nvec = ceil_div(N, W);
    const int tail = static_cast<int>(N - (nvec - 1) * W);  // columns of the last vector, 1..W
    for (int64_t j0 = 0; j0 < nvec; j0 += 4) {
        const int v = static_cast<int>(std::min<int64_t>(4, nvec - j0));
        const bool partial = j0 + v == nvec && tail < static_cast<int>(W);
        // Rows per tile: 8 with one vector, 4 with two or more (R*V + V + 1 registers must fit).
        // (16 rows with one vector measured slower on the 16x16x16 batch, 0.35 against 0.41 of peak:
        // a batch of those streams from L3, so more chains do not help.)
        const int64_t rmax = v == 1 ? 8 : 4;
        int64_t i = 0;
        auto run = [&](int log2r) {
            kSmallTiles[static_cast<std::size_t>(log2r)][static_cast<std::size_t>(v - 1)][partial ? 1 : 0](
                K, A + i * rs_a, rs_a, cs_a, B + j0 * W, ldb, C + i * ldc + j0 * W, ldc, tail);
            i += int64_t{1} << log2r;
        };
        while (i + rmax <= M) run(rmax == 8 ? 3 : 2);
        while (i + 4 <= M) run(2);
        while (i + 2 <= M) run(1);
        while (i < M) run(0);
    }
}

// C = beta * C (the whole answer when K == 0 or alpha == 0).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        if (beta == 0.0f)
            std::fill(c, c + N, 0.0f);
        else
            for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// sgemm

namespace {

// Whether op(B) is packed (see kInPlaceBMaxBytes): a shape decision, not an arithmetic one.
bool packs_b(bool trans_b, int64_t M, int64_t N, int64_t K) {
    const bool in_place_b = !trans_b && N % W == 0 &&
                            (K * N * static_cast<int64_t>(sizeof(float)) <= kInPlaceBMaxBytes ||
                             (N <= kInPlaceBMaxColumns && M <= kInPlaceBMaxRowsOfC));
    return !in_place_b;
}

// Runs one problem on up to nthreads threads.
void run_gemm(int nthreads, const Gemm& g) {
    const int64_t M = g.M, N = g.N, K = g.K;
    // Split C into a tm x tn grid of rectangles, a few per thread, on micro-tile boundaries. Cost of a
    // grid = its largest rectangle bm x bn (the fma's per k of the slowest thread) plus what that
    // thread reads per k: bm floats of op(A) and bn of op(B), weighted 32 (an AVX-512 core does
    // ~32 fma's in the time it streams one float from memory). Without that weight the split went
    // by area alone, and for dE = dlogitsᵀ H (3416 x 64, K = 6400, before it was solved transposed)
    // split N into two 32-column halves that each read all of the 87 MB op(A).
    const int64_t mt = ceil_div(M, MR), nt = ceil_div(N, NR);
    // Up to kRectanglesPerThread rectangles per thread, so that a thread that loses its core for a
    // while (a busy machine) holds back a quarter of its share, not all of it (parallel.cpp).
    int64_t T = std::clamp<int64_t>(M * N * K / kMinFmaPerThread, 1, int64_t{kRectanglesPerThread} * std::max(1, nthreads));
    if (nthreads <= 1) T = 1;
    T = std::min(T, mt * nt);
    int64_t tm = 1, tn = 1;
    for (; T > 1; --T) {
        int64_t best_cost = -1;
        for (int64_t a = 1; a <= T; ++a) {
            if (T % a != 0 || a > mt || T / a > nt) continue;
            const int64_t bm = ceil_div(mt, a) * MR, bn = ceil_div(nt, T / a) * NR;
            const int64_t cost = bm * bn + 32 * (bm + bn);
            if (best_cost < 0 || cost < best_cost) best_cost = cost, tm = a, tn = T / a;
        }
        if (best_cost >= 0) break;
    }
    if (tm * tn == 1) {
        gemm_block(g, 0, M, 0, N);
        return;
    }
    parallel_for(tm * tn, 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int64_t bi = t / tn, bj = t % tn;
            const int64_t m0 = std::min(M, mt * bi / tm * MR), m1 = std::min(M, mt * (bi + 1) / tm * MR);
            const int64_t n0 = std::min(N, nt * bj / tn * NR), n1 = std::min(N, nt * (bj + 1) / tn * NR);
            if (m0 < m1 && n0 < n1) gemm_block(g, m0, m1, n0, n1);
        }
    });
}

}  // namespace

void sgemm_threads(int nthreads, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   const float* bias) {
    TT_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm: negative size M=" + std::to_string(M) + " N=" + std::to_string(N) +
                                             " K=" + std::to_string(K));
    TT_CHECK(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N),
             "sgemm: leading dimension smaller than the row width");
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        if (bias)
            for (int64_t i = 0; i < M; ++i) kernels::binary(BinaryOp::Add, C + i * ldc, bias, C + i * ldc, static_cast<std::size_t>(N));
        return;
    }
    const int64_t kc = block_depth(trans_a, N);  // the problem's K-block depth, whichever way it is solved
    // dE = dlogitsᵀ H (M = 3416 items, N = 64, K = 6400 tokens): op(A) is the transpose of a big A
    // and C is one panel wide. Read in place, op(A)'s MR x KC panels are 6 floats from each of KC
    // rows 13.6 KB apart (a new page every access), and the two threads' halves of M share every
    // cache line of A. Solved transposed instead, Cᵀ (N x M) = op(B)ᵀ · A, the big matrix becomes the
    // packed operand: whole row segments copied in order, threads splitting its columns. Cᵀ is then
    // copied into C. Only for alpha = 1, beta = 0 and no bias, so that C is exactly the Cᵀ computed
    // (the same fma chains, restarted at the same depth kc, as the direct way).
    // (dE, 1 thread, median of 3: 0.45 of peak read in place, 0.61 transposed.)
    if (trans_a && N <= NR && M >= kTransposedMinRows && alpha == 1.0f && beta == 0.0f && !bias) {
        float* ct = tl_transposed_c.get(N * M);
        run_gemm(nthreads, Gemm{!trans_b, false, N, M, K, 1.0f, B, ldb, A, lda, 0.0f, ct, M, nullptr,
                                packs_b(false, N, M, K), kc});
        parallel_for(M, 256, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = ct[j * M + i];
        });
        return;
    }
    run_gemm(nthreads, Gemm{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias,
                            packs_b(trans_b, M, N, K), kc});
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
    const int nt = in_parallel() ? 1 : num_threads();
    sgemm_threads(nt, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0.0;
            for (int64_t k = 0; k < K; ++k) {
                const float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                const float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                s += static_cast<double>(a) * static_cast<double>(b);
            }
            float& c = C[i * ldc + j];
            const double old = beta == 0.0f ? 0.0 : static_cast<double>(beta) * static_cast<double>(c);
            c = static_cast<float>(static_cast<double>(alpha) * s + old);
        }
}

SgemmConfig sgemm_config() {
    return {W,  MR, NR, static_cast<int>(KC), static_cast<int>(slab_columns(KC)), static_cast<int>(kNarrowKC),
            xsimd::default_arch::name()};
}

// ---------------------------------------------------------------------------------------------
// matmul on Tensors

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    const auto shapes = [&] {
        return "a " + a.shape().str() + (trans_a ? "^T" : "") + ", b " + b.shape().str() + (trans_b ? "^T" : "");
    };
    TT_CHECK(a.rank() >= 2 && b.rank() >= 2, "matmul: both operands need rank >= 2, got " + shapes());
    // b 2-D and a batched: b is shared by every batch item (x @ W). Otherwise batch dims must match.
    const bool shared_b = b.rank() == 2 && a.rank() > 2;
    if (!shared_b) {
        bool same = a.rank() == b.rank();
        for (int i = 0; same && i < a.rank() - 2; ++i) same = a.dim(i) == b.dim(i);
        TT_CHECK(same, "matmul: batch dims must be equal (or b 2-D), got " + shapes());
    }
    const int64_t M = trans_a ? a.dim(-1) : a.dim(-2), Ka = trans_a ? a.dim(-2) : a.dim(-1);
    const int64_t Kb = trans_b ? b.dim(-1) : b.dim(-2), N = trans_b ? b.dim(-2) : b.dim(-1);
    TT_CHECK(Ka == Kb, "matmul: inner dims differ (" + std::to_string(Ka) + " vs " + std::to_string(Kb) + "), got " +
                           shapes());
    const int64_t K = Ka;

    Shape out_shape;
    int64_t nbatch = 1;
    for (int i = 0; i < a.rank() - 2; ++i) {
        out_shape.push_back(a.dim(i));
        nbatch *= a.dim(i);
    }
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor out = Tensor::empty(out_shape);
    if (out.numel() == 0) return out;

    const float* A = a.data();
    const float* B = b.data();
    float* C = out.data();
    const int64_t lda = a.dim(-1), ldb = b.dim(-1);

    if (shared_b && !trans_a) {
        // (batch, M, K) row-major is (batch*M, K): one big GEMM, the best shape for the kernel.
        sgemm(false, trans_b, nbatch * M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
        return out;
    }
    const int64_t sa = M * K, sb = shared_b ? 0 : K * N, sc = M * N;
    if (nbatch > 1 && M * N * K < kMinFmaPerThread && !in_parallel()) {
        // Many small products (TTT: 512 x 16x16x16): one thread per group of batch items, each item
        // single-threaded. Same arithmetic per element as the serial path, so still deterministic.
        const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, M * N * K));
        const bool tiny = M * N * K <= kSmallGemmMaxFma;
        parallel_for(nbatch, grain, [&](int64_t begin, int64_t end) {
            for (int64_t t = begin; t < end; ++t) {
                if (tiny)
                    small_gemm(trans_a, trans_b, M, N, K, A + t * sa, lda, B + t * sb, ldb, C + t * sc, N);
                else
                    sgemm_threads(1, trans_a, trans_b, M, N, K, 1.0f, A + t * sa, lda, B + t * sb, ldb, 0.0f, C + t * sc, N);
            }
        });
        return out;
    }
    for (int64_t t = 0; t < nbatch; ++t)
        sgemm(trans_a, trans_b, M, N, K, 1.0f, A + t * sa, lda, B + t * sb, ldb, 0.0f, C + t * sc, N);
    return out;
}

Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b) {
    TT_CHECK(x.defined() && W.defined() && b.defined() && x.rank() >= 1 && W.rank() == 2 && b.rank() == 1 &&
                 x.dim(-1) == W.dim(1) && b.dim(0) == W.dim(0),
             "linear: x (..., in), W (out, in) and b (out) expected, got x " + x.shape().str() + ", W " +
                 W.shape().str() + ", b " + b.shape().str());
    const int64_t in = W.dim(1), out_features = W.dim(0);
    Shape out_shape = x.shape();
    out_shape[-1] = out_features;
    Tensor out = Tensor::empty(out_shape);
    if (out.numel() == 0) return out;
    sgemm(false, true, x.numel() / in, out_features, in, 1.0f, x.data(), in, W.data(), in, 0.0f, out.data(), out_features,
          b.data());
    return out;
}

// ---------------------------------------------------------------------------------------------
// Fused linear + softmax cross-entropy: the logits H Tᵀ (N x V) exist one block of kXentRows rows
// at a time, computed transposed (V x rows: the table is the big A read in place, the block of H
// the small, packed B) so that each softmax runs down a column, SIMD across the block's rows.

namespace {

constexpr int64_t kXentRows = 64;         // rows of H per block; a block of logits is V x 64 floats
constexpr int64_t kXentGroupRows = 256;   // rows per partial sum of the table's gradient (fixed)

void check_xent_args(const Tensor& h, const Tensor& table, const IntTensor& targets, const char* op) {
    TT_CHECK(h.defined() && table.defined() && h.rank() == 2 && table.rank() == 2 && h.dim(1) == table.dim(1),
             std::string(op) + ": h must be (N, C) and the table (V, C), got " + h.shape().str() + " and " +
                 table.shape().str());
    TT_CHECK(targets.numel() == h.dim(0), std::string(op) + ": " + std::to_string(targets.numel()) +
                                              " targets for " + std::to_string(h.dim(0)) + " rows");
    for (int64_t i = 0; i < targets.numel(); ++i)
        TT_CHECK(targets[i] >= 0 && targets[i] < table.dim(0),
                 std::string(op) + ": id " + std::to_string(targets[i]) + " at " + std::to_string(i) +
                     " outside [0, " + std::to_string(table.dim(0)) + ")");
}

// The logits of rows [r0, r0+rows) of h, transposed: tile (V, rows) = table · h[r0:r0+rows]ᵀ.
void logits_block(const Tensor& h, const Tensor& table, int64_t r0, int64_t rows, float* tile) {
    const int64_t V = table.dim(0), C = table.dim(1);
    sgemm_threads(1, false, true, V, rows, C, 1.0f, table.data(), C, h.data() + r0 * C, C, 0.0f, tile, rows);
}

}  // namespace

std::pair<Tensor, Tensor> linear_logsumexp(const Tensor& h, const Tensor& table, const IntTensor& targets) {
    check_xent_args(h, table, targets, "linear_logsumexp");
    const int64_t N = h.dim(0), V = table.dim(0);
    Tensor lse = Tensor::empty(Shape{N}), picked = Tensor::empty(Shape{N});
    float *pl = lse.data(), *pp = picked.data();
    const int32_t* t = targets.data();
    const int64_t blocks = ceil_div(N, kXentRows);
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        float* tile = tl_logits_tile.get(V * kXentRows);
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t r0 = b * kXentRows, rows = std::min(kXentRows, N - r0);
            logits_block(h, table, r0, rows, tile);  // (V, rows)
            kernels::logsumexp_cols(tile, static_cast<std::size_t>(V), static_cast<std::size_t>(rows),
                                    static_cast<std::size_t>(rows), pl + r0);
            for (int64_t r = 0; r < rows; ++r) pp[r0 + r] = tile[int64_t{t[r0 + r]} * rows + r];
        }
    });
    return {lse, picked};
}

namespace {

// The blocks of linear_xent_grad, writing [D T ; Dᵀ H] to `out` (N + V, C). With lse_out (and
// picked_out) given, each block also computes its rows' lse and picked logit from the same tile,
// with the same numbers as linear_logsumexp (same blocks of rows, same sums); otherwise the rows'
// lse is read from lse_in.
void xent_grad_blocks(const Tensor& h, const Tensor& table, const IntTensor& targets, const float* lse_in,
                      const Tensor& row_scale, Tensor& out, float* lse_out, float* picked_out) {
    const int64_t N = h.dim(0), V = table.dim(0), C = table.dim(1);
    float* dh = out.data();
    float* dtable = out.data() + N * C;
    const float *ps = row_scale.data(), *ph = h.data(), *pt = table.data();
    const int32_t* t = targets.data();
    // Each group of kXentGroupRows rows adds its rows' share of the table's gradient into its own
    // partial (V, C); the partials are summed in group order below. The groups do not depend on the
    // thread count, so neither does the sum.
    const int64_t groups = std::max<int64_t>(1, ceil_div(N, kXentGroupRows));
    Tensor partial = Tensor::empty(Shape{groups, V, C});
    float* pp = partial.data();
    parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
        float* tile = tl_logits_tile.get(V * kXentRows);
        for (int64_t g = g0; g < g1; ++g) {
            float* dtable_g = pp + g * V * C;
            const int64_t end = std::min(N, (g + 1) * kXentGroupRows);
            if (g * kXentGroupRows >= end) std::fill(dtable_g, dtable_g + V * C, 0.0f);
            for (int64_t r0 = g * kXentGroupRows; r0 < end; r0 += kXentRows) {
                const int64_t rows = std::min(kXentRows, end - r0);
                logits_block(h, table, r0, rows, tile);  // (V, rows)
                // D block: softmax of each row's logits (a column here) * scale, minus scale at the target
                const auto v = static_cast<std::size_t>(V), n = static_cast<std::size_t>(rows);
                if (lse_out) {  // the forward's numbers from this same tile, and one exp per logit
                    for (int64_t r = 0; r < rows; ++r) picked_out[r0 + r] = tile[int64_t{t[r0 + r]} * rows + r];
                    kernels::lse_softmax_scale_cols(tile, v, n, n, ps + r0, lse_out + r0);
                } else {
                    kernels::softmax_scale_cols(tile, v, n, n, lse_in + r0, ps + r0);
                }
                for (int64_t r = 0; r < rows; ++r) tile[int64_t{t[r0 + r]} * rows + r] -= ps[r0 + r];
                // dh rows = D table:  (rows, V) · (V, C), D read transposed from the tile
                sgemm_threads(1, true, false, rows, C, V, 1.0f, tile, rows, pt, C, 0.0f, dh + r0 * C, C);
                // dtable_g (+)= Dᵀ h rows:  (V, rows) · (rows, C)
                sgemm_threads(1, false, false, V, C, rows, 1.0f, tile, rows, ph + r0 * C, C,
                              r0 == g * kXentGroupRows ? 0.0f : 1.0f, dtable_g, C);
            }
        }
    });
    // dtable = partial[0] + partial[1] + ..., element by element in group order.
    parallel_for(V * C, 1 << 14, [&](int64_t i0, int64_t i1) {
        std::copy(pp + i0, pp + i1, dtable + i0);
        for (int64_t g = 1; g < groups; ++g)
            kernels::axpy(1.0f, pp + g * V * C + i0, dtable + i0, static_cast<std::size_t>(i1 - i0));
    });
}

}  // namespace

Tensor linear_xent_grad(const Tensor& h, const Tensor& table, const IntTensor& targets, const Tensor& lse,
                        const Tensor& row_scale) {
    check_xent_args(h, table, targets, "linear_xent_grad");
    const int64_t N = h.dim(0), V = table.dim(0), C = table.dim(1);
    TT_CHECK(lse.numel() == N && row_scale.numel() == N,
             "linear_xent_grad: lse " + lse.shape().str() + " and row_scale " + row_scale.shape().str() +
                 " need one value per row of h " + h.shape().str());
    Tensor out = Tensor::empty(Shape{N + V, C});  // [dh ; dtable]
    xent_grad_blocks(h, table, targets, lse.data(), row_scale, out, nullptr, nullptr);
    return out;
}

LinearXent linear_xent_value_grad(const Tensor& h, const Tensor& table, const IntTensor& targets,
                                  const Tensor& row_scale) {
    check_xent_args(h, table, targets, "linear_xent_value_grad");
    const int64_t N = h.dim(0), V = table.dim(0), C = table.dim(1);
    TT_CHECK(row_scale.numel() == N, "linear_xent_value_grad: row_scale " + row_scale.shape().str() +
                                         " needs one value per row of h " + h.shape().str());
    LinearXent r{Tensor::empty(Shape{N}), Tensor::empty(Shape{N}), Tensor::empty(Shape{N + V, C})};
    xent_grad_blocks(h, table, targets, nullptr, row_scale, r.grad, r.lse.data(), r.picked.data());
    return r;
}

}  // namespace tt
