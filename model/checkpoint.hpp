// model/checkpoint.hpp — weights on disk in the safetensors format, written atomically.
//
// safetensors (the format of Hugging Face / PyTorch tooling): 8 bytes little-endian header length
// N, then N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
// "__metadata__": {"key": "string", ...}}, then the raw little-endian tensor bytes. tttrec writes
// F32 and reads F32, F64, F16 and BF16 (converted to float32).
//
// Writing: to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the directory. A crash at any
// moment leaves either the old file or the new one, never a mix; a full disk or an unwritable
// directory throws CheckpointError and leaves the old file in place. A leftover "*.tmp.<pid>"
// (from a process killed mid-write) is never read as a checkpoint: readers open the final name.
// Reading: every header field is validated before any byte is used (header size bounds, JSON
// syntax, dtypes, shapes, offsets inside the file and consistent with the shapes, no overlap), so
// a truncated, corrupted or hostile file gives a clear error, never an out-of-bounds read.
//
// Checksum: safetensors has none, so a flipped bit in the tensor data would load as a silently
// different weight. tttrec therefore adds one metadata entry, "tttrec_checksum" (16 hex digits: a
// 64-bit hash of the header, with those digits as zeros, and of the data), and checks it when
// present. Other tools ignore metadata they do not know; their files, without the entry, load
// unchecked. decode_safetensors() does not return the entry in `metadata`.
//
// Test hook (off by default; nothing sets it but the crash tests): the environment variable
// TTTREC_TEST_KILL_DURING_WRITE=N, or NAME:N, makes the process SIGKILL itself after writing half
// of the temporary file of its N-th atomic_write_file (the N-th of files named NAME, if given,
// e.g. "resume.safetensors:2"), so a test can kill a run exactly in the middle of a checkpoint write.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/module.hpp"

namespace tt::model {

struct CheckpointError : std::runtime_error {
    using std::runtime_error::runtime_error;
};


// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
void atomic_write_file(const std::string& path, const std::string& bytes);
// Reads a whole file; throws CheckpointError naming the file if it cannot.
std::string read_file_bytes(const std::string& path);

std::string encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});
NamedTensors decode_safetensors(const std::string& bytes, const std::string& source_name,
                                std::map<std::string, std::string>* metadata = nullptr);

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Copies a parameter list's values out / in. load_parameters checks that the names match exactly
// (reporting missing and unexpected names) and that every shape agrees, before changing anything.
NamedTensors parameter_values(const ParamList& params);
void load_parameters(const ParamList& params, const NamedTensors& tensors, const std::string& source_name);

}  // namespace tt::model
