// model/online.cpp — see online.hpp. The per-user incremental state, its scoring, and the states file.
#include "model/online.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "model/checkpoint.hpp"
#include "tensor/kernels.hpp"
#include "tensor/ops.hpp"

namespace tt::model {

using json = nlohmann::json;
using ad::constant;
using ad::NoGradGuard;

namespace {

constexpr const char* kFormat = "tttrec-online-states";
constexpr const char* kVersion = "1";

bool is_sasrec(const Recommender& m) { return m.config().model == "sasrec"; }

// FNV-1a, 64 bit: a cheap checksum of the weights (not cryptographic; it tells models apart).
uint64_t fnv1a(uint64_t h, const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// One field of a StreamState, by the name it has in the states file. Fixed fields have the same
// shape for every user (the shape they have in a fresh state); pending fields hold the P = t mod b
// tokens of an unfinished TTT mini-batch and are absent when P = 0.
struct Field {
    std::string name;
    Var* var;
    bool pending = false;  // XQ/XK/XV (1,H,P,D) or lr (1,H,1,P)
    bool is_lr = false;
    int layer = -1;        // the TTT layer of a pending field
};

std::vector<Field> fields_of(StreamState& s) {
    std::vector<Field> f;
    for (std::size_t i = 0; i < s.ttt.size(); ++i) {
        const std::string p = "ttt." + std::to_string(i) + ".";
        TTTState& t = s.ttt[i];
        const int layer = static_cast<int>(i);
        f.push_back({p + "W1", &t.W1});
        f.push_back({p + "b1", &t.b1});
        f.push_back({p + "W2", &t.W2});
        f.push_back({p + "b2", &t.b2});
        f.push_back({p + "conv_history", &t.conv_history});
        f.push_back({p + "XQ", &t.XQ, true, false, layer});
        f.push_back({p + "XK", &t.XK, true, false, layer});
        f.push_back({p + "XV", &t.XV, true, false, layer});
        f.push_back({p + "lr", &t.lr, true, true, layer});
    }
    for (std::size_t i = 0; i < s.pre_conv.size(); ++i) f.push_back({"pre_conv." + std::to_string(i), &s.pre_conv[i]});
    f.push_back({"gru_h", &s.gru_h});
    return f;
}

// The shape field `f` must have for a user who has seen t items; numel 0 = absent.
// `fresh` is the same field in a fresh state (model.start_stream(1)).
Shape expected_shape(const Field& f, const Var& fresh, const StreamState& fresh_state, int64_t t, int64_t b) {
    if (!f.pending) return fresh.defined() ? fresh.shape() : Shape{0};
    const int64_t P = t % b;
    if (P == 0) return Shape{0};
    const Shape& w1 = fresh_state.ttt[static_cast<std::size_t>(f.layer)].W1.shape();  // (1,H,D,·)
    const int64_t H = w1[1], D = w1[2];
    return f.is_lr ? Shape{1, H, 1, P} : Shape{1, H, P, D};
}

[[noreturn]] void bad(const std::string& src, const std::string& what) { throw CheckpointError(src + ": " + what); }

}  // namespace

// ------------------------------------------------------------------------------------------------
// OnlineModel

OnlineModel::OnlineModel(const Recommender& model) : model_(model) {
    NoGradGuard no_grad;
    table_ = model_.item_table(Ctx{}).value();  // (V, C): TTT4Rec-FE's target MLP runs once here, not per event
    ParamList params;
    model_.parameters(params);
    uint64_t h = 1469598103934665603ull;
    for (const auto& [name, v] : params) {
        h = fnv1a(h, name.data(), name.size());
        h = fnv1a(h, v.value().data(), static_cast<std::size_t>(v.value().numel()) * sizeof(float));
    }
    std::ostringstream os;
    os << model_.config().describe() << " n_items=" << model_.config().n_items << " weights=fnv1a:" << std::hex << h;
    fingerprint_ = os.str();
}

UserState OnlineModel::new_user() const {
    UserState u;
    u.stream = model_.start_stream(1);
    return u;
}

void OnlineModel::observe(UserState& u, std::span<const int32_t> items) const {
    if (items.empty()) return;
    IntTensor piece(Shape{1, static_cast<int64_t>(items.size())}, std::vector<int32_t>(items.begin(), items.end()));
    u.user = model_.advance(piece, u.stream).value().reshape(Shape{table_.dim(1)});  // (C)
    for (int32_t i : items) {
        auto it = std::lower_bound(u.seen.begin(), u.seen.end(), i);
        if (it == u.seen.end() || *it != i) u.seen.insert(it, i);
    }
}

Tensor OnlineModel::scores(const UserState& u) const {
    TT_CHECK(u.user.defined(), "OnlineModel::scores: the user has no history yet");
    return score_state(u.user);
}

// One user: V dot products of length C with the SIMD dot kernel. (A (1, C) x (C, V) matmul would
// first pack — transpose-copy — the whole (V, C) table on every call, which costs more than the
// arithmetic here.)
Tensor OnlineModel::score_state(const Tensor& h) const {
    const int64_t C = table_.dim(1), V = table_.dim(0);
    TT_CHECK(h.numel() == C, "OnlineModel: a user state of " + std::to_string(h.numel()) + " values for width " + std::to_string(C));
    Tensor s = Tensor::empty(Shape{V});  // (V)
    const float* e = table_.data();
    for (int64_t v = 1; v < V; ++v) s.data()[v] = kernels::dot(h.data(), e + v * C, static_cast<std::size_t>(C));
    s.data()[0] = -std::numeric_limits<float>::infinity();  // the padding item is never recommended
    return s;
}

std::vector<Scored> OnlineModel::top_k(const Tensor& scores, int64_t k, std::span<const int32_t> exclude) {
    const float* s = scores.data();
    const int64_t V = scores.numel();
    // worse(a, b): a ranks below b. A min-heap on "worse" keeps the k best seen so far: O(V log k).
    auto worse = [](const Scored& a, const Scored& b) { return a.score < b.score || (a.score == b.score && a.item > b.item); };
    auto heap_cmp = [&](const Scored& a, const Scored& b) { return worse(b, a); };  // top of heap = the worst kept
    std::vector<Scored> heap;
    if (k <= 0) return heap;
    heap.reserve(static_cast<std::size_t>(k) + 1);
    std::size_t e = 0;  // exclude is sorted: walk it alongside the ids
    for (int64_t i = 1; i < V; ++i) {
        while (e < exclude.size() && exclude[e] < i) ++e;
        if (e < exclude.size() && exclude[e] == i) continue;
        if (!std::isfinite(s[i])) continue;  // -inf: masked; NaN never ranks
        Scored c{static_cast<int32_t>(i), s[i]};
        if (static_cast<int64_t>(heap.size()) < k) {
            heap.push_back(c);
            std::push_heap(heap.begin(), heap.end(), heap_cmp);
        } else if (worse(heap.front(), c)) {
            std::pop_heap(heap.begin(), heap.end(), heap_cmp);
            heap.back() = c;
            std::push_heap(heap.begin(), heap.end(), heap_cmp);
        }
    }
    std::sort(heap.begin(), heap.end(), [&](const Scored& a, const Scored& b) { return worse(b, a); });  // best first
    return heap;
}

std::vector<Scored> OnlineModel::top_k(const UserState& u, int64_t k, bool include_seen) const {
    std::span<const int32_t> none;
    return top_k(scores(u), k, include_seen ? none : std::span<const int32_t>(u.seen));
}

Tensor OnlineModel::recompute_scores(std::span<const int32_t> history) const {
    TT_CHECK(!history.empty(), "OnlineModel::recompute_scores: empty history");
    if (is_sasrec(model_) && static_cast<int64_t>(history.size()) > model_.config().max_len)
        history = history.subspan(history.size() - static_cast<std::size_t>(model_.config().max_len));
    const int64_t T = static_cast<int64_t>(history.size());
    NoGradGuard no_grad;
    IntTensor items(Shape{1, T}, std::vector<int32_t>(history.begin(), history.end()));
    Var h = last_positions(model_.encode(items, Ctx{}), IntTensor(Shape{1}, {static_cast<int32_t>(T)}));  // (1, C)
    return score_state(h.value());
}

// ------------------------------------------------------------------------------------------------
// the states file

std::string encode_user_states(const OnlineModel& model, const UserStates& users) {
    const RecConfig& cfg = model.model().config();
    StreamState fresh = model.model().start_stream(1);
    const std::vector<Field> fresh_fields = fields_of(fresh);
    std::vector<std::vector<float>> data(fresh_fields.size());
    std::vector<float> user_data;
    json list = json::array();
    for (const auto& [id, u] : users) {
        StreamState s = u.stream;  // a shallow copy (Vars are handles) to enumerate the fields
        std::vector<Field> f = fields_of(s);
        TT_CHECK(f.size() == fresh_fields.size(), "encode_user_states: user '" + id + "' has a state of another model");
        for (std::size_t j = 0; j < f.size(); ++j) {
            Shape want = expected_shape(fresh_fields[j], *fresh_fields[j].var, fresh, u.events(), cfg.mini_batch);
            const bool present = want.numel() > 0;
            TT_CHECK(present == f[j].var->defined() && (!present || f[j].var->shape() == want),
                     "encode_user_states: user '" + id + "': field " + f[j].name + " does not fit the model");
            if (present) data[j].insert(data[j].end(), f[j].var->value().data(), f[j].var->value().data() + want.numel());
        }
        if (u.user.defined()) user_data.insert(user_data.end(), u.user.data(), u.user.data() + u.user.numel());
        json e = {{"id", id}, {"t", u.events()}, {"seen", u.seen}};
        if (is_sasrec(model.model()))
            e["window"] = std::vector<int32_t>(s.window.data(), s.window.data() + s.window.numel());
        list.push_back(std::move(e));
    }
    NamedTensors tensors;
    auto add = [&](const std::string& name, const std::vector<float>& v) {
        if (!v.empty()) tensors.emplace_back(name, Tensor::from(Shape{static_cast<int64_t>(v.size())}, v));
    };
    add("user", user_data);
    for (std::size_t j = 0; j < fresh_fields.size(); ++j) add(fresh_fields[j].name, data[j]);
    return encode_safetensors(tensors, {{"format", kFormat}, {"version", kVersion}, {"model", model.fingerprint()},
                                        {"users", list.dump()}});
}

UserStates decode_user_states(const OnlineModel& model, const std::string& bytes, const std::string& src) {
    const RecConfig& cfg = model.model().config();
    std::map<std::string, std::string> meta;
    NamedTensors tensors = decode_safetensors(bytes, src, &meta);
    if (meta["format"] != kFormat) bad(src, "not an online states file (metadata format '" + meta["format"] + "', want '" + kFormat + "')");
    if (meta["version"] != kVersion) bad(src, "states format version '" + meta["version"] + "', this build reads " + kVersion);
    if (meta["model"] != model.fingerprint())
        bad(src, "the states were made by another model (or other weights):\n  file:  " + meta["model"] + "\n  model: " + model.fingerprint());
    json list;
    try {
        list = json::parse(meta["users"]);
    } catch (const json::exception& e) {
        bad(src, std::string("metadata 'users' is not valid JSON: ") + e.what());
    }
    if (!list.is_array()) bad(src, "metadata 'users' is not a JSON array");

    StreamState fresh = model.model().start_stream(1);
    const std::vector<Field> fresh_fields = fields_of(fresh);
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : tensors) by_name[name] = &t;
    std::set<std::string> known = {"user"};
    for (const Field& f : fresh_fields) known.insert(f.name);
    for (const auto& [name, t] : tensors) {
        if (!known.count(name)) bad(src, "unexpected tensor '" + name + "' (not a state field of " + cfg.model + ")");
        const float* p = t.data();
        for (int64_t i = 0; i < t.numel(); ++i)
            if (!std::isfinite(p[i])) bad(src, "tensor '" + name + "' holds a non-finite value at " + std::to_string(i));
    }

    // Pass 1: the users' records, and how many floats each field must hold in total.
    struct Record {
        std::string id;
        int64_t t;
        std::vector<int32_t> seen, window;
    };
    std::vector<Record> records;
    std::set<std::string> ids;
    const int64_t C = model.model().config().dim;
    auto id_list = [&](const json& e, const char* key, const std::string& where) {
        std::vector<int32_t> v;
        if (!e.contains(key)) return v;
        if (!e[key].is_array()) bad(src, where + ": '" + key + "' is not an array");
        for (const json& x : e[key]) {
            if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > cfg.n_items)
                bad(src, where + ": '" + key + "' has " + x.dump() + ", not an item id 1.." + std::to_string(cfg.n_items));
            v.push_back(x.get<int32_t>());
        }
        return v;
    };
    for (std::size_t n = 0; n < list.size(); ++n) {
        const json& e = list[n];
        const std::string where = "user #" + std::to_string(n);
        if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("t") || !e["t"].is_number_integer())
            bad(src, where + ": needs a string 'id' and an integer 't'");
        Record r;
        r.id = e["id"].get<std::string>();
        r.t = e["t"].get<int64_t>();
        const std::string who = where + " ('" + r.id + "')";
        if (r.id.empty()) bad(src, where + ": empty id");
        if (!ids.insert(r.id).second) bad(src, who + ": the id appears twice");
        if (r.t < 0) bad(src, who + ": negative t");
        r.seen = id_list(e, "seen", who);
        if (!std::is_sorted(r.seen.begin(), r.seen.end()) || std::adjacent_find(r.seen.begin(), r.seen.end()) != r.seen.end())
            bad(src, who + ": 'seen' is not sorted and distinct");
        if (static_cast<int64_t>(r.seen.size()) > r.t || (r.t > 0 && r.seen.empty()))
            bad(src, who + ": " + std::to_string(r.seen.size()) + " seen items for t = " + std::to_string(r.t));
        r.window = id_list(e, "window", who);
        const int64_t want_window = is_sasrec(model.model()) ? std::min(r.t, cfg.max_len) : 0;
        if (static_cast<int64_t>(r.window.size()) != want_window)
            bad(src, who + ": 'window' has " + std::to_string(r.window.size()) + " items, want " + std::to_string(want_window));
        records.push_back(std::move(r));
    }
    std::vector<int64_t> total(fresh_fields.size(), 0);
    int64_t user_total = 0;
    for (const Record& r : records) {
        if (r.t > 0) user_total += C;
        for (std::size_t j = 0; j < fresh_fields.size(); ++j)
            total[j] += expected_shape(fresh_fields[j], *fresh_fields[j].var, fresh, r.t, cfg.mini_batch).numel();
    }
    auto check_total = [&](const std::string& name, int64_t want) -> const float* {
        auto it = by_name.find(name);
        const int64_t got = it == by_name.end() ? 0 : it->second->numel();
        if (got != want)
            bad(src, "tensor '" + name + "' holds " + std::to_string(got) + " values, the users' records need " + std::to_string(want));
        return it == by_name.end() ? nullptr : it->second->data();
    };
    std::vector<const float*> cursor(fresh_fields.size());
    for (std::size_t j = 0; j < fresh_fields.size(); ++j) cursor[j] = check_total(fresh_fields[j].name, total[j]);
    const float* user_cursor = check_total("user", user_total);

    // Pass 2: everything is consistent; cut the fields into per-user states.
    UserStates out;
    for (const Record& r : records) {
        UserState u = model.new_user();
        u.stream.t = r.t;
        for (TTTState& t : u.stream.ttt) t.t = r.t;
        std::vector<Field> f = fields_of(u.stream);
        for (std::size_t j = 0; j < f.size(); ++j) {
            Shape want = expected_shape(fresh_fields[j], *fresh_fields[j].var, fresh, r.t, cfg.mini_batch);
            if (want.numel() == 0) {
                *f[j].var = Var();
                continue;
            }
            Tensor v = Tensor::from(want, std::span<const float>(cursor[j], static_cast<std::size_t>(want.numel())));
            cursor[j] += want.numel();
            *f[j].var = constant(v);
        }
        if (r.t > 0) {
            u.user = Tensor::from(Shape{C}, std::span<const float>(user_cursor, static_cast<std::size_t>(C)));
            user_cursor += C;
        }
        if (is_sasrec(model.model()))
            u.stream.window = IntTensor(Shape{1, static_cast<int64_t>(r.window.size())}, r.window);
        u.seen = r.seen;
        out.emplace(r.id, std::move(u));
    }
    return out;
}

void save_user_states(const std::string& path, const OnlineModel& model, const UserStates& users) {
    atomic_write_file(path, encode_user_states(model, users));
}

UserStates load_user_states(const std::string& path, const OnlineModel& model) {
    return decode_user_states(model, read_file_bytes(path), path);
}

}  // namespace tt::model
