// data/cache.hpp — binary cache of a processed Dataset, so a second run skips parsing.
//
// File layout (little-endian, native; the cache is a local artifact, never shipped):
//   header  (CacheHeader below: magic "TTRCACHE", version, options key, source size and mtime,
//            counts, payload size, payload checksum)
//   payload offsets (n_users+1 x i64) | items (n x i32) | timestamps (n x f64, if any) |
//           user names | item names (each u32 length + bytes) | LoadReport fields
// A cache is used only if the magic, version, options key, source size/mtime, payload size and
// checksum all match; anything else is reported (stale or corrupt) and the cache is rebuilt.
// Writes are atomic: temp file in the same directory, fsync, rename.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "data/dataset.hpp"
#include "tensor/checksum.hpp"  // tt::checksum64, of the payload

namespace tt::data {

inline constexpr uint32_t kCacheVersion = 1;

// The fixed header at the start of a cache file. Public so that tests and the fuzz target can
// forge files that pass the checks up to a chosen one.
struct CacheHeader {
    char magic[8];            // "TTRCACHE"
    uint32_t version;         // kCacheVersion
    uint32_t header_size;     // sizeof(CacheHeader)
    uint64_t options_key;     // hash of the source path and every option that changes the result
    uint64_t source_size;     // bytes
    int64_t source_mtime;     // file clock ticks
    uint64_t n_users, n_items, n_interactions;
    uint32_t has_timestamps;
    uint32_t reserved;
    uint64_t payload_size;    // bytes after the header
    uint64_t payload_checksum;  // tt::checksum64 of the payload
};

// Where the cache of these options lives (directory resolved as documented in LoadOptions).
std::string cache_path_for(const LoadOptions& opt);

// Returns the cached dataset, or nullopt with `why` saying what was wrong ("no cache", "stale: ...",
// "corrupt: ...").
std::optional<Dataset> read_cache(const LoadOptions& opt, std::string* why);
// The checks and decoding of read_cache on the bytes of a cache file (the source file opt.path is
// still stat-ed for the staleness check). Every count and length is bounds-checked against the bytes.
std::optional<Dataset> decode_cache(std::string_view bytes, const LoadOptions& opt, std::string* why);

// Writes atomically; returns false with `why` on failure (a failed cache write never fails a load).
bool write_cache(const LoadOptions& opt, const Dataset& ds, std::string* why);

}  // namespace tt::data
