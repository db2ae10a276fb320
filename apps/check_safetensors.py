#!/usr/bin/python3
"""Interop check: a run's weights, written by tttrec, read by PyTorch; and weights written by
another writer read back by tttrec. Not part of CI (it needs python3-torch); run it by hand:

    /usr/bin/python3 apps/check_safetensors.py RUN_DIR [--eval build/apps/eval]

1. Reads RUN_DIR/model.safetensors (and resume.safetensors) with a reader written here from the
   safetensors format spec (8-byte little-endian header length N, N bytes of JSON
   {name: {dtype, shape, data_offsets}}, raw little-endian data), with no tttrec code, into torch
   tensors, and checks the layout (offsets contiguous and covering the data exactly, 8-byte
   aligned data start), dtypes, shapes against config.json, and that every value is finite.
   (The `safetensors` Python package, whose safetensors.torch.load_file is what PyTorch users
   call, is not packaged in Debian; the reader below follows the same spec. Where the package
   is installed, it is used as well and must give the same tensors.)
2. Writes the same weights back with this script's own writer (another tensor order, F64 instead
   of F32, no tttrec checksum) into a copy of the run directory, and runs `eval` on both: tttrec
   must read the foreign file and report exactly the same metrics.
Prints one line per check and exits 1 on the first failure.
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
except ImportError:  # the layout and round-trip checks need only numpy
    torch = None

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}  # BF16 handled by hand below


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def ok(msg):
    print("ok:", msg)


def read_safetensors(path):
    """Returns (metadata, {name: numpy float array}) from the spec alone; checks the layout."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        fail(f"{path}: header length {n} runs past the end")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    spans, tensors = [], {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        spans.append((b, end))
        chunk = data[b:end]
        count = math.prod(e["shape"])
        if e["dtype"] == "BF16":
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif e["dtype"] in DTYPES:
            arr = np.frombuffer(chunk, dtype=DTYPES[e["dtype"]])
        else:
            fail(f"{path}: tensor {name}: unexpected dtype {e['dtype']}")
        if arr.size != count:
            fail(f"{path}: tensor {name}: {arr.size} values for shape {e['shape']}")
        tensors[name] = (e["dtype"], arr.reshape(e["shape"]))
    spans.sort()
    pos = 0
    for b, end in spans:
        if b != pos:
            fail(f"{path}: data regions are not contiguous at byte {b}")
        pos = end
    if pos != len(data):
        fail(f"{path}: data regions cover {pos} of {len(data)} bytes")
    if (8 + n) % 8:
        fail(f"{path}: data does not start 8-byte aligned")
    return meta, tensors


def write_safetensors(path, tensors, metadata):
    """The other direction: this script's own writer (reverse name order, float64)."""
    header = {"__metadata__": metadata}
    blobs, pos = [], 0
    for name in sorted(tensors, reverse=True):
        b = np.ascontiguousarray(tensors[name], dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(tensors[name].shape), "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def run_eval(eval_bin, run_dir):
    out = subprocess.run([eval_bin, "--run", run_dir, "--threads", "1"], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"eval --run {run_dir}: exit {out.returncode}: {out.stderr.strip()}")
    return json.loads(out.stdout)["metrics"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--eval", default=os.path.join(os.path.dirname(__file__), "..", "build", "apps", "eval"),
                    help="the apps/eval binary (default: build/apps/eval)")
    args = ap.parse_args()
    config = json.load(open(os.path.join(args.run_dir, "config.json")))
    m = config["model"]

    path = os.path.join(args.run_dir, "model.safetensors")
    meta, tensors = read_safetensors(path)
    ok(f"{path}: {len(tensors)} tensors, layout as the spec requires, metadata {sorted(meta)}")
    if meta.get("format") != "pt":
        fail("metadata 'format' is not 'pt' (what PyTorch-side tools look for)")
    for name, (dtype, arr) in tensors.items():
        if dtype != "F32":
            fail(f"{name}: dtype {dtype}, tttrec writes F32")
        if not np.all(np.isfinite(arr)):
            fail(f"{name}: non-finite values")
    ok("every tensor is F32 and finite")
    # Item embeddings: (n_items + 1, dim) for the models that tie them to the output.
    emb = [a for n, (_, a) in tensors.items() if a.ndim == 2 and a.shape[0] == m["n_items"] + 1]
    if not emb:
        fail(f"no (n_items + 1 = {m['n_items'] + 1}, dim) item embedding among {[(n, a.shape) for n, (_, a) in tensors.items()]}")
    ok(f"item embedding of shape {emb[0].shape} matches config.json (n_items {m['n_items']}, dim {m['dim']})")

    if torch is not None:
        state = {n: torch.from_numpy(np.array(a)) for n, (_, a) in tensors.items()}
        total = sum(t.numel() for t in state.values())
        ok(f"torch {torch.__version__}: state dict of {len(state)} tensors, {total} parameters, "
           f"dtype {next(iter(state.values())).dtype}")
        try:
            from safetensors.torch import load_file  # only where the package is installed
            ref = load_file(path)
            for n, t in state.items():
                if not torch.equal(ref[n], t):
                    fail(f"safetensors.torch.load_file disagrees on {n}")
            ok("safetensors.torch.load_file reads the same tensors")
        except ImportError:
            ok("(safetensors package not installed: the spec reader above stands in for safetensors.torch.load_file)")

    resume = os.path.join(args.run_dir, "resume.safetensors")
    if os.path.exists(resume):
        rmeta, rt = read_safetensors(resume)
        params = {n[6:] for n in rt if n.startswith("param.")}
        if params != set(tensors):
            fail("resume.safetensors param.* names differ from model.safetensors")
        ok(f"{resume}: {len(rt)} tensors (weights + Adam moments), resume record in the metadata: "
           f"{'tttrec_resume' in rmeta}")

    if not os.path.exists(args.eval):
        print(f"skipped: the round trip through tttrec needs the eval binary ({args.eval}; pass --eval)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "run")
        shutil.copytree(args.run_dir, copy)
        write_safetensors(os.path.join(copy, "model.safetensors"), {n: a for n, (_, a) in tensors.items()},
                          {"format": "pt", "writer": "check_safetensors.py"})
        a, b = run_eval(args.eval, args.run_dir), run_eval(args.eval, copy)
        if a != b:
            fail(f"eval metrics differ: tttrec's file {a['full']} vs this script's {b['full']}")
        ok(f"tttrec reads this script's F64 file and evaluates identically: NDCG@10 {a['full'].get('NDCG@10')}")
    print("all checks passed")


if __name__ == "__main__":
    main()
