#!/usr/bin/env python3
"""Trains an `mlp` or `mnasnet` candidate in PyTorch on Fashion-MNIST: an external-command
evaluator for hnas, run once per trial.

    hnas search --space examples/spaces/mlp.hnas \
        --evaluator 'command:["python3","examples/pytorch/train.py"]' \
        --objective max:valid_acc --report test_acc,params --budget 20

It reads the job from $HNAS_CANDIDATE (its "tree" is the candidate's JSON form), builds the
network the candidate describes, trains it for $HNAS_FIDELITY epochs (default 2) with Adam on
a subset of Fashion-MNIST's training images (the IDX files of Debian's dataset-fashion-mnist,
or FASHION_MNIST_DIR), and prints one JSON line per epoch ({"epoch", "valid_acc"}, which hnas's
median stopping rule can act on) and finally the metrics: valid_acc, test_acc (percent),
params, train_seconds.

Environment: TRAIN_SIZE (default 6000 images), VALID_SIZE (2000), TEST_SIZE (2000),
THREADS (torch threads, default 2), FASHION_MNIST_DIR.
"""
import gzip
import json
import os
import struct
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

ACT = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "hswish": nn.Hardswish}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * data[3], data[4:4 + 4 * data[3]])
    return torch.frombuffer(bytearray(data[4 + 4 * data[3]:]), dtype=torch.uint8).reshape(dims)


def fashion_mnist():
    d = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        raise FileNotFoundError(f"{d}: no {stem}[.gz] (Debian: apt-get install dataset-fashion-mnist)")

    x = read_idx(find("train-images-idx3-ubyte")).float().div(255).unsqueeze(1)
    y = read_idx(find("train-labels-idx1-ubyte")).long()
    xt = read_idx(find("t10k-images-idx3-ubyte")).float().div(255).unsqueeze(1)
    yt = read_idx(find("t10k-labels-idx1-ubyte")).long()
    mean, sd = x.mean(), x.std()
    x, xt = (x - mean) / sd, (xt - mean) / sd
    n, nv, nt = (int(os.environ.get(k, v)) for k, v in
                 (("TRAIN_SIZE", 6000), ("VALID_SIZE", 2000), ("TEST_SIZE", 2000)))
    # The validation images come from the end of the training set, never from the test set.
    return (x[:n], y[:n]), (x[-nv:], y[-nv:]), (xt[:nt], yt[:nt])


def op_name(node):
    return node if isinstance(node, str) else node["op"]


def build_mlp(args):
    layers, width = [nn.Flatten()], 28 * 28
    hidden = args.get("hidden", [])
    for layer in hidden if isinstance(hidden, list) else [hidden]:
        a = layer.get("args", {})
        layers += [nn.Linear(width, a["width"]), ACT.get(a.get("act", "relu"), nn.ReLU)()]
        if a.get("dropout", 0.0) > 0:
            layers.append(nn.Dropout(a["dropout"]))
        width = a["width"]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, c, ratio):
        super().__init__()
        r = max(1, round(c * ratio))
        self.a, self.b = nn.Linear(c, r), nn.Linear(r, c)

    def forward(self, x):
        s = torch.sigmoid(self.b(F.relu(self.a(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class Layer(nn.Module):
    """One MnasNet layer: conv / depthwise-separable / MBConv, optional SE and identity skip."""

    def __init__(self, cin, cout, conv, expand, k, stride, se, skip):
        super().__init__()
        p, body = k // 2, []
        if conv == "conv":
            body += [nn.Conv2d(cin, cout, k, stride, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            if se > 0:
                body.append(SqueezeExcite(cout, se))
        elif conv == "dwconv":
            body += [nn.Conv2d(cin, cin, k, stride, p, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU()]
            if se > 0:
                body.append(SqueezeExcite(cin, se))
            body += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        else:  # mbconv
            mid = round(cin * expand)
            body += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                     nn.Conv2d(mid, mid, k, stride, p, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU()]
            if se > 0:
                body.append(SqueezeExcite(mid, se))
            body += [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*body)
        self.skip = skip and stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.skip else y


def build_mnasnet(args, shared):
    # Fashion-MNIST is 1×28×28: the stem keeps stride 2 as in MnasNet.
    stem, head = args.get("stem", 32), args.get("head", 1280)
    layers = [nn.Conv2d(1, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()]
    c = stem
    for key in sorted(k for k in args if k.startswith("b")):
        stage = args[key]["args"]
        block = stage["block"]
        block = shared[block["shared"]] if "shared" in block else block
        b = block["args"]
        conv = b["conv"]
        name = op_name(conv)
        expand = conv.get("args", {}).get("expand", 6) if isinstance(conv, dict) else 6
        cout = max(1, round(stage["filters"] * b.get("width", 1.0)))
        for i in range(b.get("layers", 1)):
            layers.append(Layer(c, cout, name, expand, b["kernel"], stage["stride"] if i == 0 else 1,
                                b.get("se", 0.0), b.get("skip") == "identity"))
            c = cout
    layers += [nn.Conv2d(c, head, 1, bias=False), nn.BatchNorm2d(head), nn.ReLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head, 10)]
    return nn.Sequential(*layers)


def build(tree):
    root, shared = tree["root"], tree.get("shared", {})
    args = root.get("args", {})
    if root["op"] == "mlp":
        return build_mlp(args), args.get("lr", 1e-3)
    if root["op"] == "mnasnet":
        return build_mnasnet(args, shared), 1e-3
    raise ValueError(f"this example builds mlp and mnasnet candidates, not {root['op']!r}")


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        hits = sum((net(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item() for i in range(0, len(y), 500))
    return 100.0 * hits / len(y)


def main():
    job = json.load(open(os.environ["HNAS_CANDIDATE"]))
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    torch.manual_seed(job.get("seed", 0) * 1_000_003 + job.get("trial", 0))
    epochs = int(float(os.environ.get("HNAS_FIDELITY") or 2))
    net, lr = build(job["tree"])
    (x, y), (xv, yv), (xt, yt) = fashion_mnist()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start = time.time()
    valid = 0.0
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(y))
        for i in range(0, len(y), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            if not torch.isfinite(loss):
                print(f"training diverged at epoch {epoch}", file=sys.stderr)
                sys.exit(3)
            opt.zero_grad()
            loss.backward()
            opt.step()
        valid = accuracy(net, xv, yv)
        print(json.dumps({"epoch": epoch, "valid_acc": valid}), flush=True)
    print(json.dumps({
        "valid_acc": valid,
        "test_acc": accuracy(net, xt, yt),
        "params": sum(p.numel() for p in net.parameters()),
        "train_seconds": time.time() - start,
    }))


if __name__ == "__main__":
    main()
