// model/optim.cpp — see optim.hpp. The updates run on the SIMD kernels of tensor/kernels.hpp
// directly, in place: the state tensors are updated where they live (a checkpoint holding them by
// name stays valid), and no per-step temporaries are allocated beyond one scratch buffer.
#include "model/optim.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/kernels.hpp"

namespace tt::model {

namespace {

std::size_t count(const Tensor& t) { return static_cast<std::size_t>(t.numel()); }

}  // namespace

Adam::Adam(ParamList params, AdamConfig cfg) : params_(std::move(params)), cfg_(cfg) {
    slots_.reserve(params_.size());
    for (const auto& [name, p] : params_) {
        TT_CHECK(p.defined() && p.is_leaf(), "Adam: parameter '" + name + "' is not a leaf Var");
        slots_.push_back({Tensor::zeros(p.shape()), Tensor::zeros(p.shape()), Tensor::zeros(Shape{1})});
    }
}

void Adam::step() {
    ad::NoGradGuard no_grad;
    const float b1 = cfg_.beta1, b2 = cfg_.beta2;
    Tensor scratch;
    for (std::size_t i = 0; i < params_.size(); ++i) {
        Var& p = params_[i].second;
        const Tensor& grad = p.grad();
        if (!grad.defined()) continue;  // not reached by the loss: no update, no step
        Tensor& theta = p.mutable_value();
        TT_CHECK(grad.shape() == theta.shape(), "Adam: gradient of '" + params_[i].first + "' has shape " +
                                                    grad.shape().str() + ", parameter " + theta.shape().str());
        Slot& s = slots_[i];
        const std::size_t n = count(theta);
        const float t = s.step.data()[0] + 1.0f;
        s.step.data()[0] = t;

        const float* g = grad.data();
        if (cfg_.weight_decay != 0.0f && !cfg_.decoupled_weight_decay) {
            // Adam's L2 penalty: the decay goes through the moments, g ← g + wd·θ.
            if (!scratch.defined() || count(scratch) < n) scratch = Tensor::empty(Shape{static_cast<int64_t>(n)});
            kernels::mul_scalar(theta.data(), cfg_.weight_decay, scratch.data(), n);
            kernels::binary(BinaryOp::Add, scratch.data(), g, scratch.data(), n);
            g = scratch.data();
        }
        if (cfg_.weight_decay != 0.0f && cfg_.decoupled_weight_decay)  // AdamW: θ ← θ (1 − lr·wd)
            kernels::mul_scalar(theta.data(), 1.0f - cfg_.lr * cfg_.weight_decay, theta.data(), n);

        float* m = s.exp_avg.data();
        float* v = s.exp_avg_sq.data();
        kernels::mul_scalar(m, b1, m, n);  // m = β1 m + (1−β1) g
        kernels::axpy(1.0f - b1, g, m, n);
        Tensor g2 = Tensor::empty(theta.shape());  // v = β2 v + (1−β2) g²
        kernels::binary(BinaryOp::Mul, g, g, g2.data(), n);
        kernels::mul_scalar(v, b2, v, n);
        kernels::axpy(1.0f - b2, g2.data(), v, n);

        // θ -= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)   (torch's order of operations)
        const double bc1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t));
        const double bc2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t));
        float* denom = g2.data();  // g² is no longer needed: reuse its buffer
        kernels::unary(UnaryOp::Sqrt, v, denom, n);
        kernels::mul_scalar(denom, static_cast<float>(1.0 / std::sqrt(bc2)), denom, n);
        kernels::add_scalar(denom, cfg_.eps, denom, n);
        kernels::binary(BinaryOp::Div, m, denom, denom, n);
        kernels::axpy(static_cast<float>(-cfg_.lr / bc1), denom, theta.data(), n);
    }
}

void Adam::zero_grad() { model::zero_grad(params_); }

NamedTensors Adam::state() const {
    NamedTensors out;
    out.reserve(3 * params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
        const std::string& name = params_[i].first;
        out.emplace_back(name + ".exp_avg", slots_[i].exp_avg);
        out.emplace_back(name + ".exp_avg_sq", slots_[i].exp_avg_sq);
        out.emplace_back(name + ".step", slots_[i].step);
    }
    return out;
}

void Adam::load_state(const NamedTensors& state) {
    auto find = [&](const std::string& key) -> const Tensor& {
        for (const auto& [name, t] : state)
            if (name == key) return t;
        check_failed("Adam::load_state: missing entry '" + key + "'", __FILE__, __LINE__);
    };
    // Check everything before changing anything, so a bad checkpoint leaves the optimizer intact.
    for (const auto& [key, live] : this->state())
        TT_CHECK(find(key).shape() == live.shape(), "Adam::load_state: '" + key + "' has shape " + find(key).shape().str() +
                                                        ", expected " + live.shape().str());
    for (auto& [key, live] : this->state()) {
        const Tensor& src = find(key);
        std::copy(src.data(), src.data() + src.numel(), live.data());
    }
}

AdamW::AdamW(ParamList params, AdamConfig cfg) : Adam(std::move(params), decoupled(cfg)) {}

void zero_grad(const ParamList& params) {
    for (const auto& entry : params) {
        Var p = entry.second;  // a handle: zero_grad() acts on the shared node
        p.zero_grad();
    }
}

float clip_grad_norm(const ParamList& params, float max_norm) {
    double total_sq = 0.0;
    for (const auto& [name, p] : params) {
        const Tensor& g = p.grad();
        if (!g.defined()) continue;
        total_sq += static_cast<double>(kernels::dot(g.data(), g.data(), count(g)));
    }
    const float total = static_cast<float>(std::sqrt(total_sq));
    if (total > max_norm) {
        const float scale = max_norm / (total + 1e-6f);
        for (const auto& entry : params) {
            Var p = entry.second;
            Tensor& g = p.grad();
            if (g.defined()) kernels::mul_scalar(g.data(), scale, g.data(), count(g));
        }
    }
    return total;
}

float LrSchedule::at(int64_t step) const {
    if (warmup_steps > 0 && step < warmup_steps)
        return base_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
    if (decay == Decay::Constant || total_steps <= warmup_steps) return base_lr;
    double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
    progress = std::min(progress, 1.0);
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));  // 1 -> 0
    const double min_lr = static_cast<double>(min_lr_ratio) * base_lr;
    return static_cast<float>(min_lr + (static_cast<double>(base_lr) - min_lr) * cosine);
}

}  // namespace tt::model
