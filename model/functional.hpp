// model/functional.hpp — stateless building blocks composed from autodiff ops: linear, norms,
// activations. Layers (model/layers.hpp) and the TTT layers (model/ttt.hpp) are built on these.
// Being compositions of differentiable ops, all of them are differentiable to any order.
#pragma once

#include "autodiff/ops.hpp"

namespace tt::model {

using ad::Var;

// y = x Wᵀ + b with PyTorch's layout: W (out, in), b (out) or undefined. x (..., in) -> (..., out).
Var linear(const Var& x, const Var& W, const Var& b = Var());

// LayerNorm over the last axis: γ ⊙ (x − mean) / sqrt(var_biased + eps) + β; γ, β (C) or
// broadcastable to x (the TTT layer passes per-head (H, 1, D) parameters).
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps);
// RMSNorm over the last axis: w ⊙ x / sqrt(mean(x²) + eps).
Var rms_norm(const Var& x, const Var& weight, float eps);

// silu(x) = x · sigmoid(x) and gelu_tanh(x) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) are fused
// ops of the engine: ad::silu, ad::gelu_tanh (autodiff/ops.hpp).

}  // namespace tt::model
