// data/interner.cpp — the id interner (see interner.hpp).
#include "data/interner.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tt::data {

namespace {

// Ids below this are indexed directly (table <= 16 MiB); larger or non-decimal ids are hashed.
constexpr uint64_t kDirectLimit = uint64_t{1} << 22;

inline uint64_t hash_bytes(const char* p, std::size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h ? h : 1;  // 0 marks a directly indexed entry (never in the hash table)
}

// Value of a canonical decimal below kDirectLimit, or kDirectLimit if `s` is anything else.
inline uint64_t small_decimal(std::string_view s) {
    if (s.empty() || s.size() > 7 || (s.size() > 1 && s[0] == '0')) return kDirectLimit;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return kDirectLimit;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v < kDirectLimit ? v : kDirectLimit;
}

}  // namespace

void Interner::reserve(std::size_t n_ids, std::size_t n_bytes) {
    arena_.reserve(n_bytes);
    offsets_.reserve(n_ids + 1);
    hashes_.reserve(n_ids);
}

void Interner::grow() {
    std::vector<uint32_t> slots(slots_.size() * 2, 0);
    std::size_t mask = slots.size() - 1;
    for (uint32_t i = 0; i < hashes_.size(); ++i) {
        if (hashes_[i] == 0) continue;  // directly indexed
        std::size_t s = hashes_[i] & mask;
        while (slots[s]) s = (s + 1) & mask;
        slots[s] = i + 1;
    }
    slots_.swap(slots);
}

uint32_t Interner::append(std::string_view key, uint64_t h) {
    if (hashes_.size() >= 0xFFFFFFF0u) throw std::length_error("Interner: more than 4 billion distinct ids");
    auto idx = static_cast<uint32_t>(hashes_.size());
    hashes_.push_back(h);
    arena_.append(key);
    offsets_.push_back(arena_.size());
    return idx;
}

std::optional<uint32_t> Interner::find(std::string_view key) const {
    if (uint64_t v = small_decimal(key); v < kDirectLimit) {
        if (v < direct_.size() && direct_[v]) return direct_[v] - 1;
        return std::nullopt;
    }
    uint64_t h = hash_bytes(key.data(), key.size());
    std::size_t mask = slots_.size() - 1;
    for (std::size_t s = h & mask; uint32_t slot = slots_[s]; s = (s + 1) & mask) {
        uint32_t i = slot - 1;
        if (hashes_[i] == h && name(i) == key) return i;
    }
    return std::nullopt;
}

uint32_t Interner::intern(std::string_view key) {
    if (uint64_t v = small_decimal(key); v < kDirectLimit) {  // one array read for a repeated id
        if (v < direct_.size() && direct_[v]) return direct_[v] - 1;
        if (v >= direct_.size()) direct_.resize(std::max<std::size_t>(static_cast<std::size_t>(v) + 1, direct_.size() * 2), 0);
        uint32_t idx = append(key, 0);
        direct_[v] = idx + 1;
        return idx;
    }
    uint64_t h = hash_bytes(key.data(), key.size());
    std::size_t mask = slots_.size() - 1;
    std::size_t s = h & mask;
    for (; uint32_t slot = slots_[s]; s = (s + 1) & mask) {
        uint32_t i = slot - 1;
        if (hashes_[i] == h && name(i) == key) return i;
    }
    uint32_t idx = append(key, h);
    slots_[s] = idx + 1;
    if (++hashed_ * 2 > slots_.size()) grow();  // load factor <= 1/2 keeps probes short
    return idx;
}

}  // namespace tt::data
