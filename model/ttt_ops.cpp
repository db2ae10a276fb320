// model/ttt_ops.cpp — see ttt_ops.hpp: the fused Φ op, and the dual-form (fast) and primal-form
// (general, nested autodiff) mini-batch steps of TTT-Linear / TTT-MLP. Math: model/TTT.md §2–§5.
#include "model/ttt_ops.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/functional.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {
using Grads = std::vector<Var>;
}

// ================================================================================================
// Φ: LayerNorm fused with the L2 loss, differentiated (model/TTT.md §4.1), and its VJP (§4.2).

namespace {

// γ, β as per-row pointers without materialising them at Z's full size: when they do not vary
// along the token axis (the TTT case: (H,1,D) against (B,H,K,D)), broadcast them to Z's shape
// with that axis set to 1 and map row r to row r / K.   returns (tensor, rows per entry)
std::pair<Tensor, int64_t> row_params(const Tensor& p, const Shape& zs) {
    if (zs.rank() >= 2 && (p.rank() < 2 || p.dim(-2) == 1)) {
        Shape s = zs;
        s[-2] = 1;
        return {tt::broadcast_to(p, s), zs[-2]};
    }
    return {tt::broadcast_to(p, zs), 1};
}

// The §4.2 VJP written with differentiable ops: the reference the fused kernel below must equal,
// and the function whose own derivative gives the fused VJP its (second-order) rule.
// Returns [dZ | w⊙γ | w⊙e + w⊙γ⊙ẑ] packed along the last axis, (..., 3D).
Var phi_vjp_composite(const Var& u, const Var& Z, const Var& T, const Var& gm, const Var& bt, const Var& phi, float eps) {
    const float n = static_cast<float>(Z.shape()[-1]);
    Var xc = sub(Z, mean(Z, -1, true));                       // (..., D)
    Var rstd = rsqrt(add(mean(square(xc), -1, true), eps));   // 1/σ, (..., 1)
    Var xh = mul(xc, rstd);                                   // ẑ
    Var e = sub(add(mul(gm, xh), bt), T);                     // LN(z) − t
    Var gh = mul(e, gm);                                      // ĝ
    Var m = mean(mul(gh, xh), -1, true);                      // mean(ĝ ⊙ ẑ)
    Var mu_uxh = mean(mul(u, xh), -1, true);                  // mean(u ⊙ ẑ)
    Var w = mul(sub(sub(u, mean(u, -1, true)), mul(xh, mu_uxh)), rstd);  // J u, J = ∂ẑ/∂z (symmetric)
    Var wg = mul(w, gm);
    // a = ∂L/∂ẑ with σ held fixed; the explicit 1/σ of Φ gives ∂L/∂σ = −(u·Φ)/σ.
    Var a = sub(mul(mul(gm, gm), w), mul(add(mul(m, u), mul(mu_uxh, gh)), rstd));
    Var dsig = neg(mul(sum(mul(u, phi), -1, true), rstd));   // (..., 1)
    Var ja = mul(sub(sub(a, mean(a, -1, true)), mul(xh, mean(mul(a, xh), -1, true))), rstd);
    Var dZ = add(ja, mul(mul(dsig, xh), 1.0f / n));
    return concat({dZ, wg, add(mul(w, e), mul(wg, xh))}, -1);
}

// The VJP of Φ as one fused kernel (kernels::ln_l2_grad_vjp_row per row): inputs u (= dL/dΦ), Z, T,
// γ, β; output (..., 3D) as above.
// Its rule differentiates phi_vjp_composite (nested autodiff on a fresh graph), so the VJP is
// itself differentiable: Φ has derivatives of every order.
Var ln_fused_l2_grad_vjp(const Var& u, const Var& Z, const Var& T, const Var& gamma, const Var& beta, float eps) {
    const Shape& zs = Z.shape();
    const int64_t D = zs[-1];
    auto [g, g_rows] = row_params(gamma.value(), zs);
    auto [b, b_rows] = row_params(beta.value(), zs);
    Shape os = zs;
    os[-1] = 3 * D;
    Tensor out = Tensor::empty(os);  // (..., 3D)
    const float *pu = u.value().data(), *pz = Z.value().data(), *pt = T.value().data();
    const float *pg = g.data(), *pb = b.data();
    float* po = out.data();
    const int64_t rows = D > 0 ? Z.numel() / D : 0, gr = g_rows, br = b_rows;
    parallel_for(rows, std::max<int64_t>(1, 2048 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            float* dZ = po + r * 3 * D;
            kernels::ln_l2_grad_vjp_row(pu + r * D, pz + r * D, pt + r * D, pg + (r / gr) * D, pb + (r / br) * D, dZ,
                                        dZ + D, dZ + 2 * D, static_cast<std::size_t>(D), eps);
        }
    });
    return make_result(std::move(out), {u, Z, T, gamma, beta}, "ln_fused_l2_grad_vjp",
                       [eps](const Var& self, const Var& g) -> Grads {
                           // d/d(inputs) of <g, vjp(inputs)> by differentiating the composite form;
                           // recorded (differentiable again) exactly when grad mode is on.
                           const bool outer = grad_enabled();
                           std::vector<Var> at;
                           for (const Var& v : self.inputs())
                               at.push_back(outer && v.requires_grad() ? v : parameter(v.value()));
                           GradModeGuard on(true);
                           Var phi = ln_fused_l2_grad(at[1], at[2], at[3], at[4], eps);
                           Var packed = phi_vjp_composite(at[0], at[1], at[2], at[3], at[4], phi, eps);
                           return grad({packed}, at, {.create_graph = outer, .grad_outputs = {g}});
                       });
}

}  // namespace

Var ln_fused_l2_grad(const Var& Z, const Var& target, const Var& gamma, const Var& beta, float eps) {
    TT_CHECK(Z.shape() == target.shape(),
             "ln_fused_l2_grad: Z " + Z.shape().str() + " and target " + target.shape().str() + " differ");
    const Shape& zs = Z.shape();
    const int64_t D = zs[-1];
    auto [g, g_rows] = row_params(gamma.value(), zs);
    auto [b, b_rows] = row_params(beta.value(), zs);
    Tensor out = Tensor::empty(zs);  // (..., D)
    const float *pz = Z.value().data(), *pt = target.value().data(), *pg = g.data(), *pb = b.data();
    float* po = out.data();
    const int64_t rows = D > 0 ? Z.numel() / D : 0, gr = g_rows, br = b_rows;
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
            kernels::ln_l2_grad_row(pz + r * D, pt + r * D, pg + (r / gr) * D, pb + (r / br) * D, po + r * D,
                                    static_cast<std::size_t>(D), eps);
    });
    return make_result(std::move(out), {Z, target, gamma, beta}, "ln_fused_l2_grad",
                       [eps](const Var& self, const Var& u) -> Grads {
                           // §4.2: one fused VJP kernel gives dZ, w⊙γ and the per-row γ term.
                           const Var& gm = self.input(2);
                           const Var& bt = self.input(3);
                           const int64_t D = self.shape()[-1];
                           Var packed = ln_fused_l2_grad_vjp(u, self.input(0), self.input(1), gm, bt, eps);  // (..., 3D)
                           Var wg = slice(packed, -1, D, 2 * D);  // w ⊙ γ
                           Grads r(4);
                           if (self.needs_input_grad(0)) r[0] = slice(packed, -1, 0, D);                       // ∂/∂z
                           if (self.needs_input_grad(1)) r[1] = neg(wg);                                       // ∂/∂t = −w⊙γ
                           if (self.needs_input_grad(2)) r[2] = sum_to(slice(packed, -1, 2 * D, 3 * D), gm.shape());  // w⊙e + w⊙γ⊙ẑ
                           if (self.needs_input_grad(3)) r[3] = sum_to(wg, bt.shape());                        // ∂/∂β = w⊙γ
                           return r;
                       });
}

std::vector<Var> InnerParams::list() const {
    std::vector<Var> out;
    for (const Var* v : {&W1, &b1, &W2, &b2})
        if (v->defined()) out.push_back(*v);
    return out;
}

InnerParams InnerParams::from(const std::vector<Var>& l) {
    TT_CHECK(l.size() == 2 || l.size() == 4, "InnerParams::from: expected 2 or 4 tensors");
    InnerParams p{l[0], l[1], Var(), Var()};
    if (l.size() == 4) {
        p.W2 = l[2];
        p.b2 = l[3];
    }
    return p;
}

// ================================================================================================
// fast: dual form, model/TTT.md §3. With E = τ ⊗ lr and M = tril(1), P = M ⊙ E is the causal step
// matrix; everything is a batched matmul over (B, H).

namespace {

// η = τ ⊗ lr, causal part only: P[i, j] = τ_i lr_j for j ≤ i.   tau (K,1), lr (B,H,1,K) -> (B,H,K,K)
Var causal_eta(const ChunkIn& in) { return tril(mul(in.tau, in.lr)); }

// e = last row of η as a column, e_j = τ_{K−1} lr_j: the step sizes of the carried state.  (B,H,K,1)
Var last_eta_col(const ChunkIn& in) {
    const int64_t K = in.XK.shape()[2];
    Var tau_last = slice(in.tau, 0, K - 1, K);  // (1,1)
    return transpose(mul(in.lr, tau_last), -1, -2);
}

}  // namespace

ChunkOut ttt_linear_dual_chunk(const InnerParams& s, const ChunkIn& in) {
    Var Z1 = add(matmul(in.XK, s.W1), s.b1);                                   // (B,H,K,D)
    Var G1 = ln_fused_l2_grad(Z1, sub(in.XV, in.XK), in.gamma, in.beta, in.eps);  // dℓ/dZ1, (B,H,K,D)
    Var P = causal_eta(in);                                                    // (B,H,K,K)
    // Z̄ = Q W − (P ⊙ QKᵀ) G + b − P G  = q_i W_i + b_i for every token i; the two products with G
    // as one: (P ⊙ QKᵀ) G + P G = (P ⊙ (QKᵀ + 1)) G
    Var A = mul(P, add(matmul(in.XQ, in.XK, false, true), 1.0f));              // P ⊙ (Q Kᵀ + 1), (B,H,K,K)
    Var Z1_bar = add(sub(matmul(in.XQ, s.W1), matmul(A, G1)), s.b1);            // (B,H,K,D)
    Var O = add(in.XQ, layer_norm(Z1_bar, in.gamma, in.beta, in.eps));          // (B,H,K,D)
    Var e = last_eta_col(in);                                                  // (B,H,K,1)
    Var eG1 = mul(e, G1);                                                      // (B,H,K,D)
    InnerParams next;
    next.W1 = sub(s.W1, matmul(in.XK, eG1, true, false));                      // W − Kᵀ (e⊙G), (B,H,D,D)
    next.b1 = sub(s.b1, sum(eG1, 2, true));                                    // (B,H,1,D)
    return {O, next};
}

ChunkOut ttt_mlp_dual_chunk(const InnerParams& s, const ChunkIn& in) {
    Var Z1 = add(matmul(in.XK, s.W1), s.b1);                                   // (B,H,K,F)
    Var X2 = gelu_tanh(Z1);                                                    // (B,H,K,F)
    Var Z2 = add(matmul(X2, s.W2), s.b2);                                      // (B,H,K,D)
    Var G2 = ln_fused_l2_grad(Z2, sub(in.XV, in.XK), in.gamma, in.beta, in.eps);  // (B,H,K,D)
    Var G1 = mul(matmul(G2, s.W2, false, true), gelu_tanh_grad(Z1));           // (B,H,K,F)
    Var P = causal_eta(in);                                                    // (B,H,K,K)
    // as in ttt_linear_dual_chunk, (P ⊙ XYᵀ) G + P G = (P ⊙ (XYᵀ + 1)) G
    Var A1 = mul(P, add(matmul(in.XQ, in.XK, false, true), 1.0f));             // (B,H,K,K)
    Var Z1_bar = add(sub(matmul(in.XQ, s.W1), matmul(A1, G1)), s.b1);          // (B,H,K,F)
    Var X2_bar = gelu_tanh(Z1_bar);                                            // (B,H,K,F)
    Var A2 = mul(P, add(matmul(X2_bar, X2, false, true), 1.0f));               // (B,H,K,K)
    Var Z2_bar = add(sub(matmul(X2_bar, s.W2), matmul(A2, G2)), s.b2);         // (B,H,K,D)
    Var O = add(in.XQ, layer_norm(Z2_bar, in.gamma, in.beta, in.eps));          // (B,H,K,D)
    Var e = last_eta_col(in);                                                  // (B,H,K,1)
    Var eG1 = mul(e, G1);                                                      // (B,H,K,F)
    Var eG2 = mul(e, G2);                                                      // (B,H,K,D)
    InnerParams next;
    next.W1 = sub(s.W1, matmul(in.XK, eG1, true, false));                      // (B,H,D,F)
    next.b1 = sub(s.b1, sum(eG1, 2, true));                                    // (B,H,1,F)
    next.W2 = sub(s.W2, matmul(X2, eG2, true, false));                         // (B,H,F,D)
    next.b2 = sub(s.b2, sum(eG2, 2, true));                                    // (B,H,1,D)
    return {O, next};
}

// ================================================================================================
// general: primal form, the inner gradient from the engine (model/TTT.md §2.7, §5.2); the test
// oracle of the fast form above

Var ttt_linear_f_res(const Var& x, const std::vector<Var>& p) { return add(matmul(x, p[0]), p[1]); }

Var ttt_mlp_f_res(const Var& x, const std::vector<Var>& p) {
    return add(matmul(gelu_tanh(add(matmul(x, p[0]), p[1])), p[2]), p[3]);
}

GeneralChunkOut ttt_general_chunk(const InnerFn& f_res, const std::vector<Var>& state, const ChunkIn& in) {
    const Shape& s4 = in.XK.shape();
    const int64_t B = s4[0], H = s4[1], K = s4[2], D = s4[3];
    const Shape tok{B, H, K, 1, D};
    Var xq = reshape(in.XQ, tok), xk = reshape(in.XK, tok), xv = reshape(in.XV, tok);  // (B,H,K,1,D)
    Var target = sub(xv, xk);                                                         // (B,H,K,1,D)
    Var gamma = reshape(in.gamma, Shape{H, 1, 1, D});                                 // (H,1,1,D)
    Var beta = reshape(in.beta, Shape{H, 1, 1, D});
    Var lr = reshape(in.lr, Shape{B, H, K, 1, 1});                                    // (B,H,K,1,1)
    const float eps = in.eps;

    // Every token gets its own copy of the mini-batch-start state, so d/dW_tok[j] of Σ_j lr_j ℓ_j is
    // token j's own gradient lr_j ∇ℓ_j(W⁽ⁿ⁾) (all gradients at the mini-batch start, model/TTT.md §2.7).
    std::vector<Var> per_token;
    for (const Var& p : state) {
        Shape e{B, H, 1, p.shape()[2], p.shape()[3]};
        Shape full{B, H, K, p.shape()[2], p.shape()[3]};
        per_token.push_back(broadcast_to(reshape(p, e), full));  // (B,H,K,r,c)
    }
    auto inner_loss = [&](const std::vector<Var>& W) {
        Var r = sub(layer_norm(f_res(xk, W), gamma, beta, eps), target);  // LN(f_res(k)) − (v − k)
        return mul(sum(mul(lr, sum(square(r), -1, true))), 0.5f);      // Σ_j lr_j ½‖·‖²
    };
    std::vector<Var> g = inner_grad(inner_loss, per_token);  // (B,H,K,r,c) each

    // W_i = W⁽ⁿ⁾ − τ_i Σ_{j≤i} g_j: the scaled causal sum is one matmul with S[i, j] = τ_i for j ≤ i
    // (τ folded into the K x K mask rather than applied to the (B,H,K,r,c) sums: one big tensor
    // and one pass over it fewer per parameter).
    Var steps = mul(constant(tt::tril(Tensor::ones(Shape{K, K}))), in.tau);  // (K,K)
    steps = broadcast_to(steps, Shape{B, H, K, K});                           // (B,H,K,K)
    std::vector<Var> W_i;
    for (std::size_t n = 0; n < state.size(); ++n) {
        const Shape& ps = per_token[n].shape();
        Var flat = reshape(g[n], Shape{B, H, K, ps[3] * ps[4]});       // (B,H,K,r·c)
        W_i.push_back(sub(per_token[n], reshape(matmul(steps, flat), ps)));  // (B,H,K,r,c)
    }
    Var O = add(xq, layer_norm(f_res(xq, W_i), gamma, beta, eps));   // (B,H,K,1,D)
    GeneralChunkOut out;
    out.O = reshape(O, s4);                                            // (B,H,K,D)
    for (const Var& w : W_i) {
        const Shape& ps = w.shape();
        out.next.push_back(reshape(slice(w, 2, K - 1, K), Shape{B, H, ps[3], ps[4]}));  // (B,H,r,c)
    }
    return out;
}

}  // namespace tt::model
