#!/usr/bin/env python3
"""Times pyfim's fpgrowth on an order_products file, as the peers harness does
(/work/shared/peers/fpgrowth_peers.py: sort by order_id, split into lists, then
fim.fpgrowth(target='s', supp=100*min_support, zmin=1, report='a')).
Prints one JSON line: transactions, itemsets, rules_minconf0 (sum of len over itemsets of 2+ items),
load_s, fpgrowth_s."""
import argparse
import json
import time

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baskets", required=True)
    ap.add_argument("--min-support", type=float, required=True)
    a = ap.parse_args()
    import fim
    t0 = time.perf_counter()
    op = pd.read_parquet(a.baskets, columns=["order_id", "product_id"])
    op = op.sort_values("order_id", kind="stable")
    oid = op["order_id"].values
    pid = op["product_id"].values
    cuts = np.flatnonzero(np.diff(oid)) + 1
    tr = [x.tolist() for x in np.split(pid, cuts)]
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = fim.fpgrowth(tr, target="s", supp=a.min_support * 100.0, zmin=1, report="a")
    dt = time.perf_counter() - t0
    print(json.dumps({"tool": "pyfim-fpgrowth", "transactions": len(tr), "itemsets": len(out),
                      "rules_minconf0": int(sum(len(s) for s, _ in out if len(s) >= 2)),
                      "load_s": round(load_s, 3), "fpgrowth_s": round(dt, 3)}))


if __name__ == "__main__":
    main()
