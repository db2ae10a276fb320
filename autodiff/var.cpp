// autodiff/var.cpp — Var, Node (with its iterative destructor), grad mode, make_result.
#include "autodiff/var.hpp"

namespace tt::ad {

namespace {
thread_local uint64_t t_next_seq = 1;
thread_local bool t_grad_enabled = true;
}  // namespace

uint64_t nodes_created() { return t_next_seq - 1; }

bool grad_enabled() { return t_grad_enabled; }

GradModeGuard::GradModeGuard(bool enabled) : prev_(t_grad_enabled) { t_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { t_grad_enabled = prev_; }

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
    TT_CHECK(value.defined(), "Var: cannot wrap an undefined tensor");
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
    node_->seq = t_next_seq++;
}

const Tensor& Var::value() const {
    TT_CHECK(node_, "use of an undefined Var");
    return node_->value;
}

Tensor& Var::mutable_value() {
    TT_CHECK(node_, "use of an undefined Var");
    return node_->value;
}

bool Var::requires_grad() const { return node_ && node_->requires_grad; }
bool Var::is_leaf() const { return node_ && !node_->backward; }
const char* Var::op() const { return node_ ? node_->op : "undefined"; }
uint64_t Var::seq() const { return node_ ? node_->seq : 0; }

Tensor& Var::grad() {
    TT_CHECK(node_, "grad() of an undefined Var");
    return node_->grad;
}
const Tensor& Var::grad() const {
    TT_CHECK(node_, "grad() of an undefined Var");
    return node_->grad;
}
void Var::zero_grad() {
    if (node_) node_->grad = Tensor();
}

const std::vector<Var>& Var::inputs() const {
    TT_CHECK(node_, "inputs() of an undefined Var");
    return node_->inputs;
}

bool Var::needs_input_grad(std::size_t i) const {
    if (!node_ || i >= node_->inputs.size()) return false;
    if (node_->input_needed.size() == node_->inputs.size()) return node_->input_needed[i];
    return node_->inputs[i].requires_grad();
}

Node::~Node() {
    // Move our inputs onto an explicit stack. Any node we hold the last reference to is emptied
    // of its own inputs before it dies, so destruction never recurses deeper than one level.
    std::vector<std::shared_ptr<Node>> stack;
    for (Var& v : inputs)
        if (v.node_ptr()) stack.push_back(v.node_ptr());
    inputs.clear();
    while (!stack.empty()) {
        std::shared_ptr<Node> n = std::move(stack.back());
        stack.pop_back();
        if (n.use_count() == 1) {  // we are the last owner: adopt its inputs, then let it go
            for (Var& v : n->inputs)
                if (v.node_ptr()) stack.push_back(v.node_ptr());
            n->inputs.clear();
        }
    }
}

Var make_result(Tensor value, std::vector<Var> inputs, const char* op, BackwardFn fn) {
    bool needs = false;
    if (t_grad_enabled)
        for (const Var& v : inputs) needs = needs || v.requires_grad();
    auto node = std::make_shared<Node>();
    node->value = std::move(value);
    node->op = op;
    node->seq = t_next_seq++;
    if (needs) {
        node->inputs = std::move(inputs);
        node->backward = std::move(fn);
        node->requires_grad = true;
    }
    return Var(std::move(node));
}

}  // namespace tt::ad
