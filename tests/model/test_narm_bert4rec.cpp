// tests/model/test_narm_bert4rec.cpp — NARM (model/rec/narm.cpp) and BERT4Rec (model/rec/bert4rec.cpp):
//   * NARM's attention on the hand example (α, c_l, c), α exactly 0 at padding, padding that
//     changes nothing, the every-prefix encode against one prefix at a time, the parameter count of
//     RecBole's model on Beauty, a whole tiny forward against float64 numpy;
//   * BERT4Rec's evaluation input (RecBole's reconstruct_test_data examples), the cloze masking
//     statistics, padding that never reaches the loss, the parameter count, a tiny forward and a
//     fine-tune loss against float64 numpy;
//   * for both: the loss gradient along random directions against finite differences, the stream
//     (one advance per event, the window sliding) against a full recompute, a checkpoint round
//     trip and evaluation without dropout, on the registry's tiny configuration.
// The golden constants come from tests/model/golden_narm_bert4rec.py (run it to regenerate them).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "model/checkpoint.hpp"
#include "model/rec/bert4rec.hpp"
#include "model/rec/narm.hpp"
#include "model/registry.hpp"

using namespace tt;
using namespace tt::model;

namespace {

// The golden weights: element k of the parameters taken in order (row-major) = 0.5 sin(0.37 k + 0.0123 k²).
void set_pattern_weights(const Recommender& m) {
    ParamList params;
    m.parameters(params);
    int64_t k = 0;
    for (auto& [name, v] : params) {
        Var p = v;
        Tensor& t = p.mutable_value();
        for (int64_t i = 0; i < t.numel(); ++i, ++k) {
            const double x = static_cast<double>(k);
            t.data()[i] = static_cast<float>(0.5 * std::sin(0.37 * x + 0.0123 * x * x));
        }
    }
}

int64_t parameter_count(const Recommender& m) {
    ParamList params;
    m.parameters(params);
    int64_t n = 0;
    for (const auto& [name, v] : params) n += v.numel();
    return n;
}

void check_values(const Tensor& got, const std::vector<double>& want, double atol = 1e-6, double rtol = 1e-4) {
    REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
    for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        INFO("got ", got.data()[i], " want ", want[i]);
        CHECK(std::abs(got.data()[i] - want[i]) <= atol + rtol * std::abs(want[i]));
    }
}

IntTensor ints(const Shape& s, std::vector<int32_t> v) { return IntTensor(s, std::move(v)); }

RecConfig narm_config(int64_t n_items, int64_t dim, int64_t hidden, int64_t max_len) {
    RecConfig c = default_config("narm");
    c.n_items = n_items, c.dim = dim, c.max_len = max_len;
    c.set("hidden", hidden);
    return c;
}

RecConfig bert_config(int64_t n_items, int64_t dim, int64_t ffn, int64_t max_len) {
    RecConfig c = default_config("bert4rec");
    c.n_items = n_items, c.dim = dim, c.max_len = max_len;
    c.set("ffn_hidden", ffn);
    return c;
}

// Loss gradient of the whole model along random directions vs central differences (dropout off;
// BERT4Rec without a generator uses the deterministic fine-tune masking). The weights are first set
// to the golden pattern, far from the N(0, 0.02) init, where LayerNorms of nearly constant inputs
// make finite differences meaningless.
void check_loss_gradient(const Recommender& m, const TrainBatch& batch) {
    set_pattern_weights(m);
    ParamList params;
    m.parameters(params);
    std::vector<Var> leaves;
    for (auto& [name, v] : params) leaves.push_back(v);
    Ctx eval;
    std::vector<Var> g = ad::grad({m.loss(batch, eval)}, leaves);
    auto loss_at = [&](float t, const std::vector<Tensor>& dir) {
        std::vector<Tensor> saved;
        for (std::size_t i = 0; i < leaves.size(); ++i) {
            saved.push_back(leaves[i].value().clone());
            Tensor& w = leaves[i].mutable_value();
            for (int64_t j = 0; j < w.numel(); ++j) w.data()[j] += t * dir[i].data()[j];
        }
        ad::NoGradGuard ng;
        const double l = m.loss(batch, eval).item();
        for (std::size_t i = 0; i < leaves.size(); ++i) leaves[i].mutable_value() = saved[i];
        return l;
    };
    Rng rng(5);
    for (int trial = 0; trial < 3; ++trial) {
        std::vector<Tensor> dir;
        double analytic = 0;
        for (std::size_t i = 0; i < leaves.size(); ++i) {
            dir.push_back(Tensor::randn(leaves[i].shape(), rng));
            for (int64_t j = 0; j < dir[i].numel(); ++j) analytic += static_cast<double>(g[i].value().data()[j]) * dir[i].data()[j];
        }
        const float eps = 1e-3f;
        const double fd = (loss_at(eps, dir) - loss_at(-eps, dir)) / (2.0 * eps);
        INFO("trial ", trial, " analytic ", analytic, " finite difference ", fd);
        CHECK(std::abs(analytic - fd) <= 2e-3 + 2e-2 * std::abs(fd));
    }
}

// Feeds `history` one event at a time (the first piece two events) and compares the stream's
// scores with score_next over the last stream_window() items after every event.
void check_stream(const Recommender& m, const std::vector<int32_t>& history) {
    StreamState st = m.start_stream(1);
    Tensor table;
    {
        ad::NoGradGuard ng;
        table = m.item_table(Ctx{}).value();
    }
    const int64_t W = m.stream_window();
    std::size_t fed = 0;
    while (fed < history.size()) {
        const std::size_t piece = fed == 0 ? 2 : 1;
        m.advance(ints(Shape{1, static_cast<int64_t>(piece)}, std::vector<int32_t>(history.begin() + static_cast<long>(fed),
                                                                                 history.begin() + static_cast<long>(fed + piece))),
                  st);
        fed += piece;
        const std::size_t n = W > 0 ? std::min<std::size_t>(fed, static_cast<std::size_t>(W)) : fed;
        std::vector<int32_t> window(history.begin() + static_cast<long>(fed - n), history.begin() + static_cast<long>(fed));
        Tensor want = m.score_next(ints(Shape{1, static_cast<int64_t>(n)}, window), ints(Shape{1}, {static_cast<int32_t>(n)}));
        Tensor got = m.score_stream(st, table);
        REQUIRE(got.shape() == want.shape());
        CAPTURE(fed);
        double diff = 0;
        for (int64_t v = 1; v < got.numel(); ++v) diff = std::max(diff, static_cast<double>(std::abs(got.data()[v] - want.data()[v])));
        CHECK(diff <= 1e-4);
        REQUIRE(m.stream_layout(st.t).size() == st.fields.size());
        for (std::size_t f = 0; f < st.fields.size(); ++f) CHECK(m.stream_layout(st.t)[f].second == st.fields[f].second.shape());
    }
}

}  // namespace

TEST_SUITE("model/narm_bert4rec") {
    // ---- NARM ------------------------------------------------------------------------------------

    TEST_CASE("narm attention: the hand example (G 3x2, ids [5, 7, 0], len 2)") {
        Var G = ad::constant(Tensor::from(Shape{1, 3, 2}, {0.1f, 0.2f, 0.3f, -0.1f, 0.5f, 0.5f}));
        Var cg = ad::constant(Tensor::from(Shape{1, 1, 2}, {0.3f, -0.1f}));  // G at len - 1 = 1
        Tensor mask = Tensor::from(Shape{1, 1, 3}, {1, 1, 0});                // ids [5, 7, 0]
        Var a1 = ad::constant(Tensor::from(Shape{2, 2}, {0.5f, -0.2f, 0.1f, 0.3f}));
        Var a2 = ad::constant(Tensor::from(Shape{2, 2}, {0.2f, 0.4f, -0.3f, 0.1f}));
        Var v = ad::constant(Tensor::from(Shape{1, 2}, {1.0f, -0.5f}));
        NarmAttention out = narm_attention(G, cg, mask, a1, a2, v);
        check_values(out.alpha.value(), {0.261249156, 0.309847212, 0});
        check_values(out.c.value(), {0.119079079, 0.0212651101, 0.3, -0.1});  // [c_l ; c_g]
        CHECK(out.alpha.value().data()[2] == 0.0f);
    }

    TEST_CASE("narm attention: alpha is exactly 0 wherever the mask is 0") {
        Rng rng(3);
        Var G = ad::constant(Tensor::randn(Shape{2, 5, 4}, rng));
        Var cg = ad::constant(Tensor::randn(Shape{2, 3, 4}, rng));
        Tensor mask = Tensor::ones(Shape{2, 3, 5});
        for (int64_t i = 0; i < mask.numel(); i += 3) mask.data()[i] = 0.0f;
        Var a1 = ad::constant(Tensor::randn(Shape{4, 4}, rng)), a2 = ad::constant(Tensor::randn(Shape{4, 4}, rng));
        Var v = ad::constant(Tensor::randn(Shape{1, 4}, rng));
        Tensor alpha = narm_attention(G, cg, mask, a1, a2, v).alpha.value();
        for (int64_t i = 0; i < mask.numel(); ++i) {
            CAPTURE(i);
            if (mask.data()[i] == 0.0f) CHECK(alpha.data()[i] == 0.0f);
            else CHECK(alpha.data()[i] != 0.0f);
        }
    }

    TEST_CASE("narm: the padding (its width and the padding row's embedding) leaves s unchanged") {
        Rng rng(1);
        auto m = make_recommender(narm_config(20, 6, 5, 8), rng);
        Tensor s4 = m->score_next(ints(Shape{2, 4}, {3, 7, 1, 0, 9, 2, 0, 0}), ints(Shape{2}, {3, 2}));
        Tensor s8 = m->score_next(ints(Shape{2, 8}, {3, 7, 1, 0, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 0, 0}), ints(Shape{2}, {3, 2}));
        ParamList params;
        m->parameters(params);
        Var emb = params[0].second;  // item_embedding.weight; xavier init already made row 0 non-zero
        REQUIRE(params[0].first == "item_embedding.weight");
        for (int64_t c = 0; c < emb.dim(1); ++c) emb.mutable_value().data()[c] += 5.0f;
        Tensor s4b = m->score_next(ints(Shape{2, 4}, {3, 7, 1, 0, 9, 2, 0, 0}), ints(Shape{2}, {3, 2}));
        for (int64_t i = 0; i < s4.numel(); ++i) {
            CAPTURE(i);
            CHECK(s8.data()[i] == doctest::Approx(s4.data()[i]).epsilon(1e-6));
            if (i % s4.dim(1) != 0) CHECK(s4b.data()[i] == doctest::Approx(s4.data()[i]).epsilon(1e-6));  // column 0 scores the changed row
        }
    }

    TEST_CASE("narm: encode at position p is the state of the prefix that ends at p") {
        Rng rng(2);
        auto m = make_recommender(narm_config(20, 6, 5, 8), rng);
        const std::vector<int32_t> ids = {3, 7, 1, 4, 0, 9, 2, 11, 12, 5};
        Tensor h = m->encode(ints(Shape{2, 5}, ids), Ctx{}).value();  // (2, 5, 6)
        for (int64_t b = 0; b < 2; ++b)
            for (int32_t p = 0; p < (b == 0 ? 4 : 5); ++p) {
                std::vector<int32_t> prefix = ids;  // both rows cut after position p
                for (int64_t r = 0; r < 2; ++r)
                    for (int64_t j = p + 1; j < 5; ++j) prefix[static_cast<std::size_t>(r * 5 + j)] = 0;
                Tensor s = m->user_states(ints(Shape{2, 5}, prefix), ints(Shape{2}, {std::min(p + 1, 4), p + 1}), Ctx{}).value();  // (2, 6)
                for (int64_t c = 0; c < 6; ++c) {
                    CAPTURE(b * 100 + p * 10 + c);
                    CHECK(h.data()[(b * 5 + p) * 6 + c] == doctest::Approx(s.data()[b * 6 + c]).epsilon(1e-5));
                }
            }
    }

    TEST_CASE("narm: RecBole's parameter count on Beauty (V = 12,102) and the defaults") {
        RecConfig c = default_config("narm");
        CHECK(c.dim == 64);
        CHECK(std::get<int64_t>(c.get("hidden")) == 128);
        CHECK(std::get<int64_t>(c.get("layers")) == 1);
        CHECK(c.dropout == doctest::Approx(0.25));
        CHECK(std::get<float>(c.get("dropout2")) == doctest::Approx(0.5));
        c.n_items = 12101;
        Rng rng(1);
        CHECK(parameter_count(*make_recommender(c, rng)) == 897536);
    }

    TEST_CASE("narm: every-position training is refused with a message naming the flag") {
        RecConfig c = narm_config(20, 6, 5, 8);
        c.every_position = true;
        CHECK_THROWS_WITH_AS(validate_config(c), doctest::Contains("--positions every"), std::invalid_argument);
    }

    TEST_CASE("narm: a tiny forward against float64 numpy (E 4, H 3, V 6)") {
        Rng rng(1);
        auto m = make_recommender(narm_config(5, 4, 3, 4), rng);
        set_pattern_weights(*m);
        IntTensor items = ints(Shape{2, 4}, {1, 3, 5, 0, 2, 4, 1, 5});
        IntTensor lengths = ints(Shape{2}, {3, 4});
        check_values(m->user_states(items, lengths, Ctx{}).value(),
                     {0.0264061926, 0.0228122675, 0.0363223022, -0.00502417304, 0.0131432722, 0.0165613845, 0.0102884723,
                      -0.0226362882});
        const std::vector<double> scores = {0.0147860203, 0.0311229894, -0.0341497311, 0.020831383,   -0.0148722469,  0.0200228359,
                                            -0.00389109755, 0.0163788406, -0.00893054468, -0.000916208674, 0.00414918108, 0.00118575669};
        check_values(m->score_next(items, lengths), scores);
        Tensor cand = m->score_candidates(items, lengths, ints(Shape{2, 2}, {3, 1, 5, 2}));
        check_values(cand, {scores[3], scores[1], scores[6 + 5], scores[6 + 2]});
    }

    TEST_CASE("narm: loss gradient along random directions (two GRU layers)") {
        RecConfig c = narm_config(12, 6, 5, 6);
        c.set("layers", int64_t{2});
        Rng rng(4);
        auto m = make_recommender(c, rng);
        TrainBatch b;
        b.items = ints(Shape{3, 5}, {3, 7, 1, 0, 0, 9, 2, 11, 12, 5, 4, 0, 0, 0, 0});
        b.lengths = ints(Shape{3}, {3, 5, 1});
        b.targets = ints(Shape{3}, {2, 8, 6});
        check_loss_gradient(*m, b);
    }

    TEST_CASE("narm: the stream equals a full recompute, also once the window slides") {
        for (int64_t layers : {1, 2}) {
            CAPTURE(layers);
            RecConfig c = narm_config(30, 6, 5, 5);
            c.set("layers", layers);
            Rng rng(8);
            auto m = make_recommender(c, rng);
            check_stream(*m, {4, 9, 1, 22, 17, 3, 3, 28, 5, 11});
        }
    }

    TEST_CASE("narm, bert4rec: the tiny configuration, a checkpoint round trip, no dropout in evaluation") {
        for (const char* name : {"narm", "bert4rec"}) {
            CAPTURE(name);
            RecConfig c = find_model(name).tiny(15);
            CHECK(c.dim <= 8);
            CHECK(c.max_len <= 12);
            validate_config(c);
            Rng r1(1), r2(2);
            auto a = make_recommender(c, r1), b = make_recommender(c, r2);
            ParamList pa, pb;
            a->parameters(pa);
            b->parameters(pb);
            load_parameters(pb, decode_safetensors(encode_safetensors(parameter_values(pa)), "round trip"), "round trip");
            IntTensor items = ints(Shape{2, 6}, {3, 7, 1, 0, 0, 0, 9, 2, 11, 12, 5, 15});
            IntTensor lengths = ints(Shape{2}, {3, 6});
            Tensor sa = a->score_next(items, lengths), sb = b->score_next(items, lengths);
            Rng drop(3);
            Tensor st = a->user_states(items, lengths, Ctx{false, &drop}).value();  // a generator but not training
            Tensor s0 = a->user_states(items, lengths, Ctx{}).value();
            Tensor tr = a->user_states(items, lengths, Ctx{true, &drop}).value();  // training: dropout on
            REQUIRE(sa.shape() == (Shape{2, 16}));
            for (int64_t i = 0; i < sa.numel(); ++i) CHECK(sa.data()[i] == sb.data()[i]);
            bool differs = false;
            for (int64_t i = 0; i < s0.numel(); ++i) {
                CHECK(st.data()[i] == s0.data()[i]);
                differs = differs || tr.data()[i] != s0.data()[i];
            }
            CHECK(differs);
        }
    }

    // ---- BERT4Rec --------------------------------------------------------------------------------

    TEST_CASE("bert4rec: the evaluation input drops the first item and appends the mask (RecBole examples)") {
        const int32_t M = 99;
        EvalInput a = bert4rec_eval_input(ints(Shape{3, 5}, {5, 6, 7, 0, 0, 1, 2, 3, 4, 5, 9, 0, 0, 0, 0}), ints(Shape{3}, {3, 5, 1}), M);
        const std::vector<int32_t> want = {6, 7, M, 0, 0, 2, 3, 4, 5, M, M, 0, 0, 0, 0};
        for (std::size_t i = 0; i < want.size(); ++i) {
            CAPTURE(i);
            CHECK(a.items[static_cast<int64_t>(i)] == want[i]);
        }
        CHECK(a.lengths[0] == 3);  // read at len - 1 = 2, where M sits
        CHECK(a.lengths[1] == 5);
        CHECK(a.lengths[2] == 1);
    }

    TEST_CASE("bert4rec: RecBole's parameter count on Beauty (n_items 12,101) and the defaults") {
        RecConfig c = default_config("bert4rec");
        CHECK(c.dim == 64);
        CHECK(c.dropout == doctest::Approx(0.2));
        CHECK(std::get<int64_t>(c.get("layers")) == 2);
        CHECK(std::get<int64_t>(c.get("heads")) == 2);
        CHECK(std::get<int64_t>(c.get("ffn_hidden")) == 256);
        c.n_items = 12101;
        Rng rng(1);
        CHECK(parameter_count(*make_recommender(c, rng)) == 894278);
    }

    TEST_CASE("bert4rec: cloze masking statistics (seeded)") {
        const int64_t B = 16, T = 50, max_pred = 10;
        const int32_t M = 1000;
        Rng data(9);
        std::vector<int32_t> ids(static_cast<std::size_t>(B * T), 0), lens(static_cast<std::size_t>(B));
        for (int64_t b = 0; b < B; ++b) {
            const int64_t len = 1 + static_cast<int64_t>(data.below(T));
            lens[static_cast<std::size_t>(b)] = static_cast<int32_t>(len);
            for (int64_t p = 0; p < len; ++p) ids[static_cast<std::size_t>(b * T + p)] = 1 + static_cast<int32_t>(data.below(M - 1));
        }
        IntTensor items(Shape{B, T}, ids), lengths(Shape{B}, lens);
        int64_t real = 0;
        for (int32_t l : lens) real += l;
        Rng rng(17);
        int ft = 0, batches = 400;
        double masked = 0, positions = 0;
        for (int k = 0; k < batches; ++k) {
            ClozeBatch cb = bert4rec_cloze(items, lengths, M, max_pred, 0.2f, 0.5f, rng);
            std::vector<int64_t> per_row(static_cast<std::size_t>(B), 0);
            for (int64_t n = 0; n < cb.rows.numel(); ++n) {
                const int64_t b = cb.rows[n] / T, p = cb.rows[n] % T;
                ++per_row[static_cast<std::size_t>(b)];
                CHECK(p > 0);                                 // RecBole's weight 1[index > 0]
                CHECK(p < lens[static_cast<std::size_t>(b)]);  // never a padding position
                CHECK(cb.inputs[cb.rows[n]] == M);
                CHECK(cb.targets[n] == items[cb.rows[n]]);
            }
            int64_t in_mask = 0;
            for (int64_t i = 0; i < B * T; ++i) {
                if (cb.inputs[i] == M) ++in_mask;
                else CHECK(cb.inputs[i] == items[i]);
            }
            CHECK(in_mask == cb.masked);
            for (int64_t b = 0; b < B; ++b) CHECK(per_row[static_cast<std::size_t>(b)] <= max_pred);
            if (cb.fine_tune) {
                ++ft;
                CHECK(cb.masked == B);
                for (int64_t b = 0; b < B; ++b) {
                    const int32_t len = lens[static_cast<std::size_t>(b)];
                    CHECK(cb.inputs[b * T + len - 1] == M);
                    CHECK(per_row[static_cast<std::size_t>(b)] == (len > 1 ? 1 : 0));
                }
            } else {
                masked += static_cast<double>(cb.masked);
                positions += static_cast<double>(real);
                // the kept predictions of a row are its last masked positions
                for (int64_t b = 0; b < B; ++b) {
                    std::vector<int64_t> mp;
                    for (int64_t p = 0; p < T; ++p)
                        if (cb.inputs[b * T + p] == M) mp.push_back(p);
                    std::vector<int64_t> want;
                    for (std::size_t q = mp.size() > max_pred ? mp.size() - max_pred : 0; q < mp.size(); ++q)
                        if (mp[q] > 0) want.push_back(mp[q]);
                    CHECK(per_row[static_cast<std::size_t>(b)] == static_cast<int64_t>(want.size()));
                }
            }
        }
        CHECK(ft > batches * 0.4);
        CHECK(ft < batches * 0.6);
        CHECK(masked / positions == doctest::Approx(0.2).epsilon(0.05));
    }

    TEST_CASE("bert4rec: a tiny forward and the fine-tune loss against float64 numpy (C 4, 2 heads, 2 layers, V 6)") {
        Rng rng(1);
        RecConfig c = bert_config(5, 4, 8, 5);
        auto m = make_recommender(c, rng);
        set_pattern_weights(*m);
        IntTensor items = ints(Shape{2, 5}, {1, 3, 5, 0, 0, 2, 4, 1, 5, 3});
        IntTensor lengths = ints(Shape{2}, {3, 5});
        const std::vector<double> scores = {-0.133988344, -0.422754965, 0.427450121, 0.398355212, -0.876580164, 0.15607026,
                                            -0.138102966, -0.432298965, 0.437443674, 0.392780567, -0.873077242, 0.151014177};
        check_values(m->score_next(items, lengths), scores, 1e-5);
        Tensor cand = m->score_candidates(items, lengths, ints(Shape{2, 3}, {1, 4, 5, 2, 3, 1}));
        check_values(cand, {scores[1], scores[4], scores[5], scores[6 + 2], scores[6 + 3], scores[6 + 1]}, 1e-5);
        TrainBatch b;  // without a generator: each row's last item masked and predicted
        b.items = items, b.lengths = lengths, b.targets = ints(Shape{2}, {1, 1});
        check_values(m->loss(b, Ctx{}).value(), {1.53945967}, 1e-5);
    }

    TEST_CASE("bert4rec: the padding never reaches the loss (wider padding, same masks)") {
        Rng rng(2);
        auto m = make_recommender(bert_config(20, 8, 16, 10), rng);
        TrainBatch narrow, wide;
        narrow.items = ints(Shape{2, 6}, {3, 7, 1, 4, 0, 0, 9, 2, 11, 12, 5, 6});
        narrow.lengths = ints(Shape{2}, {4, 6});
        narrow.targets = ints(Shape{2}, {1, 1});
        wide.items = ints(Shape{2, 9}, {3, 7, 1, 4, 0, 0, 0, 0, 0, 9, 2, 11, 12, 5, 6, 0, 0, 0});
        wide.lengths = narrow.lengths, wide.targets = narrow.targets;
        for (uint64_t seed = 1; seed <= 6; ++seed) {  // both branches of the cloze (fine-tune or not)
            CAPTURE(seed);
            Rng r1(seed), r2(seed);
            ad::NoGradGuard ng;
            const float a = m->loss(narrow, Ctx{false, &r1}).item(), b = m->loss(wide, Ctx{false, &r2}).item();
            CHECK(a == doctest::Approx(b).epsilon(1e-5));
        }
    }

    TEST_CASE("bert4rec: loss gradient along random directions") {
        Rng rng(4);
        auto m = make_recommender(bert_config(12, 8, 16, 6), rng);
        TrainBatch b;
        b.items = ints(Shape{3, 5}, {3, 7, 1, 0, 0, 9, 2, 11, 12, 5, 4, 6, 0, 0, 0});
        b.lengths = ints(Shape{3}, {3, 5, 2});
        b.targets = ints(Shape{3}, {2, 8, 6});
        check_loss_gradient(*m, b);
    }

    TEST_CASE("bert4rec: the stream equals a full recompute, also once the window slides") {
        Rng rng(8);
        auto m = make_recommender(bert_config(30, 8, 16, 5), rng);
        CHECK(m->stream_window() == 5);
        check_stream(*m, {4, 9, 1, 22, 17, 3, 3, 28, 5, 11});
    }
}
