// model/config.cpp — RecConfig's field list and the visitors that set, get and describe by key.
#include "model/config.hpp"

#include <sstream>

namespace tt::model {

RecConfig::RecConfig(const RecConfig& o)
    : model(o.model), n_items(o.n_items), max_len(o.max_len), dim(o.dim), dropout(o.dropout), init_range(o.init_range),
      loss(o.loss), every_position(o.every_position), options(o.options ? o.options->clone() : nullptr) {}

RecConfig& RecConfig::operator=(const RecConfig& o) {
    if (this != &o) {
        RecConfig copy(o);
        *this = std::move(copy);
    }
    return *this;
}

void RecConfig::visit(FieldVisitor& v) {
    v.field("n_items", n_items, "real items (from the data)", "-");
    v.field("max_len", max_len, "most recent items kept per history");
    v.field("dim", dim, "width C of item embeddings and user states");
    v.field("dropout", dropout, "dropout probability");
    v.field("init_range", init_range, "std of the N(0, .) initialisation");
    v.field("loss", loss, "training loss");
    v.field("every_position", every_position, "train every position of each history (else the last)", "-");
    if (options) options->visit(v);
}

void RecConfig::visit(FieldVisitor& v) const { const_cast<RecConfig*>(this)->visit(v); }

namespace {

// Finds one field by key and reads or writes it.
class KeyVisitor final : public FieldVisitor {
public:
    KeyVisitor(std::string_view key, const FieldValue* in) : key_(key), in_(in) {}
    bool found = false;
    FieldValue out;

    void field(std::string_view k, int64_t& v, std::string_view, std::string_view) override { take(k, v); }
    void field(std::string_view k, float& v, std::string_view, std::string_view) override {
        if (k != key_) return;
        found = true;
        if (in_) {
            if (auto* i = std::get_if<int64_t>(in_)) v = static_cast<float>(*i);
            else if (auto* f = std::get_if<float>(in_)) v = *f;
            else throw std::invalid_argument("config field '" + std::string(k) + "' is a number");
        }
        out = v;
    }
    void field(std::string_view k, std::string& v, std::string_view, std::string_view) override { take(k, v); }
    void field(std::string_view k, bool& v, std::string_view, std::string_view) override { take(k, v); }

private:
    template <class T>
    void take(std::string_view k, T& v) {
        if (k != key_) return;
        found = true;
        if (in_) {
            const T* p = std::get_if<T>(in_);
            if (!p) throw std::invalid_argument("config field '" + std::string(k) + "' has another type");
            v = *p;
        }
        out = v;
    }
    std::string_view key_;
    const FieldValue* in_;
};

class DescribeVisitor final : public FieldVisitor {
public:
    std::ostringstream os;
    void field(std::string_view k, int64_t& v, std::string_view, std::string_view) override { os << " " << k << "=" << v; }
    void field(std::string_view k, float& v, std::string_view, std::string_view) override { os << " " << k << "=" << v; }
    void field(std::string_view k, std::string& v, std::string_view, std::string_view) override { os << " " << k << "=" << v; }
    void field(std::string_view k, bool& v, std::string_view, std::string_view) override {
        os << " " << k << "=" << (v ? "true" : "false");
    }
};

}  // namespace

void RecConfig::set(std::string_view key, const FieldValue& value) {
    KeyVisitor kv(key, &value);
    visit(kv);
    if (!kv.found) throw std::invalid_argument("model '" + model + "' has no option '" + std::string(key) + "'");
}

FieldValue RecConfig::get(std::string_view key) const {
    KeyVisitor kv(key, nullptr);
    visit(kv);
    if (!kv.found) throw std::invalid_argument("model '" + model + "' has no option '" + std::string(key) + "'");
    return kv.out;
}

bool RecConfig::has(std::string_view key) const {
    KeyVisitor kv(key, nullptr);
    visit(kv);
    return kv.found;
}

std::string RecConfig::describe() const {
    DescribeVisitor dv;
    visit(dv);
    return model + dv.os.str();
}

}  // namespace tt::model
