// tests/fuzz/fuzz_entry.cpp — the fuzz entry functions (see fuzz_entry.hpp).
#include "tests/fuzz/fuzz_entry.hpp"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "autodiff/var.hpp"
#include "data/cache.hpp"
#include "data/dataset.hpp"
#include "model/checkpoint.hpp"

namespace tt::fuzz {

namespace {

namespace fs = std::filesystem;

// A scratch directory for this process (in memory when /dev/shm exists: the readers take a path),
// removed at exit.
struct Scratch {
    fs::path dir;
    Scratch() {
        fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        dir = base / ("tttrec-fuzz-" + std::to_string(::getpid()));
        fs::create_directories(dir);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string write(const std::string& name, const char* data, std::size_t size) const {
        std::string path = (dir / name).string();
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(data, static_cast<std::streamsize>(size));
        return path;
    }
};

const Scratch& scratch() {
    static Scratch s;
    return s;
}

// Touches every value of a loaded dataset, so a sanitizer sees any bad offset or id.
void use(const data::Dataset& ds) {
    ds.validate();
    int64_t sum = 0;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        for (int32_t i : ds.sequence(u)) sum += i;
        sum += static_cast<int64_t>(ds.ids.user_name(u).size());
    }
    for (int32_t i = 1; i <= ds.n_items; ++i) sum += static_cast<int64_t>(ds.ids.item_name(i).size());
    sum += static_cast<int64_t>(ds.report.summary().size() + ds.stats().str().size());
    if (sum == -1) std::abort();  // keeps the loop from being optimised away
}

// The whole load_dataset pipeline (read, threshold, sort, repeats, k-core, renumbering) on the
// input as a file of format `f`: once with the defaults, once with every option turned on.
void run_reader(data::Format f, const char* file_name, const uint8_t* data, std::size_t size) {
    const std::string path = scratch().write(file_name, reinterpret_cast<const char*>(data), size);
    const bool has_rating = f == data::Format::MLData || f == data::Format::MLDat || f == data::Format::Csv ||
                            f == data::Format::Inter;
    for (int variant = 0; variant < 2; ++variant) {
        data::LoadOptions o;
        o.path = path;
        o.format = f;
        if (variant == 1) {
            o.skip_bad_lines = true;
            o.numeric_ids = true;
            o.repeats = data::Repeats::KeepFirst;
            o.min_user_interactions = 2;
            o.min_item_interactions = 2;
            if (has_rating) o.rating_threshold = 3.0f;
        }
        try {
            use(data::load_dataset(o));
        } catch (const data::DataError&) {
        }
    }
}

template <data::Format F>
void reader(const uint8_t* data, std::size_t size) {
    run_reader(F, F == data::Format::Inter ? "input.inter" : "input.txt", data, size);
}

// The cache: the header fields that tie a cache to its source (options key, source size and
// mtime) are set to those of a real cache of this process's source file, and the checksum is
// recomputed unless bit 0 of `reserved` is set, so the fuzzer reaches the payload decoding.
void cache(const uint8_t* data, std::size_t size) {
    struct Reference {
        data::LoadOptions opt;
        data::CacheHeader header{};
        Reference() {
            opt.path = scratch().write("cache-source.txt", "u1 a\nu1 b\nu2 a\nu2 c\nu3 b\n", 25);
            opt.use_cache = true;
            opt.cache_dir = (scratch().dir / "cache").string();
            data::load_dataset(opt);  // writes the cache
            std::ifstream in(data::cache_path_for(opt), std::ios::binary);
            in.read(reinterpret_cast<char*>(&header), sizeof header);
            if (!in) throw std::runtime_error("fuzz: could not write the reference cache");
        }
    };
    static Reference ref;
    std::string bytes(reinterpret_cast<const char*>(data), size);
    if (bytes.size() >= sizeof(data::CacheHeader)) {
        data::CacheHeader h;
        std::memcpy(&h, bytes.data(), sizeof h);
        h.options_key = ref.header.options_key;
        h.source_size = ref.header.source_size;
        h.source_mtime = ref.header.source_mtime;
        if ((h.reserved & 1) == 0) h.payload_checksum = tt::checksum64(bytes.data() + sizeof h, bytes.size() - sizeof h, tt::kCacheChecksumSeed);
        std::memcpy(bytes.data(), &h, sizeof h);
    }
    std::string why;
    std::optional<data::Dataset> ds = data::decode_cache(bytes, ref.opt, &why);
    if (ds) use(*ds);
}

// The checkpoint reader: decode, read every value, then load into a small fixed model (which
// checks names and shapes).
void safetensors(const uint8_t* data, std::size_t size) {
    try {
        std::map<std::string, std::string> meta;
        model::NamedTensors t = model::decode_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz", &meta);
        double sum = 0;
        for (const auto& [name, v] : t)
            for (int64_t i = 0; i < v.numel(); ++i) sum += static_cast<double>(v.data()[i]);
        if (sum == 1.2345e300) std::abort();  // keeps the loop from being optimised away
        model::ParamList params{{"embed.weight", ad::parameter(Tensor::zeros(Shape{5, 3}))},
                                {"norm.bias", ad::parameter(Tensor::zeros(Shape{3}))}};
        model::load_parameters(params, t, "fuzz");
    } catch (const model::CheckpointError&) {
    }
}

}  // namespace

const std::vector<Target>& targets() {
    using data::Format;
    static const std::vector<Target> all = {
        {"pairs", reader<Format::Pairs>},     {"sequences", reader<Format::Sequences>}, {"ml-100k", reader<Format::MLData>},
        {"ml-dat", reader<Format::MLDat>},    {"csv", reader<Format::Csv>},             {"inter", reader<Format::Inter>},
        {"auto", reader<Format::Auto>},       {"cache", cache},                         {"safetensors", safetensors},
    };
    return all;
}

const Target* find_target(const std::string& name) {
    for (const Target& t : targets())
        if (name == t.name) return &t;
    return nullptr;
}

}  // namespace tt::fuzz
