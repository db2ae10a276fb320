#!/usr/bin/env python3
# tests/model/golden_narm_bert4rec.py — golden values for tests/model/test_narm_bert4rec.cpp.
#
# An independent float64 numpy forward pass of NARM (Li et al., CIKM 2017) and BERT4Rec (Sun et al.,
# CIKM 2019) as RecBole computes them (NARM.forward; BERT4Rec.forward with its post-LN
# TransformerEncoder, reconstruct_test_data for evaluation and the fine-tune branch of the
# mask_itemseq transform for the loss), written from the equations, not from the C++ code.
#
# Every parameter is set by one formula that the C++ test computes too: walking the model's
# parameters in their listed order and each one row-major, element number i (counted across all
# parameters) = 0.5 · sin(0.37 · i + 0.0123 · i²) (the quadratic term keeps the matrices from
# being rank 2). Usage: /usr/bin/python3 golden_narm_bert4rec.py, then paste the printed arrays
# into the test.
import math

import numpy as np


def fill(shapes):
    """The parameters in order, each an array of its shape, from the global element counter."""
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s))
        k = np.arange(i, i + n, dtype=np.float64)
        out.append((0.5 * np.sin(0.37 * k + 0.0123 * k * k)).reshape(s))
        i += n
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def show(name, a):
    flat = ", ".join(f"{v:.9g}" for v in np.asarray(a, dtype=np.float64).ravel())
    print(f"// {name} {tuple(np.shape(a))}\n{{{flat}}}")


# ---------------------------------------------------------------------------------------------
# NARM attention: the hand example (G, ids [5, 7, 0], len 2)


def narm_attention(G, ids, length, a1, a2, v):
    cg = G[length - 1]
    m = (ids > 0).astype(np.float64)
    gate = sigmoid(G @ a1.T + (a2 @ cg)[None, :]) * m[:, None]  # the mask before v
    alpha = gate @ v  # unnormalised
    c_l = alpha @ G
    return alpha, c_l, np.concatenate([c_l, cg])


G = np.array([[0.1, 0.2], [0.3, -0.1], [0.5, 0.5]])
a1 = np.array([[0.5, -0.2], [0.1, 0.3]])
a2 = np.array([[0.2, 0.4], [-0.3, 0.1]])
v = np.array([1.0, -0.5])
alpha, c_l, c = narm_attention(G, np.array([5, 7, 0]), 2, a1, a2, v)
print("// NARM attention example")
show("alpha", alpha)
show("c_l", c_l)
show("c", c)

# ---------------------------------------------------------------------------------------------
# NARM, tiny: n_items 5 (V 6), E 4, H 3, one GRU layer without biases, T 4


def gru(x, w_ih, w_hh):  # PyTorch gate order r, z, n; h0 = 0
    H = w_hh.shape[1]
    h = np.zeros(H)
    out = []
    for t in range(x.shape[0]):
        gi, gh = w_ih @ x[t], w_hh @ h
        r = sigmoid(gi[:H] + gh[:H])
        z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out)


V, E, H = 6, 4, 3
emb, w_ih, w_hh, A1, A2, vt, Bw = fill([(V, E), (3 * H, E), (3 * H, H), (H, H), (H, H), (1, H), (E, 2 * H)])
narm_rows = [([1, 3, 5, 0], 3), ([2, 4, 1, 5], 4)]
s_all, scores_all = [], []
for ids, length in narm_rows:
    ids = np.array(ids)
    Gr = gru(emb[ids], w_ih, w_hh)
    _, _, cr = narm_attention(Gr, ids, length, A1, A2, vt[0])
    s = Bw @ cr
    s_all.append(s)
    scores_all.append(emb @ s)
print("// NARM tiny: items [[1,3,5,0],[2,4,1,5]], lengths [3,4]")
show("narm_s", np.array(s_all))
show("narm_scores", np.array(scores_all))

# ---------------------------------------------------------------------------------------------
# BERT4Rec, tiny: n_items 5 (V 6 scored ids, mask id 6, 7 embedding rows), C 4, 2 heads, 2 layers,
# FFN 8, max_len 5


def ln(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


erf = np.vectorize(math.erf)


def gelu(x):
    return x * 0.5 * (1.0 + erf(x / math.sqrt(2.0)))


C, NH, F, L, NL = 4, 2, 8, 5, 2
shapes = [(V + 1, C), (L, C), (C,), (C,)]
for _ in range(NL):
    shapes += [(C, C), (C,)] * 4 + [(C,), (C,), (F, C), (F,), (C, F), (C,), (C,), (C,)]
shapes += [(C, C), (C,), (C,), (C,), (V,)]
P = fill(shapes)
b_emb, b_pos, in_g, in_b = P[0:4]
layers = [P[4 + 16 * l: 4 + 16 * (l + 1)] for l in range(NL)]
out_w, out_b, out_g, out_beta, out_bias = P[4 + 16 * NL:]
MASK = V  # = n_items + 1


def bert_forward(ids):  # ids (T) -> the output head at every position (T, C)
    T = len(ids)
    x = ln(b_emb[ids] + b_pos[:T], in_g, in_b)
    key_bias = np.where(np.array(ids) > 0, 0.0, -10000.0)
    D = C // NH
    for (qw, qb, kw, kb, vw, vb, ow, ob, ag, ab, f1w, f1b, f2w, f2b, fg, fb) in layers:
        q, k, vv = x @ qw.T + qb, x @ kw.T + kb, x @ vw.T + vb
        heads = []
        for h in range(NH):
            sl = slice(h * D, (h + 1) * D)
            sc = q[:, sl] @ k[:, sl].T / math.sqrt(D) + key_bias[None, :]
            p = np.exp(sc - sc.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            heads.append(p @ vv[:, sl])
        a = ln(np.concatenate(heads, -1) @ ow.T + ob + x, ag, ab)
        x = ln(gelu(a @ f1w.T + f1b) @ f2w.T + f2b + a, fg, fb)
    return ln(gelu(x @ out_w.T + out_b), out_g, out_beta)


def logits(h):  # the output table without the mask row, plus the per-item bias
    return b_emb[:V] @ h + out_bias


def reconstruct(ids, length):  # append 0, mask at len, drop column 0
    seq = list(ids) + [0]
    seq[length] = MASK
    return seq[1:], length - 1


bert_rows = [([1, 3, 5, 0, 0], 3), ([2, 4, 1, 5, 3], 5)]
scores = []
for ids, length in bert_rows:
    seq, at = reconstruct(ids, length)
    scores.append(logits(bert_forward(seq)[at]))
print("// BERT4Rec tiny: items [[1,3,5,0,0],[2,4,1,5,3]], lengths [3,5]")
show("bert_scores", np.array(scores))

# The fine-tune cloze loss (each row's last item masked and predicted), mean CE over the rows.
ce = []
for ids, length in bert_rows:
    seq = list(ids)
    target = seq[length - 1]
    seq[length - 1] = MASK
    z = logits(bert_forward(seq)[length - 1])
    ce.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[target])
show("bert_ft_loss", np.array([np.mean(ce)]))
