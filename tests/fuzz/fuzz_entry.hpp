// tests/fuzz/fuzz_entry.hpp — the entry functions of the fuzz targets: each takes the raw bytes of
// one input and runs them through one loader of tttrec (a data reader, the dataset cache, the
// safetensors checkpoint reader).
//
// Two callers share them: the libFuzzer targets (fuzz_main.cpp, built with -Dfuzz=true and clang),
// and the regression test (test_replay.cpp, in the normal suite) that replays the committed corpus
// in tests/fuzz/corpus/<target>/. An entry returns normally when the loader accepted the input or
// rejected it with its documented error (DataError, CheckpointError); any other exception, a
// crash or a sanitizer report is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tt::fuzz {

struct Target {
    const char* name;  // also the corpus folder: tests/fuzz/corpus/<name>/
    void (*run)(const uint8_t* data, std::size_t size);
};

// pairs, sequences, ml-100k, ml-dat, csv, inter, auto (format detection), cache, safetensors.
const std::vector<Target>& targets();
const Target* find_target(const std::string& name);

}  // namespace tt::fuzz
