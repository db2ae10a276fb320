#!/usr/bin/env python3
# tests/model/golden_mamba.py — golden values for tests/model/test_mamba.cpp.
#
# An independent float64 numpy model of the selective scan and of one Mamba block (Gu & Dao,
# "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", arXiv 2312.00752, Alg. 2 with
# the zero-order hold on A and the Euler step on B, as mamba_ssm's selective_scan_ref computes it),
# written from the equations, not from the C++ code:
#
#   h[t] = exp(Δ[t] A) ⊙ h[t-1] + Δ[t] B[t] u[t],  h[-1] = h0 (zeros unless given)
#   y[t] = Σ_n C[t, n] h[t, :, n] + D ⊙ u[t]
#
# and the reverse-mode rule of that recurrence, by hand (a reverse scan over time), which the script
# checks against central finite differences before printing anything.
#
# Cases:
#   1. a hand-sized scan, L=4, I=2, N=3, with closed-form inputs (below), Δ = softplus(δ_raw + b_dt)
#      and the gate o = y · SiLU(z): outputs, final state, and the gradients of Σo (kScan71_*);
#   2. one whole Mamba block with closed-form weights, E=2, I=4, N=2, K=2, R=1, L=3: output and
#      intermediates (kBlock72_*). The "71"/"72" in the names are only labels of the two cases;
#   3. a "pattern" scan with two sequences, L=37 (more than two chunks of 16), I=5, N=3 and an initial
#      state: y, the final state and every gradient of <Wy, y> + <Wh, h_last>;
#   4. a "pattern" Mamba block, B=2, L=19, E=4, I=8, N=3, K=4, R=2: its output.
#
# Pattern inputs: tensor element i (flat, row-major) = offset + scale · sin(0.37 i + 0.0123 i² + phase),
# the formula test_mamba.cpp computes too. Usage: python3 tests/model/golden_mamba.py, and paste the
# printed arrays into test_mamba.cpp.
import numpy as np


def pattern(shape, scale, phase, offset=0.0):
    i = np.arange(int(np.prod(shape)), dtype=np.float64)
    return (offset + scale * np.sin(0.37 * i + 0.0123 * (i * i) + phase)).reshape(shape)


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


# ---- the scan, one sequence at a time: u, dl (L, I); A (I, N); B, C (L, N); D (I); h0 (I, N) -----------
def scan(u, dl, A, B, C, D, h0):
    L = u.shape[0]
    h = h0.copy()
    hs, ys = [], []
    for t in range(L):
        h = np.exp(dl[t][:, None] * A) * h + (dl[t] * u[t])[:, None] * B[t][None, :]
        hs.append(h)
        ys.append((h * C[t][None, :]).sum(1) + D * u[t])
    return np.array(ys), np.array(hs)  # (L, I), (L, I, N)


def scan_vjp(gy, gh_last, u, dl, A, B, C, D, h0):
    """d <gy, y> + <gh_last, h[L-1]> / d (u, dl, A, B, C, D, h0) by a reverse scan."""
    L = u.shape[0]
    _, hs = scan(u, dl, A, B, C, D, h0)
    du, ddl = np.zeros_like(u), np.zeros_like(dl)
    dA, dB, dC = np.zeros_like(A), np.zeros_like(B), np.zeros_like(C)
    dD = (gy * u).sum(0)
    gh = gh_last.copy()  # gradient reaching h[t] from the future (a[t+1] g_h[t+1]) and from h_last
    for t in reversed(range(L)):
        h_prev = hs[t - 1] if t > 0 else h0
        a = np.exp(dl[t][:, None] * A)
        gh = gh + gy[t][:, None] * C[t][None, :]        # g_h[t]
        dC[t] = (gy[t][:, None] * hs[t]).sum(0)
        ddl[t] = (gh * (h_prev * a * A + B[t][None, :] * u[t][:, None])).sum(1)
        dA += gh * h_prev * a * dl[t][:, None]
        dB[t] = (gh * (dl[t] * u[t])[:, None]).sum(0)
        du[t] = gy[t] * D + (gh * B[t][None, :]).sum(1) * dl[t]
        gh = gh * a                                     # to h[t-1]
    return du, ddl, dA, dB, dC, dD, gh


def check_vjp(args, gy, gh_last):
    """Central finite differences of the hand-written rule (float64: tight)."""
    grads = scan_vjp(gy, gh_last, *args)
    def loss(a):
        y, hs = scan(*a)
        return (gy * y).sum() + (gh_last * hs[-1]).sum()
    rng = np.random.default_rng(0)
    for k in range(len(args)):
        v = rng.standard_normal(args[k].shape)
        eps = 1e-6
        p = [x.copy() for x in args]; p[k] = p[k] + eps * v
        m = [x.copy() for x in args]; m[k] = m[k] - eps * v
        fd = (loss(p) - loss(m)) / (2 * eps)
        an = (grads[k] * v).sum()
        assert abs(fd - an) <= 1e-7 * max(1.0, abs(an)), (k, fd, an)


def fmt(name, a, comment=""):
    vals = ", ".join(f"{x:.9g}" for x in np.asarray(a, dtype=np.float64).ravel())
    if comment:
        print(f"// {name}: {comment}")
    print(f"constexpr double {name}[] = {{{vals}}};")


# ---- the Mamba block, one sequence: x (L, E) -----------------------------------------------------------
def mamba_block(x, p, K, R, N):
    I = p["D"].shape[0]
    xz = x @ p["in_proj"].T                         # (L, 2I)
    xs, z = xz[:, :I], xz[:, I:]
    L = x.shape[0]
    xpad = np.concatenate([np.zeros((K - 1, I)), xs], 0)
    conv = p["conv_b"][None, :] + sum(p["conv_w"][:, k][None, :] * xpad[k:k + L] for k in range(K))
    u = silu(conv)                                  # (L, I)
    dbc = u @ p["x_proj"].T                         # (L, R + 2N)
    dt, B, C = dbc[:, :R], dbc[:, R:R + N], dbc[:, R + N:]
    dl = softplus(dt @ p["dt_w"].T + p["dt_b"][None, :])
    A = -np.exp(p["A_log"])
    y, hs = scan(u, dl, A, B, C, p["D"], np.zeros((I, N)))
    o = y * silu(z)
    return o @ p["out_proj"].T, u, dl, hs[-1], conv, xs


def main():
    # ---- case 1 (7.1) --------------------------------------------------------------------------------
    L, I, N = 4, 2, 3
    t = np.arange(L, dtype=np.float64)[:, None]
    d = np.arange(I, dtype=np.float64)[None, :]
    n = np.arange(N, dtype=np.float64)[None, :]
    u = 0.5 + 0.1 * t - 0.2 * d
    draw = 0.3 * t - 0.4 * d - 0.5
    bdt = np.array([0.0, 0.1])
    A_log = np.log(n + 1).repeat(I, 0)
    B = 0.2 * (n + 1) - 0.1 * t
    C = 0.3 - 0.25 * n + 0.05 * t
    D = np.ones(I)
    z = 0.2 * t - 0.3 * d + 0.15
    dl = softplus(draw + bdt)
    A = -np.exp(A_log)
    h0 = np.zeros((I, N))
    y, hs = scan(u, dl, A, B, C, D, h0)
    o = y * silu(z)
    # gradients of Σo: gy = SiLU(z); then through softplus (σ) and A = −exp(A_log) (dA/dA_log = A)
    gy = silu(z)
    check_vjp((u, dl, A, B, C, D, h0), gy, np.zeros((I, N)))
    du, ddl, dA, dB, dC, dD, dh0 = scan_vjp(gy, np.zeros((I, N)), u, dl, A, B, C, D, h0)
    d_bdt = (ddl * sigmoid(draw + bdt)).sum(0)
    d_Alog = dA * A
    print("// ---- case 1: hand-sized scan (L=4, I=2, N=3) ----")
    fmt("kScan71_o", o, "o[t, d] = y · SiLU(z), (L, I)")
    fmt("kScan71_h", hs[-1], "h[L-1], (I, N)")
    fmt("kScan71_dbdt", d_bdt)
    fmt("kScan71_dD", dD)
    fmt("kScan71_dAlog0", d_Alog[0])
    fmt("kScan71_dB0", dB[0])
    fmt("kScan71_du", du, "(L, I), extra: the input gradient")
    fmt("kScan71_dC", dC, "(L, N), extra")

    # ---- case 2 (7.2) --------------------------------------------------------------------------------
    E, I, N, K, R, L = 2, 4, 2, 2, 1, 3
    o_, i_ = np.meshgrid(np.arange(2 * I), np.arange(E), indexing="ij")
    p = {"in_proj": 0.5 * np.sin(o_ + 2 * i_ + 1)}
    dd, kk = np.meshgrid(np.arange(I), np.arange(K), indexing="ij")
    p["conv_w"] = 0.2 * np.cos(dd + kk)
    p["conv_b"] = 0.05 * np.arange(I)
    o_, i_ = np.meshgrid(np.arange(R + 2 * N), np.arange(I), indexing="ij")
    p["x_proj"] = 0.5 * np.sin(3 * o_ + i_)
    o_, r_ = np.meshgrid(np.arange(I), np.arange(R), indexing="ij")
    p["dt_w"] = 0.5 * np.cos(o_ + r_)
    p["dt_b"] = -1 + 0.3 * np.arange(I)
    p["A_log"] = np.log(np.arange(1, N + 1, dtype=np.float64))[None, :].repeat(I, 0)
    p["D"] = np.ones(I)
    o_, i_ = np.meshgrid(np.arange(E), np.arange(I), indexing="ij")
    p["out_proj"] = 0.5 * np.cos(2 * o_ + i_)
    tt_, ee = np.meshgrid(np.arange(L), np.arange(E), indexing="ij")
    x = np.sin(tt_ + ee).astype(np.float64)
    out, u, dl, h_last, _, _ = mamba_block(x, p, K, R, N)
    print("// ---- case 2: one Mamba block (E=2, I=4, N=2, K=2, R=1, L=3) ----")
    fmt("kBlock72_out", out, "(L, E)")
    fmt("kBlock72_u0", u[0], "SiLU(conv) at t=0")
    fmt("kBlock72_delta0", dl[0], "Δ at t=0")
    fmt("kBlock72_h", h_last, "final SSM state (I, N)")

    # ---- case 3: pattern scan, B=2, L=37, I=5, N=3, with h0 ----------------------------------------
    Bsz, L, I, N = 2, 37, 5, 3
    u = pattern((Bsz, L, I), 1.0, 0.1)
    dl = softplus(pattern((Bsz, L, I), 1.5, 0.2, -0.5))
    A = -np.exp(pattern((I, N), 0.5, 0.3))
    Bm = pattern((Bsz, L, N), 0.8, 0.4)
    Cm = pattern((Bsz, L, N), 0.8, 0.5)
    D = pattern((I,), 0.5, 0.6, 1.0)
    h0 = pattern((Bsz, I, N), 0.5, 0.7)
    Wy = pattern((Bsz, L, I), 1.0, 0.8)
    Wh = pattern((Bsz, I, N), 1.0, 0.9)
    ys, hl, grads = [], [], [np.zeros_like(v) for v in (u, dl)] + [np.zeros_like(A)] + \
        [np.zeros_like(Bm), np.zeros_like(Cm), np.zeros_like(D), np.zeros_like(h0)]
    for b in range(Bsz):
        args = (u[b], dl[b], A, Bm[b], Cm[b], D, h0[b])
        y, hs = scan(*args)
        ys.append(y)
        hl.append(hs[-1])
        check_vjp(args, Wy[b], Wh[b])
        g = scan_vjp(Wy[b], Wh[b], *args)
        grads[0][b], grads[1][b], grads[3][b], grads[4][b], grads[6][b] = g[0], g[1], g[3], g[4], g[6]
        grads[2] += g[2]
        grads[5] += g[5]
    print("// ---- case 3: pattern scan (B=2, L=37, I=5, N=3, h0 given) ----")
    fmt("kScanP_y", np.array(ys), "(B, L, I)")
    fmt("kScanP_h", np.array(hl), "(B, I, N)")
    for name, g in zip(["du", "ddelta", "dA", "dB", "dC", "dD", "dh0"], grads):
        fmt("kScanP_" + name, g)

    # ---- case 4: pattern Mamba block, B=2, L=19, E=4, I=8, N=3, K=4, R=2 ----------------------------
    Bsz, L, E, I, N, K, R = 2, 19, 4, 8, 3, 4, 2
    p = {
        "in_proj": pattern((2 * I, E), 0.5, 1.1),
        "conv_w": pattern((I, K), 0.4, 1.2),
        "conv_b": pattern((I,), 0.1, 1.3),
        "x_proj": pattern((R + 2 * N, I), 0.5, 1.4),
        "dt_w": pattern((I, R), 0.5, 1.5),
        "dt_b": pattern((I,), 0.5, 1.6, -1.0),
        "A_log": np.log(np.arange(1, N + 1, dtype=np.float64))[None, :].repeat(I, 0) + pattern((I, N), 0.1, 1.7),
        "D": pattern((I,), 0.3, 1.8, 1.0),
        "out_proj": pattern((E, I), 0.5, 1.9),
    }
    x = pattern((Bsz, L, E), 1.0, 2.0)
    outs = [mamba_block(x[b], p, K, R, N)[0] for b in range(Bsz)]
    print("// ---- case 4: pattern Mamba block (B=2, L=19, E=4, I=8, N=3, K=4, R=2) ----")
    fmt("kBlockP_out", np.array(outs), "(B, L, E)")


if __name__ == "__main__":
    main()
