// tensor/checksum.hpp — the one 64-bit checksum of tttrec's own files (dataset caches in data/,
// checkpoints in model/): multiply-xor over 8-byte words, so any single flipped bit changes it.
// Meant against damage (truncation, bit rot), not deliberate forgery. Lives in tensor/ because
// it is the one library both data/ and model/ depend on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tt {

// `seed`: caches and checkpoints have each used their own since their first version; keeping them
// keeps every file written so far readable. No default: each caller names whose checksum it is.
inline constexpr uint64_t kCacheChecksumSeed = 0xcbf29ce484222325ull;
inline constexpr uint64_t kCheckpointChecksumSeed = 0x9E3779B97F4A7C15ull;

inline uint64_t checksum64(const void* data, std::size_t n, uint64_t seed) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = seed ^ n;
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    while (n--) h = (h ^ *p++) * 0x100000001b3ull;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

}  // namespace tt
