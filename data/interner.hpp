// data/interner.hpp — maps id strings to dense indices 0..size-1 in order of first appearance.
//
// Names live in one arena string (no allocation per id) behind an open-addressing hash table.
// Canonical decimal ids below 2^22 (no sign, no leading zero: what nearly every public dataset
// uses) go to a direct-indexed table instead, so a repeated numeric id costs one array read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tt::data {

class Interner {
public:
    uint32_t intern(std::string_view s);                 // existing index, or the next new one
    std::optional<uint32_t> find(std::string_view s) const;
    std::size_t size() const { return offsets_.size() - 1; }
    std::string_view name(uint32_t i) const {
        return {arena_.data() + offsets_[i], static_cast<std::size_t>(offsets_[i + 1] - offsets_[i])};
    }
    void reserve(std::size_t n_ids, std::size_t n_bytes);

private:
    uint32_t append(std::string_view s, uint64_t h);
    void grow();
    std::string arena_;
    std::vector<uint64_t> offsets_{0};  // (size+1) into arena_
    std::vector<uint64_t> hashes_;      // (size) cached for rehashing; 0 = directly indexed entry
    std::size_t hashed_ = 0;            // entries in the hash table
    std::vector<uint32_t> slots_ = std::vector<uint32_t>(1024, 0);  // 0 = empty, else index+1
    std::vector<uint32_t> direct_;      // direct_[value] = index+1 for small canonical decimals
};

}  // namespace tt::data
