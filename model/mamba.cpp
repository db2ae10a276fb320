// model/mamba.cpp — see mamba.hpp: the Mamba block, its two initialisations and its streaming step.
#include "model/mamba.hpp"

#include <cmath>

namespace tt::model {

using namespace tt::ad;

namespace {

int64_t resolve_dt_rank(const MambaConfig& c) { return c.dt_rank > 0 ? c.dt_rank : (c.d_model + 15) / 16; }

Var detach(const Var& v) { return v.defined() ? constant(v.value()) : Var(); }

// PyTorch's nn.Linear default: weight U(±1/√fan_in) (kaiming_uniform with a = √5 reduces to this).
void linear_default_init(Linear& l, Rng& rng) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(l.weight.shape()[1]));
    l.weight.mutable_value() = Tensor::uniform(l.weight.shape(), rng, -bound, bound);
}

}  // namespace

MambaState MambaState::detached() const { return {detach(conv), detach(h), t}; }

MambaBlock::MambaBlock(const MambaConfig& c, Rng& rng)
    : cfg(c),
      d_inner(c.expand * c.d_model),
      dt_rank(resolve_dt_rank(c)),
      in_proj(c.d_model, 2 * d_inner, rng, c.init_range, false),
      conv1d(d_inner, c.d_conv, rng),
      x_proj(d_inner, dt_rank + 2 * c.d_state, rng, c.init_range, false),
      dt_proj(dt_rank, d_inner, rng, c.init_range, true),
      out_proj(d_inner, c.d_model, rng, c.init_range, false) {
    TT_CHECK(c.d_model > 0 && c.d_state > 0 && c.expand > 0 && c.d_conv >= 2,
             "MambaBlock: need d_model, d_state, expand > 0 and d_conv >= 2");
    const int64_t I = d_inner, N = c.d_state;
    // S4D-real: A[d, n] = −(n + 1) for every channel.
    Tensor a_log = Tensor::empty(Shape{I, N});  // (I,N)
    for (int64_t d = 0; d < I; ++d)
        for (int64_t n = 0; n < N; ++n) a_log.data()[d * N + n] = std::log(static_cast<float>(n + 1));
    A_log = parameter(a_log);
    D = ones_param(Shape{I});
    if (c.init == MambaInit::Mamba) {
        linear_default_init(in_proj, rng);
        linear_default_init(x_proj, rng);
        linear_default_init(out_proj, rng);
        const float bound = c.dt_scale / std::sqrt(static_cast<float>(dt_rank));
        dt_proj.weight.mutable_value() = Tensor::uniform(dt_proj.weight.shape(), rng, -bound, bound);
        // dt log-uniform in [dt_min, dt_max], floored; the bias is softplus⁻¹(dt) = dt + log(−expm1(−dt))
        // so that softplus(bias) = dt at a zero input.
        Tensor bias = Tensor::empty(Shape{I});  // (I)
        const double lo = std::log(c.dt_min), hi = std::log(c.dt_max);
        for (int64_t d = 0; d < I; ++d) {
            double dt = std::exp(rng.uniform() * (hi - lo) + lo);
            dt = std::max(dt, static_cast<double>(c.dt_init_floor));
            bias.data()[d] = static_cast<float>(dt + std::log(-std::expm1(-dt)));
        }
        dt_proj.bias.mutable_value() = bias;
    }
}

Var MambaBlock::forward(const Var& x) const {
    MambaState st;
    return forward_step(x, st);
}

Var MambaBlock::forward_step(const Var& x, MambaState& st, MambaTrace* trace) const {
    TT_CHECK(x.rank() == 3 && x.shape()[2] == cfg.d_model,
             "MambaBlock: x must be (B,T,E) with E = " + std::to_string(cfg.d_model) + ", got " + x.shape().str());
    const int64_t I = d_inner, N = cfg.d_state, R = dt_rank;
    Var xz = in_proj.forward(x);                           // (B,T',2I)
    Var xs = slice(xz, -1, 0, I);                          // (B,T',I)
    Var z = slice(xz, -1, I, 2 * I);                       // (B,T',I)
    Var u = silu(conv1d.forward(xs, st.conv));             // (B,T',I)
    Var dbc = x_proj.forward(u);                           // (B,T',R+2N)
    Var dt_low = slice(dbc, -1, 0, R);                     // (B,T',R)
    Var Bm = slice(dbc, -1, R, R + N);                     // (B,T',N)
    Var Cm = slice(dbc, -1, R + N, R + 2 * N);             // (B,T',N)
    Var delta = delta_softplus(dt_proj.forward(dt_low));   // (B,T',I)
    Var A = neg(exp(A_log));                               // (I,N)
    ScanOut s = selective_scan(u, delta, A, Bm, Cm, D, st.h, cfg.scan_chunk);
    Var o = swiglu(z, s.y);                                // SiLU(z) ⊙ y, (B,T',I)
    const int64_t T = x.shape()[1], K = cfg.d_conv;        // the last K−1 conv inputs, (B,K−1,I):
    st.conv = T >= K - 1 ? slice(xs, 1, T - (K - 1), T)    // all from this piece
                         : conv1d.next_history(xs, st.conv);  // partly from the carried window
    st.h = s.h_last;                                       // (B,I,N)
    st.t += T;
    if (trace) *trace = {u, delta, s.y};
    return out_proj.forward(o);                            // (B,T',E)
}

Var MambaBlock::step(const Var& x, MambaState& st) const {
    TT_CHECK(x.rank() == 2, "MambaBlock::step: x must be (B,E), got " + x.shape().str());
    const int64_t B = x.shape()[0], E = x.shape()[1];
    return reshape(forward_step(reshape(x, Shape{B, 1, E}), st), Shape{B, E});
}

void MambaBlock::parameters(ParamList& out, const std::string& prefix) const {
    in_proj.parameters(out, prefix + "in_proj.");
    conv1d.parameters(out, prefix + "conv1d.");
    x_proj.parameters(out, prefix + "x_proj.");
    dt_proj.parameters(out, prefix + "dt_proj.");
    add_param(out, prefix, "A_log", A_log);
    add_param(out, prefix, "D", D);
    out_proj.parameters(out, prefix + "out_proj.");
}

}  // namespace tt::model
