// model/functional.cpp — see functional.hpp. Plain compositions: the backward comes from the ops.
#include "model/functional.hpp"

namespace tt::model {

using namespace tt::ad;

Var linear(const Var& x, const Var& W, const Var& b) {
    Var y = matmul(x, W, false, true);  // (..., in) @ (out, in)ᵀ -> (..., out)
    return b.defined() ? add(y, b) : y;
}

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
    Var mu = mean(x, -1, true);                            // (..., 1)
    Var xc = sub(x, mu);                                   // (..., C)
    Var var = mean(square(xc), -1, true);                  // biased variance, (..., 1)
    Var xhat = mul(xc, rsqrt(add(var, eps)));              // (..., C)
    Var y = gamma.defined() ? mul(xhat, gamma) : xhat;
    return beta.defined() ? add(y, beta) : y;
}

Var rms_norm(const Var& x, const Var& weight, float eps) {
    Var inv_rms = rsqrt(add(mean(square(x), -1, true), eps));  // (..., 1)
    Var y = mul(x, inv_rms);
    return weight.defined() ? mul(y, weight) : y;
}

Var silu(const Var& x) { return mul(x, sigmoid(x)); }

Var gelu_tanh(const Var& x) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    Var inner = mul(add(x, mul(pow(x, 3.0f), 0.044715f)), kSqrt2OverPi);
    return mul(mul(x, 0.5f), add(tanh(inner), 1.0f));
}

}  // namespace tt::model
