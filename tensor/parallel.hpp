// tensor/parallel.hpp — the one place that decides how many threads tttrec uses.
//
// Threads come from a small pool of our own (parallel.cpp: idle workers spin briefly, then sleep).
// set_num_threads() is the user's knob (apps expose it as --threads); 0 means "all cores".
// parallel_for splits [0, n) into contiguous static chunks, so which thread computes which element
// never changes the result: kernels never reduce across chunks in a thread-count-dependent order.
#pragma once

#include <cstdint>
#include <functional>

namespace tt {

void set_num_threads(int n);  // 0 = all hardware threads
int num_threads();

// Calls fn(begin, end) on contiguous chunks of [0, n) in parallel (a few chunks per thread, each at
// least `grain` elements of work, roughly). Runs inline (one call, no threads) when n < 2 grain or
// only one thread is configured.
// Nothing may throw out of fn (it may run on a worker thread); nested calls run inline.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// True inside a parallel_for body (where a nested parallel_for runs on the calling thread only).
bool in_parallel();

}  // namespace tt
