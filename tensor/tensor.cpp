// tensor/tensor.cpp — Shape, Storage, Tensor, IntTensor and Rng: the plain data types.
#include "tensor/tensor.hpp"

#include <bit>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace tt {

void check_failed(const std::string& msg, const char* file, int line) {
    // The message is what a user sees; the source position helps whoever debugs it.
    std::ostringstream os;
    os << msg << " [" << file << ":" << line << "]";
    throw std::invalid_argument(os.str());
}

// ---------------------------------------------------------------------------------------------
// Shape

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
    TT_CHECK(dims.size() <= static_cast<std::size_t>(kMaxRank),
             "Shape: rank " + std::to_string(dims.size()) + " exceeds the maximum " + std::to_string(kMaxRank));
    for (int64_t d : dims) push_back(d);
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= d_[static_cast<std::size_t>(i)];
    return n;
}

int Shape::norm_axis(int axis) const {
    int a = axis < 0 ? axis + rank_ : axis;
    TT_CHECK(a >= 0 && a < rank_, "axis " + std::to_string(axis) + " out of range for shape " + str());
    return a;
}

void Shape::push_back(int64_t d) {
    TT_CHECK(rank_ < kMaxRank, "Shape: rank exceeds the maximum " + std::to_string(kMaxRank));
    TT_CHECK(d >= 0, "Shape: negative dimension " + std::to_string(d));
    d_[static_cast<std::size_t>(rank_++)] = d;
}

bool Shape::operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
        if (d_[static_cast<std::size_t>(i)] != o.d_[static_cast<std::size_t>(i)]) return false;
    return true;
}

std::string Shape::str() const {
    std::string s = "(";
    for (int i = 0; i < rank_; ++i) {
        if (i) s += ", ";
        s += std::to_string(d_[static_cast<std::size_t>(i)]);
    }
    return s + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    int r = std::max(a.rank(), b.rank());
    std::array<int64_t, kMaxRank> out{};
    for (int i = 0; i < r; ++i) {  // align from the right
        int64_t da = i < a.rank() ? a[a.rank() - 1 - i] : 1;
        int64_t db = i < b.rank() ? b[b.rank() - 1 - i] : 1;
        TT_CHECK(da == db || da == 1 || db == 1,
                 std::string(op) + ": shapes " + a.str() + " and " + b.str() + " cannot be broadcast");
        out[static_cast<std::size_t>(r - 1 - i)] = da == 1 ? db : da;
    }
    return Shape(std::span<const int64_t>(out.data(), static_cast<std::size_t>(r)));
}

// ---------------------------------------------------------------------------------------------
// Storage, with a buffer pool.
//
// Why a pool: a training step allocates and frees the same large activations again and again.
// glibc serves every block above its mmap threshold (128 KiB at first) with a fresh mmap and
// returns it with munmap, so each step pays a page fault per 4 KiB page it touches (measured:
// ~40% of a TTT4Rec step). Freed blocks of 64 KiB or more are therefore kept here, keyed by their
// exact rounded size, and handed out again; small blocks go straight to the allocator, which
// handles them well. The cache is bounded; beyond it blocks are really freed.

namespace {

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer: no pooling and exact sizes, so that a read one float past the end of a
// tensor is reported instead of landing in rounding slack or in a recycled block.
constexpr bool kPooling = false;
#else
constexpr bool kPooling = true;
#endif
constexpr std::size_t kPoolMinBytes = 64 << 10;
constexpr std::size_t kPoolMaxCachedBytes = std::size_t(4) << 30;

struct BufferPool {
    std::mutex mu;
    std::unordered_map<std::size_t, std::vector<void*>> free_lists;
    std::size_t cached_bytes = 0;

    void* take(std::size_t bytes) {
        if (!kPooling) {
            void* p = nullptr;
            return ::posix_memalign(&p, kAlign, bytes) == 0 ? p : nullptr;
        }
        if (bytes >= kPoolMinBytes) {
            std::lock_guard<std::mutex> lock(mu);
            auto it = free_lists.find(bytes);
            if (it != free_lists.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                cached_bytes -= bytes;
                return p;
            }
        }
        return std::aligned_alloc(kAlign, bytes);
    }
    void give(void* p, std::size_t bytes) {
        if (kPooling && bytes >= kPoolMinBytes) {
            std::lock_guard<std::mutex> lock(mu);
            if (cached_bytes + bytes <= kPoolMaxCachedBytes) {
                free_lists[bytes].push_back(p);
                cached_bytes += bytes;
                return;
            }
        }
        std::free(p);
    }
    ~BufferPool() {
        for (auto& [bytes, list] : free_lists)
            for (void* p : list) std::free(p);
    }
};

BufferPool& pool() {
    static BufferPool* p = new BufferPool();  // never destroyed: tensors may outlive static destructors
    return *p;
}

std::size_t storage_bytes(int64_t n) {
    if (!kPooling) return static_cast<std::size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
    // aligned_alloc needs a multiple of the alignment; never 0 bytes. Large blocks are rounded up
    // to a size class, four per power of two (at most 25% slack): a batch whose number of targets
    // varies from step to step (every-position training) then still finds its logits' block in
    // the pool, where exact sizes missed every time and paid a page fault per 4 KiB.
    std::size_t bytes = static_cast<std::size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
    if (bytes < kPoolMinBytes) return (bytes + kAlign - 1) / kAlign * kAlign;
    std::size_t octave = std::size_t(1) << (std::bit_width(bytes) - 1);  // largest power of 2 <= bytes
    std::size_t step = octave / 4;
    return (bytes + step - 1) / step * step;
}

}  // namespace

Storage::Storage(int64_t n) : size(n) {
    data = static_cast<float*>(pool().take(storage_bytes(n)));
    if (!data) throw std::bad_alloc();
}

Storage::~Storage() { pool().give(data, storage_bytes(size)); }

// ---------------------------------------------------------------------------------------------
// Tensor

Tensor Tensor::empty(const Shape& s) {
    Tensor t;
    t.storage_ = std::make_shared<Storage>(s.numel());
    t.shape_ = s;
    return t;
}

Tensor Tensor::zeros(const Shape& s) { return full(s, 0.0f); }
Tensor Tensor::ones(const Shape& s) { return full(s, 1.0f); }

Tensor Tensor::full(const Shape& s, float value) {
    Tensor t = empty(s);
    t.fill(value);
    return t;
}

Tensor Tensor::from(const Shape& s, std::span<const float> values) {
    TT_CHECK(static_cast<int64_t>(values.size()) == s.numel(),
             "Tensor::from: " + std::to_string(values.size()) + " values for shape " + s.str());
    Tensor t = empty(s);
    if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
    return t;
}

Tensor Tensor::from(const Shape& s, std::initializer_list<float> values) {
    return from(s, std::span<const float>(values.begin(), values.size()));
}

Tensor Tensor::randn(const Shape& s, Rng& rng, float mean, float stddev) {
    Tensor t = empty(s);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = mean + stddev * rng.normal();
    return t;
}

Tensor Tensor::uniform(const Shape& s, Rng& rng, float lo, float hi) {
    Tensor t = empty(s);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * rng.uniform();
    return t;
}

Tensor Tensor::arange(int64_t n) {
    Tensor t = empty(Shape{n});
    for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i);
    return t;
}

Tensor Tensor::reshape(const Shape& s) const {
    TT_CHECK(defined(), "reshape of an undefined tensor");
    TT_CHECK(s.numel() == numel(), "reshape: cannot view " + shape_.str() + " (" + std::to_string(numel()) +
                                       " elements) as " + s.str());
    Tensor t = *this;
    t.shape_ = s;
    return t;
}

Tensor Tensor::rows(int64_t start, int64_t end) const {
    TT_CHECK(rank() >= 1 && 0 <= start && start <= end && end <= dim(0),
             "rows: range [" + std::to_string(start) + ", " + std::to_string(end) + ") invalid for shape " +
                 shape_.str());
    Tensor t = *this;
    int64_t row = numel() / std::max<int64_t>(dim(0), 1);
    t.offset_ = offset_ + start * row;
    t.shape_[0] = end - start;
    return t;
}

Tensor Tensor::clone() const {
    if (!defined()) return {};
    Tensor t = empty(shape_);
    if (numel()) std::memcpy(t.data(), data(), static_cast<std::size_t>(numel()) * sizeof(float));
    return t;
}

float Tensor::item() const {
    TT_CHECK(defined() && numel() == 1, "item: tensor of shape " + shape_.str() + " is not a single value");
    return data()[0];
}

int64_t Tensor::flat_index(std::initializer_list<int64_t> idx) const {
    TT_CHECK(static_cast<int>(idx.size()) == rank(),
             "at: " + std::to_string(idx.size()) + " indices for shape " + shape_.str());
    int64_t flat = 0;
    int i = 0;
    for (int64_t v : idx) {
        TT_CHECK(v >= 0 && v < shape_[i], "at: index " + std::to_string(v) + " out of range for shape " + shape_.str());
        flat = flat * shape_[i] + v;
        ++i;
    }
    return flat;
}

float Tensor::at(std::initializer_list<int64_t> idx) const { return data()[flat_index(idx)]; }
float& Tensor::at(std::initializer_list<int64_t> idx) { return data()[flat_index(idx)]; }

std::vector<float> Tensor::to_vector() const {
    if (!defined()) return {};
    return std::vector<float>(data(), data() + numel());
}

void Tensor::fill(float v) {
    // NOTE: numel() hoisted: in `i < numel()` the compiler must assume the stores may change shape_,
    // so it recomputed the product of the dims for every element (7% of a training step).
    float* p = data();
    std::fill(p, p + numel(), v);
}

std::string Tensor::str(int max_per_dim) const {
    if (!defined()) return "Tensor(undefined)";
    std::ostringstream os;
    os << "Tensor" << shape_.str() << " [";
    int64_t n = std::min<int64_t>(numel(), max_per_dim * 4);
    for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << data()[i];
    if (n < numel()) os << ", ...";
    os << "]";
    return os.str();
}

// ---------------------------------------------------------------------------------------------
// IntTensor

IntTensor::IntTensor(const Shape& s, std::vector<int32_t> values)
    : data_(std::make_shared<std::vector<int32_t>>(std::move(values))), shape_(s) {
    TT_CHECK(static_cast<int64_t>(data_->size()) == s.numel(),
             "IntTensor: " + std::to_string(data_->size()) + " values for shape " + s.str());
}

IntTensor IntTensor::reshape(const Shape& s) const {
    TT_CHECK(s.numel() == numel(), "IntTensor reshape: " + shape_.str() + " to " + s.str());
    IntTensor t = *this;
    t.shape_ = s;
    return t;
}

// ---------------------------------------------------------------------------------------------
// Rng: xoshiro256** (Blackman & Vigna), seeded with splitmix64.

static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : st_.s) s = splitmix64(x);
    st_.has_spare = false;
    st_.spare = 0.0f;
}

float Rng::normal() {
    if (st_.has_spare) {
        st_.has_spare = false;
        return st_.spare;
    }
    // Box-Muller in double for accuracy; u1 in (0, 1] so log never sees 0.
    double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
    double r = std::sqrt(-2.0 * std::log(u1));
    double th = 6.283185307179586 * u2;
    st_.spare = static_cast<float>(r * std::sin(th));
    st_.has_spare = true;
    return static_cast<float>(r * std::cos(th));
}

uint64_t Rng::below(uint64_t n) {
    TT_CHECK(n > 0, "Rng::below(0)");
    // Lemire's rejection: unbiased for any n.
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = next_u64();
        if (r >= threshold) return r % n;
    }
}

}  // namespace tt
