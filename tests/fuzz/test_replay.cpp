// tests/fuzz/test_replay.cpp — replays the committed fuzz corpus (tests/fuzz/corpus/<target>/,
// the inputs libFuzzer kept for new coverage, plus every input that once crashed tttrec) through
// the same entry functions as the fuzz targets: each must load or fail with the loader's own
// error, never crash. Runs in the normal suite, without clang.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/data/data_test_util.hpp"
#include "tests/fuzz/fuzz_entry.hpp"

namespace fs = std::filesystem;

TEST_SUITE("fuzz/replay") {
    TEST_CASE("every committed fuzz input loads or fails cleanly") {
        const fs::path root = tt::data::testing::source_root() / "tests" / "fuzz" / "corpus";
        REQUIRE(fs::is_directory(root));
        for (const tt::fuzz::Target& target : tt::fuzz::targets()) {
            std::vector<fs::path> files;
            if (fs::is_directory(root / target.name))
                for (const auto& e : fs::directory_iterator(root / target.name))
                    if (e.is_regular_file()) files.push_back(e.path());
            std::sort(files.begin(), files.end());
            CAPTURE(target.name);
            CHECK(files.size() > 0);  // every target has a corpus
            for (const fs::path& f : files) {
                std::ifstream in(f, std::ios::binary);
                std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                std::string name = f.filename().string();
                CAPTURE(name);
                CHECK_NOTHROW(target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
            }
        }
    }
}
