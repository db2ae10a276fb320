// tests/data/data_test_util.hpp — helpers shared by the data tests: scratch files, and where the
// malformed-file corpus and the real datasets live.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tt::data::testing {

namespace fs = std::filesystem;

// The source tree root: $TTTREC_SOURCE_ROOT (set by meson test), else found from this file's
// compile-time path, which meson writes relative to the build directory (= the test binary's parent's parent).
inline fs::path source_root() {
    if (const char* r = std::getenv("TTTREC_SOURCE_ROOT"); r && *r) return r;
    fs::path here = __FILE__;  // .../tests/data/data_test_util.hpp
    if (here.is_relative()) here = fs::read_symlink("/proc/self/exe").parent_path().parent_path() / here;
    here = here.lexically_normal();  // <root>/tests/data/data_test_util.hpp
    return here.parent_path().parent_path().parent_path();
}

inline fs::path malformed_dir() { return source_root() / "tests" / "data" / "malformed"; }

// The shared datasets: $TTTREC_SHARED_DATA, else ../shared/data next to the source tree.
inline fs::path shared_data_dir() {
    if (const char* d = std::getenv("TTTREC_SHARED_DATA"); d && *d) return d;
    return source_root().parent_path() / "shared" / "data";
}

// A fresh scratch directory removed at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("tttrec-data-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string write(const std::string& name, const std::string& text) const {
        fs::path p = path / name;
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    static int& counter() {
        static int c = 0;
        return c;
    }
};

}  // namespace tt::data::testing
