// tensor/parallel.cpp — the thread pool behind parallel_for (see parallel.hpp).
//
// Why our own pool and not OpenMP's: a training step runs ~1000 parallel regions of tens of
// microseconds each, so what a worker does between two regions decides the speed. GNU OpenMP either
// spins for a long time (its default) or sleeps at once (OMP_WAIT_POLICY=PASSIVE). Measured on this
// 2-core machine kind with other processes running: spinning made a 2-thread TTT training step
// 2.7x slower than PASSIVE (a spinning thread holds its core while its partner waits for one), and
// on an idle machine PASSIVE pays a futex wake-up for every region. Here an idle worker spins for a
// short while (kSpin: the next region usually comes within microseconds) and then sleeps on a futex
// (std::atomic::wait), so an idle machine gets spin-speed hand-offs and a busy one gets its cores back.
//
// The pool: threads-1 workers plus the calling thread (thread 0). run(chunks, body) cuts the chunks
// into one contiguous group per thread and publishes the job (job number, chunk count) in one atomic
// word. Each thread first claims the chunks of its own group, in order, then those left in the other
// groups; claims are compare-and-swaps on a per-group word that carries the job number, so a late
// thread can never claim a chunk of a later job. The caller returns once `done_` counts every chunk.
// Why groups: consecutive parallel_for calls over tensors of one shape cut them alike, so thread t
// mostly gets the rows it wrote in the previous op, still in its own core's cache (OpenMP's static
// schedule does this); one shared counter handed them out in arrival order, and the two threads
// swapped halves from op to op (measured, train and inference configs of apps/bench: 1-3% faster
// with groups). Why claims and not a fixed assignment: the caller never waits for a worker that has
// not woken up yet, it takes that worker's chunks (on a busy machine, a worker may take milliseconds
// to get a core). Which chunk covers which elements depends only on n and the chunk count, never on
// who ran it: results are reproducible.
#include "tensor/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace tt {

namespace {

// How long an idle thread spins before it sleeps.
constexpr std::chrono::microseconds kSpin{50};
// Work is cut into up to this many chunks per thread (see parallel_for).
constexpr int kChunksPerThread = 4;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Waits until `a` differs from `old` and returns the new value: spin for kSpin, then sleep.
template <class T>
T wait_for_change(const std::atomic<T>& a, T old) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1;; ++i) {
        const T v = a.load(std::memory_order_acquire);
        if (v != old) return v;
        cpu_relax();
        if (i % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
    }
    for (;;) {
        a.wait(old, std::memory_order_acquire);
        const T v = a.load(std::memory_order_acquire);
        if (v != old) return v;
    }
}

thread_local bool t_in_parallel = false;  // inside a parallel_for body: nested calls run inline

// The job word: job number (32 bits) | chunk count (16 bits) | 16 bits unused (zero).
constexpr uint64_t job_of(uint64_t w) { return w >> 32; }
constexpr int chunks_of(uint64_t w) { return static_cast<int>((w >> 16) & 0xffff); }
constexpr uint64_t make_job(uint64_t job, int chunks) { return job << 32 | static_cast<uint64_t>(chunks) << 16; }

class Pool {
public:
    explicit Pool(int threads) : groups_(static_cast<std::size_t>(std::max(threads, 1))) {
        for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
    }
    ~Pool() {
        stop_.store(true, std::memory_order_relaxed);
        state_.store(make_job(job_of(state_.load()) + 1, 0), std::memory_order_release);
        state_.notify_all();
        for (std::thread& t : workers_) t.join();
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // body(c) for every chunk c in [0, chunks), chunks < 2^16; returns when all are done.
    void run(int chunks, const std::function<void(int)>& body) {
        body_ = &body;
        done_.store(0, std::memory_order_relaxed);
        const uint64_t job = job_of(state_.load(std::memory_order_relaxed)) + 1;
        for (int g = 0; g < threads(); ++g) groups_[g].next.store(make_claim(job, first_chunk(g, chunks)), std::memory_order_relaxed);
        state_.store(make_job(job, chunks), std::memory_order_release);  // publishes body_, done_ and groups_
        state_.notify_all();
        run_chunks(job, chunks, 0);
        for (int d = done_.load(std::memory_order_acquire); d != chunks;) d = wait_for_change(done_, d);
    }

private:
    int threads() const { return static_cast<int>(groups_.size()); }
    // Group g holds chunks [first_chunk(g), first_chunk(g + 1)).
    int first_chunk(int g, int chunks) const { return chunks * g / threads(); }
    // A group's claim word: the job's number (low 32 bits) | the group's next unclaimed chunk.
    static uint64_t make_claim(uint64_t job, int chunk) { return (job & 0xffffffffu) << 32 | static_cast<uint32_t>(chunk); }

    // Thread `self` claims and runs chunks of `job`: its own group first, then the others' leftovers.
    void run_chunks(uint64_t job, int chunks, int self) {
        for (int k = 0; k < threads(); ++k) {
            const int g = (self + k) % threads();
            const uint64_t end = make_claim(job, first_chunk(g + 1, chunks));
            std::atomic<uint64_t>& next = groups_[g].next;
            // A word of another job (older or newer) never compares in [make_claim(job, 0), end).
            for (uint64_t w = next.load(std::memory_order_acquire); w >> 32 == (job & 0xffffffffu) && w < end;) {
                if (!next.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
                // Chunk (w & 0xffffffff) is ours. body_ stays valid: run() returns only after it is done.
                t_in_parallel = true;
                (*body_)(static_cast<int>(w & 0xffffffffu));
                t_in_parallel = false;
                done_.fetch_add(1, std::memory_order_release);
                done_.notify_one();
                w = next.load(std::memory_order_acquire);
            }
        }
    }

    void work(int self) {
        uint64_t finished = job_of(state_.load(std::memory_order_acquire));  // the last job we took part in
        for (uint64_t w = state_.load(std::memory_order_acquire);; w = wait_for_change(state_, w)) {
            if (stop_.load(std::memory_order_relaxed)) return;
            if (job_of(w) == finished) continue;
            finished = job_of(w);
            run_chunks(finished, chunks_of(w), self);
        }
    }

    struct alignas(64) Group {  // one cache line each: the threads' claims do not contend
        std::atomic<uint64_t> next{0};
    };
    std::vector<Group> groups_;  // one per thread
    std::vector<std::thread> workers_;
    std::atomic<uint64_t> state_{0};  // the job word, see make_job
    std::atomic<int> done_{0};        // chunks of the current job finished
    std::atomic<bool> stop_{false};
    const std::function<void(int)>* body_ = nullptr;
};

int g_threads = 0;  // 0 until set: all hardware threads
std::unique_ptr<Pool> g_pool;

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

Pool& pool() {
    if (!g_pool) g_pool = std::make_unique<Pool>(num_threads());
    return *g_pool;
}

}  // namespace

void set_num_threads(int n) {
    const int want = n > 0 ? n : hardware_threads();
    if (want == g_threads && g_pool) return;
    g_pool.reset();  // workers of the old size stop; the next parallel_for starts the new ones
    g_threads = want;
}

int num_threads() { return g_threads > 0 ? g_threads : hardware_threads(); }

bool in_parallel() { return t_in_parallel; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    // kChunksPerThread chunks per thread: if one thread loses its core halfway (a busy machine),
    // the others take the chunks it has not started, instead of waiting for all of its share.
    const int64_t chunks = std::min<int64_t>(int64_t{kChunksPerThread} * num_threads(),
                                             std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
    if (chunks <= 1 || num_threads() == 1 || t_in_parallel) {
        fn(0, n);
        return;
    }
    pool().run(static_cast<int>(chunks), [&](int c) {
        const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
        if (b < e) fn(b, e);
    });
}

}  // namespace tt
