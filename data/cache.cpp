// data/cache.cpp — reading and atomically writing the binary dataset cache (layout in cache.hpp).
#include "data/cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace tt::data {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'T', 'T', 'R', 'C', 'A', 'C', 'H', 'E'};

std::string cache_dir(const LoadOptions& opt) {
    if (!opt.cache_dir.empty()) return opt.cache_dir;
    if (const char* d = std::getenv("TTTREC_CACHE_DIR"); d && *d) return d;
    if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/tttrec";
    if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/tttrec";
    return ".tttrec-cache";
}

std::string canonical_source(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(path, ec);
    return ec ? path : p.string();
}

uint64_t options_key(const LoadOptions& opt) {
    std::string k = "tttrec-cache-v" + std::to_string(kCacheVersion);
    auto add = [&](std::string_view s) { k.append("|").append(s); };
    add(canonical_source(opt.path));
    add(format_name(opt.format));
    add(opt.columns.user), add(opt.columns.item), add(opt.columns.timestamp), add(opt.columns.rating);
    add(opt.numeric_ids ? "num" : "str");
    add(opt.rating_threshold ? std::to_string(*opt.rating_threshold) : "-");
    add(std::to_string(static_cast<int>(opt.repeats)));
    add(std::to_string(opt.min_user_interactions)), add(std::to_string(opt.min_item_interactions));
    add(opt.skip_bad_lines ? "skip" : "strict");
    return checksum64(k.data(), k.size(), kCacheChecksumSeed);
}

bool source_stamp(const std::string& path, uint64_t& size, int64_t& mtime) {
    std::error_code ec;
    auto sz = fs::file_size(path, ec);
    if (ec) return false;
    auto t = fs::last_write_time(path, ec);
    if (ec) return false;
    size = sz;
    mtime = static_cast<int64_t>(t.time_since_epoch().count());
    return true;
}

// Payload writer / bounds-checked reader.
struct Out {
    std::string b;
    template <class T>
    void pod(const T& v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); }
    template <class T>
    void arr(const std::vector<T>& v) { b.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)); }
    void str(std::string_view s) {
        pod(static_cast<uint32_t>(s.size()));
        b.append(s);
    }
};

struct In {
    const char* p;
    const char* e;
    bool ok = true;
    template <class T>
    T pod() {
        T v{};
        if (static_cast<std::size_t>(e - p) < sizeof v) { ok = false; return v; }
        std::memcpy(&v, p, sizeof v);
        p += sizeof v;
        return v;
    }
    template <class T>
    void arr(std::vector<T>& v, uint64_t n) {
        if (n > static_cast<uint64_t>(e - p) / sizeof(T)) { ok = false; return; }
        v.resize(static_cast<std::size_t>(n));
        if (n) std::memcpy(v.data(), p, static_cast<std::size_t>(n) * sizeof(T));  // an empty vector's data() may be null
        p += n * sizeof(T);
    }
    std::string str() {
        auto n = pod<uint32_t>();
        if (!ok || n > static_cast<uint64_t>(e - p)) { ok = false; return {}; }
        std::string s(p, n);
        p += n;
        return s;
    }
};

}  // namespace

std::string cache_path_for(const LoadOptions& opt) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(options_key(opt)));
    return cache_dir(opt) + "/" + fs::path(opt.path).filename().string() + "-" + hex + ".ttcache";
}

std::optional<Dataset> read_cache(const LoadOptions& opt, std::string* why) {
    auto fail = [&](std::string w) -> std::optional<Dataset> {
        if (why) *why = std::move(w);
        return std::nullopt;
    };
    std::string path = cache_path_for(opt);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return fail("no cache yet");
    std::string buf;
    {
        char chunk[1 << 16];
        std::size_t got;
        while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.append(chunk, got);
        std::fclose(f);
    }
    return decode_cache(buf, opt, why);
}

std::optional<Dataset> decode_cache(std::string_view buf, const LoadOptions& opt, std::string* why) {
    auto fail = [&](std::string w) -> std::optional<Dataset> {
        if (why) *why = std::move(w);
        return std::nullopt;
    };
    CacheHeader h;
    if (buf.size() < sizeof h) return fail("corrupt (truncated header): rebuilt");
    std::memcpy(&h, buf.data(), sizeof h);
    if (std::memcmp(h.magic, kMagic, 8) != 0) return fail("corrupt (bad magic): rebuilt");
    if (h.version != kCacheVersion) return fail("stale (version " + std::to_string(h.version) + "): rebuilt");
    if (h.header_size != sizeof h) return fail("corrupt (header size): rebuilt");
    if (h.has_timestamps > 1) return fail("corrupt (header flags): rebuilt");
    if (h.options_key != options_key(opt)) return fail("stale (options changed): rebuilt");
    uint64_t size;
    int64_t mtime;
    if (!source_stamp(opt.path, size, mtime)) throw DataError(opt.path + ": cannot open: no such file");
    if (size != h.source_size || mtime != h.source_mtime) return fail("stale (source file changed): rebuilt");
    if (h.payload_size != buf.size() - sizeof h) return fail("corrupt (truncated payload): rebuilt");
    if (checksum64(buf.data() + sizeof h, buf.size() - sizeof h, kCacheChecksumSeed) != h.payload_checksum)
        return fail("corrupt (checksum mismatch): rebuilt");

    In in{buf.data() + sizeof h, buf.data() + buf.size()};
    Dataset ds;
    if (h.n_users > INT32_MAX || h.n_items > INT32_MAX) return fail("corrupt (counts): rebuilt");
    ds.n_users = static_cast<int32_t>(h.n_users);
    ds.n_items = static_cast<int32_t>(h.n_items);
    in.arr(ds.offsets, h.n_users + 1);
    in.arr(ds.items, h.n_interactions);
    if (h.has_timestamps) in.arr(ds.timestamps, h.n_interactions);
    std::vector<std::string> users, items;
    for (uint64_t u = 0; in.ok && u < h.n_users; ++u) users.push_back(in.str());
    for (uint64_t i = 0; in.ok && i < h.n_items; ++i) items.push_back(in.str());
    LoadReport& r = ds.report;
    r.path = in.str();
    const auto format = in.pod<uint32_t>();
    r.format_reason = in.str();
    r.lines = in.pod<int64_t>();
    r.skipped_lines = in.pod<int64_t>();
    auto n_ex = in.pod<uint32_t>();
    for (uint32_t k = 0; in.ok && k < n_ex && k < 64; ++k) r.skipped_examples.push_back(in.str());
    r.below_threshold = in.pod<int64_t>();
    r.duplicate_lines = in.pod<int64_t>();
    r.repeats_removed = in.pod<int64_t>();
    r.kcore_removed = in.pod<int64_t>();
    r.kcore_rounds = in.pod<int32_t>();
    r.single_interaction_users = in.pod<int64_t>();
    if (!in.ok || in.p != in.e) return fail("corrupt (payload layout): rebuilt");
    if (format > static_cast<uint32_t>(Format::Inter)) return fail("corrupt (format " + std::to_string(format) + "): rebuilt");
    r.format = static_cast<Format>(format);
    ds.name = opt.path;
    try {
        ds.ids = IdMap::from_names(users, items);
        ds.validate();
    } catch (const DataError& e) {
        return fail(std::string("corrupt (") + e.what() + "): rebuilt");
    }
    return ds;
}

bool write_cache(const LoadOptions& opt, const Dataset& ds, std::string* why) {
    auto fail = [&](std::string w) {
        if (why) *why = std::move(w);
        return false;
    };
    CacheHeader h{};
    std::memcpy(h.magic, kMagic, 8);
    h.version = kCacheVersion;
    h.header_size = sizeof h;
    h.options_key = options_key(opt);
    if (!source_stamp(opt.path, h.source_size, h.source_mtime)) return fail("cannot stat the source");
    h.n_users = static_cast<uint64_t>(ds.n_users);
    h.n_items = static_cast<uint64_t>(ds.n_items);
    h.n_interactions = static_cast<uint64_t>(ds.n_interactions());
    h.has_timestamps = ds.has_timestamps() ? 1 : 0;

    Out out;
    out.b.reserve(static_cast<std::size_t>(ds.n_interactions()) * 16 + 1024);
    out.arr(ds.offsets);
    out.arr(ds.items);
    if (ds.has_timestamps()) out.arr(ds.timestamps);
    for (int32_t u = 0; u < ds.n_users; ++u) out.str(ds.ids.user_name(u));
    for (int32_t i = 1; i <= ds.n_items; ++i) out.str(ds.ids.item_name(i));
    const LoadReport& r = ds.report;
    out.str(r.path);
    out.pod(static_cast<uint32_t>(r.format));
    out.str(r.format_reason);
    out.pod(r.lines);
    out.pod(r.skipped_lines);
    out.pod(static_cast<uint32_t>(r.skipped_examples.size()));
    for (const auto& s : r.skipped_examples) out.str(s);
    out.pod(r.below_threshold);
    out.pod(r.duplicate_lines);
    out.pod(r.repeats_removed);
    out.pod(r.kcore_removed);
    out.pod(static_cast<int32_t>(r.kcore_rounds));
    out.pod(r.single_interaction_users);
    h.payload_size = out.b.size();
    h.payload_checksum = checksum64(out.b.data(), out.b.size(), kCacheChecksumSeed);

    // Atomic: a reader sees the old file or the complete new one, never a half-written cache.
    std::string path = cache_path_for(opt);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return fail("cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("cannot create " + tmp + ": " + std::strerror(errno));
    auto write_all = [&](const void* data, std::size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    };
    bool ok = write_all(&h, sizeof h) && write_all(out.b.data(), out.b.size()) && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string err = std::strerror(errno);
        std::remove(tmp.c_str());
        return fail("cannot write " + path + ": " + err);
    }
    return true;
}

}  // namespace tt::data
