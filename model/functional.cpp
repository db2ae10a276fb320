// model/functional.cpp — see functional.hpp. Plain compositions: the backward comes from the ops.
#include "model/functional.hpp"

namespace tt::model {

using namespace tt::ad;

Var linear(const Var& x, const Var& W, const Var& b) {
    Var y = matmul(x, W, false, true);  // (..., in) @ (out, in)ᵀ -> (..., out)
    return b.defined() ? add(y, b) : y;
}

// The normalisation itself is one fused op (ad::layer_normalize: (x - mean) / sqrt(var + eps)); the
// affine part stays two broadcasting ops so that γ, β get their gradients from mul and add.
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
    Var xhat = layer_normalize(x, eps);  // (..., C)
    Var y = gamma.defined() ? mul(xhat, gamma) : xhat;
    return beta.defined() ? add(y, beta) : y;
}

Var rms_norm(const Var& x, const Var& weight, float eps) {
    Var y = rms_normalize(x, eps);  // x / sqrt(mean(x²) + eps), (..., C)
    return weight.defined() ? mul(y, weight) : y;
}


Var gelu_tanh(const Var& x) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    Var inner = mul(add(x, mul(pow(x, 3.0f), 0.044715f)), kSqrt2OverPi);
    return mul(mul(x, 0.5f), add(tanh(inner), 1.0f));
}

}  // namespace tt::model
