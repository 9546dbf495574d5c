"""Regenerates mnist1d.bin, the MNIST-1D dataset embedded in hnas.

    pip install mnist1d==0.0.2.post1 && python3 generate_mnist1d.py

MNIST-1D (Greydanus & Kobak, 2020; https://github.com/greydanus/mnist1d, Apache-2.0) is
generated, not downloaded: `make_dataset` with the package's default arguments (5,000
sequences of length 40, seed 42, an 80/20 split) gives 4,000 training and 1,000 test
sequences, the same as the paper's published pickle.

Format (little-endian): magic b"HNAS1D\\0\\0", u32 n_train, u32 n_test, u32 length,
then n_train*length f32 inputs, n_test*length f32 inputs, n_train u8 labels, n_test u8 labels.
"""
import struct
import sys

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset

args = get_dataset_args()
d = make_dataset(args)
x, xt = d["x"].astype("<f4"), d["x_test"].astype("<f4")
y, yt = d["y"].astype("u1"), d["y_test"].astype("u1")
assert x.shape == (4000, 40) and xt.shape == (1000, 40), (x.shape, xt.shape)
out = sys.argv[1] if len(sys.argv) > 1 else "mnist1d.bin"
with open(out, "wb") as f:
    f.write(b"HNAS1D\0\0")
    f.write(struct.pack("<III", len(y), len(yt), x.shape[1]))
    f.write(x.tobytes())
    f.write(xt.tobytes())
    f.write(y.tobytes())
    f.write(yt.tobytes())
print(out, len(y), len(yt), x.shape[1], np.bincount(y))
