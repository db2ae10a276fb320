#!/usr/bin/env python3
# tests/model/golden_mamba4rec.py — golden values for tests/model/test_mamba4rec.cpp.
#
# An independent float64 numpy model of the whole Mamba4Rec recommender (Liu et al., arXiv
# 2403.03900, as the authors' code runs it on mamba_ssm 1.1.4), written from the model's equations
# and not from the C++ code. The Mamba block itself (Gu & Dao, arXiv 2312.00752) is the project's
# own float64 reference in tests/model/golden_mamba.py, imported here. Around it:
#
#   x = LN(Emb[ids])                                     (dropout is the identity in evaluation)
#   per layer: y = LN(Mamba(x))          with one layer  (no residual)
#              y = LN(Mamba(x) + x)      with several
#              x = LN(W2 GELU(W1 y + b1) + b2 + y)       W1: E -> 4E, GELU with the exact erf
#   state = x at position len-1; scores = state Embᵀ over all V ids
# Every LayerNorm: biased variance, eps 1e-12.
#
# Tiny configuration: E=4, expand 2 (I=8), N=2, K=2, dt_rank R=1, 6 items (V=7); one and two layers.
# Weights: the parameters in the model's order (the names and shapes are listed in PARAMS and checked
# by the C++ test), flattened row-major and concatenated; element g of that concatenation is
#   base + 0.5 sin(g + 1),   base = 1 for LayerNorm weights and D, ln(n+1) for A_log[d, n], else 0.
# Inputs: three right-padded histories, ITEMS below.
#
# Usage: /usr/bin/python3 tests/model/golden_mamba4rec.py, and paste the printed arrays into
# test_mamba4rec.cpp.
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_mamba import fmt, mamba_block  # noqa: E402

E, EXPAND, N, K, R, N_ITEMS = 4, 2, 2, 2, 1, 6
I, V = EXPAND * E, N_ITEMS + 1
EPS = 1e-12
ITEMS = [[1, 3, 5, 2, 6, 4], [4, 4, 1, 0, 0, 0], [6, 0, 0, 0, 0, 0]]
LENGTHS = [6, 3, 1]


def params_layout(layers):
    """(name, shape) in the model's parameter order."""
    out = [("item_embedding.weight", (V, E)), ("LayerNorm.weight", (E,)), ("LayerNorm.bias", (E,))]
    for i in range(layers):
        p = f"mamba_layers.{i}."
        out += [
            (p + "mamba.in_proj.weight", (2 * I, E)),
            (p + "mamba.conv1d.weight", (I, 1, K)),
            (p + "mamba.conv1d.bias", (I,)),
            (p + "mamba.x_proj.weight", (R + 2 * N, I)),
            (p + "mamba.dt_proj.weight", (I, R)),
            (p + "mamba.dt_proj.bias", (I,)),
            (p + "mamba.A_log", (I, N)),
            (p + "mamba.D", (I,)),
            (p + "mamba.out_proj.weight", (E, I)),
            (p + "LayerNorm.weight", (E,)),
            (p + "LayerNorm.bias", (E,)),
            (p + "ffn.w_1.weight", (4 * E, E)),
            (p + "ffn.w_1.bias", (4 * E,)),
            (p + "ffn.w_2.weight", (E, 4 * E)),
            (p + "ffn.w_2.bias", (E,)),
            (p + "ffn.LayerNorm.weight", (E,)),
            (p + "ffn.LayerNorm.bias", (E,)),
        ]
    return out


def make_params(layers):
    params, g = {}, 0
    for name, shape in params_layout(layers):
        n = int(np.prod(shape))
        v = 0.5 * np.sin(np.arange(g, g + n, dtype=np.float64) + 1.0).reshape(shape)
        g += n
        if name.endswith("LayerNorm.weight") or name.endswith("mamba.D"):
            v = v + 1.0
        elif name.endswith("A_log"):
            v = v + np.log(np.arange(1, N + 1, dtype=np.float64))[None, :]
        params[name] = v
    return params


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(ids, P, layers):
    """One history (T) -> (T, E); right padding does not reach earlier positions (causal)."""
    x = layer_norm(P["item_embedding.weight"][ids], P["LayerNorm.weight"], P["LayerNorm.bias"])
    for i in range(layers):
        p = f"mamba_layers.{i}."
        blk = {
            "in_proj": P[p + "mamba.in_proj.weight"],
            "conv_w": P[p + "mamba.conv1d.weight"].reshape(I, K),
            "conv_b": P[p + "mamba.conv1d.bias"],
            "x_proj": P[p + "mamba.x_proj.weight"],
            "dt_w": P[p + "mamba.dt_proj.weight"],
            "dt_b": P[p + "mamba.dt_proj.bias"],
            "A_log": P[p + "mamba.A_log"],
            "D": P[p + "mamba.D"],
            "out_proj": P[p + "mamba.out_proj.weight"],
        }
        m = mamba_block(x, blk, K, R, N)[0]
        y = layer_norm(m if layers == 1 else m + x, P[p + "LayerNorm.weight"], P[p + "LayerNorm.bias"])
        h = gelu(y @ P[p + "ffn.w_1.weight"].T + P[p + "ffn.w_1.bias"])
        f = h @ P[p + "ffn.w_2.weight"].T + P[p + "ffn.w_2.bias"]
        x = layer_norm(f + y, P[p + "ffn.LayerNorm.weight"], P[p + "ffn.LayerNorm.bias"])
    return x


def main():
    for layers in (1, 2):
        P = make_params(layers)
        states, real = [], []
        for ids, n in zip(ITEMS, LENGTHS):
            h = encode(np.array(ids), P, layers)
            real.append(h[:n])
            states.append(h[n - 1])
            # causality: the history alone (no padding) gives the same rows
            assert np.allclose(encode(np.array(ids[:n]), P, layers), h[:n], rtol=0, atol=1e-12)
        states = np.array(states)
        scores = states @ P["item_embedding.weight"].T
        print(f"// ---- {layers} layer(s): E={E}, I={I}, N={N}, K={K}, R={R}, V={V} ----")
        fmt(f"kEncode{layers}", np.concatenate(real), "encode() at the real positions of each row, row after row")
        fmt(f"kScores{layers}", scores, "score_next (B, V)")


if __name__ == "__main__":
    main()
