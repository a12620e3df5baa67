"""Per-operator profile of onnxruntime (1 thread) on the shipped EfficientNet-lite0, for benches/vision.md.

Run with the peers venv: ~/.cache/ml-peers/venv/bin/python crates/ml-vision/benches/ort_profile.py
(from the repository root). Convs are split by their weight shape: depthwise [C,1,k,k], 1x1, stem.
"""
import json, glob, os, collections, time
import numpy as np, onnxruntime as ort
m = "examples/data/models/efficientnet-lite0-imagenet.onnx"
x = np.fromfile("examples/data/models/test_baboon_input_1x3x224x224.f32", dtype=np.float32).reshape(1,3,224,224)
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
so.enable_profiling = True; so.profile_file_prefix = "/tmp/ortprof"
s = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"])
for _ in range(5): s.run(None, {"input": x})
t = time.perf_counter(); R = 50
for _ in range(R): s.run(None, {"input": x})
wall = (time.perf_counter() - t) / R
f = s.end_profiling()
ev = json.load(open(f))
agg = collections.defaultdict(float); cnt = collections.Counter()
runs = sum(1 for e in ev if e.get("name") == "model_run")
for e in ev:
    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
        op = e["args"].get("op_name")
        n = e["name"]
        if op == "Conv":
            shapes = [list(d.values())[0] for d in e["args"].get("input_type_shape", [])]
            w = shapes[1] if len(shapes) > 1 else []
            op = "Conv depthwise" if len(w) == 4 and w[1] == 1 and w[2] > 1 else ("Conv 1x1" if len(w) == 4 and w[2] == 1 else "Conv stem")
        agg[op] += e["dur"]; cnt[op] += 1
tot = sum(agg.values())
print(f"wall {wall*1e3:.2f} ms per run (1 thread); runs profiled {runs}")
for op, d in sorted(agg.items(), key=lambda kv: -kv[1]):
    print(f"{op:20s} {cnt[op]//runs:4d} nodes {d/runs/1e3:7.3f} ms {100*d/tot:5.1f}%")
os.remove(f)
