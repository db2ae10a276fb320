#!/usr/bin/env python3
# tests/model/golden_ttt.py — golden values for tests/model/test_ttt.cpp ("golden" test cases).
#
# A float64 numpy model of one whole TTT layer (model/TTT.md §2, §6.2), written from the formulas of
# model/TTT.md, with the per-mini-batch dual forms of §3 (dual_head below; they were first checked
# against the per-token primal form in an earlier float64 numpy script): projections, interleaved RoPE at t mod b, lr = base_lr·sigmoid(x·w_h + c_h)/D,
# τ_i = max(0, 1/(i+1) + δ_i), mini-batch TTT with a shorter last mini-batch, post_norm, optional
# gate and shared Q/K with causal depthwise convolutions, o_proj.
#
# Inputs and parameters are given by a formula both sides compute: tensor element i (flat,
# row-major) = offset + scale · sin(0.37 · i + 0.0123 · i² + phase) (the quadratic term keeps the
# matrices from being rank 2, which a pure sin(a·i + φ) pattern would make them). Usage: python3 golden_ttt.py > snippet
# and paste the printed arrays into test_ttt.cpp.
import numpy as np

EPS = 1e-6


def pattern(shape, scale, phase, offset=0.0):
    i = np.arange(int(np.prod(shape)), dtype=np.float64)
    return (offset + scale * np.sin(0.37 * i + 0.0123 * (i * i) + phase)).reshape(shape)


def ln(x, g, b, eps=EPS):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


def ln_l2_grad(x, t, g, b, eps=EPS):  # Φ, model/TTT.md §4.1
    D = x.shape[-1]
    mu = x.mean(-1, keepdims=True)
    std = np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - mu) / std
    gx = (g * xh + b - t) * g
    return (D * gx - gx.sum(-1, keepdims=True) - xh * (gx * xh).sum(-1, keepdims=True)) / (D * std)


def gelu(x):
    return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def gelu_bwd(x):
    c, a = 0.7978845608028654, 0.044715
    t = np.tanh(c * x * (1 + a * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x)


def dual_head(q, k, v, lr, tok, P, g, beta, mb, mlp):
    """One (batch, head) sequence through the dual form (model/TTT.md §3), P = inner params."""
    L = k.shape[0]
    out = []
    P = [p.copy() for p in P]
    for i0 in range(0, L, mb):
        K = min(mb, L - i0)
        sl = slice(i0, i0 + K)
        Q, Kx, V = q[sl], k[sl], v[sl]
        eta = tok[:K, None] * lr[sl][None, :]
        le = eta[-1][:, None]
        if not mlp:
            W, b = P
            Z = Kx @ W + b
            G = ln_l2_grad(Z, V - Kx, g, beta)
            Zb = Q @ W - (eta * np.tril(Q @ Kx.T)) @ G + b - np.tril(eta) @ G
            out.append(Q + ln(Zb, g, beta))
            P = [W - (le * Kx).T @ G, b - (le * G).sum(0, keepdims=True)]
        else:
            W1, b1, W2, b2 = P
            Z1 = Kx @ W1 + b1
            X2 = gelu(Z1)
            Z2 = X2 @ W2 + b2
            G2 = ln_l2_grad(Z2, V - Kx, g, beta)
            G1 = (G2 @ W2.T) * gelu_bwd(Z1)
            Z1b = Q @ W1 - (eta * np.tril(Q @ Kx.T)) @ G1 + b1 - np.tril(eta) @ G1
            X2b = gelu(Z1b)
            Z2b = X2b @ W2 - (eta * np.tril(X2b @ X2.T)) @ G2 + b2 - np.tril(eta) @ G2
            out.append(Q + ln(Z2b, g, beta))
            P = [W1 - (le * Kx).T @ G1, b1 - (le * G1).sum(0, keepdims=True),
                 W2 - (le * X2).T @ G2, b2 - (le * G2).sum(0, keepdims=True)]
    return np.concatenate(out)


def rope(x, pos, base):  # interleaved pairs (2j, 2j+1), model/TTT.md §2.2
    D = x.shape[-1]
    y = x.copy()
    for j in range(D // 2):
        a = pos * base ** (-2 * j / D)
        y[..., 2 * j] = x[..., 2 * j] * np.cos(a) - x[..., 2 * j + 1] * np.sin(a)
        y[..., 2 * j + 1] = x[..., 2 * j + 1] * np.cos(a) + x[..., 2 * j] * np.sin(a)
    return y


def causal_conv(x, w, bias):  # x (B,T,C), w (C,1,k): nn.Conv1d(groups=C, padding=k-1)[..., :T]
    B, T, C = x.shape
    k = w.shape[2]
    xp = np.concatenate([np.zeros((B, k - 1, C)), x], 1)
    return bias + sum(xp[:, j:j + T] * w[:, 0, j] for j in range(k))


def params(C, H, mb, mlp, gate, share_qk, kernel=4):
    """Every parameter of the layer from the shared formula (same order/phases as the C++ test)."""
    D = C // H
    F = 4 * D
    p = dict(
        q=pattern((C, C), 0.5, 0.1), k=pattern((C, C), 0.5, 0.2), v=pattern((C, C), 0.5, 0.3),
        o=pattern((C, C), 0.5, 0.4), g=pattern((C, C), 0.5, 0.5),
        lr_w=pattern((H, 1, C), 0.3, 0.6), lr_b=pattern((H, 1), 0.1, 0.7),
        tok=pattern((mb,), 0.05, 0.8),
        ln_w=pattern((H, D), 0.1, 0.9, 1.0), ln_b=pattern((H, D), 0.1, 1.0),
        post_w=pattern((C,), 0.1, 1.1, 1.0), post_b=pattern((C,), 0.1, 1.2),
        cq_w=pattern((C, 1, kernel), 0.4, 1.3), cq_b=pattern((C,), 0.1, 1.4),
        ck_w=pattern((C, 1, kernel), 0.4, 1.5), ck_b=pattern((C,), 0.1, 1.6))
    if not mlp:
        p.update(W1=pattern((H, D, D), 0.3, 1.7), b1=pattern((H, 1, D), 0.1, 1.8))
    else:
        p.update(W1=pattern((H, D, F), 0.3, 1.7), b1=pattern((H, 1, F), 0.1, 1.8),
                 W2=pattern((H, F, D), 0.3, 1.9), b2=pattern((H, 1, D), 0.1, 2.0))
    return p


def layer(x, C, H, mb, mlp, gate, share_qk, base_lr, theta):
    B, T, _ = x.shape
    D = C // H
    p = params(C, H, mb, mlp, gate, share_qk)
    xq = x @ p["q"].T
    if share_qk:
        XQ, XK = causal_conv(xq, p["cq_w"], p["cq_b"]), causal_conv(xq, p["ck_w"], p["ck_b"])
    else:
        XQ, XK = xq, x @ p["k"].T
    XV = x @ p["v"].T
    heads = lambda a: a.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # (B,H,T,D)
    XQ, XK, XV = heads(XQ), heads(XK), heads(XV)
    pos = np.arange(T) % mb
    XQ, XK = rope(XQ, pos, theta), rope(XK, pos, theta)
    lr = base_lr / (1 + np.exp(-(np.einsum("btc,hc->bht", x, p["lr_w"][:, 0]) + p["lr_b"][None]))) / D
    tok = np.maximum(1.0 / np.arange(1, mb + 1) + p["tok"], 0)
    out = np.zeros((B, H, T, D))
    for bi in range(B):
        for h in range(H):
            P = [p["W1"][h], p["b1"][h]] + ([p["W2"][h], p["b2"][h]] if mlp else [])
            out[bi, h] = dual_head(XQ[bi, h], XK[bi, h], XV[bi, h], lr[bi, h], tok, P,
                                   p["ln_w"][h], p["ln_b"][h], mb, mlp)
    o = ln(out.transpose(0, 2, 1, 3).reshape(B, T, C), p["post_w"], p["post_b"])
    if gate:
        o = gelu(x @ p["g"].T) * o
    return o @ p["o"].T


CASES = [  # name, B, T, C, H, mb, mlp, gate, share_qk, base_lr, theta
    ("kGoldenLinear", 2, 7, 8, 2, 3, False, False, False, 1.0, 1000.0),
    ("kGoldenMLP", 2, 7, 8, 2, 4, True, False, False, 1.0, 10000.0),
    ("kGoldenMamba", 1, 5, 8, 2, 2, False, True, True, 1.0, 1000.0),
]

if __name__ == "__main__":
    for name, B, T, C, H, mb, mlp, gate, sqk, base_lr, theta in CASES:
        x = pattern((B, T, C), 1.0, 0.0)
        y = layer(x, C, H, mb, mlp, gate, sqk, base_lr, theta)
        vals = ", ".join(f"{v:.9g}f" for v in y.reshape(-1))
        print(f"// {name}: B={B} T={T} C={C} H={H} b={mb} mlp={mlp} gate={gate} share_qk={sqk} "
              f"base_lr={base_lr} theta={theta}")
        print(f"constexpr float {name}[] = {{{vals}}};")
