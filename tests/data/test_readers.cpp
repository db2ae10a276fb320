// tests/data/test_readers.cpp — every input format on small generated files, format detection,
// id maps, and the corpus of malformed files in tests/data/malformed/ with their exact messages.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/reader.hpp"
#include "data/throughput.hpp"
#include "tests/data/data_test_util.hpp"

using namespace tt::data;
using tt::data::testing::malformed_dir;
using tt::data::testing::TempDir;

namespace {

// The dataset in original ids: user -> items in dataset order.
std::vector<std::pair<std::string, std::vector<std::string>>> as_names(const Dataset& ds) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        std::vector<std::string> items;
        for (int32_t i : ds.sequence(u)) items.emplace_back(ds.ids.item_name(i));
        out.emplace_back(ds.ids.user_name(u), items);
    }
    return out;
}

using Seqs = std::vector<std::pair<std::string, std::vector<std::string>>>;

// One small log, written below in every format. Rows are out of time order on purpose:
//   (user, item, rating, timestamp)
//   alice i3 5 300 | bob i1 3 100 | alice i1 4 100 | alice i2 2 200 | bob i2 5 50 | carol i9 1 10
const Seqs kByTime = {{"alice", {"i1", "i2", "i3"}}, {"bob", {"i2", "i1"}}, {"carol", {"i9"}}};

Dataset load(const std::string& path, Format f = Format::Auto) {
    LoadOptions o;
    o.path = path;
    o.format = f;
    return load_dataset(o);
}

std::string load_error(const LoadOptions& o) {
    try {
        load_dataset(o);
    } catch (const DataError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string malformed(const std::string& name, Format f = Format::Auto, bool numeric = false) {
    LoadOptions o;
    o.path = (malformed_dir() / name).string();
    o.format = f;
    o.numeric_ids = numeric;
    return load_error(o);
}

}  // namespace

TEST_SUITE("data/readers") {

TEST_CASE("every format with timestamps loads the same chronological sequences") {
    TempDir dir;
    struct Case {
        std::string file, text;
        Format expect;
    };
    const std::vector<Case> cases = {
        {"u.data", "alice\ti3\t5\t300\nbob\ti1\t3\t100\nalice\ti1\t4\t100\nalice\ti2\t2\t200\nbob\ti2\t5\t50\ncarol\ti9\t1\t10\n",
         Format::MLData},
        {"ratings.dat", "alice::i3::5::300\nbob::i1::3::100\nalice::i1::4::100\nalice::i2::2::200\nbob::i2::5::50\ncarol::i9::1::10\n",
         Format::MLDat},
        {"log.csv",
         "user_id,item_id,rating,timestamp\nalice,i3,5,300\nbob,i1,3,100\nalice,i1,4,100\nalice,i2,2,200\nbob,i2,5,50\ncarol,i9,1,10\n",
         Format::Csv},
        {"log.tsv", "timestamp\tuser\titem\n300\talice\ti3\n100\tbob\ti1\n100\talice\ti1\n200\talice\ti2\n50\tbob\ti2\n10\tcarol\ti9\n",
         Format::Csv},
        {"semi.csv", "userId;movieId;rating;timestamp\nalice;i3;5;300\nbob;i1;3;100\nalice;i1;4;100\nalice;i2;2;200\nbob;i2;5;50\ncarol;i9;1;10\n",
         Format::Csv},
        {"log.inter",
         "user_id:token\titem_id:token\trating:float\ttimestamp:float\nalice\ti3\t5\t300.0\nbob\ti1\t3\t100\nalice\ti1\t4\t100\n"
         "alice\ti2\t2\t200\nbob\ti2\t5\t50\ncarol\ti9\t1\t1e1\n",
         Format::Inter},
        {"crlf.csv", "user_id,item_id,rating,timestamp\r\nalice,i3,5,300\r\nbob,i1,3,100\r\nalice,i1,4,100\r\nalice,i2,2,200\r\nbob,i2,5,50\r\ncarol,i9,1,10",
         Format::Csv},  // CRLF and no final newline
        {"quoted.csv",
         "\xEF\xBB\xBF\"user_id\",\"item_id\",\"rating\",\"timestamp\"\n\"alice\",\"i3\",5,300\nbob,i1,3,100\nalice,\"i1\",4,100\n"
         "alice,i2,2,200\nbob,i2,5,50\ncarol,i9,1,10\n",
         Format::Csv},  // UTF-8 BOM and quoted fields
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        std::string p = dir.write(c.file, c.text);
        Dataset ds = load(p);
        CHECK(ds.report.format == c.expect);
        CHECK(ds.report.format_reason.starts_with("detected: "));
        CHECK(as_names(ds) == kByTime);
        CHECK(ds.has_timestamps());
        CHECK(ds.n_users == 3);
        CHECK(ds.n_items == 4);
        CHECK(ds.n_interactions() == 6);
        ds.validate();
        // Explicitly naming the format gives the same result.
        CHECK(as_names(load(p, c.expect)) == kByTime);
    }
}

TEST_CASE("formats without timestamps keep the file order") {
    TempDir dir;
    std::string pairs = dir.write("pairs.txt", "alice i1\nbob i2\nalice i2\nbob i1\nalice i3\ncarol i9\n");
    std::string seqs = dir.write("seqs.txt", "alice i1 i2 i3\nbob i2 i1\ncarol i9\n");
    Dataset a = load(pairs), b = load(seqs);
    CHECK(a.report.format == Format::Pairs);
    CHECK(b.report.format == Format::Sequences);
    CHECK(as_names(a) == kByTime);
    CHECK(as_names(b) == kByTime);
    CHECK_FALSE(a.has_timestamps());
    CHECK(a.times(0).empty());
}

TEST_CASE("ties in time keep the file order (stable sort)") {
    TempDir dir;
    std::string p = dir.write("t.csv", "user_id,item_id,timestamp\nu,c,5\nu,a,1\nu,z,5\nu,b,5\n");
    CHECK(as_names(load(p)) == Seqs{{"u", {"a", "c", "z", "b"}}});
}

TEST_CASE("string ids map to dense ids and back; numeric ids keep their order") {
    TempDir dir;
    Dataset ds = load(dir.write("s.txt", "zed apple\namy pear\nzed pear\n"));
    // first appearance: users zed=0, amy=1; items apple=1, pear=2; 0 is the padding item
    CHECK(ds.ids.user_name(0) == "zed");
    CHECK(ds.ids.item_name(0) == "<pad>");
    CHECK(ds.ids.item_name(1) == "apple");
    CHECK(ds.ids.item_id("pear") == 2);
    CHECK(ds.ids.user_id("amy") == 1);
    CHECK_FALSE(ds.ids.item_id("<pad>").has_value());
    CHECK_FALSE(ds.ids.user_id("nobody").has_value());

    // All-numeric ids are ordered by value, so a file with ids 1..N keeps dense id == original id.
    Dataset n = load(dir.write("n.txt", "3 30\n1 20\n2 10\n1 30\n"));
    CHECK(n.ids.user_name(0) == "1");
    CHECK(n.ids.item_name(1) == "10");
    CHECK(n.ids.item_name(3) == "30");
    CHECK(as_names(n) == Seqs{{"1", {"20", "30"}}, {"2", {"10"}}, {"3", {"30"}}});

    // numeric_ids canonicalises: "007" and "7" are the same user.
    LoadOptions o;
    o.path = dir.write("z.txt", "007 1\n7 2\n");
    o.numeric_ids = true;
    Dataset z = load_dataset(o);
    CHECK(z.n_users == 1);
    CHECK(z.ids.user_name(0) == "7");
    o.numeric_ids = false;
    CHECK(load_dataset(o).n_users == 2);
}

TEST_CASE("column mapping by name") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("m.csv", "who,what,when,stars\nalice,i3,300,5\nalice,i1,100,4\n");
    o.columns = {"who", "what", "when", "stars"};
    o.format = Format::Csv;
    Dataset ds = load_dataset(o);
    CHECK(as_names(ds) == Seqs{{"alice", {"i1", "i3"}}});
    o.columns.timestamp = "never";
    CHECK(load_error(o) == o.path + ":1: no column named 'never' for the timestamp in the header: who,what,when,stars");
}

TEST_CASE("auto detection says what it chose") {
    TempDir dir;
    Dataset ds = load(dir.write("x.txt", "1 5\n1 6\n2 5\n"));
    CHECK(ds.report.format_reason == "detected: 2 fields per line in the first 3 lines (SASRec user-item pairs)");
    CHECK(ds.report.summary().find("as pairs (detected: 2 fields") != std::string::npos);
    CHECK(parse_format("ml-100k") == Format::MLData);
    CHECK(parse_format("tsv") == Format::Csv);
    CHECK(format_name(Format::Inter) == "inter");
    CHECK_THROWS_WITH_AS(parse_format("parquet"),
                         "unknown format 'parquet' (valid: auto, pairs, sequences, ml-100k, ml-dat, csv, inter)", DataError);
}

TEST_CASE("LineReader handles lines longer than its buffer, CRLF and a missing final newline") {
    TempDir dir;
    std::string longline(5000, 'x');
    std::string p = dir.write("l.txt", "a\r\n" + longline + "\nlast");
    LineReader r(p, 64);  // tiny chunk: forces refills and buffer growth
    std::string_view l;
    REQUIRE(r.next(l));
    CHECK(l == "a");
    REQUIRE(r.next(l));
    CHECK(l == longline);
    REQUIRE(r.next(l));
    CHECK(l == "last");
    CHECK(r.line_number() == 3);
    CHECK_FALSE(r.next(l));
}

TEST_CASE("Interner keeps ids stable through growth") {
    Interner in;
    bool dense = true;
    for (int i = 0; i < 100000; ++i) dense = dense && in.intern("id" + std::to_string(i)) == static_cast<uint32_t>(i);
    CHECK(dense);
    CHECK(in.size() == 100000);
    CHECK(in.intern("id777") == 777u);
    CHECK(in.name(99999) == "id99999");
    CHECK(in.find("id5") == 5u);
    CHECK_FALSE(in.find("id-1").has_value());

    // Small canonical decimals take the direct table, everything else the hash table; both agree.
    Interner num;
    const char* keys[] = {"5", "123", "0", "007", "7", "4194303", "4194304", "99999999999", "-1"};
    for (uint32_t k = 0; k < 9; ++k) CHECK(num.intern(keys[k]) == k);
    for (uint32_t k = 0; k < 9; ++k) {
        CHECK(num.intern(keys[k]) == k);
        CHECK(num.find(keys[k]) == k);
        CHECK(num.name(k) == keys[k]);
    }
    CHECK_FALSE(num.find("6").has_value());
    CHECK_FALSE(num.find("0007").has_value());
}

TEST_CASE("malformed files stop with file:line: what is wrong: the line") {
    const std::string d = malformed_dir().string() + "/";
    CHECK(malformed("pairs_three_fields.txt") == d + "pairs_three_fields.txt:3: expected 2 fields (user item), found 3: 1 12 13");
    CHECK(malformed("empty.txt") == d + "empty.txt: empty file: no interactions to read");
    CHECK(malformed("empty.txt", Format::Pairs) == d + "empty.txt: empty file: no interactions to read");
    CHECK(malformed("blank_lines_only.txt", Format::Sequences) == d + "blank_lines_only.txt: empty file: no interactions to read");
    CHECK(malformed("ml_bad_timestamp.data") ==
          d + "ml_bad_timestamp.data:2: timestamp is not a number: 'yesterday' (expected seconds, e.g. 978300760): 1 3 4 yesterday");
    CHECK(malformed("ml_bad_rating.data", Format::MLData) ==
          d + "ml_bad_rating.data:1: rating is not a number: 'five': 1 2 five 881250949");
    CHECK(malformed("ml_three_fields.data", Format::MLData) ==
          d + "ml_three_fields.data:1: expected 4 fields (user item rating timestamp), found 3: 1 2 5");
    CHECK(malformed("dat_three_fields.dat") ==
          d + "dat_three_fields.dat:1: expected 4 fields (user item rating timestamp separated by '::'), found 3: 1::2::5");
    CHECK(malformed("csv_no_user_column.csv", Format::Csv) ==
          d + "csv_no_user_column.csv:1: no user column in the header (expected one of user_id, user, userid, uid, user_id_remap, "
              "visitorid, reviewerid, or map the column by name): customer,product,time");
    CHECK(malformed("csv_missing_field.csv") == d + "csv_missing_field.csv:3: expected 3 fields as in the header, found 2: 1,3");
    CHECK(malformed("csv_unterminated_quote.csv") == d + "csv_unterminated_quote.csv:2: unterminated quote: 1,\"unterminated,100");
    CHECK(malformed("csv_header_only.csv") == d + "csv_header_only.csv: no interactions after the header");
    CHECK(malformed("csv_empty_user.csv") == d + "csv_empty_user.csv:2: empty user id: ,5,100");
    CHECK(malformed("inter_no_item_column.inter") ==
          d + "inter_no_item_column.inter:1: no item column in the header (expected one of item_id, item, itemid, iid, movieid, "
              "movie_id, product_id, productid, asin, item_id_remap, or map the column by name): user_id:token timestamp:float");
    CHECK(malformed("seq_user_without_items.txt", Format::Sequences) ==
          d + "seq_user_without_items.txt:2: a user line needs at least one item (user i1 i2 ...): 2");
    CHECK(malformed("seq_repeated_user.txt") ==
          d + "seq_repeated_user.txt:3: user '1' already has a line (line 1); one user per line: 1 9");
    CHECK(malformed("id_overflow.txt", Format::Auto, true) ==
          d + "id_overflow.txt:2: item id '99999999999999999999999' overflows a 64-bit integer: 1 99999999999999999999999");
    CHECK(malformed("id_not_numeric.txt", Format::Pairs, true) ==
          d + "id_not_numeric.txt:1: user id 'u1' is not a non-negative integer (numeric ids): u1 5");
    CHECK(malformed("comma_no_header.csv") ==
          d + "comma_no_header.csv: cannot detect the format: comma-separated lines without a header naming the columns; "
              "add a header (user_id,item_id,timestamp) or pass --format");
    CHECK(malformed("undetectable.txt") == d + "undetectable.txt: cannot detect the format from the first lines (1 2 3); pass --format");
    CHECK(malformed("does_not_exist.txt") == d + "does_not_exist.txt: cannot open: No such file or directory");
    CHECK(malformed("") == d + ": is a directory, not an interaction file");
}

TEST_CASE("option errors name the problem") {
    LoadOptions o;
    CHECK(load_error(o) == "no input file given");
    o.path = (malformed_dir() / "pairs_three_fields.txt").string();
    o.rating_threshold = 4.0f;
    o.skip_bad_lines = true;
    CHECK(load_error(o) == o.path + ": a rating threshold was given but the pairs format has no rating column");
}

TEST_CASE("very long bad lines are truncated in the message") {
    TempDir dir;
    std::string bad = "1 2 " + std::string(1000, '9');
    std::string p = dir.write("long.txt", "1 5\n" + bad + "\n");
    std::string msg = malformed("x", Format::Auto);  // (unused; keeps the helper signature honest)
    LoadOptions o;
    o.path = p;
    o.format = Format::Pairs;
    std::string err = load_error(o);
    CHECK(err.starts_with(p + ":2: expected 2 fields (user item), found 3: 1 2 999"));
    CHECK(err.ends_with("... (1004 chars)"));
    CHECK(err.size() < p.size() + 250);
}

TEST_CASE("skip_bad_lines skips, counts and reports") {
    TempDir dir;
    std::string p = dir.write("mixed.csv", "user_id,item_id,timestamp\na,x,1\na,y\nb,x,oops\nb,y,3\n\nc,z,4\n");
    LoadOptions o;
    o.path = p;
    CHECK(load_error(o) == p + ":3: expected 3 fields as in the header, found 2: a,y");
    o.skip_bad_lines = true;
    Dataset ds = load_dataset(o);
    CHECK(ds.n_interactions() == 3);
    CHECK(ds.report.lines == 5);
    CHECK(ds.report.skipped_lines == 2);
    REQUIRE(ds.report.skipped_examples.size() == 2);
    CHECK(ds.report.skipped_examples[1] == p + ":4: timestamp is not a number: 'oops' (expected seconds, e.g. 978300760): b,x,oops");
    std::string s = ds.report.summary();
    CHECK(s.find("skipped as malformed: 2") != std::string::npos);
    CHECK(s.find("skipped " + p + ":3: expected 3 fields") != std::string::npos);

    // If every line is bad, that is still an error.
    o.path = dir.write("allbad.txt", "1 2 3\n4 5 6\n");
    o.format = Format::Pairs;
    CHECK(load_error(o) == o.path + ": every line was malformed (2 skipped); first: " + o.path +
                               ":1: expected 2 fields (user item), found 3: 1 2 3");
}

TEST_CASE("duplicate lines and single-interaction users are reported") {
    TempDir dir;
    Dataset ds = load(dir.write("d.csv", "user_id,item_id,timestamp\na,x,1\na,x,1\na,y,2\na,x,3\nb,x,1\n"));
    CHECK(ds.report.duplicate_lines == 1);       // (a, x, 1) twice; (a, x, 3) is a repeat, not a duplicate
    CHECK(ds.report.single_interaction_users == 1);  // b
    std::string s = ds.report.summary();
    CHECK(s.find("duplicate lines (same user, item, timestamp): 1") != std::string::npos);
    CHECK(s.find("note: 1 users have a single interaction and give no training sample") != std::string::npos);
}

TEST_CASE("largest_interaction_file ignores documentation and unknown extensions") {
    TempDir dir;
    dir.write("SOURCE.md", std::string(5000, 'x'));
    dir.write("README.txt", std::string(5000, 'x'));
    dir.write("u.item", std::string(5000, 'x'));
    std::filesystem::create_directories(dir.path / "sub");
    dir.write("small.txt", "1 2\n");
    std::string big = dir.write("sub/big.csv", "user_id,item_id\n1,2\n3,4\n");
    CHECK(largest_interaction_file(dir.path.string()) == big);
    CHECK_THROWS_AS(largest_interaction_file((dir.path / "nope").string()), DataError);
}

}  // TEST_SUITE
