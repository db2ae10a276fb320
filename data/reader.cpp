// data/reader.cpp — line streaming, id interning, format detection and the per-format parsers.
#include "data/reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <filesystem>
#include <unordered_map>

namespace tt::data {

// ---------------------------------------------------------------------------------------------
// LineReader

LineReader::LineReader(const std::string& path, std::size_t chunk) : path_(path) {
    if (std::filesystem::is_directory(path))
        throw DataError(path + ": is a directory, not an interaction file");
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw DataError(path + ": cannot open: " + std::strerror(errno));
    // A file smaller than a chunk gets a buffer of its size: a 1 MiB buffer zero-filled for every
    // small file dominated loading it (the buffer still grows if the file turns out longer).
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    std::size_t size = std::max<std::size_t>(chunk, 64);
    if (!ec && bytes + 1 < size) size = std::max<std::size_t>(static_cast<std::size_t>(bytes) + 1, 64);
    buf_.resize(size);
}

LineReader::~LineReader() {
    if (f_) std::fclose(f_);
}

bool LineReader::refill() {
    // Keep the unfinished line, move it to the front, and grow only when one line fills the buffer.
    std::size_t rest = end_ - begin_;
    if (begin_ > 0) std::memmove(buf_.data(), buf_.data() + begin_, rest);
    begin_ = 0;
    end_ = rest;
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    std::size_t got = std::fread(buf_.data() + end_, 1, buf_.size() - end_, f_);
    if (got == 0) {
        if (std::ferror(f_)) throw DataError(path_ + ": read error: " + std::strerror(errno));
        eof_ = true;
        return false;
    }
    end_ += got;
    return true;
}

bool LineReader::next(std::string_view& line) {
    for (;;) {
        const char* p = buf_.data() + begin_;
        std::size_t n = end_ - begin_;
        const void* nl = n ? std::memchr(p, '\n', n) : nullptr;
        std::size_t len;
        if (nl) {
            len = static_cast<std::size_t>(static_cast<const char*>(nl) - p);
            begin_ += len + 1;
        } else if (eof_) {
            if (n == 0) return false;
            len = n;  // last line without a newline
            begin_ = end_;
        } else {
            refill();
            continue;
        }
        if (len > 0 && p[len - 1] == '\r') --len;
        line = std::string_view(p, len);
        if (first_) {
            first_ = false;
            if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
        }
        ++lineno_;
        return true;
    }
}

// ---------------------------------------------------------------------------------------------
// Field splitting and number parsing

namespace {

inline bool is_ws(char c) { return c == ' ' || c == '\t'; }

bool blank(std::string_view s) {
    for (char c : s)
        if (!is_ws(c)) return false;
    return true;
}

void split_ws(std::string_view s, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0, n = s.size();
    while (i < n) {
        while (i < n && is_ws(s[i])) ++i;
        if (i == n) break;
        std::size_t j = i;
        while (j < n && !is_ws(s[j])) ++j;
        out.emplace_back(s.data() + i, j - i);
        i = j;
    }
}

void split_sep(std::string_view s, std::string_view sep, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    for (;;) {
        std::size_t j = s.find(sep, i);
        if (j == std::string_view::npos) {
            out.push_back(s.substr(i));
            return;
        }
        out.push_back(s.substr(i, j - i));
        i = j + sep.size();
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

// One delimited line with RFC-4180 style quotes ("a, b" and "" inside quotes). Returns false on an
// unterminated quote. Unquoted fields are trimmed of surrounding spaces; `scratch` owns unescaped text.
bool split_delimited(std::string_view s, char delim, std::vector<std::string_view>& out, std::deque<std::string>& scratch) {
    out.clear();
    if (s.find('"') == std::string_view::npos) {  // fast path: no quotes on this line
        std::size_t i = 0;
        for (;;) {
            std::size_t j = s.find(delim, i);
            if (j == std::string_view::npos) {
                out.push_back(trim(s.substr(i)));
                return true;
            }
            out.push_back(trim(s.substr(i, j - i)));
            i = j + 1;
        }
    }
    scratch.clear();
    std::size_t i = 0, n = s.size();
    for (;;) {
        while (i < n && s[i] == ' ') ++i;
        if (i < n && s[i] == '"') {
            std::string& f = scratch.emplace_back();
            ++i;
            bool closed = false;
            while (i < n) {
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        f += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                f += s[i++];
            }
            if (!closed) return false;
            out.emplace_back(f);
            while (i < n && s[i] != delim) ++i;  // ignore anything between the quote and the delimiter
        } else {
            std::size_t j = s.find(delim, i);
            if (j == std::string_view::npos) j = n;
            out.push_back(trim(s.substr(i, j - i)));
            i = j;
        }
        if (i >= n) return true;
        ++i;  // skip the delimiter
        if (i == n) {
            out.emplace_back();
            return true;
        }
    }
}

// Parses a whole token as a number: integers take the exact fast path, then decimals/exponents.
bool parse_double(std::string_view t, double& v) {
    if (t.empty()) return false;
    const char* b = t.data();
    const char* e = b + t.size();
    if (*b == '+') ++b;
    int64_t iv;
    auto r = std::from_chars(b, e, iv);
    if (r.ec == std::errc() && r.ptr == e) {
        v = static_cast<double>(iv);
        return true;
    }
    auto rd = std::from_chars(b, e, v);
    return rd.ec == std::errc() && rd.ptr == e && v == v;  // rejects "nan"
}

bool parse_float(std::string_view t, float& v) {
    double d;
    if (!parse_double(t, d)) return false;
    v = static_cast<float>(d);
    return true;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// "user_id:token" -> "user_id" (RecBole atomic headers carry a type after the colon).
std::string_view strip_type(std::string_view s) {
    std::size_t c = s.find(':');
    return c == std::string_view::npos ? s : s.substr(0, c);
}

const std::vector<std::string>& default_names(int which) {
    static const std::vector<std::string> names[4] = {
        {"user_id", "user", "userid", "uid", "user_id_remap", "visitorid", "reviewerid"},
        {"item_id", "item", "itemid", "iid", "movieid", "movie_id", "product_id", "productid", "asin", "item_id_remap"},
        {"timestamp", "time", "ts", "unix_time", "unixreviewtime", "datetime"},
        {"rating", "score", "stars", "overall"}};
    return names[which];
}

// Every line problem goes through here: either throw, or count and keep the first few messages.
struct BadLines {
    const std::string& path;
    bool skip;
    RawLog& log;
    void operator()(int64_t line, std::string_view what, std::string_view text) {
        std::string msg = format_error(path, line, what, text);
        if (!skip) throw DataError(msg);
        ++log.skipped;
        if (log.skipped_examples.size() < 5) log.skipped_examples.push_back(std::move(msg));
    }
};

// Interns one id token, checking it (and canonicalising it when ids are numeric).
// Returns false with `what` set on a bad id.
bool intern_id(Interner& in, std::string_view tok, bool numeric, const char* kind, uint32_t& out, std::string& what) {
    if (tok.empty()) {
        what = std::string("empty ") + kind + " id";
        return false;
    }
    if (!numeric) {
        out = in.intern(tok);
        return true;
    }
    uint64_t v;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (r.ec == std::errc::result_out_of_range) {
        what = std::string(kind) + " id '" + std::string(tok) + "' overflows a 64-bit integer";
        return false;
    }
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) {
        what = std::string(kind) + " id '" + std::string(tok) + "' is not a non-negative integer (numeric ids)";
        return false;
    }
    char buf[24];
    auto w = std::to_chars(buf, buf + sizeof buf, v);
    out = in.intern(std::string_view(buf, static_cast<std::size_t>(w.ptr - buf)));
    return true;
}

struct Columns {
    int user = -1, item = -1, timestamp = -1, rating = -1;
    std::size_t n = 0;
    char delim = '\t';
};

int find_column(const std::vector<std::string>& header, const std::string& wanted, int which) {
    if (!wanted.empty()) {
        std::string w = lower(strip_type(wanted));
        for (std::size_t i = 0; i < header.size(); ++i)
            if (header[i] == w) return static_cast<int>(i);
        return -2;  // asked for a name that is not there
    }
    for (const std::string& cand : default_names(which))
        for (std::size_t i = 0; i < header.size(); ++i)
            if (header[i] == cand) return static_cast<int>(i);
    return -1;
}

char detect_delim(std::string_view header) {
    if (header.find('\t') != std::string_view::npos) return '\t';
    if (header.find(',') != std::string_view::npos) return ',';
    if (header.find(';') != std::string_view::npos) return ';';
    return ' ';
}

Columns parse_header(const std::string& path, std::string_view line, const LoadOptions& opt) {
    Columns c;
    c.delim = detect_delim(line);
    std::vector<std::string_view> f;
    std::deque<std::string> scratch;
    if (c.delim == ' ')
        split_ws(line, f);
    else
        split_delimited(line, c.delim, f, scratch);
    std::vector<std::string> names;
    for (auto x : f) names.push_back(lower(strip_type(x)));
    c.n = names.size();
    const ColumnMap& m = opt.columns;
    const char* kinds[4] = {"user", "item", "timestamp", "rating"};
    const std::string* wanted[4] = {&m.user, &m.item, &m.timestamp, &m.rating};
    int* slots[4] = {&c.user, &c.item, &c.timestamp, &c.rating};
    for (int k = 0; k < 4; ++k) {
        int idx = find_column(names, *wanted[k], k);
        if (idx == -2)
            throw DataError(format_error(path, 1, "no column named '" + *wanted[k] + "' for the " + kinds[k] + " in the header", line));
        if (idx == -1 && k < 2) {
            std::string expect;
            for (const auto& s : default_names(k)) expect += (expect.empty() ? "" : ", ") + s;
            throw DataError(format_error(path, 1,
                std::string("no ") + kinds[k] + " column in the header (expected one of " + expect + ", or map the column by name)", line));
        }
        *slots[k] = idx;
    }
    if (opt.rating_threshold && c.rating < 0)
        throw DataError(format_error(path, 1, "a rating threshold was given but the header has no rating column", line));
    return c;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Format detection

Format detect_format(const std::string& path, std::string* reason) {
    auto say = [&](std::string r) {
        if (reason) *reason = "detected: " + std::move(r);
    };
    std::string base = lower(std::filesystem::path(path).filename().string());
    if (base.ends_with(".inter")) {
        LineReader probe(path);  // still fail early on a missing file
        say("file name ends in .inter (RecBole atomic file)");
        return Format::Inter;
    }
    LineReader r(path);
    std::vector<std::string> lines;
    std::string_view l;
    while (lines.size() < 64 && r.next(l))
        if (!blank(l)) lines.emplace_back(l);
    if (lines.empty()) throw DataError(path + ": empty file: no interactions to read");
    const std::string& first = lines[0];
    std::string shown = first.substr(0, 80);  // for the reason text: one readable line
    std::replace(shown.begin(), shown.end(), '\t', ' ');
    if (first.find("::") != std::string::npos) {
        say("first line uses '::' separators (MovieLens ratings.dat)");
        return Format::MLDat;
    }
    // A header names at least one known column.
    {
        char d = detect_delim(first);
        std::vector<std::string_view> f;
        std::deque<std::string> scratch;
        if (d == ' ')
            split_ws(first, f);
        else
            split_delimited(first, d, f, scratch);
        bool typed = false, known = false;
        for (auto x : f) {
            if (x.find(':') != std::string_view::npos) typed = true;
            std::string n = lower(strip_type(x));
            for (int k = 0; k < 4; ++k)
                for (const auto& c : default_names(k))
                    if (n == c) known = true;
        }
        if (known && typed) {
            say("first line is a typed header (" + shown + ") as in RecBole atomic files");
            return Format::Inter;
        }
        if (known) {
            std::string dn = d == '\t' ? "tab" : d == ',' ? "comma" : d == ';' ? "semicolon" : "space";
            say("first line is a " + dn + "-separated header (" + shown + ")");
            return Format::Csv;
        }
    }
    bool all_tab4 = true, all_two = true, all_ge2 = true, user_repeats = false;
    std::size_t n_two = 0;
    std::vector<std::string_view> f;
    std::vector<std::string> first_tokens;
    for (const auto& line : lines) {
        std::size_t tabs = static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t'));
        split_ws(line, f);
        if (!(tabs == 3 && f.size() == 4)) all_tab4 = false;
        if (f.size() != 2) all_two = false;
        n_two += f.size() == 2;
        if (f.size() < 2) all_ge2 = false;
        if (!f.empty()) first_tokens.emplace_back(f[0]);
    }
    std::sort(first_tokens.begin(), first_tokens.end());
    user_repeats = std::adjacent_find(first_tokens.begin(), first_tokens.end()) != first_tokens.end();
    if (all_tab4 || base == "u.data") {
        say("4 tab-separated fields per line (MovieLens u.data: user item rating timestamp)");
        return Format::MLData;
    }
    if (first.find(',') != std::string::npos)
        throw DataError(path + ": cannot detect the format: comma-separated lines without a header naming the columns; "
                        "add a header (user_id,item_id,timestamp) or pass --format");
    if (all_two) {
        say("2 fields per line in the first " + std::to_string(lines.size()) + " lines (SASRec user-item pairs)");
        return Format::Pairs;
    }
    if (user_repeats && 2 * n_two >= lines.size()) {  // one-user-per-line files never repeat a user
        say("mostly 2 fields per line and user ids repeat across lines (SASRec user-item pairs)");
        return Format::Pairs;
    }
    if (all_ge2) {
        say("a varying number of fields per line (one user per line: user i1 i2 ...)");
        return Format::Sequences;
    }
    throw DataError(path + ": cannot detect the format from the first lines (" + shown + "); pass --format");
}

// ---------------------------------------------------------------------------------------------
// Parsers

RawLog read_raw(const std::string& path, Format format, const LoadOptions& opt) {
    if (format == Format::Auto) throw DataError(path + ": read_raw needs a concrete format");
    RawLog log;
    LineReader r(path);
    BadLines bad{path, opt.skip_bad_lines, log};
    std::vector<std::string_view> f;
    std::deque<std::string> scratch;
    std::string what;
    std::string_view line;
    const bool numeric = opt.numeric_ids;
    {
        // Reserve from the file size (>= ~6 bytes per interaction in every format) to avoid regrowth.
        std::error_code ec;
        auto bytes = static_cast<std::size_t>(std::filesystem::file_size(path, ec));
        if (!ec) {
            std::size_t guess = std::min<std::size_t>(bytes / 6 + 16, std::size_t{1} << 28);
            log.user.reserve(guess);
            log.item.reserve(guess);
            if (format != Format::Pairs && format != Format::Sequences) {
                log.timestamp.reserve(guess / 2);
                log.rating.reserve(guess / 2);
            }
        }
    }

    auto add = [&](uint32_t u, uint32_t i) {
        log.user.push_back(u);
        log.item.push_back(i);
    };
    // Parses user/item/rating/timestamp fields of one record (any may be absent: null view + flag).
    auto record = [&](std::string_view us, std::string_view is, const std::string_view* rs, const std::string_view* ts) -> bool {
        uint32_t u, i;
        if (!intern_id(log.users, us, numeric, "user", u, what)) return false;
        if (!intern_id(log.items, is, numeric, "item", i, what)) return false;
        float rating = 0;
        double t = 0;
        if (rs && !parse_float(*rs, rating)) {
            what = "rating is not a number: '" + std::string(*rs) + "'";
            return false;
        }
        if (ts && !parse_double(*ts, t)) {
            what = "timestamp is not a number: '" + std::string(*ts) + "' (expected seconds, e.g. 978300760)";
            return false;
        }
        add(u, i);
        if (rs) log.rating.push_back(rating);
        if (ts) log.timestamp.push_back(t);
        return true;
    };

    switch (format) {
    case Format::Pairs:
        while (r.next(line)) {
            if (blank(line)) continue;
            ++log.lines;
            split_ws(line, f);
            if (f.size() != 2) {
                bad(r.line_number(), "expected 2 fields (user item), found " + std::to_string(f.size()), line);
                continue;
            }
            if (!record(f[0], f[1], nullptr, nullptr)) bad(r.line_number(), what, line);
        }
        break;
    case Format::Sequences: {
        std::vector<int64_t> user_line;  // line where each user appeared, to report a repeated user
        while (r.next(line)) {
            if (blank(line)) continue;
            ++log.lines;
            split_ws(line, f);
            if (f.size() < 2) {
                bad(r.line_number(), "a user line needs at least one item (user i1 i2 ...)", line);
                continue;
            }
            uint32_t u;
            if (!intern_id(log.users, f[0], numeric, "user", u, what)) {
                bad(r.line_number(), what, line);
                continue;
            }
            if (u < user_line.size()) {
                bad(r.line_number(), "user '" + std::string(f[0]) + "' already has a line (line " +
                                         std::to_string(user_line[u]) + "); one user per line", line);
                continue;
            }
            user_line.push_back(r.line_number());
            std::size_t mark = log.item.size();
            bool ok = true;
            for (std::size_t k = 1; k < f.size(); ++k) {
                uint32_t i;
                if (!intern_id(log.items, f[k], numeric, "item", i, what)) {
                    ok = false;
                    break;
                }
                add(u, i);
            }
            if (!ok) {  // drop the partial line
                log.user.resize(mark);
                log.item.resize(mark);
                bad(r.line_number(), what, line);
            }
        }
        break;
    }
    case Format::MLData:
    case Format::MLDat:
        log.has_rating = log.has_timestamp = true;
        while (r.next(line)) {
            if (blank(line)) continue;
            ++log.lines;
            if (format == Format::MLData)
                split_ws(line, f);
            else
                split_sep(line, "::", f);
            if (f.size() != 4) {
                bad(r.line_number(), "expected 4 fields (user item rating timestamp" +
                                         std::string(format == Format::MLDat ? " separated by '::'" : "") +
                                         "), found " + std::to_string(f.size()), line);
                continue;
            }
            if (!record(f[0], f[1], &f[2], &f[3])) bad(r.line_number(), what, line);
        }
        break;
    case Format::Csv:
    case Format::Inter: {
        bool have_header = false;
        while (r.next(line))
            if (!blank(line)) {
                have_header = true;
                break;
            }
        if (!have_header) throw DataError(path + ": empty file: no header and no interactions");
        Columns c = parse_header(path, line, opt);
        log.has_timestamp = c.timestamp >= 0;
        log.has_rating = c.rating >= 0;
        while (r.next(line)) {
            if (blank(line)) continue;
            ++log.lines;
            bool ok = c.delim == ' ' ? (split_ws(line, f), true) : split_delimited(line, c.delim, f, scratch);
            if (!ok) {
                bad(r.line_number(), "unterminated quote", line);
                continue;
            }
            if (f.size() != c.n) {
                bad(r.line_number(), "expected " + std::to_string(c.n) + " fields as in the header, found " +
                                         std::to_string(f.size()), line);
                continue;
            }
            const std::string_view* rs = c.rating >= 0 ? &f[static_cast<std::size_t>(c.rating)] : nullptr;
            const std::string_view* ts = c.timestamp >= 0 ? &f[static_cast<std::size_t>(c.timestamp)] : nullptr;
            if (!record(f[static_cast<std::size_t>(c.user)], f[static_cast<std::size_t>(c.item)], rs, ts))
                bad(r.line_number(), what, line);
        }
        if (log.lines == 0) throw DataError(path + ": no interactions after the header");
        break;
    }
    case Format::Auto:
        break;
    }
    if (log.lines == 0) throw DataError(path + ": empty file: no interactions to read");
    if (log.size() == 0)
        throw DataError(path + ": every line was malformed (" + std::to_string(log.skipped) + " skipped); first: " +
                        (log.skipped_examples.empty() ? std::string() : log.skipped_examples[0]));
    if (opt.rating_threshold && !log.has_rating)
        throw DataError(path + ": a rating threshold was given but the " + std::string(format_name(format)) +
                        " format has no rating column");
    return log;
}

}  // namespace tt::data
