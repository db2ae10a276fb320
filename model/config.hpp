// model/config.hpp — a recommender's configuration, every field described once.
//
// A configuration is the part every model has (RecConfig: sizes, dropout, loss, training mode) plus
// the model's own options (a struct in the model's file, derived from ModelOptions). Each field is
// listed exactly once, in a visit() function that hands (key, reference, help) to a FieldVisitor.
// Everything else is a visitor over that list: the command-line flags of apps/train (key with '_'
// -> '-', unless a field names its flag), config.json in both directions, describe(), and set() by
// key, which the tests use to shrink a model. A model's file therefore owns its fields, their
// defaults and their validation; nothing outside it spells them out.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tt::model {

// Receives every field of a configuration. `flag` is the command-line flag without "--"
// (empty: derived from the key; "-": not a flag, e.g. n_items, which comes from the data).
class FieldVisitor {
public:
    virtual ~FieldVisitor() = default;
    virtual void field(std::string_view key, int64_t& v, std::string_view help, std::string_view flag = {}) = 0;
    virtual void field(std::string_view key, float& v, std::string_view help, std::string_view flag = {}) = 0;
    virtual void field(std::string_view key, std::string& v, std::string_view help, std::string_view flag = {}) = 0;
    virtual void field(std::string_view key, bool& v, std::string_view help, std::string_view flag = {}) = 0;
};

// A model's own options. Each model derives one struct (via Options<Derived>) in its file.
class ModelOptions {
public:
    virtual ~ModelOptions() = default;
    virtual void visit(FieldVisitor& v) = 0;
    virtual std::unique_ptr<ModelOptions> clone() const = 0;
};

template <class Derived>
class Options : public ModelOptions {
public:
    std::unique_ptr<ModelOptions> clone() const override {
        return std::make_unique<Derived>(static_cast<const Derived&>(*this));
    }
};

// A value as set() takes it and get() gives it.
using FieldValue = std::variant<int64_t, float, std::string, bool>;

struct RecConfig {
    std::string model;              // the registry name (model/registry.hpp)
    int64_t n_items = 0;            // V - 1 (ids 1..n_items; 0 = padding), from the data
    int64_t max_len = 50;           // T: the most recent items of a history that the model reads
    int64_t dim = 64;               // C: item embedding / user state width
    float dropout = 0.2f;
    float init_range = 0.02f;       // std of the N(0, ·) initialisation
    std::string loss = "ce";        // the training loss; each model says which it accepts
    bool every_position = false;    // train every prefix of a history (true) or its last position
    std::unique_ptr<ModelOptions> options;  // the model's own fields (never null once made by the registry)

    RecConfig() = default;
    RecConfig(const RecConfig& o);
    RecConfig& operator=(const RecConfig& o);
    RecConfig(RecConfig&&) noexcept = default;
    RecConfig& operator=(RecConfig&&) noexcept = default;

    // Every field: the common ones, then the model's.
    void visit(FieldVisitor& v);
    void visit(FieldVisitor& v) const;  // the visitor must not write (describe, to_json)

    // By key (the JSON key). Throws std::invalid_argument for an unknown key or a value of
    // another type (an int64_t is accepted for a float field).
    void set(std::string_view key, const FieldValue& value);
    // Literals, for tests and tools: set("heads", 2), set("base_lr", 0.5), set("inner", "linear").
    void set(std::string_view key, int v) { set(key, FieldValue(int64_t{v})); }
    void set(std::string_view key, int64_t v) { set(key, FieldValue(v)); }
    void set(std::string_view key, const std::string& v) { set(key, FieldValue(v)); }
    void set(std::string_view key, double v) { set(key, FieldValue(static_cast<float>(v))); }
    void set(std::string_view key, const char* v) { set(key, FieldValue(std::string(v))); }
    // set() when the model has the key (tests that shrink every model with one list of sizes).
    template <class V>
    bool set_if_has(std::string_view key, V v) {
        if (!has(key)) return false;
        set(key, v);
        return true;
    }
    FieldValue get(std::string_view key) const;
    bool has(std::string_view key) const;

    // The model's own options as their struct (its file knows the type).
    template <class T>
    const T& opts() const {
        const T* p = dynamic_cast<const T*>(options.get());
        if (!p) throw std::logic_error("RecConfig: options of '" + model + "' are not of the requested type");
        return *p;
    }
    template <class T>
    T& opts() {
        return const_cast<T&>(static_cast<const RecConfig&>(*this).opts<T>());
    }

    // "sasrec dim=64 max_len=50 dropout=0.5 ... heads=2 blocks=2": every field, key=value.
    std::string describe() const;
};

}  // namespace tt::model
