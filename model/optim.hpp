// model/optim.hpp — optimizers (Adam, AdamW), gradient clipping and the learning-rate schedule.
//
// An optimizer holds the ParamList of a model (shared handles to the very leaves the layers use)
// and, per parameter, the Adam state m (exp_avg), v (exp_avg_sq) and its step count, exactly as
// torch.optim.Adam/AdamW keep it. step() reads each parameter's accumulated .grad() (filled by
// ad::backward) and updates the value in place under ad::NoGradGuard; parameters whose gradient
// is undefined (not reached by the loss) are skipped and their step count does not advance.
//
// The state is exposed as named tensors ("<param>.exp_avg", "<param>.exp_avg_sq", "<param>.step")
// so that a checkpoint can save it and load it back bit-exactly.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/module.hpp"

namespace tt::model {


struct AdamConfig {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;
    // false: Adam's L2 penalty (g += wd·θ, then the adaptive update);
    // true : AdamW's decoupled decay (θ -= lr·wd·θ, independent of the gradient statistics).
    bool decoupled_weight_decay = false;
};

// Adam (Kingma & Ba 2015) with bias correction, as torch.optim.Adam:
//   m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
//   θ -= lr / (1−β1^t) · m / (sqrt(v) / sqrt(1−β2^t) + eps)
class Adam {
public:
    Adam(ParamList params, AdamConfig cfg = {});
    virtual ~Adam() = default;

    void step();       // one update of every parameter that has a gradient
    void zero_grad();  // drops every parameter's accumulated gradient

    float lr() const { return cfg_.lr; }
    void set_lr(float lr) { cfg_.lr = lr; }
    const AdamConfig& config() const { return cfg_; }
    const ParamList& params() const { return params_; }

    // Named state tensors sharing storage with the live state (the step count is a 1-element
    // tensor holding the count as a float: exact up to 2^24 steps).
    NamedTensors state() const;
    // Copies values in by name; every state entry must be present with the right shape.
    void load_state(const NamedTensors& state);

private:
    struct Slot {
        Tensor exp_avg;     // m, shape of the parameter
        Tensor exp_avg_sq;  // v, shape of the parameter
        Tensor step;        // (1): updates taken so far
    };
    ParamList params_;
    std::vector<Slot> slots_;
    AdamConfig cfg_;
};

// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay. PyTorch's default
// weight_decay for AdamW is 0.01.
class AdamW : public Adam {
public:
    AdamW(ParamList params, AdamConfig cfg = {.weight_decay = 0.01f});

private:
    static AdamConfig decoupled(AdamConfig cfg) {
        cfg.decoupled_weight_decay = true;
        return cfg;
    }
};

// Drops the accumulated gradient of every parameter.
void zero_grad(const ParamList& params);

// Scales all gradients together so that their global L2 norm is at most max_norm (as
// torch.nn.utils.clip_grad_norm_: factor max_norm / (norm + 1e-6) when norm > max_norm).
// Parameters without a gradient are ignored. Returns the norm before clipping.
float clip_grad_norm(const ParamList& params, float max_norm);

// Learning rate at a given (0-based) optimizer step: linear warm-up from base_lr/warmup_steps to
// base_lr over the first warmup_steps steps, then constant, or a cosine decay to
// min_lr_ratio·base_lr at total_steps (and flat after it).
struct LrSchedule {
    enum class Decay { Constant, Cosine };
    float base_lr = 1e-3f;
    int64_t warmup_steps = 0;
    int64_t total_steps = 0;  // used by Cosine
    Decay decay = Decay::Constant;
    float min_lr_ratio = 0.0f;

    float at(int64_t step) const;
};

}  // namespace tt::model
