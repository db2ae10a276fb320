#!/usr/bin/env python3
# tests/model/golden_din_comirec.py — independent float64 numpy references for
# tests/model/test_din_comirec.cpp, written from the papers' and reference codes' definitions
# (DIN: Zhou et al. KDD 2018 as RecBole's DIN; ComiRec: Cen et al. KDD 2020 as THUDM/ComiRec), not
# from the C++ code. Prints C++ constants to paste into the test.
#
#   python3 tests/model/golden_din_comirec.py
#
# DIN golden: a tiny network whose parameters follow a fixed formula (pattern() below, the same in
# the test), in the order model/rec/din.cpp lists them; the local activation unit is computed in
# its concatenated form [q, k, q - k, q * k], one (candidate, position) pair at a time.
import math

import numpy as np


def pattern(shape, scale, phase, offset=0.0):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return (offset + scale * np.sin(0.37 * i + 0.0123 * i * i + phase)).reshape(shape)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fmt(xs):
    return ", ".join(f"{float(x):.9g}f" for x in np.ravel(xs))


# ---- DIN ---------------------------------------------------------------------------------------
V, H, F, L = 6, 2, 3, 2  # items + 1, embedding width, MLP width, hidden layers per MLP
shapes = [("item_embedding.weight", (V, H))]
for l in range(L):
    shapes += [(f"attention.mlp.{l}.weight", (F, 4 * H if l == 0 else F)), (f"attention.mlp.{l}.bias", (F,))]
shapes += [("attention.dense.weight", (1, F)), ("attention.dense.bias", (1,))]
for l in range(L):
    shapes += [(f"dnn.mlp.{l}.weight", (F, 3 * H if l == 0 else F)), (f"dnn.mlp.{l}.bias", (F,)),
               (f"dnn.norm.{l}.weight", (F,)), (f"dnn.norm.{l}.bias", (F,))]
shapes += [("dnn.predict.weight", (1, F)), ("dnn.predict.bias", (1,))]
P = {}
for p, (name, s) in enumerate(shapes):
    if "norm" in name and name.endswith(".weight"):
        P[name] = pattern(s, 0.2, 0.7 * p, 1.0)
    else:
        P[name] = pattern(s, 0.5, 0.7 * p)

histories = [[1, 3, 2, 0], [4, 0, 0, 0]]
candidates = [[2, 5], [1, 4]]


def din_logit(hist, cand):
    E = P["item_embedding.weight"]
    q = E[cand]
    v = np.zeros(H)
    for item in hist:
        if item == 0:  # padded positions weigh 0
            continue
        k = E[item]
        a = np.concatenate([q, k, q - k, q * k])
        for l in range(L):
            a = sigmoid(P[f"attention.mlp.{l}.weight"] @ a + P[f"attention.mlp.{l}.bias"])
        w = (P["attention.dense.weight"] @ a + P["attention.dense.bias"])[0] / math.sqrt(H)
        v += w * k
    x = np.concatenate([v, q, v * q])
    for l in range(L):
        z = P[f"dnn.mlp.{l}.weight"] @ x + P[f"dnn.mlp.{l}.bias"]
        z = z * P[f"dnn.norm.{l}.weight"] + P[f"dnn.norm.{l}.bias"]  # the per-feature affine map
        x = z * sigmoid(z)  # RecBole's Dice with alpha = 0: SiLU
    return (P["dnn.predict.weight"] @ x + P["dnn.predict.bias"])[0]


din = [[din_logit(h, c) for c in cs] for h, cs in zip(histories, candidates)]
print(f"// kGoldenDIN: V={V} H={H} F={F} layers={L} histories={histories} candidates={candidates}")
print(f"constexpr float kGoldenDIN[] = {{{fmt(din)}}};")


# ---- ComiRec-DR routing (K=2, T=3, mask [1, 1, 0]) ----------------------------------------------
def squash(s):
    n2 = np.sum(s * s, -1, keepdims=True)
    return n2 / (1 + n2) * s / np.sqrt(n2 + 1e-9)


e_hat = np.array([[[1, 0], [0.5, 0.5], [9, 9]], [[0.2, 0.1], [-0.5, 0.5], [9, 9]]], dtype=np.float64)  # (K, T, C)
mask = np.array([1, 1, 0], dtype=np.float64)
b = np.zeros((2, 3))
for it in range(3):
    c = np.exp(b) / np.exp(b).sum(0, keepdims=True) * mask  # softmax over the interests
    s = np.einsum("kt,ktc->kc", c, e_hat)
    v = squash(s)
    print(f"// DR iteration {it}: c = {np.round(c, 6).tolist()}")
    if it < 2:
        b = b + np.einsum("ktc,kc->kt", e_hat, v)
print(f"// DR final v = {np.round(v, 6).tolist()}")
print(f"// squash([3, 4]) = {np.round(squash(np.array([3.0, 4.0])), 6).tolist()}")

# ---- ComiRec-SA ---------------------------------------------------------------------------------
X = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.float64)
Pos = np.array([[0.1, 0], [0, 0.1], [0.2, 0.2]])
W1 = np.array([[0.5, -0.5], [1, 0.2], [-0.3, 0.8]])
W2 = np.array([[1, 0.5, -1], [-0.5, 1, 0.5]])
S = (W2 @ np.tanh(W1 @ (X + Pos).T))  # (K, T)
S[:, mask == 0] = -(2.0 ** 32) + 1
A = np.exp(S - S.max(1, keepdims=True))
A /= A.sum(1, keepdims=True)
U = A @ X
tgt = np.array([0.2, 0.9])
print(f"// SA A = {np.round(A, 6).tolist()}  U = {np.round(U, 6).tolist()}  readout = {int(np.argmax(U @ tgt))}")

# ---- TF log-uniform sampler ---------------------------------------------------------------------
for rm, ids in [(12102, [0, 1, 100]), (23716, [0])]:
    probs = [(math.log(c + 2) - math.log(c + 1)) / math.log(rm + 1) for c in ids]
    print(f"// log-uniform range {rm}: " + ", ".join(f"P({c}) = {p:.6g}" for c, p in zip(ids, probs)))
