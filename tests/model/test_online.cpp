// tests/model/test_online.cpp — online recommendation (model/online.hpp):
//   * incremental scores (one Recommender::advance per event) == a full recompute over the same
//     history (encode + last position), after every event, for TTT4Rec (TTT-Linear / TTT-MLP,
//     Transformer / Mamba backbone, two blocks), TTT4Rec-FE, GRU4Rec and SASRec (window re-encode),
//     with histories of several TTT mini-batches, a seeded first piece, and a save/load of all
//     states in the middle;
//   * the states file refuses another model, damaged bytes and inconsistent records;
//   * top-K: order, ties, exclusion of seen items.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <unistd.h>

#include "model/checkpoint.hpp"
#include "model/online.hpp"
#include "model/registry.hpp"

using namespace tt;
using namespace tt::model;

namespace {

// Small models whose weights are moved far from the default init (N(0, 0.02) makes the TTT
// update and most differences between positions nearly invisible, so a wrong state could pass).
std::unique_ptr<Recommender> small_model(const std::string& name, const std::string& inner, const std::string& backbone,
                                         int64_t blocks = 1) {
    RecConfig c = default_config(name);
    c.n_items = 40;
    c.dim = 16;
    c.set_if_has("heads", 2);
    c.set_if_has("blocks", blocks);
    c.set_if_has("ffn_hidden", 24);
    c.set_if_has("gru_hidden", 12);
    c.set_if_has("mini_batch", 4);
    c.max_len = 6;  // SASRec's window slides during the test's history
    c.set_if_has("inner", inner);
    c.set_if_has("backbone", backbone);
    Rng rng(7);
    auto m = make_recommender(c, rng);
    ParamList params;
    m->parameters(params);
    Rng noise(11);
    for (auto& [name_, v] : params) {
        Var p = v;
        Tensor& t = p.mutable_value();
        Tensor n = Tensor::randn(t.shape(), noise, 0.0f, 0.3f);
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += n.data()[i];
    }
    return m;
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double scale = 1.0, diff = 0.0;
    for (int64_t i = 1; i < a.numel(); ++i) {  // entry 0 (padding) is -inf in both
        scale = std::max(scale, static_cast<double>(std::fabs(b.data()[i])));
        diff = std::max(diff, static_cast<double>(std::fabs(a.data()[i] - b.data()[i])));
    }
    return diff / scale;
}

struct Case {
    std::string model;
    std::string inner;
    std::string backbone;
    int64_t blocks;
};

}  // namespace

TEST_SUITE("model/online") {
    TEST_CASE("incremental scores equal a full recompute after every event, across a save/load") {
        const Case cases[] = {
            {"ttt4rec", "mlp", "transformer", 1},  {"ttt4rec", "linear", "transformer", 1},
            {"ttt4rec", "mlp", "mamba", 1},        {"ttt4rec", "linear", "mamba", 2},
            {"ttt4rec", "mlp", "transformer", 2},  {"ttt4rec-fe", "linear", "transformer", 1},
            {"gru4rec", "mlp", "transformer", 1},  {"sasrec", "mlp", "transformer", 1},
        };
        // 14 events: 3 full TTT mini-batches of 4 and a partial one; the first 3 are one seeded piece.
        const std::vector<int32_t> history = {3, 17, 5, 40, 22, 9, 9, 31, 1, 12, 28, 6, 35, 17};
        const std::size_t seeded = 3, save_after = 6;  // 6 mod 4 = 2 tokens pending at the save
        for (const Case& c : cases) {
            CAPTURE(c.model);
            CAPTURE(c.inner);
            CAPTURE(c.backbone);
            CAPTURE(c.blocks);
            auto m = small_model(c.model, c.inner, c.backbone, c.blocks);
            OnlineModel online(*m);
            UserStates users;
            users["alice"] = online.new_user();
            users["bob"] = online.new_user();
            online.observe(users["alice"], std::span<const int32_t>(history.data(), seeded));
            online.observe(users["bob"], 8);  // another user: states must not mix
            std::size_t n = seeded;
            auto check = [&] {
                Tensor inc = online.scores(users.at("alice"));
                Tensor full = online.recompute_scores(std::span<const int32_t>(history.data(), n));
                CAPTURE(n);
                CHECK(max_rel_diff(inc, full) < 1e-4);
            };
            check();
            for (; n < history.size();) {
                online.observe(users.at("alice"), history[n++]);
                check();
                if (n == save_after) {
                    std::string bytes = encode_user_states(online, users);
                    users = decode_user_states(online, bytes, "in-memory states");
                    REQUIRE(users.size() == 2);
                    CHECK(users.at("alice").events() == static_cast<int64_t>(save_after));
                    check();  // the loaded state scores like the saved one, and keeps learning below
                }
            }
            // The reference is what the evaluator computes: Recommender::score_next on the same history.
            {
                const int64_t T = c.model == "sasrec" ? 6 : static_cast<int64_t>(history.size());
                IntTensor items(Shape{1, T}, std::vector<int32_t>(history.end() - T, history.end()));
                Tensor next = m->score_next(items, IntTensor(Shape{1}, {static_cast<int32_t>(T)}));
                next = next.reshape(Shape{next.numel()});
                next.data()[0] = -INFINITY;
                CHECK(max_rel_diff(online.recompute_scores(history), next) < 1e-5);
            }
            // The state does not grow with the history: at most b − 1 pending tokens per TTT layer.
            for (const auto& [name, t] : users.at("alice").stream.fields)
                if (name.size() > 3 && name.compare(name.size() - 3, 3, ".XK") == 0)
                    CHECK(t.dim(2) == static_cast<int64_t>(history.size()) % 4);  // (1, H, P, D)
            if (c.model == "sasrec") CHECK(users.at("alice").stream.field("window").numel() == 6);
            // bob is untouched by alice's events
            Tensor bob = online.scores(users.at("bob"));
            CHECK(max_rel_diff(bob, online.recompute_scores(std::vector<int32_t>{8})) < 1e-4);
            // seen: the distinct items, sorted
            std::vector<int32_t> distinct = history;
            std::sort(distinct.begin(), distinct.end());
            distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
            CHECK(users.at("alice").seen == distinct);
        }
    }

    TEST_CASE("top-K: best first, ties by id, seen items and padding left out") {
        Tensor s = Tensor::from(Shape{7}, {100.0f, 1.0f, 5.0f, 3.0f, 5.0f, -INFINITY, 4.0f});
        std::vector<int32_t> none;
        auto top = OnlineModel::top_k(s, 3, none);
        REQUIRE(top.size() == 3);
        CHECK(top[0].item == 2);  // 5.0, lower id first
        CHECK(top[1].item == 4);  // 5.0
        CHECK(top[2].item == 6);  // 4.0
        std::vector<int32_t> seen = {2, 6};
        top = OnlineModel::top_k(s, 10, seen);
        REQUIRE(top.size() == 3);  // 1, 3, 4: padding (0), -inf (5) and the seen items are never returned
        CHECK(top[0].item == 4);
        CHECK(top[1].item == 3);
        CHECK(top[2].item == 1);
        CHECK(top[0].score == 5.0f);
    }

    TEST_CASE("the states file is validated: another model, damaged bytes, inconsistent records") {
        auto m = small_model("ttt4rec", "mlp", "transformer");
        OnlineModel online(*m);
        UserStates users;
        users["u1"] = online.new_user();
        online.observe(users["u1"], std::vector<int32_t>{1, 2, 3, 4, 5});
        const std::string bytes = encode_user_states(online, users);

        SUBCASE("round trip through a file (atomic write)") {
            auto dir = std::filesystem::temp_directory_path() / ("tttrec_online_" + std::to_string(::getpid()));
            std::filesystem::create_directories(dir);
            const std::string path = (dir / "states.safetensors").string();
            save_user_states(path, online, users);
            UserStates back = load_user_states(path, online);
            CHECK(max_rel_diff(online.scores(back.at("u1")), online.scores(users.at("u1"))) == 0.0);
            std::filesystem::remove_all(dir);
        }
        SUBCASE("another model (same shapes, other weights)") {
            auto other = small_model("ttt4rec", "mlp", "transformer");
            ParamList p;
            other->parameters(p);
            Var w = p[0].second;
            w.mutable_value().data()[0] += 1.0f;
            OnlineModel other_online(*other);
            CHECK_THROWS_WITH_AS(decode_user_states(other_online, bytes, "s.st"),
                                 doctest::Contains("another model"), CheckpointError);
        }
        SUBCASE("another kind of model") {
            auto gru = small_model("gru4rec", "mlp", "transformer");
            OnlineModel gru_online(*gru);
            CHECK_THROWS_AS(decode_user_states(gru_online, bytes, "s.st"), CheckpointError);
        }
        SUBCASE("truncated file") {
            CHECK_THROWS_AS(decode_user_states(online, bytes.substr(0, bytes.size() - 9), "s.st"), CheckpointError);
        }
        // Well-formed safetensors (valid checksum) whose contents do not fit: our own checks must catch them.
        auto rewrite = [&](const std::function<void(NamedTensors&, std::map<std::string, std::string>&)>& edit) {
            std::map<std::string, std::string> meta;
            NamedTensors t = decode_safetensors(bytes, "s.st", &meta);
            edit(t, meta);
            return encode_safetensors(t, meta);
        };
        auto tamper = [&](const std::string& from, const std::string& to) {
            return rewrite([&](NamedTensors&, std::map<std::string, std::string>& meta) {
                auto at = meta["users"].find(from);
                REQUIRE(at != std::string::npos);
                meta["users"].replace(at, from.size(), to);
            });
        };
        SUBCASE("records that do not fit the tensors") {
            // t = 5 -> 6: one more pending token than the tensors hold
            CHECK_THROWS_WITH_AS(decode_user_states(online, tamper("\"t\":5", "\"t\":6"), "s.st"),
                                 doctest::Contains("ttt.0.XQ"), CheckpointError);
            // seen items out of order, an id out of range, a repeated user
            CHECK_THROWS_WITH_AS(decode_user_states(online, tamper("[1,2,3,4,5]", "[1,2,3,5,4]"), "s.st"),
                                 doctest::Contains("not sorted"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_user_states(online, tamper("[1,2,3,4,5]", "[1,2,3,4,41]"), "s.st"),
                                 doctest::Contains("not an item id"), CheckpointError);
            std::string twice = rewrite([](NamedTensors&, std::map<std::string, std::string>& m) {
                const std::string& u = m["users"];  // [{...}] -> [{...},{...}]
                m["users"] = u.substr(0, u.size() - 1) + "," + u.substr(1);
            });
            CHECK_THROWS_WITH_AS(decode_user_states(online, twice, "s.st"), doctest::Contains("appears twice"), CheckpointError);
        }
        SUBCASE("metadata of another format, an unknown field, a non-finite value") {
            CHECK_THROWS_WITH_AS(decode_user_states(online, rewrite([](NamedTensors&, std::map<std::string, std::string>& m) {
                                     m["format"] = "something else";
                                 }), "s.st"),
                                 doctest::Contains("not an online states file"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_user_states(online, rewrite([](NamedTensors& t, std::map<std::string, std::string>&) {
                                     t.emplace_back("ttt.7.W1", Tensor::zeros(Shape{3}));
                                 }), "s.st"),
                                 doctest::Contains("unexpected tensor 'ttt.7.W1'"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_user_states(online, rewrite([](NamedTensors& t, std::map<std::string, std::string>&) {
                                     t.back().second.data()[0] = NAN;
                                 }), "s.st"),
                                 doctest::Contains("non-finite"), CheckpointError);
        }
        SUBCASE("a flipped bit is caught by the file checksum") {
            std::string b = bytes;
            b[b.size() - 3] ^= 0x10;
            CHECK_THROWS_AS(decode_user_states(online, b, "s.st"), CheckpointError);
        }
    }
}
