// apps/data_setup.cpp — see data_setup.hpp.
#include "apps/data_setup.hpp"

#include <stdexcept>

namespace tt::app {

// ------------------------------------------------------------------------------------------------
// data

data::Dataset load_data(const DataOptions& opt) {
    if (opt.path.empty()) {
        data::SyntheticOptions s;
        s.n_users = opt.synthetic_users;
        s.seed = opt.synthetic_seed;
        return data::generate_synthetic(s);
    }
    data::LoadOptions lo;
    lo.path = opt.path;
    lo.format = data::parse_format(opt.format);
    lo.columns = {opt.user_col, opt.item_col, opt.time_col, opt.rating_col};
    if (opt.rating_threshold >= 0) lo.rating_threshold = opt.rating_threshold;
    lo.min_user_interactions = opt.min_user;
    lo.min_item_interactions = opt.min_item;
    if (opt.repeats == "keep") lo.repeats = data::Repeats::Keep;
    else if (opt.repeats == "drop-consecutive") lo.repeats = data::Repeats::DropConsecutive;
    else if (opt.repeats == "keep-first") lo.repeats = data::Repeats::KeepFirst;
    else throw std::invalid_argument("--repeats: '" + opt.repeats + "' is not keep, drop-consecutive or keep-first");
    lo.skip_bad_lines = opt.skip_bad_lines;
    lo.use_cache = opt.cache;
    return data::load_dataset(lo);
}

data::Split make_split(const data::Dataset& ds, const DataOptions& opt, bool every_position, int64_t max_len) {
    auto mode = every_position ? data::TrainExamples::LongestPerUser : data::TrainExamples::EveryPrefix;
    data::Split s = data::split_dataset(ds, data::parse_split(opt.split), mode);
    if (every_position && opt.window_stride > 0) s.train = data::window_rows(ds, s.train, max_len, opt.window_stride);
    return s;
}


}  // namespace tt::app
