// model/module.hpp — the conventions every layer and model in model/ follows.
//
// A layer is a small struct that owns its parameters as ad::Var leaves (requires_grad = true),
// has a `forward(...)`, and lists its parameters by name with `parameters(list, prefix)`.
// Names are dotted paths ("blocks.0.ttt.q_proj.weight"): they are what checkpoints store, so
// they must be stable. A Var is a shared handle: the list refers to the very leaves the layer
// uses, so an optimizer that updates `var.mutable_value()` in place updates the layer.
//
// Weight layouts follow PyTorch (nn.Linear weight is (out, in); y = x Wᵀ + b), so that weights
// can be exchanged with PyTorch through safetensors.
//
// Legend used in shape comments: B = batch, T = sequence length, C = width, H = heads,
// D = head dim (C / H), K = TTT mini-batch size, V = number of items (including padding row 0).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autodiff/grad.hpp"
#include "autodiff/ops.hpp"

namespace tt::model {

using ad::Var;
using ParamList = std::vector<std::pair<std::string, Var>>;
// Plain named tensors: checkpoint contents, optimizer state.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a forward pass needs to know beyond its inputs: training (dropout on) or evaluation, and
// the generator that draws dropout masks (seeded by the trainer, saved in checkpoints).
struct Ctx {
    bool training = false;
    Rng* rng = nullptr;
};

// Parameter initialisers (N(0, initializer_range), zeros, ones; model/TTT.md §1).
inline Var normal_param(const Shape& s, Rng& rng, float stddev) { return ad::parameter(Tensor::randn(s, rng, 0.0f, stddev)); }
inline Var zeros_param(const Shape& s) { return ad::parameter(Tensor::zeros(s)); }
inline Var ones_param(const Shape& s) { return ad::parameter(Tensor::ones(s)); }

inline void add_param(ParamList& out, const std::string& prefix, const char* name, const Var& v) {
    if (v.defined()) out.emplace_back(prefix + name, v);
}

}  // namespace tt::model
