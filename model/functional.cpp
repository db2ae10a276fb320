// model/functional.cpp — see functional.hpp. Plain compositions: the backward comes from the ops.
#include "model/functional.hpp"

namespace tt::model {

using namespace tt::ad;

Var linear(const Var& x, const Var& W, const Var& b) {
    if (b.defined()) return linear_bias(x, W, b);  // one kernel: the bias is added as the matmul writes
    return matmul(x, W, false, true);              // (..., in) @ (out, in)ᵀ -> (..., out)
}

// The normalisation itself is one fused op (ad::layer_normalize: (x - mean) / sqrt(var + eps)).
// A per-channel γ, β (C) joins it (one pass: a LayerNorm layer); other shapes (the TTT layers'
// per-head (H,1,D)) stay two broadcasting ops so that γ, β get their gradients from mul and add.
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
    // one pass when tt::normalize_affine takes γ, β as they are: (C), or (G,1,C) against x (..., G, K, C)
    // (the TTT layer's per-head norm)
    const bool fused_shapes =
        gamma.defined() && beta.defined() && beta.shape() == gamma.shape() && x.rank() >= gamma.rank() &&
        gamma.shape()[-1] == x.shape()[-1] &&
        (gamma.rank() == 1 || (gamma.rank() == 3 && gamma.shape()[1] == 1 && gamma.shape()[0] == x.shape()[-3]));
    if (fused_shapes) return layer_normalize(x, eps, gamma, beta);
    Var xhat = layer_normalize(x, eps);  // (..., C)
    Var y = gamma.defined() ? mul(xhat, gamma) : xhat;
    return beta.defined() ? add(y, beta) : y;
}

Var rms_norm(const Var& x, const Var& weight, float eps) {
    if (weight.defined() && weight.rank() == 1 && x.rank() >= 1 && weight.shape()[0] == x.shape()[-1])
        return rms_normalize(x, eps, weight);  // one pass
    Var y = rms_normalize(x, eps);  // x / sqrt(mean(x²) + eps), (..., C)
    return weight.defined() ? mul(y, weight) : y;
}

}  // namespace tt::model
