// data/breakdown.cpp — history-length buckets (see breakdown.hpp).
#include "data/breakdown.hpp"

#include <charconv>
#include <stdexcept>

namespace tt::data {

std::string LengthBucket::label() const {
    if (hi < 0) return std::to_string(lo) + "-";
    if (hi == lo) return std::to_string(lo);
    return std::to_string(lo) + "-" + std::to_string(hi);
}

namespace {

int64_t parse_length(std::string_view range, std::string_view field) {
    int64_t v = -1;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (field.empty() || ec != std::errc() || ptr != field.data() + field.size() || v < 0)
        throw std::invalid_argument("--buckets: '" + std::string(range) + "': '" + std::string(field) +
                                    "' is not a non-negative integer");
    return v;
}

}  // namespace

std::vector<LengthBucket> parse_buckets(std::string_view text) {
    std::vector<LengthBucket> out;
    if (text.empty()) throw std::invalid_argument("--buckets: empty (example: 1-5,6-10,11-20,21-50,51-)");
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string_view range = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (range.empty()) throw std::invalid_argument("--buckets: an empty range in '" + std::string(text) + "'");
        LengthBucket b;
        const std::size_t dash = range.find('-');
        if (dash == std::string_view::npos) {
            b.lo = b.hi = parse_length(range, range);
        } else {
            b.lo = parse_length(range, range.substr(0, dash));
            const std::string_view rest = range.substr(dash + 1);
            b.hi = rest.empty() ? -1 : parse_length(range, rest);
            if (b.hi >= 0 && b.hi < b.lo) throw std::invalid_argument("--buckets: '" + std::string(range) + "' ends before it starts");
        }
        if (!out.empty()) {
            const LengthBucket& p = out.back();
            if (p.hi < 0 || b.lo <= p.hi)
                throw std::invalid_argument("--buckets: '" + b.label() + "' overlaps or precedes '" + p.label() +
                                            "' (give ranges in increasing order, without overlap)");
        }
        out.push_back(b);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

LengthBreakdown breakdown_by_length(const PairedUnits& d, const std::vector<LengthBucket>& buckets, const PairedTestOptions& opt) {
    for (std::size_t r = 0; r < d.size(); ++r)
        if (d.history_len[r] < 0)
            throw DataError(d.path_a + ":" + std::to_string(d.line_a[r]) + ": user '" + d.users[r] +
                            "' has no history_len: --by-length needs per-sample files, or per-user files whose rows carry "
                            "\"history_len\"");
    LengthBreakdown out;
    std::vector<std::vector<std::size_t>> rows(buckets.size());
    for (std::size_t r = 0; r < d.size(); ++r) {
        bool placed = false;
        for (std::size_t k = 0; k < buckets.size() && !placed; ++k)
            if (buckets[k].contains(d.history_len[r])) {
                rows[k].push_back(r);
                placed = true;
            }
        if (!placed) ++out.unbucketed;
    }
    for (std::size_t k = 0; k < buckets.size(); ++k) {
        PairedTestOptions o = opt;
        o.seed = opt.seed + 0x100000001B3ull * (k + 1);  // a different stream per bucket, fixed by the seed
        out.buckets.push_back({buckets[k], paired_test(d, o, &rows[k])});
    }
    return out;
}

}  // namespace tt::data
