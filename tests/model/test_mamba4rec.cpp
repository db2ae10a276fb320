// tests/model/test_mamba4rec.cpp — Mamba4Rec (model/rec/mamba4rec.cpp):
//   * the parameter count of the published configuration on Beauty-sized data, and the defaults;
//   * golden forwards of the whole model (1 and 2 layers) from the float64 numpy model
//     tests/model/golden_mamba4rec.py, which also pins the parameter names and their order;
//   * right padding never changes the state at len−1 (nor do real items after it: causality);
//   * streaming piece by piece (pieces shorter and longer than the conv window) == the full encode,
//     and the state keeps its size;
//   * through OnlineModel: event by event == recompute, across a save/load of the states;
//   * the exact-erf GELU op against std::erf, with first- and second-order finite differences;
//   * one training step reaches every parameter; the two Mamba initialisations; validation.
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "model/online.hpp"
#include "model/registry.hpp"
#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;
using namespace tt::model;

namespace {

// ---- golden values (/usr/bin/python3 tests/model/golden_mamba4rec.py) --------------------------
// ---- 1 layer(s): E=4, I=8, N=2, K=2, R=1, V=7 ----
// kEncode1: encode() at the real positions of each row, row after row
constexpr double kEncode1[] = {0.158586466, 1.25867979, -0.122219887, -1.60650522, -0.854221862, 0.491967202, 0.0755624127, 0.933866558, -0.935881207, 0.850863864, 0.483655876, -0.412321959, -0.996095847, 0.612337155, 0.30010823, 0.476619488, -0.331263322, 1.16101266, 0.261270133, -1.44201463, 0.596322334, 0.889811315, -1.05618707, 0.213860633, 0.347724694, 1.26966085, -0.334584299, -1.50373772, 0.187890059, 1.26174464, -0.15202736, -1.59874705, -0.073486955, 1.22324256, 0.0812282054, -1.58858331, -0.61596654, 1.05667074, 0.414859582, -1.12809421};
// kScores1: score_next (B, V)
constexpr double kScores1[] = {0.499995846, -0.6513855, 0.351552107, 0.191805915, -0.602297533, 0.595569966, -0.176283484, 1.13208046, -0.894818332, 0.0377041318, 0.845528202, -1.14305236, 0.648769568, 0.294924183, 0.677399758, -0.27405852, -0.319126551, 0.691248589, -0.58453391, 0.0729051339, 0.489225958};
// ---- 2 layer(s): E=4, I=8, N=2, K=2, R=1, V=7 ----
// kEncode2: encode() at the real positions of each row, row after row
constexpr double kEncode2[] = {-0.862178094, 0.970919574, -0.241508937, 0.756388004, -0.0969221039, 1.43426072, 0.250100304, -1.33998998, -0.0295024106, 1.43827088, 0.221078851, -1.35261732, 0.0928919794, 1.47858701, 0.0866282298, -1.28634963, -0.35154313, 1.43365735, 0.311342757, -1.23249502, -0.712049391, 0.914100733, -0.309381145, 0.826421559, -0.715900649, 0.928856994, -0.310658152, 0.810875945, -0.717245346, 0.930670466, -0.310367325, 0.808934866, -0.865539714, 0.972671959, -0.239918921, 0.754025817, -0.324805846, 1.43782562, 0.29950192, -1.24058907};
// kScores2: score_next (B, V)
constexpr double kScores2[] = {-0.218538613, 0.520877626, -0.462398063, 0.0836094616, 0.35309648, -0.545207985, 0.359646963, -0.224192213, 0.573292783, -0.525266129, 0.113380925, 0.377044692, -0.60628664, 0.415546098, 1.00762153, -0.560452416, -0.274949236, 0.919890044, -0.927611283, 0.292764351, 0.544884182};

// The parameter order of the golden script (PARAMS there): names and shapes for `layers` layers.
std::vector<std::pair<std::string, Shape>> golden_layout(int layers) {
    const int64_t E = 4, I = 8, N = 2, K = 2, R = 1, V = 7;
    std::vector<std::pair<std::string, Shape>> out = {
        {"item_embedding.weight", Shape{V, E}}, {"LayerNorm.weight", Shape{E}}, {"LayerNorm.bias", Shape{E}}};
    for (int i = 0; i < layers; ++i) {
        const std::string p = "mamba_layers." + std::to_string(i) + ".";
        const std::vector<std::pair<std::string, Shape>> l = {
            {p + "mamba.in_proj.weight", Shape{2 * I, E}}, {p + "mamba.conv1d.weight", Shape{I, 1, K}},
            {p + "mamba.conv1d.bias", Shape{I}},           {p + "mamba.x_proj.weight", Shape{R + 2 * N, I}},
            {p + "mamba.dt_proj.weight", Shape{I, R}},     {p + "mamba.dt_proj.bias", Shape{I}},
            {p + "mamba.A_log", Shape{I, N}},              {p + "mamba.D", Shape{I}},
            {p + "mamba.out_proj.weight", Shape{E, I}},    {p + "LayerNorm.weight", Shape{E}},
            {p + "LayerNorm.bias", Shape{E}},              {p + "ffn.w_1.weight", Shape{4 * E, E}},
            {p + "ffn.w_1.bias", Shape{4 * E}},            {p + "ffn.w_2.weight", Shape{E, 4 * E}},
            {p + "ffn.w_2.bias", Shape{E}},                {p + "ffn.LayerNorm.weight", Shape{E}},
            {p + "ffn.LayerNorm.bias", Shape{E}}};
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The golden configuration: E 4, I 8, N 2, K 2, R 1 (⌈4/16⌉), 6 items.
RecConfig golden_config(int layers) {
    RecConfig c = default_config("mamba4rec");
    c.n_items = 6;
    c.dim = 4;
    c.set("layers", layers);
    c.set("d_state", 2);
    c.set("d_conv", 2);
    c.set("expand", 2);
    return c;
}

// Element g of the concatenated parameters = base + 0.5 sin(g + 1) (base: 1 for LayerNorm weights
// and D, ln(n+1) for A_log[d, n], else 0), as golden_mamba4rec.py sets them.
void set_golden_weights(const Recommender& m) {
    ParamList params;
    m.parameters(params);
    int64_t g = 0;
    for (auto& [name, v] : params) {
        Var p = v;
        Tensor& t = p.mutable_value();
        const int64_t last = t.shape()[-1];
        for (int64_t i = 0; i < t.numel(); ++i, ++g) {
            double base = 0.0;
            if (ends_with(name, "LayerNorm.weight") || ends_with(name, "mamba.D")) base = 1.0;
            if (ends_with(name, "A_log")) base = std::log(static_cast<double>(i % last + 1));
            t.data()[i] = static_cast<float>(base + 0.5 * std::sin(static_cast<double>(g) + 1.0));
        }
    }
}

// A small model with weights moved far from the N(0, 0.02) init, so that every piece matters.
std::unique_ptr<Recommender> small_model(int layers, int64_t d_conv = 4, uint64_t seed = 3) {
    RecConfig c = default_config("mamba4rec");
    c.n_items = 30;
    c.dim = 8;
    c.set("layers", layers);
    c.set("d_state", 4);
    c.set("d_conv", d_conv);
    Rng rng(seed);
    auto m = make_recommender(c, rng);
    ParamList params;
    m->parameters(params);
    Rng noise(seed + 100);
    for (auto& [name, v] : params) {
        Var p = v;
        Tensor& t = p.mutable_value();
        Tensor n = Tensor::randn(t.shape(), noise, 0.0f, 0.3f);
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += n.data()[i];
    }
    return m;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
    return d;
}

template <std::size_t M>
void check_golden(const char* what, const std::vector<float>& got, const double (&want)[M]) {
    CAPTURE(what);
    REQUIRE(got.size() == M);
    for (std::size_t i = 0; i < M; ++i) {
        CAPTURE(i);
        CHECK(std::fabs(got[i] - want[i]) <= 2e-5 * std::max(1.0, std::fabs(want[i])));
    }
}

}  // namespace

TEST_SUITE("model/mamba4rec") {
    TEST_CASE("the published configuration: defaults and 846,784 parameters on Beauty's 12,101 items") {
        RecConfig c = default_config("mamba4rec");
        CHECK(c.dim == 64);
        CHECK(c.max_len == 50);
        CHECK(c.dropout == doctest::Approx(0.4));  // the Amazon setting
        CHECK(c.loss == "ce");
        CHECK_FALSE(c.every_position);
        CHECK(std::get<int64_t>(c.get("layers")) == 1);
        CHECK(std::get<int64_t>(c.get("d_state")) == 32);
        CHECK(std::get<int64_t>(c.get("d_conv")) == 4);
        CHECK(std::get<int64_t>(c.get("expand")) == 2);
        CHECK(std::get<std::string>(c.get("mamba_init")) == "official");
        c.n_items = 12101;
        Rng rng(1);
        auto m = make_recommender(c, rng);
        ParamList params;
        m->parameters(params);
        int64_t n = 0;
        for (const auto& [name, v] : params) n += v.numel();
        // embedding 774,528 + LN 128 + Mamba 38,784 + LN 128 + FFN 33,088 + LN 128
        CHECK(n == 846784);
    }

    TEST_CASE("golden forward of the whole model, 1 and 2 layers (float64 numpy reference)") {
        const IntTensor items(Shape{3, 6}, {1, 3, 5, 2, 6, 4, 4, 4, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0});
        const IntTensor lengths(Shape{3}, {6, 3, 1});
        for (int layers : {1, 2}) {
            CAPTURE(layers);
            Rng rng(1);
            auto m = make_recommender(golden_config(layers), rng);
            ParamList params;
            m->parameters(params);
            const auto layout = golden_layout(layers);
            REQUIRE(params.size() == layout.size());
            for (std::size_t i = 0; i < params.size(); ++i) {
                CHECK(params[i].first == layout[i].first);
                CHECK(params[i].second.shape() == layout[i].second);
            }
            set_golden_weights(*m);
            Tensor h = m->encode(items, Ctx{}).value();  // (3, 6, 4)
            std::vector<float> real;
            for (int64_t b = 0; b < 3; ++b)
                for (int64_t t = 0; t < lengths[b]; ++t)
                    for (int64_t e = 0; e < 4; ++e) real.push_back(h.data()[(b * 6 + t) * 4 + e]);
            Tensor s = m->score_next(items, lengths);  // (3, 7)
            std::vector<float> scores(s.data(), s.data() + s.numel());
            if (layers == 1) {
                check_golden("encode", real, kEncode1);
                check_golden("score_next", scores, kScores1);
            } else {
                check_golden("encode", real, kEncode2);
                check_golden("score_next", scores, kScores2);
            }
        }
    }

    TEST_CASE("right padding, and anything after len-1, never changes the state at len-1") {
        for (int layers : {1, 2}) {
            CAPTURE(layers);
            auto m = small_model(layers);
            const std::vector<int32_t> hist = {5, 12, 7, 30, 1};
            // the history alone; padded with zeros; followed by other real items (causality)
            IntTensor alone(Shape{1, 5}, hist);
            std::vector<int32_t> padded = hist, more = hist;
            padded.insert(padded.end(), {0, 0, 0, 0, 0, 0, 0});
            more.insert(more.end(), {9, 9, 2, 17, 4, 22, 3});
            IntTensor both(Shape{2, 12}, [&] {
                std::vector<int32_t> v = padded;
                v.insert(v.end(), more.begin(), more.end());
                return v;
            }());
            Tensor a = m->user_states(alone, IntTensor(Shape{1}, {5}), Ctx{}).value();  // (1, C)
            Tensor b = m->user_states(both, IntTensor(Shape{2}, {5, 5}), Ctx{}).value();  // (2, C)
            const int64_t C = a.dim(1);
            CHECK(max_abs_diff(a.data(), b.data(), C) <= 1e-6);
            CHECK(max_abs_diff(a.data(), b.data() + C, C) <= 1e-6);
            // and every earlier position too
            Tensor ea = m->encode(alone, Ctx{}).value(), eb = m->encode(both, Ctx{}).value();
            for (int64_t t = 0; t < 5; ++t) {
                CHECK(max_abs_diff(ea.data() + t * C, eb.data() + t * C, C) <= 1e-6);
                CHECK(max_abs_diff(ea.data() + t * C, eb.data() + (12 + t) * C, C) <= 1e-6);
            }
        }
    }

    TEST_CASE("streaming piece by piece equals the full encode; the state keeps its size") {
        for (int layers : {1, 2}) {
            for (int64_t d_conv : {2, 4}) {
                CAPTURE(layers);
                CAPTURE(d_conv);
                auto m = small_model(layers, d_conv);
                // two users, pieces of 1, 2 (< K−1 = 3 when K = 4), 5 (> K−1), 1 and 3 items
                const std::vector<int32_t> u0 = {3, 17, 5, 30, 22, 9, 9, 14, 1, 12, 28, 6};
                const std::vector<int32_t> u1 = {8, 8, 2, 11, 19, 25, 4, 7, 13, 30, 2, 16};
                const std::vector<int64_t> pieces = {1, 2, 5, 1, 3};
                StreamState st = m->start_stream(2);
                const auto layout = m->stream_layout(0);
                REQUIRE(layout.size() == 2 * static_cast<std::size_t>(layers));
                CHECK(layout[0].first == "mamba.0.conv");
                CHECK(layout[0].second == Shape({1, d_conv - 1, 16}));
                CHECK(layout[1].first == "mamba.0.h");
                CHECK(layout[1].second == Shape({1, 16, 4}));
                int64_t t = 0;
                for (int64_t p : pieces) {
                    std::vector<int32_t> piece;
                    for (const auto* u : {&u0, &u1}) piece.insert(piece.end(), u->begin() + t, u->begin() + t + p);
                    m->advance(IntTensor(Shape{2, p}, piece), st);
                    t += p;
                    CAPTURE(t);
                    CHECK(st.t == t);
                    // the reference: both prefixes encoded from scratch, state at len−1
                    std::vector<int32_t> full(u0.begin(), u0.begin() + t);
                    full.insert(full.end(), u1.begin(), u1.begin() + t);
                    const IntTensor lens(Shape{2}, {static_cast<int32_t>(t), static_cast<int32_t>(t)});
                    Tensor ref = m->user_states(IntTensor(Shape{2, t}, full), lens, Ctx{}).value();  // (2, C)
                    REQUIRE(st.user.shape() == ref.shape());
                    CHECK(max_abs_diff(st.user.data(), ref.data(), ref.numel()) <= 2e-5);
                    // the fields keep the shapes of stream_layout (times 2 rows), whatever t
                    for (std::size_t f = 0; f < layout.size(); ++f) {
                        CHECK(st.fields[f].first == layout[f].first);
                        Shape want = layout[f].second;
                        CHECK(st.fields[f].second.shape() == Shape({2, want[1], want[2]}));
                    }
                }
                // scores from the state == score_next on the whole history
                Tensor table = m->item_table(Ctx{}).value();
                Tensor inc = m->score_stream(st, table);
                std::vector<int32_t> full = u0;
                full.insert(full.end(), u1.begin(), u1.end());
                Tensor ref = m->score_next(IntTensor(Shape{2, 12}, full), IntTensor(Shape{2}, {12, 12}));
                CHECK(max_abs_diff(inc.data() + 1, ref.data() + 1, 30) <= 2e-5);
                CHECK(max_abs_diff(inc.data() + 32, ref.data() + 32, 30) <= 2e-5);
            }
        }
    }

    TEST_CASE("online: event by event equals a recompute, across a save/load of the states") {
        auto m = small_model(2);
        OnlineModel online(*m);
        UserStates users;
        users["u"] = online.new_user();
        const std::vector<int32_t> history = {4, 19, 4, 27, 8, 30, 2, 11, 5};
        for (std::size_t n = 0; n < history.size(); ++n) {
            online.observe(users.at("u"), history[n]);
            if (n == 4) users = decode_user_states(online, encode_user_states(online, users), "in-memory states");
            Tensor inc = online.scores(users.at("u"));
            Tensor full = online.recompute_scores(std::span<const int32_t>(history.data(), n + 1));
            CAPTURE(n);
            CHECK(max_abs_diff(inc.data() + 1, full.data() + 1, inc.numel() - 1) <= 2e-5);
        }
        CHECK(users.at("u").events() == static_cast<int64_t>(history.size()));
    }

    TEST_CASE("one training step: a finite loss and a gradient for every parameter") {
        for (int layers : {1, 2}) {
            CAPTURE(layers);
            auto m = small_model(layers);
            TrainBatch b;
            b.items = IntTensor(Shape{2, 4}, {3, 9, 12, 0, 7, 7, 1, 28});
            b.lengths = IntTensor(Shape{2}, {3, 4});
            b.targets = IntTensor(Shape{2}, {5, 30});
            Rng drop(1);
            Var loss = m->loss(b, Ctx{true, &drop});
            REQUIRE(std::isfinite(loss.item()));
            ParamList params;
            m->parameters(params);
            std::vector<Var> vars;
            for (const auto& [name, v] : params) vars.push_back(v);
            std::vector<Var> grads = grad(std::vector<Var>{loss}, vars);
            for (std::size_t i = 0; i < params.size(); ++i) {
                CAPTURE(params[i].first);
                REQUIRE(grads[i].defined());
                double norm = 0;
                const Tensor& g = grads[i].value();
                for (int64_t k = 0; k < g.numel(); ++k) norm += static_cast<double>(g.data()[k]) * g.data()[k];
                CHECK(std::isfinite(norm));
                CHECK(norm > 0);
            }
        }
    }

    TEST_CASE("initialisation: official overwrites the block's Linears, mamba keeps its own; validation") {
        RecConfig c = default_config("mamba4rec");
        c.n_items = 50;
        for (const char* init : {"official", "mamba"}) {
            CAPTURE(init);
            c.set("mamba_init", init);
            Rng rng(2);
            auto m = make_recommender(c, rng);
            ParamList params;
            m->parameters(params);
            for (const auto& [name, v] : params) {
                const Tensor& t = v.value();
                if (name == "mamba_layers.0.mamba.dt_proj.bias") {
                    double mx = 0;
                    for (int64_t i = 0; i < t.numel(); ++i) mx = std::max(mx, static_cast<double>(std::fabs(t.data()[i])));
                    if (std::string(init) == "official") CHECK(mx == 0.0);  // Δ starts at softplus(0) = ln 2
                    else CHECK(mx > 1.0);  // softplus⁻¹ of dt in [1e-3, 0.1]: about −2.3 .. −6.9
                }
                if (name == "item_embedding.weight") CHECK(t.data()[0] != 0.0f);  // row 0 initialised too
                if (name == "mamba_layers.0.ffn.w_1.bias") CHECK(t.data()[0] == 0.0f);
            }
        }
        for (auto [key, value] : std::vector<std::pair<const char*, FieldValue>>{
                 {"d_conv", int64_t{1}}, {"layers", int64_t{0}}, {"d_state", int64_t{0}}, {"mamba_init", std::string("x")}}) {
            RecConfig bad = default_config("mamba4rec");
            bad.n_items = 10;
            bad.set(key, value);
            CHECK_THROWS_AS(validate_config(bad), std::invalid_argument);
        }
    }
}
