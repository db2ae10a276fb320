// model/rec/common.hpp — what every model file in model/rec/ includes: the Recommender interface,
// its ModelEntry, and the checks a validate() function is made of. Each check throws
// std::invalid_argument naming the command-line flag, so apps/train can report it as a usage error.
#pragma once

#include <initializer_list>
#include <string>

#include "model/registry.hpp"

namespace tt::model {

void check_positive(const std::string& flag, int64_t v);
void check_choice(const std::string& flag, const std::string& v, std::initializer_list<const char*> choices);
void check_loss(const RecConfig& c, std::initializer_list<const char*> losses);
// heads divide --dim (and the head width is even when RoPE rotates pairs).
void check_heads(const RecConfig& c, int64_t heads, bool even_head_width);
void check_unit_interval(const std::string& flag, float v);  // [0, 1)
// Inner learning rate >= 0 and RoPE base > 1, both finite.
void check_ttt_rates(float base_lr, float rope_base);

}  // namespace tt::model
