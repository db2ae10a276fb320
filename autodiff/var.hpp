// autodiff/var.hpp — Var (a node on the tape) and the grad-mode switch.
//
// A Var is a shared handle to a Node: the node's value (a Tensor), the Vars it was computed from,
// and its backward rule. Every node gets an increasing sequence number when it is created
// (PyTorch's sequence_nr): the tape is simply creation order, so a reverse topological order of
// any sub-graph is "sort by seq, descending". No explicit list of nodes is kept; a node lives as
// long as something (a later node, or user code) holds it.
//
// Backward rules have the signature  (self, grad_of_self) -> grads_of_inputs  and are written
// with the differentiable ops of autodiff/ops.hpp, never with raw floats. That is what makes
// gradients differentiable again (nested gradients, the TTT outer loop): when grad() is called
// with create_graph=true the rules run with recording on and their results are ordinary nodes.
// With create_graph=false the same rules run under NoGradGuard: same SIMD kernels, no tape.
//
// A rule receives its own node as `self` and must capture no Var (a captured Var of its own
// output would be a shared_ptr cycle and leak). Plain values (axis, eps, index tensors) are fine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tensor/tensor.hpp"

namespace tt::ad {

class Var;
struct Node;

// (self, d loss / d self) -> d loss / d input_i for each input (an undefined Var = no gradient).
using BackwardFn = std::function<std::vector<Var>(const Var& self, const Var& grad)>;

class Var {
public:
    Var() = default;
    // A leaf holding `value`. requires_grad=true makes it a parameter-like leaf.
    explicit Var(Tensor value, bool requires_grad = false);
    explicit Var(std::shared_ptr<Node> node) : node_(std::move(node)) {}

    bool defined() const { return node_ != nullptr; }
    const Tensor& value() const;
    Tensor& mutable_value();  // for optimizers and initialisers: changes a leaf in place
    const Shape& shape() const { return value().shape(); }
    int rank() const { return value().rank(); }
    int64_t dim(int i) const { return value().dim(i); }
    int64_t numel() const { return value().numel(); }
    float item() const { return value().item(); }

    bool requires_grad() const;
    bool is_leaf() const;
    const char* op() const;  // "leaf", "add", "matmul", ...
    uint64_t seq() const;

    // The gradient accumulated by backward() into a leaf (undefined until the first backward).
    Tensor& grad();
    const Tensor& grad() const;
    void zero_grad();  // drops the accumulated gradient

    const std::vector<Var>& inputs() const;
    const Var& input(std::size_t i) const { return inputs()[i]; }
    // Inside a rule: does input i need a gradient in the current grad() call? Rules may skip
    // computing gradients that are not needed (e.g. of a data input of matmul).
    bool needs_input_grad(std::size_t i) const;

    Node* node() const { return node_.get(); }
    const std::shared_ptr<Node>& node_ptr() const { return node_; }

private:
    std::shared_ptr<Node> node_;
};

struct Node {
    Tensor value;
    std::vector<Var> inputs;  // empty for leaves and for results recorded under no-grad
    BackwardFn backward;      // empty for leaves
    const char* op = "leaf";
    uint64_t seq = 0;
    bool requires_grad = false;
    Tensor grad;                     // leaves: accumulated by backward()
    std::vector<bool> input_needed;  // set by the engine just before calling `backward`
    // slice / rows only: where this node's value sits in its input (axis < 0: not a slice). Lets a
    // first-order backward add the node's gradient into that region of the input's gradient
    // instead of summing a zero-padded copy of the whole input per slice (a GRU that slices one
    // time step at a time would otherwise cost O(T^2) in its backward).
    int slice_axis = -1;
    int64_t slice_start = 0;

    Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    // Iterative teardown: a chain of a million nodes would otherwise overflow the stack through
    // nested shared_ptr destructors (PyTorch's "custom deleter to prevent stack overflows").
    ~Node();
};

// ---- grad mode ------------------------------------------------------------------------------------
bool grad_enabled();  // thread-local; true by default

// RAII: sets grad mode to `enabled` for a scope and restores the previous mode on exit.
class GradModeGuard {
public:
    explicit GradModeGuard(bool enabled);
    ~GradModeGuard();
    GradModeGuard(const GradModeGuard&) = delete;
    GradModeGuard& operator=(const GradModeGuard&) = delete;

private:
    bool prev_;
};

// RAII: no recording in this scope (evaluation, optimizer steps, first-order backward rules).
class NoGradGuard : public GradModeGuard {
public:
    NoGradGuard() : GradModeGuard(false) {}
};

// Records an op result: a node holding `value`, linked to `inputs` with rule `fn`, when grad mode
// is on and some input requires grad; otherwise a plain constant (inputs dropped, no tape).
Var make_result(Tensor value, std::vector<Var> inputs, const char* op, BackwardFn fn);

// Creates a constant (never requires grad).
inline Var constant(Tensor value) { return Var(std::move(value), false); }
// A learnable leaf (requires grad).
inline Var parameter(Tensor value) { return Var(std::move(value), true); }

// Number of nodes created so far on this thread (the seq counter): used by tests and benchmarks.
uint64_t nodes_created();

}  // namespace tt::ad
