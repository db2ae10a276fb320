// model/rec/comirec.cpp — ComiRec (Cen et al., "Controllable Multi-Interest Framework for
// Recommendation", KDD 2020), both extractors of the official THUDM/ComiRec code as two registry
// rows: comirec-sa (Model_ComiRec_SA: self-attention over the history) and comirec-dr
// (Model_ComiRec_DR: CapsuleNetwork dynamic routing with one bilinear map per position).
//
// A user is K interests U (K, C) read from the whole history window (no per-position state).
//   training: the interest closest to the target, k* = argmax_k <u_k, e_target> (a hard choice,
//             no gradient through it), is the user vector of the loss; the loss is TF's sampled
//             softmax (10·B shared log-uniform candidates, log-Q correction, accidental hits
//             removed; the official loss) or, with --loss ce, the full softmax over all items.
//   serving:  score(i) = max_k <u_k, e_i> (what merging each interest's top-N by score gives).
//
// NOTE on the sampler: the official preprocessing numbers items by decreasing frequency, so the
// log-uniform distribution over ids is roughly the popularity distribution and the log-Q
// correction undoes a popularity-shaped sampling. tttrec numbers items in order of first
// appearance, so here the sampler favours items that appeared early in the log: still a valid
// proposal (the correction uses its exact Q), but not popularity-shaped, so the negatives are
// closer to uniform-with-a-bias-to-small-ids than in the paper. Sampling by frequency rank would
// need the item counts, which the model is not given (no data dependency is added); the rank
// could be applied by renumbering the dataset's ids by frequency before training (the class ->
// item table of data::items_by_frequency). As in the official code, the padding id 0 is a legal
// (and the most likely) sampled negative.
//
// Other choices (tttrec's leave-one-out pipeline, not the official random-cut iterator):
//   - T = max_len, the history window left-aligned and right-padded; DR's W_t is per absolute
//     position from the left of that window (as the official code, whose histories are padded
//     the same way).
//   - init as the official TF code: glorot-uniform item table, positions and dense kernels, zero
//     biases, DR's bilinear map N(0, 1).
//   - --dropout (default 0, the official has none) drops history embeddings; every-position
//     training is not offered (each target would need its own re-encoded prefix).
//   - S = min(10·B, V / 2): TF requires S <= range, and drawing nearly all ids without replacement
//     takes a huge number of tries, so tiny catalogues (the tests, the synthetic set) get V / 2.
//
// Legend: B = rows, T = positions (<= max_len), C = width, K = interests, F = attention width,
// V = items + 1.
#include "model/rec/comirec.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace comirec {

Var detach(const Var& x) { return constant(x.value()); }

Var squash(const Var& s) {
    Var n2 = sum(square(s), -1, true);                    // (..., 1) ‖s‖²
    Var scale = div(div(n2, add(n2, 1.0f)), sqrt(add(n2, 1e-9f)));
    return mul(s, scale);
}

Var dynamic_routing(const Var& e_hat, const Tensor& mask, int iterations, std::vector<Tensor>* c_trace) {
    TT_CHECK(e_hat.rank() == 4, "dynamic_routing: e_hat must be (B, K, T, C), got " + e_hat.shape().str());
    TT_CHECK(iterations >= 1, "dynamic_routing: at least one iteration");
    const int64_t B = e_hat.dim(0), K = e_hat.dim(1), T = e_hat.dim(2), C = e_hat.dim(3);
    TT_CHECK(mask.shape() == Shape({B, T}), "dynamic_routing: mask must be (B, T)");
    const Tensor valid = mask.reshape(Shape{B, 1, T});
    const Var zero = constant(Tensor::scalar(0.0f));
    Var e_stopped = detach(e_hat);
    Var b = constant(Tensor::zeros(Shape{B, K, T}));  // routing logits, never differentiated
    Var v;
    for (int i = 0; i < iterations; ++i) {
        const bool last = i == iterations - 1;
        Var c = transpose(softmax(transpose(b, 1, 2)), 1, 2);  // (B, K, T): softmax over the interests
        c = where(valid, c, zero);                              // padded positions route nothing
        if (c_trace) c_trace->push_back(c.value());
        const Var& e = last ? e_hat : e_stopped;
        Var s = reshape(matmul(reshape(c, Shape{B, K, 1, T}), e), Shape{B, K, C});  // Σ_t c ê
        v = squash(s);                                                               // (B, K, C)
        if (!last) {
            Var agree = reshape(matmul(e_stopped, reshape(v, Shape{B, K, C, 1})), Shape{B, K, T});  // <ê, v>
            b = detach(add(b, agree));
        }
    }
    return v;
}

Var self_attentive_interests(const Var& x, const Var& pos, const Tensor& mask, const Linear& w1, const Linear& w2,
                             Tensor* attention) {
    const int64_t B = x.dim(0), T = x.dim(1);
    Var h1 = tanh(w1.forward(add(x, slice(pos, 0, 0, T))));  // (B, T, F)
    Var s = transpose(w2.forward(h1), 1, 2);                 // (B, T, K) -> (B, K, T)
    // -2³² + 1 as the official code: exp of it underflows to exactly 0 after the max shift.
    const Var pad = constant(Tensor::scalar(-4294967295.0f));
    Var a = softmax(where(mask.reshape(Shape{B, 1, T}), s, pad));  // (B, K, T) over the positions
    if (attention) *attention = a.value();
    return matmul(a, x);  // (B, K, C)
}

double log_uniform_prob(int64_t c, int64_t range_max) {
    return (std::log(static_cast<double>(c) + 2.0) - std::log(static_cast<double>(c) + 1.0)) /
           std::log(static_cast<double>(range_max) + 1.0);
}

namespace {
// ln Q of an id with base probability p in a set of num_sampled distinct ids that took num_tries
// draws: TF's ExpectedCountHelper, 1 − (1 − p)^num_tries (stable form), or p · num_sampled when
// no draw was rejected (then the with-replacement expected count).
float log_q(double p, int64_t num_sampled, int64_t num_tries) {
    if (num_tries == num_sampled) return static_cast<float>(std::log(p * static_cast<double>(num_sampled)));
    return static_cast<float>(std::log(-std::expm1(static_cast<double>(num_tries) * std::log1p(-p))));
}
double uniform53(Rng& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }  // [0, 1), 53 bits
}  // namespace

SampledCandidates sample_log_uniform(int64_t num_sampled, int64_t range_max, Rng& rng) {
    TT_CHECK(num_sampled >= 1 && num_sampled <= range_max, "sample_log_uniform: need 1 <= num_sampled <= range_max");
    SampledCandidates out;
    out.range_max = range_max;
    const double log_range = std::log(static_cast<double>(range_max) + 1.0);
    std::vector<uint8_t> seen(static_cast<std::size_t>(range_max), 0);
    while (static_cast<int64_t>(out.ids.size()) < num_sampled) {
        // Inverse CDF of the log-uniform law: floor(exp(u ln(range + 1))) − 1 falls on c with
        // probability P(c); range_max itself (reachable by rounding only) folds to 0, as in TF.
        const int64_t c = (static_cast<int64_t>(std::exp(uniform53(rng) * log_range)) - 1) % range_max;
        ++out.num_tries;
        if (!seen[static_cast<std::size_t>(c)]) {
            seen[static_cast<std::size_t>(c)] = 1;
            out.ids.push_back(static_cast<int32_t>(c));
        }
    }
    for (int32_t id : out.ids) out.log_q.push_back(log_expected_count(id, out));
    return out;
}

float log_expected_count(int64_t id, const SampledCandidates& s) {
    return log_q(log_uniform_prob(id, s.range_max), static_cast<int64_t>(s.ids.size()), s.num_tries);
}

Var sampled_softmax_loss(const Var& u, const Var& table, const IntTensor& targets, const SampledCandidates& s) {
    const int64_t N = u.dim(0), S = static_cast<int64_t>(s.ids.size());
    // True class: <u, e_t> − ln Q(t)  (N, 1).
    std::vector<float> true_lq(static_cast<std::size_t>(N));
    for (int64_t n = 0; n < N; ++n) true_lq[static_cast<std::size_t>(n)] = log_expected_count(targets[n], s);
    Var true_logit = sub(reshape(sum(mul(u, gather_rows(table, targets)), -1), Shape{N, 1}),
                         constant(Tensor::from(Shape{N, 1}, std::span<const float>(true_lq))));
    // Shared samples: u E_Sᵀ − ln Q(S)  (N, S), accidental hits pushed out of the softmax.
    Var sampled = sub(matmul(u, gather_rows(table, IntTensor(Shape{S}, s.ids)), false, true),
                      constant(Tensor::from(Shape{1, S}, std::span<const float>(s.log_q))));
    Tensor hit = Tensor::zeros(Shape{N, S});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < S; ++j)
            if (s.ids[static_cast<std::size_t>(j)] == targets[n]) hit.data()[n * S + j] = 1.0f;
    // NOTE: TF subtracts FLT_MAX; any value that underflows exp() gives the same loss and gradient.
    sampled = masked_fill(sampled, hit, -1e30f);
    Var logits = concat({true_logit, sampled}, 1);  // (N, 1 + S), the true class at index 0
    return cross_entropy(logits, IntTensor(Shape{N}, std::vector<int32_t>(static_cast<std::size_t>(N), 0)));
}

}  // namespace comirec

namespace {

using comirec::detach;

enum class Extractor { SelfAttention, Routing };

struct ComiRecOptions final : Options<ComiRecOptions> {
    int64_t interests = 4;
    int64_t att_hidden = 0;          // SA only: 0 = 4·dim (the official hidden_size * 4)
    int64_t routing_iterations = 3;  // DR only
    int64_t samples_per_row = 10;    // sampled softmax: S = samples_per_row · B shared candidates
    bool dr = false;                 // which row of the registry made it (not a flag)
    void visit(FieldVisitor& v) override {
        v.field("interests", interests, "number of interests K");
        if (!dr) v.field("att_hidden", att_hidden, "self-attention width (0: 4 * dim)");
        if (dr) v.field("routing_iterations", routing_iterations, "dynamic routing iterations");
        v.field("samples_per_row", samples_per_row, "sampled softmax: shared candidates per batch row (S = this * B)");
    }
};

RecConfig defaults_for(const char* name, bool dr) {  // official: d 64, K 4, Adam 1e-3, sampled softmax
    RecConfig c;
    c.model = name;
    c.dim = 64, c.max_len = 50, c.dropout = 0.0f, c.loss = "sampled-softmax", c.every_position = false;
    auto o = std::make_unique<ComiRecOptions>();
    o->dr = dr;
    c.options = std::move(o);
    return c;
}
RecConfig defaults_sa() { return defaults_for("comirec-sa", false); }
RecConfig defaults_dr() { return defaults_for("comirec-dr", true); }

RecConfig tiny_for(RecConfig c, int64_t n_items) {
    c.n_items = n_items, c.dim = 8, c.max_len = 12, c.dropout = 0.2f;
    auto& o = c.opts<ComiRecOptions>();
    o.interests = 3;
    if (!o.dr) o.att_hidden = 16;
    // One routing iteration: no iteration reads ê with the gradient stopped, so the loss's gradient
    // is its true gradient and a generic finite-difference check applies (with 3, the stopped
    // iterations make the official update a deliberate pseudo-gradient; the tests check that part
    // on its own).
    if (o.dr) o.routing_iterations = 1;
    return c;
}
RecConfig tiny_sa(int64_t n) { return tiny_for(defaults_sa(), n); }
RecConfig tiny_dr(int64_t n) { return tiny_for(defaults_dr(), n); }

void validate(const RecConfig& c) {
    const auto& o = c.opts<ComiRecOptions>();
    check_loss(c, {"sampled-softmax", "ce"});
    check_positive("interests", o.interests);
    if (o.att_hidden < 0) throw std::invalid_argument("--att-hidden must be >= 0 (0: 4 * dim)");
    check_positive("routing-iterations", o.routing_iterations);
    check_positive("samples-per-row", o.samples_per_row);
    if (c.every_position)
        throw std::invalid_argument(c.model + " reads the whole history window for each target: use --positions last");
    if (c.n_items > 0 && c.n_items + 1 < 2) throw std::invalid_argument(c.model + ": too few items");
}

// glorot_uniform as TF: U(±√(6 / (fan_in + fan_out))), for a 2-D shape fan_in + fan_out = sum of its dims.
void glorot_uniform(Var& w, int64_t fan_sum, Rng& rng) {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_sum));
    w.mutable_value() = Tensor::uniform(w.shape(), rng, -limit, limit);
}

class ComiRec final : public Recommender {
public:
    ComiRec(const RecConfig& c, Rng& rng, Extractor kind)
        : Recommender(c), kind_(kind), K_(c.opts<ComiRecOptions>().interests), emb_dropout_(c.dropout) {
        const auto& o = c.opts<ComiRecOptions>();
        const int64_t V = c.n_items + 1, C = c.dim, T = c.max_len;
        item_emb_ = std::make_unique<Embedding>(V, C, rng, c.init_range, 0, false);
        glorot_uniform(item_emb_->weight, V + C, rng);
        if (kind_ == Extractor::SelfAttention) {
            const int64_t F = o.att_hidden > 0 ? o.att_hidden : 4 * C;
            pos_ = normal_param(Shape{T, C}, rng, 1.0f);
            glorot_uniform(pos_, T + C, rng);
            w1_.emplace(C, F, rng);
            glorot_uniform(w1_->weight, C + F, rng);
            w2_.emplace(F, K_, rng);
            glorot_uniform(w2_->weight, F + K_, rng);
        } else {
            bilinear_ = normal_param(Shape{T, K_ * C, C}, rng, 1.0f);  // (T, K·C, C): W_t maps e_t to K predictions
            iterations_ = static_cast<int>(o.routing_iterations);
        }
    }

    // The K interests of each history: items (B, T) right-padded -> (B, K, C).
    Var interests(const IntTensor& items, const Ctx& ctx) const {
        const int64_t B = items.shape()[0], T = items.shape()[1], C = cfg_.dim;
        TT_CHECK(T <= cfg_.max_len, cfg_.model + ": sequence length " + std::to_string(T) + " exceeds max_len " +
                                        std::to_string(cfg_.max_len));
        Tensor mask = valid_mask(items);  // (B, T)
        Var x = encode(items, ctx);       // (B, T, C), 0 at pads
        if (kind_ == Extractor::SelfAttention) return comirec::self_attentive_interests(x, pos_, mask, *w1_, *w2_);
        // ê[b, k, t] = (W_t x_t)_k: one matmul per position, batched over the positions.
        Var xt = permute(x, {1, 0, 2});                                             // (T, B, C)
        Var e = matmul(xt, slice(bilinear_, 0, 0, T), false, true);                 // (T, B, K·C)
        Var e_hat = permute(reshape(e, Shape{T, B, K_, C}), {1, 2, 0, 3});          // (B, K, T, C)
        return comirec::dynamic_routing(e_hat, mask, iterations_);
    }

    // ComiRec has no per-position user state: encode returns the history embeddings (B, T, C),
    // zero at padded positions, after dropout: what both extractors read.
    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        const int64_t B = items.shape()[0], T = items.shape()[1];
        Var x = mul(item_emb_->forward(items), constant(valid_mask(items).reshape(Shape{B, T, 1})));
        return emb_dropout_.forward(x, ctx);
    }
    // The interests, flattened: (B, K·C), the same as a stream's state.user.
    Var user_states(const IntTensor& items, const IntTensor&, const Ctx& ctx) const override {
        return reshape(interests(items, ctx), Shape{items.shape()[0], K_ * cfg_.dim});
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        if (kind_ == Extractor::SelfAttention) {
            add_param(out, prefix, "position_embedding", pos_);
            w1_->parameters(out, prefix + "attention.w1.");
            w2_->parameters(out, prefix + "attention.w2.");
        } else {
            add_param(out, prefix, "routing.bilinear", bilinear_);
        }
    }

    Var loss(const TrainBatch& batch, const Ctx& ctx) const override {
        const int64_t B = batch.items.shape()[0], C = cfg_.dim;
        Var U = interests(batch.items, ctx);  // (B, K, C)
        Var table = item_emb_->weight;        // (V, C)
        // k* = argmax_k <u_k, e_target>, on values: the choice is not differentiated.
        std::vector<int32_t> chosen(static_cast<std::size_t>(B));
        {
            NoGradGuard no_grad;
            Tensor e_t = gather_rows(table, batch.targets).value();  // (B, C)
            for (int64_t b = 0; b < B; ++b) {
                int64_t best = 0;
                float best_s = -std::numeric_limits<float>::infinity();
                for (int64_t k = 0; k < K_; ++k) {
                    float s = 0;
                    for (int64_t j = 0; j < C; ++j) s += U.value().data()[(b * K_ + k) * C + j] * e_t.data()[b * C + j];
                    if (s > best_s) best_s = s, best = k;
                }
                chosen[static_cast<std::size_t>(b)] = static_cast<int32_t>(b * K_ + best);
            }
        }
        Var u = gather_rows(reshape(U, Shape{B * K_, C}), IntTensor(Shape{B}, std::move(chosen)));  // (B, C)
        if (cfg_.loss == "ce") return linear_cross_entropy(u, table, batch.targets);
        TT_CHECK(cfg_.loss == "sampled-softmax", cfg_.model + ": unknown loss '" + cfg_.loss + "'");
        // The samples come from the trainer's generator, so a given rng state gives one loss;
        // without one (a bare call) a fixed generator keeps it deterministic.
        Rng fallback(0);
        Rng& rng = ctx.rng ? *ctx.rng : fallback;
        const int64_t V = cfg_.n_items + 1;
        const int64_t S = std::max<int64_t>(1, std::min(cfg_.opts<ComiRecOptions>().samples_per_row * B, V / 2));
        return comirec::sampled_softmax_loss(u, table, batch.targets, comirec::sample_log_uniform(S, V, rng));
    }

    int train_negatives() const override { return 0; }  // the loss samples its own candidates

    // score(i) = max_k <u_k, e_i>: (B, K, C) x (V, C)ᵀ -> (B, K, V) -> max over K.
    Tensor score_next(const IntTensor& items, const IntTensor&) const override {
        NoGradGuard no_grad;
        return max_over_interests(interests(items, Ctx{}), item_emb_->weight).value();
    }

    Tensor score_candidates(const IntTensor& items, const IntTensor&, const IntTensor& candidates) const override {
        NoGradGuard no_grad;
        const int64_t V = cfg_.n_items + 1;
        for (int64_t i = 0; i < candidates.numel(); ++i)
            TT_CHECK(candidates[i] >= 1 && candidates[i] < V, "score_candidates: item " + std::to_string(candidates[i]) +
                                                                  " outside 1.." + std::to_string(V - 1));
        Var U = interests(items, Ctx{});                     // (B, K, C)
        Var e = gather_rows(item_emb_->weight, candidates);  // (B, M, C)
        return max(matmul(U, e, false, true), 1).value();    // (B, K, M) -> (B, M)
    }

    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.set("window", Tensor::zeros(Shape{batch, 0}));
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& win = st.field("window");  // (B, W)
        TT_CHECK(win.defined() && win.shape().rank() == 2, cfg_.model + " advance: the state is not from this model's start_stream");
        check_piece(items, win.dim(0), cfg_.n_items, cfg_.model);
        IntTensor ids = append_window(win, items, cfg_.max_len);
        st.t += items.shape()[1];
        st.user = reshape(interests(ids, Ctx{}), Shape{ids.shape()[0], K_ * cfg_.dim}).value();  // (B, K·C)
    }

    Tensor score_stream(const StreamState& st, const Tensor& table) const override {
        TT_CHECK(st.user.defined(), cfg_.model + ": the stream has no item yet");
        NoGradGuard no_grad;
        const int64_t B = st.user.dim(0);
        Tensor s = max_over_interests(constant(st.user.reshape(Shape{B, K_, cfg_.dim})), constant(table)).value();
        for (int64_t b = 0; b < B; ++b) s.data()[b * s.dim(1)] = -std::numeric_limits<float>::infinity();  // padding
        return s;
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        return {{"window", Shape{1, std::min(t, cfg_.max_len)}}};
    }
    int64_t stream_window() const override { return cfg_.max_len; }
    void check_stream(const StreamState& st) const override { check_window_ids(st.field("window"), cfg_.n_items); }

    std::string stream_summary() const override {
        return kind_ == Extractor::SelfAttention
                   ? "the last max_len items (the attention reads the whole window with learned positions, no "
                     "carried state); an event re-encodes them, O(max_len * C * F), and keeps K interests"
                   : "the last max_len items (the routing reads the whole window with per-position maps, no "
                     "carried state); an event re-encodes them, O(max_len * K * C^2), and keeps K interests";
    }

private:
    Var max_over_interests(const Var& U, const Var& table) const {  // (B, K, C), (V, C) -> (B, V)
        const int64_t B = U.dim(0), C = U.dim(2);
        Var s = matmul(reshape(U, Shape{B * K_, C}), table, false, true);  // (B·K, V)
        return max(reshape(s, Shape{B, K_, table.dim(0)}), 1);
    }

    Extractor kind_;
    int64_t K_;
    Dropout emb_dropout_;
    Var pos_;                   // SA: (T, C)
    std::optional<Linear> w1_;  // SA: C -> F
    std::optional<Linear> w2_;  // SA: F -> K
    Var bilinear_;              // DR: (T, K·C, C)
    int iterations_ = 3;
};

std::unique_ptr<Recommender> make_sa(const RecConfig& c, Rng& rng) {
    return std::make_unique<ComiRec>(c, rng, Extractor::SelfAttention);
}
std::unique_ptr<Recommender> make_dr(const RecConfig& c, Rng& rng) { return std::make_unique<ComiRec>(c, rng, Extractor::Routing); }

}  // namespace

ModelEntry comirec_sa_entry() {
    return {"comirec-sa", "ComiRec-SA (Cen et al. 2020): K interests by self-attention, max-over-interests scoring",
            &defaults_sa, &validate, &make_sa, &tiny_sa};
}

ModelEntry comirec_dr_entry() {
    return {"comirec-dr", "ComiRec-DR (Cen et al. 2020): K interests by dynamic routing, max-over-interests scoring",
            &defaults_dr, &validate, &make_dr, &tiny_dr};
}

}  // namespace tt::model
