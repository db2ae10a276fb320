// tests/fuzz/fuzz_main.cpp — one libFuzzer target: the entry named by TTTREC_FUZZ_TARGET (set by
// tests/fuzz/meson.build, one executable per entry of fuzz_entry.hpp). Run, e.g.:
//   build-fuzz/tests/fuzz/fuzz_csv -max_total_time=120 -max_len=2048 new-corpus tests/fuzz/corpus/csv
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static const tt::fuzz::Target* target = [] {
        const tt::fuzz::Target* t = tt::fuzz::find_target(TTTREC_FUZZ_TARGET);
        if (!t) std::fprintf(stderr, "no fuzz entry named %s\n", TTTREC_FUZZ_TARGET), std::abort();
        return t;
    }();
    target->run(data, size);
    return 0;
}
