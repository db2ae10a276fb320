// model/checkpoint.cpp — safetensors encode/decode with full validation, and atomic file writes.
#include "model/checkpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tensor/checksum.hpp"

namespace tt::model {

namespace {

using json = nlohmann::ordered_json;  // keeps tensors in file order

// Headers larger than this are refused (the format's reference implementation uses 100 MB).
constexpr uint64_t kMaxHeader = 100ull << 20;

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw CheckpointError(where + ": " + what); }

std::string errno_text() { return std::strerror(errno); }

// The metadata entry holding the checksum (see checkpoint.hpp); written as 16 zeros first, then
// patched, so the hash can cover the header that carries it.
constexpr const char* kChecksumKey = "tttrec_checksum";
constexpr const char* kChecksumZeros = "0000000000000000";

// 64-bit hash of a byte range: the project's checksum (tensor/checksum.hpp) with the checkpoints' seed.
uint64_t hash_bytes(const char* p, std::size_t n) { return tt::checksum64(p, n, kCheckpointChecksumSeed); }

uint64_t file_checksum(const std::string& header_with_zeros, const char* data, std::size_t n) {
    return hash_bytes(header_with_zeros.data(), header_with_zeros.size()) * 0x9E3779B97F4A7C15ull ^ hash_bytes(data, n);
}

std::string hex16(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// TTTREC_TEST_KILL_DURING_WRITE (see checkpoint.hpp): "N" or "NAME:N"; read once per process.
struct KillHook {
    std::string name;  // empty: count every write
    long at = 0;       // 0: off
    std::atomic<long> seen{0};
    KillHook() {
        const char* v = std::getenv("TTTREC_TEST_KILL_DURING_WRITE");
        if (!v || !*v) return;
        std::string s = v;
        std::size_t colon = s.rfind(':');
        if (colon != std::string::npos) name = s.substr(0, colon), s = s.substr(colon + 1);
        at = std::strtol(s.c_str(), nullptr, 10);
    }
    // True when this write (of `path`) is the one to be killed in.
    bool hit(const std::string& path) {
        if (at <= 0) return false;
        std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
        if (!name.empty() && base != name) return false;
        return ++seen == at;
    }
};

// float16 / bfloat16 -> float32 (exact; the wider format holds every value).
float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FFu) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// files

void atomic_write_file(const std::string& path, const std::string& bytes) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(path, "cannot create temporary file " + tmp + ": " + errno_text());
    static KillHook kill_hook;
    const bool kill_midway = kill_hook.hit(path);  // the test hook: write half, then die
    const std::size_t to_write = kill_midway ? bytes.size() / 2 : bytes.size();
    std::size_t done = 0;
    while (done < to_write) {
        ssize_t n = ::write(fd, bytes.data() + done, to_write - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::string err = errno_text();
            ::close(fd);
            ::unlink(tmp.c_str());
            fail(path, "write failed (" + err + "); the previous file is unchanged");
        }
        done += static_cast<std::size_t>(n);
    }
    if (kill_midway) ::kill(::getpid(), SIGKILL);
    bool flushed = ::fsync(fd) == 0;
    std::string err = flushed ? "" : errno_text();
    if (::close(fd) != 0 && flushed) flushed = false, err = errno_text();  // close always, even after a failed fsync
    if (!flushed) {
        ::unlink(tmp.c_str());
        fail(path, "flush failed (" + err + "); the previous file is unchanged");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string err = errno_text();
        ::unlink(tmp.c_str());
        fail(path, "rename failed (" + err + "); the previous file is unchanged");
    }
    // Make the rename itself durable.
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.find_last_of('/'));
    if (dir.empty()) dir = "/";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open: " + errno_text());
    std::ostringstream os;
    os << in.rdbuf();
    if (in.bad()) fail(path, "read error");
    return os.str();
}

// ------------------------------------------------------------------------------------------------
// safetensors

std::string encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    json meta = metadata;
    TT_CHECK(!meta.contains(kChecksumKey), std::string("safetensors: metadata key '") + kChecksumKey + "' is reserved");
    meta[kChecksumKey] = kChecksumZeros;  // patched below, once the bytes are known
    header["__metadata__"] = meta;
    uint64_t offset = 0;
    std::set<std::string> seen;
    for (const auto& [name, t] : tensors) {
        TT_CHECK(seen.insert(name).second, "safetensors: duplicate tensor name '" + name + "'");
        TT_CHECK(name != "__metadata__", "safetensors: reserved tensor name");
        uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
        json shape = json::array();
        for (int64_t d : t.shape()) shape.push_back(d);
        header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned (as the reference writer does)
    std::string out;
    out.reserve(8 + h.size() + offset);
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));  // little-endian
    out += h;
    for (const auto& [name, t] : tensors)
        out.append(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.numel()) * sizeof(float));
    // The checksum covers the header (with the digits still zero) and the data.
    const std::string zeros_entry = std::string("\"") + kChecksumKey + "\":\"" + kChecksumZeros + "\"";
    const std::size_t at = h.find(zeros_entry);
    TT_CHECK(at != std::string::npos, "safetensors: checksum entry not found in the header");
    std::string sum = hex16(file_checksum(h, out.data() + 8 + h.size(), static_cast<std::size_t>(offset)));
    out.replace(8 + at + zeros_entry.size() - 17, 16, sum);
    return out;
}

NamedTensors decode_safetensors(const std::string& bytes, const std::string& src,
                                std::map<std::string, std::string>* metadata) {
    if (bytes.size() < 8) fail(src, "not a safetensors file: " + std::to_string(bytes.size()) + " bytes, need at least 8");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    if (n > kMaxHeader) fail(src, "header length " + std::to_string(n) + " exceeds the 100 MB limit (corrupt file?)");
    if (n > bytes.size() - 8)
        fail(src, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(bytes.size()) +
                      " bytes): truncated?");
    json header;
    try {
        header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    } catch (const json::exception& e) {
        fail(src, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(src, "header is not a JSON object");
    const uint64_t data_size = bytes.size() - 8 - n;
    const char* data = bytes.data() + 8 + n;

    struct Entry {
        std::string name;
        std::string dtype;
        Shape shape;
        uint64_t begin, end;
    };
    std::vector<Entry> entries;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        if (name == "__metadata__") {
            if (!it->is_object()) fail(src, "__metadata__ is not an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) fail(src, "__metadata__[\"" + m.key() + "\"] is not a string");
                if (metadata && m.key() != kChecksumKey) (*metadata)[m.key()] = m->get<std::string>();
            }
            continue;
        }
        const json& e = *it;
        std::string where = src + ": tensor '" + name + "'";
        if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
            throw CheckpointError(where + ": needs dtype, shape and data_offsets");
        if (!e["dtype"].is_string()) throw CheckpointError(where + ": dtype is not a string");
        Entry en;
        en.name = name;
        en.dtype = e["dtype"].get<std::string>();
        if (!e["shape"].is_array() || e["shape"].size() > static_cast<std::size_t>(kMaxRank))
            throw CheckpointError(where + ": shape must be an array of at most " + std::to_string(kMaxRank) + " sizes");
        uint64_t numel = 1;
        for (const json& d : e["shape"]) {
            if (!d.is_number_unsigned()) throw CheckpointError(where + ": shape has a non-integer or negative size");
            uint64_t v = d.get<uint64_t>();
            if (v > (1ull << 40) || (v && numel > (1ull << 40) / v)) throw CheckpointError(where + ": shape too large");
            numel *= v;
            en.shape.push_back(static_cast<int64_t>(v));
        }
        const json& off = e["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw CheckpointError(where + ": data_offsets must be two non-negative integers");
        en.begin = off[0].get<uint64_t>();
        en.end = off[1].get<uint64_t>();
        uint64_t width = en.dtype == "F32" ? 4 : en.dtype == "F64" ? 8 : (en.dtype == "F16" || en.dtype == "BF16") ? 2 : 0;
        if (!width) throw CheckpointError(where + ": unsupported dtype " + en.dtype + " (F32, F64, F16, BF16 are read)");
        if (en.begin > en.end || en.end > data_size)
            throw CheckpointError(where + ": data_offsets [" + std::to_string(en.begin) + ", " + std::to_string(en.end) +
                                  ") lie outside the " + std::to_string(data_size) + " data bytes: truncated or corrupt");
        if (en.end - en.begin != numel * width)
            throw CheckpointError(where + ": " + std::to_string(en.end - en.begin) + " bytes for shape " + en.shape.str() +
                                  " of " + en.dtype);
        entries.push_back(en);
    }
    // Regions may not overlap (the format requires a contiguous, non-overlapping layout).
    std::vector<std::pair<uint64_t, uint64_t>> regions;
    for (const Entry& e : entries)
        if (e.end > e.begin) regions.emplace_back(e.begin, e.end);
    std::sort(regions.begin(), regions.end());
    for (std::size_t i = 1; i < regions.size(); ++i)
        if (regions[i].first < regions[i - 1].second) fail(src, "tensor data regions overlap");

    // tttrec's own files carry a checksum (checkpoint.hpp): verify it before using any value (after
    // the layout checks, so that a truncated file is reported as truncated).
    if (header.contains("__metadata__") && header["__metadata__"].is_object() && header["__metadata__"].contains(kChecksumKey)) {
        const json& stored = header["__metadata__"][kChecksumKey];
        // The entry must appear exactly as tttrec writes it, so the digits can be zeroed in place.
        const std::string entry = stored.is_string() ? std::string("\"") + kChecksumKey + "\":\"" + stored.get<std::string>() + "\"" : "";
        std::string head(bytes, 8, static_cast<std::size_t>(n));
        const std::size_t at = entry.empty() ? std::string::npos : head.find(entry);
        if (entry.size() != std::strlen(kChecksumKey) + 21 || at == std::string::npos || head.find(entry, at + 1) != std::string::npos)
            fail(src, std::string("malformed ") + kChecksumKey + " entry in the metadata (corrupt file?)");
        head.replace(at + entry.size() - 17, 16, kChecksumZeros);
        if (hex16(file_checksum(head, data, static_cast<std::size_t>(data_size))) != stored.get<std::string>())
            fail(src, "checksum mismatch: the file is corrupt (a flipped bit or a partial overwrite); it cannot be trusted");
    }

    NamedTensors out;
    for (const Entry& e : entries) {
        Tensor t = Tensor::empty(e.shape);
        const char* p = data + e.begin;
        float* dst = t.data();
        const int64_t count = t.numel();
        if (e.dtype == "F32") {
            if (count) std::memcpy(dst, p, static_cast<std::size_t>(count) * 4);
        } else if (e.dtype == "F64") {
            for (int64_t i = 0; i < count; ++i) {
                double d;
                std::memcpy(&d, p + 8 * i, 8);
                dst[i] = static_cast<float>(d);
            }
        } else {
            for (int64_t i = 0; i < count; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                if (e.dtype == "F16") {
                    dst[i] = half_to_float(h);
                } else {  // BF16: the top half of a float32
                    uint32_t bits = static_cast<uint32_t>(h) << 16;
                    std::memcpy(&dst[i], &bits, 4);
                }
            }
        }
        out.emplace_back(e.name, std::move(t));
    }
    return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
    atomic_write_file(path, encode_safetensors(tensors, metadata));
}

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
    return decode_safetensors(read_file_bytes(path), path, metadata);
}

NamedTensors parameter_values(const ParamList& params) {
    NamedTensors out;
    for (const auto& [name, v] : params) out.emplace_back(name, v.value());
    return out;
}

void load_parameters(const ParamList& params, const NamedTensors& tensors, const std::string& src) {
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : tensors) by_name[name] = &t;
    std::string missing, mismatched;
    std::set<std::string> used;
    for (const auto& [name, v] : params) {
        auto it = by_name.find(name);
        if (it == by_name.end()) {
            missing += (missing.empty() ? "" : ", ") + name;
            continue;
        }
        used.insert(name);
        if (it->second->shape() != v.shape())
            mismatched += (mismatched.empty() ? "" : ", ") + name + " " + it->second->shape().str() + " vs model " + v.shape().str();
    }
    std::string unexpected;
    for (const auto& [name, t] : tensors)
        if (!used.count(name)) unexpected += (unexpected.empty() ? "" : ", ") + name;
    std::string err;
    if (!missing.empty()) err += " missing: " + missing + ".";
    if (!unexpected.empty()) err += " unexpected: " + unexpected + ".";
    if (!mismatched.empty()) err += " shape mismatch: " + mismatched + ".";
    if (!err.empty()) throw CheckpointError(src + ": checkpoint does not match the model:" + err);
    for (const auto& [name, v] : params) {
        Var var = v;
        Tensor& dst = var.mutable_value();
        const Tensor& s = *by_name[name];
        std::memcpy(dst.data(), s.data(), static_cast<std::size_t>(s.numel()) * sizeof(float));
    }
}

}  // namespace tt::model
