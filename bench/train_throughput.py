"""PyTorch side of bench/train_throughput.sh: the same fixed CNN as `hnas bench-train`.

28x28x1 -> conv 3x3 16 (padding 1) -> ReLU -> max pool 2 -> conv 3x3 32 -> ReLU -> max pool 2
-> linear 10, batch 128, random data, SGD (momentum 0.9) or Adam, on the CPU with the
thread count given. Prints one CSV line: backend,optimizer,steps_per_s,forward_ms,backward_ms,update_ms
"""
import argparse
import time

import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=100)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--optimizer", default="sgd")
p.add_argument("--device", default="cpu")
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
).to(dev)
opt = (torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if a.optimizer == "sgd"
       else torch.optim.Adam(model.parameters(), lr=0.01))
loss_fn = nn.CrossEntropyLoss()
x = torch.rand(a.batch, 1, 28, 28, device=dev) - 0.5
y = torch.randint(0, 10, (a.batch,), device=dev)

def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

fwd = bwd = upd = 0.0
for i in range(a.warmup + a.steps):
    if i == a.warmup:
        sync()
        start = time.perf_counter()
        fwd = bwd = upd = 0.0
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.item()
    t1 = time.perf_counter()
    loss.backward()
    sync()
    t2 = time.perf_counter()
    opt.step()
    sync()
    t3 = time.perf_counter()
    fwd += t1 - t0
    bwd += t2 - t1
    upd += t3 - t2
total = time.perf_counter() - start
n = a.steps
print(f"pytorch-{a.device},{a.optimizer},{n / total:.3f},{fwd / n * 1e3:.3f},{bwd / n * 1e3:.3f},{upd / n * 1e3:.3f}")
