// autodiff/grad.cpp — the reverse-mode engine: one function, run_backward, serves grad() and
// backward(). No recursion anywhere: graphs of millions of nodes (long TTT scans) are walked with
// an explicit stack.
#include "autodiff/grad.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autodiff/ops.hpp"
#include "tensor/ops.hpp"

namespace tt::ad {

namespace {

// Nodes reachable from `outputs` that require grad, sorted newest first (reverse creation order =
// reverse topological order, because a node is always created after its inputs).
// Nodes older than `min_seq` are not visited: a path from an output down to a requested input
// only passes through nodes created after that input, so grad() passes the oldest input's seq and
// never walks the rest of the history (an inner gradient taken inside a long forward pass would
// otherwise cost time proportional to everything computed before it).
std::vector<Var> reverse_topological(const std::vector<Var>& outputs, uint64_t min_seq = 0) {
    std::vector<Var> order;
    std::unordered_set<const Node*> seen;
    std::vector<Var> stack;
    for (const Var& o : outputs)
        if (o.requires_grad() && seen.insert(o.node()).second) stack.push_back(o);
    while (!stack.empty()) {
        Var v = std::move(stack.back());
        stack.pop_back();
        for (const Var& in : v.inputs())
            if (in.requires_grad() && in.seq() >= min_seq && seen.insert(in.node()).second) stack.push_back(in);
        order.push_back(std::move(v));
    }
    std::sort(order.begin(), order.end(), [](const Var& a, const Var& b) { return a.seq() > b.seq(); });
    return order;
}

// The shared engine. `targets`: nodes whose gradient we want; returns their gradients (may be
// undefined where nothing reached them).
// free_graph: consume the graph while walking it (backward() with retain_graph = false). Once a
// node's rule has run, every rule that reads its value has run too (its consumers are newer, so they
// came first), so its inputs and rule are dropped and its slot in `order` released: the node, and
// any activation only it kept alive, is freed right there instead of after the whole walk.
std::unordered_map<const Node*, Var> run_backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
                                                  const std::unordered_set<const Node*>& targets, bool create_graph,
                                                  bool free_graph = false) {
    uint64_t min_seq = UINT64_MAX;
    for (const Node* t : targets) min_seq = std::min(min_seq, t->seq);
    std::vector<Var> order = reverse_topological(outputs, targets.empty() ? 0 : min_seq);

    // needed(n): n is a target, or some input of n is needed. Walk oldest -> newest so inputs are
    // decided before the nodes that use them.
    std::unordered_set<const Node*> needed;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const Node* n = it->node();
        bool need = targets.count(n) > 0;
        for (const Var& in : it->inputs()) need = need || needed.count(in.node());
        if (need) needed.insert(n);
    }

    GradModeGuard mode(create_graph);
    std::unordered_map<const Node*, Var> pending;  // gradients summed so far, by node
    // Without create_graph the running sum is a plain value. When nothing else can see it (its node
    // and its storage are held only here), it can be added into instead of allocating a new tensor.
    auto writable = [&](const Var& sum) {
        return !create_graph && sum.node_ptr().use_count() == 1 && sum.value().sole_owner() && sum.is_leaf();
    };
    auto accumulate = [&](const Var& v, const Var& g) {
        auto [it, inserted] = pending.try_emplace(v.node(), g);
        if (inserted) return;
        Var& sum = it->second;
        if (writable(sum) && sum.shape() == g.shape())
            add_inplace(sum.mutable_value(), g.value());
        else
            sum = add(sum, g);
    };
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i].requires_grad()) continue;
        Var g = i < grad_outputs.size() && grad_outputs[i].defined() ? grad_outputs[i]
                                                                        : constant(Tensor::ones(outputs[i].shape()));
        TT_CHECK(g.shape() == outputs[i].shape(), "grad: grad_output of shape " + g.shape().str() +
                                                      " for an output of shape " + outputs[i].shape().str());
        accumulate(outputs[i], g);
    }

    std::unordered_map<const Node*, Var> result;
    for (Var& v : order) {
        Node* n = v.node();
        struct Release {  // runs at the end of this iteration, whichever `continue` ends it
            Var& v;
            bool on;
            ~Release() {
                if (!on || !v.node()->backward) return;  // leaves belong to the user
                Node* n = v.node();
                n->inputs.clear();
                n->backward = nullptr;
                n->requires_grad = false;  // a constant now: a second walk finds nothing to do
                v = Var();
            }
        } release{v, free_graph};
        if (!needed.count(n)) continue;
        auto it = pending.find(n);
        if (it == pending.end()) continue;  // nothing flowed into this node
        Var g = std::move(it->second);
        pending.erase(it);
        if (targets.count(n)) result[n] = g;
        if (!n->backward) continue;  // a leaf

        // A slice without create_graph: add g into its region of the input's running gradient. Its
        // rule would return pad_slice(g) and the sum would add zeros everywhere else; this gives
        // the same floats at the cost of the slice instead of the whole input.
        if (!create_graph && n->slice_axis >= 0 && n->inputs.size() == 1) {
            const Var& in = n->inputs[0];
            if (!in.requires_grad() || !needed.count(in.node())) continue;
            auto [pit, inserted] = pending.try_emplace(in.node());
            Var& sum = pit->second;
            if (inserted) {
                sum = constant(tt::pad_slice(g.value(), in.shape(), n->slice_axis, n->slice_start));
            } else {
                if (!writable(sum)) sum = constant(sum.value().clone());  // someone else can see it: add into a copy
                tt::add_into_slice(sum.mutable_value(), g.value(), n->slice_axis, n->slice_start);
            }
            continue;
        }
        n->input_needed.assign(n->inputs.size(), false);
        for (std::size_t i = 0; i < n->inputs.size(); ++i)
            n->input_needed[i] = n->inputs[i].requires_grad() && needed.count(n->inputs[i].node()) > 0;
        std::vector<Var> in_grads = n->backward(v, g);
        TT_CHECK(in_grads.size() == n->inputs.size(),
                 std::string("backward rule of '") + n->op + "' returned the wrong number of gradients");
        for (std::size_t i = 0; i < in_grads.size(); ++i) {
            if (!n->input_needed[i] || !in_grads[i].defined()) continue;
            const Var& in = n->inputs[i];
            TT_CHECK(in_grads[i].shape() == in.shape(), std::string("backward rule of '") + n->op + "' gave input " +
                                                            std::to_string(i) + " a gradient of shape " +
                                                            in_grads[i].shape().str() + ", expected " + in.shape().str());
            accumulate(in, in_grads[i]);
        }
        n->input_needed.clear();
    }
    return result;
}

}  // namespace

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs, const GradOptions& opt) {
    std::unordered_set<const Node*> targets;
    for (const Var& x : inputs) {
        TT_CHECK(x.defined(), "grad: an input is undefined");
        targets.insert(x.node());
    }
    auto found = run_backward(outputs, opt.grad_outputs, targets, opt.create_graph);
    std::vector<Var> out;
    out.reserve(inputs.size());
    for (const Var& x : inputs) {
        auto it = found.find(x.node());
        out.push_back(it != found.end() ? it->second : constant(Tensor::zeros(x.shape())));
    }
    return out;
}

std::vector<Var> inner_grad(const std::function<Var(const std::vector<Var>&)>& loss_fn, const std::vector<Var>& at) {
    const bool outer = grad_enabled();
    std::vector<Var> leaves;
    for (const Var& v : at) leaves.push_back(outer && v.requires_grad() ? v : parameter(v.value()));
    GradModeGuard on(true);  // the inner loss must be recorded even during evaluation
    Var loss = loss_fn(leaves);
    return grad({loss}, leaves, {.create_graph = outer});
}

std::vector<Var> vjp_of(const std::function<Var(const std::vector<Var>&)>& composite, const std::vector<Var>& inputs,
                        const Var& g) {
    const bool outer = grad_enabled();
    std::vector<Var> at;
    for (const Var& v : inputs) at.push_back(outer && v.requires_grad() ? v : parameter(v.value()));
    GradModeGuard on(true);  // the composite must be recorded to be differentiated
    Var out = composite(at);
    return grad({out}, at, {.create_graph = outer, .grad_outputs = {g}});
}

void backward(const Var& loss, const Var& grad_output, const BackwardOptions& opt) {
    TT_CHECK(loss.defined(), "backward: undefined loss");
    TT_CHECK(grad_output.defined() || loss.numel() == 1,
             "backward: the loss has shape " + loss.shape().str() + "; pass grad_output for a non-scalar output");
    // Targets: every leaf that requires grad and is reachable.
    std::vector<Var> order = reverse_topological({loss});
    std::unordered_set<const Node*> targets;
    std::vector<Var> leaves;
    for (const Var& v : order)
        if (v.is_leaf()) {
            targets.insert(v.node());
            leaves.push_back(v);
        }
    order.clear();  // run_backward walks its own copy; this one would keep every node alive
    auto found = run_backward({loss}, {grad_output}, targets, false, !opt.retain_graph);
    for (Var& leaf : leaves) {
        auto it = found.find(leaf.node());
        if (it == found.end()) continue;
        Tensor& acc = leaf.grad();
        if (!acc.defined())
            acc = it->second.value().clone();
        else
            add_inplace(acc, it->second.value());
    }
}

}  // namespace tt::ad
