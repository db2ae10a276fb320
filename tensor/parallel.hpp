// tensor/parallel.hpp — the one place that decides how many threads tttrec uses.
//
// Threads come from OpenMP (the compiler's runtime). set_num_threads() is the user's knob
// (apps expose it as --threads); 0 means "all cores". parallel_for splits [0, n) into contiguous
// static chunks, so which thread computes which element never changes the result: kernels never
// reduce across chunks in a thread-count-dependent order.
#pragma once

#include <cstdint>
#include <functional>

namespace tt {

void set_num_threads(int n);  // 0 = all hardware threads
int num_threads();

// Calls fn(begin, end) on contiguous chunks of [0, n) in parallel. Runs inline (one call, no
// threads) when n < grain or only one thread is configured; `grain` is the smallest chunk worth a
// thread (elements of work, roughly).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace tt
