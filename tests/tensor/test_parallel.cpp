// tests/tensor/test_parallel.cpp — the thread pool behind parallel_for (tensor/parallel.cpp).
//
// Every kernel's correctness rests on three properties of parallel_for, checked here directly with
// more threads than cores (so workers lose their core mid-job and others take their chunks):
// each index of [0, n) is covered exactly once, the chunks are the same whoever runs them, and a
// call nested in a parallel body runs inline on its thread. Many jobs run back to back, so a worker
// still finishing one job while the caller publishes the next is exercised too.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "tensor/parallel.hpp"

TEST_SUITE_BEGIN("tensor/parallel");

namespace {

// The chunks one parallel_for call made, sorted, after checking that they tile [0, n) exactly.
std::vector<std::pair<int64_t, int64_t>> chunks_of_call(int64_t n, int64_t grain) {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(std::max<int64_t>(n, 1)));
    tt::parallel_for(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(mu);
        chunks.emplace_back(b, e);
    });
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i) wrong += hits[static_cast<std::size_t>(i)].load() != 1;
    CHECK(wrong == 0);
    std::sort(chunks.begin(), chunks.end());
    int64_t at = 0;
    for (const auto& [b, e] : chunks) {
        CHECK(b == at);  // contiguous, no gaps, no overlaps
        CHECK(e > b);
        at = e;
    }
    CHECK(at == n);
    return chunks;
}

}  // namespace

TEST_CASE("parallel_for covers every index exactly once, in the same chunks on every call") {
    for (int threads : {1, 2, 3, 5}) {
        tt::set_num_threads(threads);
        for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{9}, int64_t{31},
                          int64_t{1000}, int64_t{100003}}) {
            for (int64_t grain : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
                CAPTURE(threads);
                CAPTURE(n);
                CAPTURE(grain);
                const auto first = chunks_of_call(n, grain);
                // Back-to-back jobs: chunk boundaries depend only on (n, grain, threads).
                for (int rep = 0; rep < 50; ++rep) CHECK(chunks_of_call(n, grain) == first);
            }
        }
    }
    tt::set_num_threads(0);
}

TEST_CASE("parallel_for nested in a parallel body runs inline, and the pool survives resizing") {
    for (int threads : {2, 4, 1, 3}) {  // set_num_threads rebuilds the pool each time
        tt::set_num_threads(threads);
        CAPTURE(threads);
        std::atomic<int64_t> total{0};
        std::atomic<int> not_inline{0}, split_nested{0};  // counted on the workers, checked here
        for (int rep = 0; rep < 20; ++rep) {
            tt::parallel_for(64, 1, [&](int64_t b, int64_t e) {
                if (threads > 1 && !tt::in_parallel()) not_inline.fetch_add(1);
                for (int64_t i = b; i < e; ++i) {
                    int calls = 0;
                    tt::parallel_for(100, 1, [&](int64_t b2, int64_t e2) {
                        ++calls;  // not atomic on purpose: an inline call runs on this thread only
                        total.fetch_add(e2 - b2, std::memory_order_relaxed);
                    });
                    if (calls != 1) split_nested.fetch_add(1);
                }
            });
        }
        CHECK(not_inline.load() == 0);
        CHECK(split_nested.load() == 0);
        CHECK(total.load() == 20 * 64 * 100);
        CHECK_FALSE(tt::in_parallel());
    }
    tt::set_num_threads(0);
}

TEST_SUITE_END();
