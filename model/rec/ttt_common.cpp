// model/rec/ttt_common.cpp — see ttt_common.hpp.
#include "model/rec/ttt_common.hpp"

namespace tt::model {

TTTConfig ttt_layer_config(int64_t width, int64_t heads, int64_t mini_batch, float base_lr, const std::string& inner,
                           const std::string& inner_loop, float rope_base, float init_range) {
    TTTConfig t;
    t.width = width;
    t.heads = heads;
    t.mini_batch = mini_batch;
    t.base_lr = base_lr;
    t.inner = inner == "mlp" ? InnerModel::MLP : InnerModel::Linear;
    t.loop = inner_loop == "general" ? InnerLoop::General : InnerLoop::Fast;
    t.rope_theta = rope_base;
    t.rope_mod_mini_batch = true;
    t.init_range = init_range;
    return t;
}

namespace {
const char* const kTTTFields[] = {"W1", "b1", "W2", "b2", "conv_history", "XQ", "XK", "XV", "lr"};

Var TTTState::*member(int i) {
    static Var TTTState::*const m[] = {&TTTState::W1, &TTTState::b1, &TTTState::W2, &TTTState::b2, &TTTState::conv_history,
                                       &TTTState::XQ, &TTTState::XK, &TTTState::XV, &TTTState::lr};
    return m[i];
}
}  // namespace

void pack_ttt_state(StreamState& st, const std::string& prefix, const TTTState& s) {
    for (int i = 0; i < 9; ++i) {
        const Var& v = s.*member(i);
        st.set(prefix + kTTTFields[i], v.defined() ? v.value() : Tensor());
    }
}

TTTState unpack_ttt_state(const StreamState& st, const std::string& prefix) {
    TTTState s;
    for (int i = 0; i < 9; ++i) {
        const Tensor& t = st.field(prefix + kTTTFields[i]);
        if (t.defined() && t.numel() > 0) s.*member(i) = ad::constant(t);
    }
    s.t = st.t;
    return s;
}

void set_pending_layout(std::vector<std::pair<std::string, Shape>>& layout, const std::string& prefix, const TTTLayer& layer,
                        int64_t t) {
    const int64_t H = layer.cfg.heads, D = layer.head_dim, P = t % layer.cfg.mini_batch;
    for (auto& [name, shape] : layout) {
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string f = name.substr(prefix.size());
        if (f == "XQ" || f == "XK" || f == "XV") shape = P ? Shape{1, H, P, D} : Shape{0};
        if (f == "lr") shape = P ? Shape{1, H, 1, P} : Shape{0};
    }
}

}  // namespace tt::model
