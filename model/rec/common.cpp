// model/rec/common.cpp — the validation checks of model/rec/common.hpp.
#include "model/rec/common.hpp"

#include <cmath>
#include <stdexcept>

namespace tt::model {

void check_positive(const std::string& flag, int64_t v) {
    if (v <= 0) throw std::invalid_argument("--" + flag + " must be positive, got " + std::to_string(v));
}

void check_choice(const std::string& flag, const std::string& v, std::initializer_list<const char*> choices) {
    std::string list;
    for (const char* c : choices) {
        if (v == c) return;
        list += (list.empty() ? "" : ", ") + std::string(c);
    }
    throw std::invalid_argument("--" + flag + " must be one of " + list + ", got '" + v + "'");
}

void check_loss(const RecConfig& c, std::initializer_list<const char*> losses) {
    std::string list;
    for (const char* l : losses) {
        if (c.loss == l) return;
        list += (list.empty() ? "" : ", ") + std::string(l);
    }
    throw std::invalid_argument("--loss " + c.loss + " is not a loss of " + c.model + " (" + list + ")");
}

void check_heads(const RecConfig& c, int64_t heads, bool even_head_width) {
    check_positive("heads", heads);
    if (c.dim % heads != 0)
        throw std::invalid_argument("--heads " + std::to_string(heads) + " does not divide --dim " + std::to_string(c.dim));
    if (even_head_width && (c.dim / heads) % 2 != 0)
        throw std::invalid_argument("the head width --dim/--heads must be even (RoPE rotates pairs)");
}

void check_unit_interval(const std::string& flag, float v) {
    if (!(v >= 0 && v < 1)) throw std::invalid_argument("--" + flag + " must be in [0, 1)");
}

void check_ttt_rates(float base_lr, float rope_base) {
    if (!(base_lr >= 0) || !std::isfinite(base_lr)) throw std::invalid_argument("--base-lr must be >= 0 and finite");
    if (!(rope_base > 1) || !std::isfinite(rope_base)) throw std::invalid_argument("--rope-base must be > 1 and finite");
}

}  // namespace tt::model
