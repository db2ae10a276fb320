// model/rec/ttt_common.hpp — what the two TTT4Rec files share: the TTT layer configuration from
// their options, and a TTT layer's streaming state as named fields of a StreamState.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/recommender.hpp"
#include "model/ttt.hpp"

namespace tt::model {

TTTConfig ttt_layer_config(int64_t width, int64_t heads, int64_t mini_batch, float base_lr, const std::string& inner,
                           const std::string& inner_loop, float rope_base, float init_range);

// A TTT layer's state as fields "<prefix>W1", b1, W2, b2 (inner weights at the start of the
// current mini-batch), XQ, XK, XV, lr (the pending tokens of the unfinished mini-batch, absent
// when none) and conv_history (share_qk). Unpacked fields are constants (no tape).
void pack_ttt_state(StreamState& st, const std::string& prefix, const TTTState& s);
TTTState unpack_ttt_state(const StreamState& st, const std::string& prefix);
// stream_layout(): the pending fields hold P = t mod b tokens: XQ/XK/XV (1, H, P, D), lr (1, H, 1, P).
void set_pending_layout(std::vector<std::pair<std::string, Shape>>& layout, const std::string& prefix, const TTTLayer& layer,
                        int64_t t);

}  // namespace tt::model
