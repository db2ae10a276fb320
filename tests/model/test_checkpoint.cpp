// tests/model/test_checkpoint.cpp — safetensors round trips, files written by other tools, and
// every kind of damage (truncation, bit flips, lies in the header, mismatched models).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "model/checkpoint.hpp"
#include "tests/data/data_test_util.hpp"

using namespace tt;
using namespace tt::model;

namespace {

std::string temp_path(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("tttrec-ckpt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

NamedTensors sample() {
    Rng rng(3);
    return {{"embed.weight", Tensor::randn(Shape{5, 3}, rng)}, {"norm.bias", Tensor::randn(Shape{3}, rng)},
            {"scalar", Tensor::scalar(2.5f)}, {"empty", Tensor::zeros(Shape{0, 4})}};
}

// Little helper: a safetensors file from a header string and raw data, as another writer would.
std::string raw_file(const std::string& header, const std::string& data) {
    std::string out;
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    return out + header + data;
}

}  // namespace

TEST_SUITE("model/checkpoint") {
    TEST_CASE("round trip keeps names, shapes, values and metadata") {
        std::string path = temp_path("round.safetensors");
        save_safetensors(path, sample(), {{"format", "pt"}, {"model", "ttt4rec"}});
        std::map<std::string, std::string> meta;
        NamedTensors back = load_safetensors(path, &meta);
        NamedTensors want = sample();
        REQUIRE(back.size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            CHECK(back[i].first == want[i].first);
            CHECK(back[i].second.shape() == want[i].second.shape());
            CHECK(back[i].second.to_vector() == want[i].second.to_vector());
        }
        CHECK(meta["model"] == "ttt4rec");
        // The data section starts 8-byte aligned, as the reference implementation writes it.
        std::string bytes = read_file_bytes(path);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
        CHECK((8 + n) % 8 == 0);
    }

    TEST_CASE("reads files written by other tools: F16, BF16, F64 and out-of-order offsets") {
        // 1.0, -2.0 in float16 = 0x3C00, 0xC000; 0.5 in bfloat16 = 0x3F00; 3.25 in float64.
        std::string data;
        auto put16 = [&](uint16_t v) { data.push_back(static_cast<char>(v & 0xFF)), data.push_back(static_cast<char>(v >> 8)); };
        double d = 3.25;
        data.append(reinterpret_cast<const char*>(&d), 8);  // "c" first in the file
        put16(0x3C00);
        put16(0xC000);
        put16(0x3F00);
        std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
                             R"("b":{"dtype":"BF16","shape":[1,1],"data_offsets":[12,14]},"c":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})";
        NamedTensors t = decode_safetensors(raw_file(header, data), "fixture");
        std::map<std::string, Tensor> m(t.begin(), t.end());
        CHECK(m["a"].to_vector() == std::vector<float>{1.0f, -2.0f});
        CHECK(m["b"].shape() == Shape{1, 1});
        CHECK(m["b"].item() == 0.5f);
        CHECK(m["c"].item() == 3.25f);
    }

    TEST_CASE("damaged files give a clear error, never a crash") {
        std::string good = encode_safetensors(sample());
        SUBCASE("every truncation") {
            for (std::size_t len = 0; len < good.size(); len += (len < 64 ? 1 : 7)) {
                CAPTURE(len);
                CHECK_THROWS_AS(decode_safetensors(good.substr(0, len), "trunc"), CheckpointError);
            }
        }
        SUBCASE("bit flips in the header are caught or decode to a consistent file") {
            // A flip may still leave valid JSON (e.g. inside a name); then decoding must succeed
            // with in-bounds data. Anything else must be a CheckpointError.
            for (std::size_t byte = 0; byte < 8 + 120 && byte < good.size(); ++byte)
                for (int bit = 0; bit < 8; ++bit) {
                    std::string bad = good;
                    bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
                    try {
                        NamedTensors t = decode_safetensors(bad, "flip");
                        CHECK(t.size() <= 4);
                    } catch (const CheckpointError&) {
                    }
                }
        }
        SUBCASE("lies in the header") {
            CHECK_THROWS_WITH_AS(decode_safetensors(raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"), "x"),
                                 doctest::Contains("outside"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_safetensors(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"), "x"),
                                 doctest::Contains("bytes for shape"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_safetensors(raw_file(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", "12345678"), "x"),
                                 doctest::Contains("unsupported dtype"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_safetensors(raw_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234"), "x"),
                                 doctest::Contains("negative"), CheckpointError);
            CHECK_THROWS_WITH_AS(
                decode_safetensors(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "12345678"), "x"),
                doctest::Contains("overlap"), CheckpointError);
            CHECK_THROWS_WITH_AS(decode_safetensors(raw_file("{not json", ""), "x"), doctest::Contains("JSON"), CheckpointError);
            std::string huge(8, '\xff');
            CHECK_THROWS_WITH_AS(decode_safetensors(huge, "x"), doctest::Contains("limit"), CheckpointError);
        }
    }

    TEST_CASE("loading into a model checks names and shapes before changing anything") {
        ParamList params{{"embed.weight", ad::parameter(Tensor::zeros(Shape{5, 3}))},
                         {"norm.bias", ad::parameter(Tensor::zeros(Shape{3}))}};
        NamedTensors t = sample();
        t.erase(t.begin() + 2, t.end());
        load_parameters(params, t, "ok");
        CHECK(params[0].second.value().to_vector() == t[0].second.to_vector());

        ParamList wrong{{"embed.weight", ad::parameter(Tensor::zeros(Shape{6, 3}))},
                        {"other", ad::parameter(Tensor::zeros(Shape{3}))}};
        CHECK_THROWS_WITH_AS(load_parameters(wrong, t, "ckpt"), doctest::Contains("missing: other"), CheckpointError);
        CHECK_THROWS_WITH_AS(load_parameters(wrong, t, "ckpt"), doctest::Contains("unexpected: norm.bias"), CheckpointError);
        CHECK_THROWS_WITH_AS(load_parameters(wrong, t, "ckpt"), doctest::Contains("shape mismatch"), CheckpointError);
        CHECK(tt::sum_all(wrong[0].second.value()) == 0.0f);  // untouched
    }

    TEST_CASE("a failed write keeps the previous file") {
        std::string path = temp_path("keep.safetensors");
        save_safetensors(path, sample());
        std::string before = read_file_bytes(path);
        CHECK_THROWS_AS(save_safetensors(temp_path("no-such-dir/x.safetensors"), sample()), CheckpointError);
        CHECK(read_file_bytes(path) == before);
        CHECK_THROWS_AS(load_safetensors(temp_path("missing.safetensors")), CheckpointError);
    }

    TEST_CASE("a file written by another tool (numpy, from the format spec) loads with its values") {
        // tests/model/fixtures/other_tool.safetensors, written by make_other_tool_fixture.py there.
        const std::string path = (tt::data::testing::source_root() / "tests/model/fixtures/other_tool.safetensors").string();
        std::map<std::string, std::string> meta;
        NamedTensors t = load_safetensors(path, &meta);
        std::map<std::string, Tensor> m(t.begin(), t.end());
        REQUIRE(m.size() == 6);
        CHECK(meta["format"] == "np");
        CHECK(m["f64.matrix"].shape() == Shape{2, 2});
        CHECK(m["f64.matrix"].to_vector() == std::vector<float>{3.25f, static_cast<float>(-0.1), 1e10f, 2.5f});
        CHECK(m["f32.matrix"].shape() == Shape{2, 3});
        CHECK(m["f32.matrix"].to_vector() == std::vector<float>{1.5f, -2.25f, 3.0f, 0.0f, 0.001f, -7.125f});
        CHECK(m["f32.scalar"].shape() == Shape{});
        CHECK(m["f32.scalar"].item() == 42.0f);
        CHECK(m["f32.empty"].shape() == Shape{0, 3});
        CHECK(m["f16.vector"].to_vector() == std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, 0x1p-24f});
        CHECK(m["bf16.vector"].to_vector() == std::vector<float>{1.0f, -0.5f, 3.140625f});
        // Not a tttrec file: no checksum entry, loaded unchecked; written back by tttrec, it gains one.
        std::string again = encode_safetensors(t, meta);
        CHECK(again.find("\"tttrec_checksum\":\"") != std::string::npos);
        CHECK(decode_safetensors(again, "again").size() == 6);
    }

    TEST_CASE("every single-bit flip anywhere in a tttrec file is caught by its checksum") {
        const std::string good = encode_safetensors(sample(), {{"format", "pt"}});
        const std::string key = "\"tttrec_checksum\"";
        const std::size_t key_at = good.find(key);
        REQUIRE(key_at != std::string::npos);
        int harmless = 0;
        for (std::size_t byte = 0; byte < good.size(); ++byte)
            for (int bit = 0; bit < 8; ++bit) {
                std::string bad = good;
                bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
                NamedTensors t;
                try {
                    t = decode_safetensors(bad, "flip");
                } catch (const CheckpointError&) {
                    continue;
                }
                // Only a flip inside the checksum's own key can pass (the entry is then an unknown
                // metadata key and the file unchecked), and it leaves every tensor intact.
                CAPTURE(byte);
                CHECK((byte > key_at && byte < key_at + key.size() - 1));
                NamedTensors want = sample();
                REQUIRE(t.size() == want.size());
                for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i].second.to_vector() == want[i].second.to_vector());
                ++harmless;
            }
        CHECK(harmless > 0);
        std::string flipped = good;
        flipped[flipped.size() - 1] ^= 1;  // in the data
        CHECK_THROWS_WITH_AS(decode_safetensors(flipped, "x.safetensors"), doctest::Contains("x.safetensors: checksum mismatch"),
                             CheckpointError);
        // Valid JSON, but the entry not as tttrec writes it ("key": "value"): refused, not skipped.
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(good[static_cast<std::size_t>(i)]);
        std::string head = good.substr(8, n);
        head.insert(head.find(key) + key.size() + 1, " ");
        CHECK_THROWS_WITH_AS(decode_safetensors(raw_file(head, good.substr(8 + n)), "x"), doctest::Contains("malformed tttrec_checksum"),
                             CheckpointError);
        CHECK_THROWS_AS(encode_safetensors(sample(), {{"tttrec_checksum", "0"}}), std::invalid_argument);  // reserved key
    }

    TEST_CASE("a full disk fails the write with a clear error and keeps the previous file") {
        // A child process with a 1 KB file size limit stands in for a full disk (SIGXFSZ ignored, so
        // write() fails with EFBIG, as it fails with ENOSPC on a full disk).
        const std::string path = temp_path("full.safetensors");
        save_safetensors(path, sample());
        const std::string before = read_file_bytes(path);
        Rng rng(1);
        NamedTensors big = {{"w", Tensor::randn(Shape{64, 64}, rng)}};  // 16 KB
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(fds[0]);
            ::signal(SIGXFSZ, SIG_IGN);
            struct rlimit r{1024, 1024};
            ::setrlimit(RLIMIT_FSIZE, &r);
            std::string msg = "no error";
            try {
                save_safetensors(path, big);
            } catch (const CheckpointError& e) {
                msg = e.what();
            }
            (void)!::write(fds[1], msg.data(), msg.size());
            ::_exit(0);
        }
        ::close(fds[1]);
        std::string msg;
        char buf[512];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
        ::close(fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK(msg == path + ": write failed (File too large); the previous file is unchanged");
        CHECK(read_file_bytes(path) == before);
        for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
            CHECK(e.path().filename().string().find("full.safetensors.tmp.") == std::string::npos);  // cleaned up
    }
}
