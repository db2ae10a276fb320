// tensor/tensor.hpp — the float32 tensor every other part of tttrec is built on.
//
// A Tensor is a row-major, contiguous n-d array of float32 (rank <= kMaxRank). Its storage is
// 64-byte aligned (one cache line, one AVX-512 register) and shared between copies: copying a
// Tensor or reshaping it is O(1) and aliases the same floats; clone() makes a deep copy.
// There are no strided views: ops that change the layout (transpose, slice) write a new tensor.
// That keeps every kernel a plain loop over contiguous memory, which is what SIMD wants.
//
// IntTensor holds int32 indices (item ids, targets) with the same sharing rules.
// Rng is the one seeded random generator of the project (xoshiro256**), with a plain-struct state
// so that checkpoints can save and restore it bit-exactly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tt {

// Always-on check (unlike assert, NDEBUG cannot remove it). Throws std::invalid_argument with the
// message, so shape errors surface as a clear error naming the op, never as a crash.
[[noreturn]] void check_failed(const std::string& msg, const char* file, int line);
#define TT_CHECK(cond, msg)                                        \
    do {                                                           \
        if (!(cond)) ::tt::check_failed((msg), __FILE__, __LINE__); \
    } while (0)

constexpr int kMaxRank = 6;
constexpr std::size_t kAlign = 64;

// Shape: up to kMaxRank dimensions stored inline (no heap allocation per tensor).
class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<int64_t> dims);
    explicit Shape(std::span<const int64_t> dims);

    int rank() const { return rank_; }
    int64_t numel() const;
    // Negative indices count from the end, as in numpy: s[-1] is the last dimension.
    int64_t operator[](int i) const { return d_[static_cast<std::size_t>(norm_axis(i))]; }
    int64_t& operator[](int i) { return d_[static_cast<std::size_t>(norm_axis(i))]; }
    int norm_axis(int axis) const;  // checks range, maps -1 -> rank-1

    void push_back(int64_t d);
    const int64_t* begin() const { return d_.data(); }
    const int64_t* end() const { return d_.data() + rank_; }
    bool operator==(const Shape& o) const;
    bool operator!=(const Shape& o) const { return !(*this == o); }
    std::string str() const;  // "(2, 3, 4)"

private:
    std::array<int64_t, kMaxRank> d_{};
    int rank_ = 0;
};

// Numpy broadcasting of two shapes; throws naming `op` if they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// A block of 64-byte aligned floats. All tensor memory is allocated here, so pooling can be added
// in one place.
struct Storage {
    explicit Storage(int64_t n);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    float* data = nullptr;
    int64_t size = 0;
};

class Rng;

class Tensor {
public:
    Tensor() = default;  // undefined: defined() == false
    static Tensor empty(const Shape& s);  // uninitialised memory
    static Tensor zeros(const Shape& s);
    static Tensor ones(const Shape& s);
    static Tensor full(const Shape& s, float value);
    static Tensor scalar(float value) { return full(Shape{}, value); }
    static Tensor from(const Shape& s, std::span<const float> values);  // copies; sizes must match
    static Tensor from(const Shape& s, std::initializer_list<float> values);
    static Tensor randn(const Shape& s, Rng& rng, float mean = 0.0f, float stddev = 1.0f);
    static Tensor uniform(const Shape& s, Rng& rng, float lo = 0.0f, float hi = 1.0f);
    static Tensor arange(int64_t n);  // 0, 1, ..., n-1 as floats, shape (n)

    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    int rank() const { return shape_.rank(); }
    int64_t dim(int i) const { return shape_[i]; }
    int64_t numel() const { return shape_.numel(); }
    float* data() { return storage_ ? storage_->data + offset_ : nullptr; }
    const float* data() const { return storage_ ? storage_->data + offset_ : nullptr; }

    // Same floats, new shape (numel must match). O(1).
    Tensor reshape(const Shape& s) const;
    // A contiguous sub-range along axis 0, sharing storage: rows [start, end). O(1).
    Tensor rows(int64_t start, int64_t end) const;
    Tensor clone() const;
    bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
    // True when no other Tensor shares this storage: writing in place is then invisible to others.
    bool sole_owner() const { return storage_ && storage_.use_count() == 1; }

    float item() const;  // the single value of a one-element tensor
    float at(std::initializer_list<int64_t> idx) const;
    float& at(std::initializer_list<int64_t> idx);
    std::vector<float> to_vector() const;
    void fill(float v);
    std::string str(int max_per_dim = 6) const;  // short printable form for messages and debugging

private:
    int64_t flat_index(std::initializer_list<int64_t> idx) const;
    std::shared_ptr<Storage> storage_;
    int64_t offset_ = 0;  // in floats; non-zero only for rows()
    Shape shape_;
};

// int32 indices: ids, targets, positions. Shared like Tensor.
class IntTensor {
public:
    IntTensor() = default;
    IntTensor(const Shape& s, std::vector<int32_t> values);
    static IntTensor zeros(const Shape& s) {
        return IntTensor(s, std::vector<int32_t>(static_cast<std::size_t>(s.numel()), 0));
    }
    bool defined() const { return data_ != nullptr; }
    const Shape& shape() const { return shape_; }
    int64_t numel() const { return shape_.numel(); }
    const int32_t* data() const { return data_ ? data_->data() : nullptr; }
    int32_t* mutable_data() { return data_ ? data_->data() : nullptr; }
    IntTensor reshape(const Shape& s) const;
    int32_t operator[](int64_t i) const { return (*data_)[static_cast<std::size_t>(i)]; }

private:
    std::shared_ptr<std::vector<int32_t>> data_;
    Shape shape_;
};

// xoshiro256** seeded through splitmix64: fast, good quality, and identical on every platform
// (std::normal_distribution is not), so a seed means the same numbers everywhere.
class Rng {
public:
    struct State {
        uint64_t s[4];
        bool has_spare;  // Box-Muller makes normals in pairs
        float spare;
    };
    explicit Rng(uint64_t seed = 0);
    // Inline: samplers call these once per element.
    uint64_t next_u64() {
        uint64_t* s = st_.s;
        const uint64_t result = rotl(s[1] * 5, 7) * 9;
        const uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }
    // [0, 1): the top 24 bits, so every value is an exactly representable float.
    float uniform() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }
    float normal();                         // N(0, 1)
    uint64_t below(uint64_t n);             // uniform integer in [0, n), unbiased
    State state() const { return st_; }
    void set_state(const State& s) { st_ = s; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    State st_{};
};

}  // namespace tt
