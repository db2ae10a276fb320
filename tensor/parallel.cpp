// tensor/parallel.cpp — OpenMP-backed thread control (see parallel.hpp).
#include "tensor/parallel.hpp"

#include <omp.h>

#include <algorithm>

namespace tt {

namespace {
int g_threads = 0;  // 0 until set: use omp's default (all cores)
}

void set_num_threads(int n) {
    g_threads = n > 0 ? n : omp_get_num_procs();
    omp_set_num_threads(g_threads);
}

int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    int nt = num_threads();
    int64_t chunks = std::min<int64_t>(nt, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
    if (chunks <= 1 || omp_in_parallel()) {
        fn(0, n);
        return;
    }
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
    for (int64_t c = 0; c < chunks; ++c) {
        int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
        if (b < e) fn(b, e);
    }
}

}  // namespace tt
