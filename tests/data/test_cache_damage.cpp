// tests/data/test_cache_damage.cpp — the dataset cache against damage and mismatch, beyond the
// hit/stale/corrupt cases of test_preprocess.cpp: a cache of other options or another version,
// forged files whose checksum is right but whose counts, layout or ids are wrong, and every
// truncation and single-bit flip. Each is reported with its own reason and the dataset is
// rebuilt from the source; none is ever used.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/cache.hpp"
#include "tests/data/data_test_util.hpp"

using namespace tt::data;
using tt::data::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

CacheHeader header_of(const std::string& bytes) {
    CacheHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    return h;
}

// `bytes` with header `h` and a checksum that matches the (possibly edited) payload: a forgery
// that passes every check up to the payload's own consistency.
std::string with_header(std::string bytes, CacheHeader h) {
    h.payload_size = bytes.size() - sizeof h;
    h.payload_checksum = tt::checksum64(bytes.data() + sizeof h, bytes.size() - sizeof h, tt::kCacheChecksumSeed);
    std::memcpy(bytes.data(), &h, sizeof h);
    return bytes;
}

std::string why_rejected(const std::string& bytes, const LoadOptions& o) {
    std::string why;
    if (decode_cache(bytes, o, &why)) return "accepted";
    return why;
}

}  // namespace

TEST_SUITE("data/cache") {

TEST_CASE("mismatched and forged caches are rejected with their own reason") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("log.txt", "alice i1\nalice i2\nbob i2\nbob i3\ncarol i1\n");
    o.use_cache = true;
    o.cache_dir = (dir.path / "cache").string();
    load_dataset(o);
    const std::string good = read_bytes(cache_path_for(o));
    REQUIRE(good.size() > sizeof(CacheHeader));
    REQUIRE(why_rejected(good, o) == "accepted");
    const CacheHeader h0 = header_of(good);

    SUBCASE("another version") {
        CacheHeader h = h0;
        h.version = kCacheVersion + 1;
        CHECK(why_rejected(with_header(good, h), o) == "stale (version " + std::to_string(kCacheVersion + 1) + "): rebuilt");
    }
    SUBCASE("another header size") {
        CacheHeader h = h0;
        h.header_size = 7;
        CHECK(why_rejected(with_header(good, h), o) == "corrupt (header size): rebuilt");
    }
    SUBCASE("the cache of other options, copied over this one") {
        LoadOptions other = o;
        other.repeats = Repeats::KeepFirst;
        load_dataset(other);
        fs::copy_file(cache_path_for(other), cache_path_for(o), fs::copy_options::overwrite_existing);
        Dataset d = load_dataset(o);
        CHECK_FALSE(d.report.from_cache);
        CHECK(d.report.cache_note.starts_with("stale (options changed): rebuilt"));
    }
    SUBCASE("counts beyond what a dataset can hold") {
        CacheHeader h = h0;
        h.n_users = 1ull << 40;
        CHECK(why_rejected(with_header(good, h), o) == "corrupt (counts): rebuilt");
    }
    SUBCASE("a header flag that is neither 0 nor 1") {
        CacheHeader h = h0;
        h.has_timestamps = 2;
        CHECK(why_rejected(with_header(good, h), o) == "corrupt (header flags): rebuilt");
    }
    SUBCASE("counts that do not match the payload") {
        CacheHeader h = h0;
        h.n_interactions += 1;
        CHECK(why_rejected(with_header(good, h), o) == "corrupt (payload layout): rebuilt");
        h = h0;
        h.has_timestamps = 1;
        CHECK(why_rejected(with_header(good, h), o) == "corrupt (payload layout): rebuilt");
    }
    SUBCASE("an item id outside the items") {
        std::string bad = good;
        int32_t item;  // the first interaction's item, right after the n_users+1 offsets
        const std::size_t at = sizeof(CacheHeader) + (h0.n_users + 1) * sizeof(int64_t);
        std::memcpy(&item, bad.data() + at, 4);
        item = static_cast<int32_t>(h0.n_items) + 1;
        std::memcpy(bad.data() + at, &item, 4);
        CHECK(why_rejected(with_header(bad, h0), o).find("invalid dataset: item id 4 outside 1..3") != std::string::npos);
    }
    SUBCASE("two users with the same name") {
        std::string bad = good;
        const std::size_t carol = bad.find("carol");
        REQUIRE(carol != std::string::npos);
        bad.replace(carol, 5, "alice");  // same length, so the layout still holds
        CHECK(why_rejected(with_header(bad, h0), o).starts_with("corrupt ("));
    }
    SUBCASE("an unknown input format in the report") {
        // The format follows the names and the report path (u32 length + bytes).
        std::string bad = good;
        const std::size_t path_len_at = bad.rfind(o.path) - 4;
        const std::size_t format_at = path_len_at + 4 + o.path.size();
        uint32_t format = 99;
        std::memcpy(bad.data() + format_at, &format, 4);
        CHECK(why_rejected(with_header(bad, h0), o) == "corrupt (format 99): rebuilt");
    }
}

TEST_CASE("every truncation and every single-bit flip of a cache is rejected, never used") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("log.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2\nu2,a,3\nu2,c,4\n");
    o.use_cache = true;
    o.cache_dir = (dir.path / "cache").string();
    load_dataset(o);
    const std::string good = read_bytes(cache_path_for(o));
    for (std::size_t len = 0; len < good.size(); ++len) {
        CAPTURE(len);
        CHECK(why_rejected(good.substr(0, len), o).find("rebuilt") != std::string::npos);
    }
    const std::size_t reserved_at = offsetof(CacheHeader, reserved);
    int accepted = 0;
    for (std::size_t byte = 0; byte < good.size(); ++byte)
        for (int bit = 0; bit < 8; ++bit) {
            std::string bad = good;
            bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
            std::string why = why_rejected(bad, o);
            if (why == "accepted") {
                // Only the unused `reserved` field may change without notice.
                CAPTURE(byte);
                CHECK((byte >= reserved_at && byte < reserved_at + 4));
                ++accepted;
            }
        }
    CHECK(accepted == 32);
}

}  // TEST_SUITE
