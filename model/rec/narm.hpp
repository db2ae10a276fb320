// model/rec/narm.hpp — NARM's attention step on its own (model/rec/narm.cpp), exposed so that the
// tests can check it against hand-computed values without building a whole model.
//
// Legend: B = rows, Q = queries per row (1 = the session's last state; T = every prefix), T = positions,
// H = GRU hidden size.
#pragma once

#include "model/module.hpp"

namespace tt::model {

struct NarmAttention {
    Var alpha;  // (B, Q, T) the attention weights α (unnormalised, 0 where the mask is 0)
    Var c;      // (B, Q, 2H) [c_l ; c_g], before the second dropout
};

// NARM's local encoder (Li et al., CIKM 2017, eq. 8-9, as RecBole's NARM.forward computes it):
//   α_qj = vᵀ( m_qj · σ(A₁ G_j + A₂ cg_q) ),  c_l,q = Σ_j α_qj G_j,  c_q = [c_l,q ; cg_q]
// G (B, T, H) the GRU states, cg (B, Q, H) the global encodings (the state at the last real item of
// each prefix), mask (B, Q, T) data (1 = key j is a real item that query q may read), a1 and a2
// (H, H) and v (1, H) in PyTorch's Linear layout (y = x Wᵀ).
NarmAttention narm_attention(const Var& G, const Var& cg, const Tensor& mask, const Var& a1, const Var& a2, const Var& v);

}  // namespace tt::model
