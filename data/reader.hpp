// data/reader.hpp — streaming readers for the interaction file formats (the parsing half of
// load_dataset). Exposed for tests and benchmarks; trainers should call load_dataset().
//
// Files are read in 1 MiB chunks and split into lines in place (no per-line allocation); fields
// are parsed with std::from_chars and ids are interned in an open-addressing hash table, so the
// reader runs at millions of lines per second.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.hpp"
#include "data/interner.hpp"

namespace tt::data {

// Reads a file line by line with a large buffer. Lines are returned without '\n' / "\r\n"; a UTF-8
// byte-order mark at the start is dropped. The view is valid until the next call to next().
class LineReader {
public:
    explicit LineReader(const std::string& path, std::size_t chunk = std::size_t{1} << 20);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    bool next(std::string_view& line);       // false at end of file
    int64_t line_number() const { return lineno_; }  // 1-based number of the last line returned
    const std::string& path() const { return path_; }

private:
    bool refill();
    std::string path_;
    std::FILE* f_ = nullptr;
    std::vector<char> buf_;
    std::size_t begin_ = 0, end_ = 0;
    bool eof_ = false;
    bool first_ = true;
    int64_t lineno_ = 0;
};

// The raw records of one file, in file order, before any preprocessing.
struct RawLog {
    Interner users, items;
    std::vector<uint32_t> user;     // (n) interned user index
    std::vector<uint32_t> item;     // (n) interned item index
    std::vector<double> timestamp;  // (n) or empty
    std::vector<float> rating;      // (n) or empty
    bool has_timestamp = false, has_rating = false;
    int64_t lines = 0;              // data lines read
    int64_t skipped = 0;
    std::vector<std::string> skipped_examples;
    std::size_t size() const { return user.size(); }
};

// Detects the format of a file from its name and first lines. `reason` says why, in words.
Format detect_format(const std::string& path, std::string* reason);

// Streams the file into a RawLog. `format` must not be Auto. Throws DataError on the first bad
// line unless opt.skip_bad_lines.
RawLog read_raw(const std::string& path, Format format, const LoadOptions& opt);

}  // namespace tt::data
