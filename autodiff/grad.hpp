// autodiff/grad.hpp — reverse mode: grad() (returns gradients, changes nothing) and backward()
// (accumulates into leaves' .grad), in the spirit of torch.autograd.grad / Tensor.backward.
//
// How grad() works (autodiff/grad.cpp):
//   1. collect the nodes reachable from the outputs that require grad (explicit stack, no recursion);
//   2. order them by creation sequence number, newest first: a reverse topological order;
//   3. keep only nodes on a path to a requested input ("needed"), so no rule runs in vain;
//   4. seed each output with its grad_output (ones by default) and, node by node, call the rule
//      and add its results into the inputs' pending gradients (fan-in is summed).
// With create_graph=true every rule runs with recording on, so the returned gradients are nodes
// themselves and can be differentiated again (to any order). Otherwise the rules run under
// NoGradGuard and the results are constants.
#pragma once

#include <functional>
#include <vector>

#include "autodiff/var.hpp"

namespace tt::ad {

struct GradOptions {
    bool create_graph = false;
    // d L / d output for each output; empty = ones (each output must then be a single value
    // unless you really want the gradient of the sum of its elements).
    std::vector<Var> grad_outputs = {};
};

// Gradients of sum_i <grad_outputs[i], outputs[i]> with respect to each of `inputs`. An input that
// does not influence the outputs gets zeros of its shape (never an undefined Var).
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs, const GradOptions& opt = {});
inline Var grad(const Var& output, const Var& input, const GradOptions& opt = {}) {
    return grad(std::vector<Var>{output}, std::vector<Var>{input}, opt)[0];
}

// The building block of learned inner loops (TTT, MAML): evaluates loss_fn(at) with recording on
// and returns d loss / d at. The gradients are themselves on the tape (differentiable w.r.t.
// everything `at` depends on) exactly when grad mode was on at the call; under NoGradGuard
// (evaluation) the inner gradient is still computed, as plain constants. Inputs that do not
// require grad are differentiated through fresh leaves holding the same values.
std::vector<Var> inner_grad(const std::function<Var(const std::vector<Var>&)>& loss_fn, const std::vector<Var>& at);

// The backward rule of a fused op, written once as "differentiate a composite that computes the same
// value": returns d <g, composite(inputs)> / d inputs. Used by fused ops' second-order rules (their
// first-order rule is itself a fused kernel, the composite only runs when that rule is differentiated).
// Recorded (differentiable again) exactly when grad mode is on, i.e. under create_graph; inputs
// that do not require grad are differentiated through fresh leaves holding the same values.
std::vector<Var> vjp_of(const std::function<Var(const std::vector<Var>&)>& composite, const std::vector<Var>& inputs,
                        const Var& g);

struct BackwardOptions {
    // true: the graph stays as it was (backward can be called again through it, and accumulates).
    // false: the walk consumes the graph, as PyTorch's default: each node drops its inputs and rule
    // right after its rule ran, so every activation is freed as soon as the last rule that reads it
    // has run, instead of all of them after the walk. A training step then peaks at about its
    // forward pass, not forward pass + backward pass. Afterwards the nodes are constants holding
    // their values (loss.item() still works) and a second backward through them does nothing.
    bool retain_graph = true;
};

// Accumulates d loss / d leaf into leaf.grad() for every leaf that requires grad and is reachable
// from `loss` (a single-value Var unless `grad_output` is given). Records nothing.
void backward(const Var& loss, const Var& grad_output = Var(), const BackwardOptions& opt = {});

}  // namespace tt::ad
