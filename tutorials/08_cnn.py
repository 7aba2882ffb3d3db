# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 — Convolutional networks: locality, weight sharing, pooling
#
# A fully connected layer treats an image as a bag of numbers: pixel (3, 4) and pixel (20, 17)
# are as related as any other pair, and a feature learnt at one place has to be learnt again
# everywhere else. Images are not like that. Nearby pixels are strongly correlated (locality)
# and a sleeve is a sleeve wherever it sits. A convolutional network builds both facts into
# its architecture:
#
# * a **convolution layer** slides a small filter (its receptive field, F x F pixels over all
#   input channels) across the image and applies the *same* weights at every position;
# * a **pooling layer** replaces each small block (here 2x2) by its maximum: a coarse-graining
#   of the feature map, much like a decimation step of the renormalisation group.
#
# Convolution is translation-*equivariant*: shift the input and the feature maps shift the
# same way (away from the borders). It is not invariant. Approximate invariance to small
# shifts comes from pooling and from the dense readout at the end.
#
# This notebook checks the size arithmetic, counts what weight sharing saves, trains the
# course's digit net on Fashion-MNIST, looks at what the first filters learn, and compares the
# CNN's discriminative features with the generative features of an RBM.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from workbench.data import load_dataset
from workbench.nn import (
    CNNClassifier,
    CNNConfig,
    ConvLayer,
    conv_output_size,
    format_summary,
    layer_table,
)
from workbench.nn.cnn import plots
from workbench.nn.rbm.baselines import rbm_logistic_baseline

torch.set_num_threads(1)  # small layers: one thread is as fast, and immune to a busy machine
SEED = 0

# %% [markdown]
# ## The arithmetic of a layer
#
# A filter of side F moved in steps of S over an input of side W, padded with P zeros on each
# border, fits at (W - F + 2P) / S + 1 positions per side. That number must be a whole,
# positive number, or the layer does not tile the input. The workbench checks it against
# Torch's own convolution:

# %%
for W, F, P, S in [(28, 5, 0, 1), (12, 5, 0, 1), (8, 5, 2, 1), (24, 2, 0, 2), (28, 4, 1, 2)]:
    ours = conv_output_size(W, F, P, S)
    torch_out = torch.nn.Conv2d(1, 1, F, S, P)(torch.zeros(1, 1, W, W)).shape[-1]
    print(f"W={W:>2} F={F} P={P} S={S}:  (W - F + 2P)/S + 1 = {ours:>2}   torch: {torch_out}")
    assert ours == torch_out

# %% [markdown]
# When the division leaves a remainder, Torch silently drops the last row and column; the
# workbench refuses and names the layer:

# %%
try:
    layer_table(CNNConfig((1, 26, 26), (ConvLayer(6, 5), ConvLayer(16, 5))))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## The course's digit net, and what weight sharing saves
#
# 28x28x1 -> 6 filters of 5x5 -> 24x24x6 -> 2x2 max-pool -> 12x12x6 -> 16 filters of 5x5
# -> 8x8x16 -> pool -> 4x4x16 = 256 numbers -> a hidden layer of 120 units -> 10 class
# scores, turned into probabilities by a softmax. The last column counts the weights of a
# fully connected layer with the same input and output sizes.

# %%
print(format_summary(CNNConfig()))
dense = (28 * 28 + 1) * (24 * 24 * 6)
local = (24 * 24 * 6) * (5 * 5 + 1)  # one 5x5 filter (+ bias) per output position
shared = 6 * (5 * 5 + 1)
conv1 = torch.nn.Conv2d(1, 6, 5)
assert shared == sum(p.numel() for p in conv1.parameters())
print(f"dense {dense:,}   locally connected {local:,}   convolution {shared}")
print(
    f"locality saves {dense / local:.1f}x, sharing {local / shared:.0f}x, "
    f"together {dense / shared:,.0f}x"
)
assert local // shared == 24 * 24 and dense == local * (28 * 28 + 1) / 26

# %% [markdown]
# Equivariance, checked: shifting an image by 3 pixels and then convolving gives the
# convolution of the image shifted by 3 pixels, exactly, wherever the filter does not touch
# the wrapped-around border.

# %%
image = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))
with torch.no_grad():
    conv_then_shift = torch.roll(conv1(image), shifts=3, dims=3)
    shift_then_conv = conv1(torch.roll(image, shifts=3, dims=3))
inside = (slice(None), slice(None), slice(None), slice(3, None))  # columns away from the wrap
print("max difference away from the border:",
      float((conv_then_shift - shift_then_conv)[inside].abs().max()))  # fmt: skip
assert torch.allclose(conv_then_shift[inside], shift_then_conv[inside], atol=1e-6)
assert not torch.allclose(conv1(image), shift_then_conv, atol=1e-2)  # not invariant

# %% [markdown]
# The first convolution has 6 x (5 x 5 + 1) = 156 parameters. A dense layer producing the
# same 24x24x6 outputs from 784 pixels needs (784 + 1) x 3456 of them, some 17,000 times
# more. Two restrictions make up that factor. *Locality*: each output sees 5 x 5 pixels, not
# all 784, which a locally connected layer (a separate filter at every position) already
# exploits, saving a factor (784 + 1) / (25 + 1), about 30. *Weight sharing*: all 24 x 24
# positions of an output channel use one filter, a further factor of H x W = 576 over the
# locally connected layer.
#
# The 8x8 digits of scikit-learn are too small for two unpadded 5x5 convolutions
# (8 -> 4 -> pool -> 2 -> a 5x5 filter no longer fits). The workbench keeps the filters and
# pads each convolution with two zeros per border, so each convolution keeps the side:

# %%
print(format_summary(CNNConfig.for_input((1, 8, 8))))

# %% [markdown]
# ## Pooling as coarse-graining
#
# Max-pooling keeps, for each 2x2 block, the strongest response. Shifting the input by one
# pixel changes a raw image a lot, but changes the pooled feature maps much less: the
# network's later layers see a representation that is partly insensitive to small shifts.
# This, not the convolution, is where the (approximate) invariance comes from.

# %%
fashion_test = load_dataset("fashion-mnist", split="test", dtype=np.float32)
images = torch.from_numpy(fashion_test.X[:200].reshape(-1, 1, 28, 28))
shifted = torch.roll(images, shifts=1, dims=3)  # every image moved one pixel to the right
pool = torch.nn.MaxPool2d(2)


def relative_change(a, b):
    """Mean over images of |a - b| / |a|."""
    return float(((a - b).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1)).mean())


changes = {
    "pixels (28x28)": relative_change(images, shifted),
    "after one 2x2 max-pool (14x14)": relative_change(pool(images), pool(shifted)),
    "after two 2x2 max-pools (7x7)": relative_change(pool(pool(images)), pool(pool(shifted))),
}
for label, change in changes.items():
    print(f"relative change after a 1-pixel shift, {label:<31} {change:.2f}")
assert list(changes.values()) == sorted(changes.values(), reverse=True)

# %% [markdown]
# ## Training on Fashion-MNIST
#
# Fashion-MNIST has the shape of MNIST (28x28 grey images, 10 classes, 60,000 + 10,000) with
# clothes instead of digits, and is clearly harder. To keep this notebook quick we train on a
# random 8,000 of the 60,000 training images for 4 epochs and test on the full, standard test
# set. With the default settings (all 60,000 images, up to 15 epochs) the same network
# reaches about 0.90 (see docs/benchmarks.md for the measured runs;
# `workbench cnn train --data fashion-mnist` reproduces them).

# %%
fashion = load_dataset("fashion-mnist", split="train", dtype=np.float32)
subset = np.random.default_rng(SEED).choice(len(fashion.X), 8_000, replace=False)
X_train, y_train = fashion.X[subset], fashion.y[subset]
X_test, y_test = fashion_test.X, fashion_test.y

tick = time.perf_counter()
# shift=0: no random translations (by default sets under 10,000 images get them; with only
# 4 epochs they would slow the fit down more than they help)
cnn = CNNClassifier(n_epochs=4, shift=0, random_state=SEED, progress=False).fit(X_train, y_train)
cnn_seconds = time.perf_counter() - tick
predicted = cnn.predict(X_test)
cnn_accuracy = float((predicted == y_test).mean())
print(f"CNN: test accuracy {cnn_accuracy:.4f} after {cnn.n_iter_} epochs ({cnn_seconds:.0f} s)")
assert cnn_accuracy > 0.8

# %%
plots.plot_learning_curves(cnn.history_)

# %%
plots.plot_confusion(y_test, predicted, fashion.classes)

# %% [markdown]
# Most mistakes are among the upper-body garments: shirts, T-shirts, pullovers and coats share
# outlines and differ in texture and details. Trousers, bags and footwear are nearly always
# right.
#
# ## What the filters learn
#
# The six first-layer filters, each shown on its own colour scale (red positive, blue
# negative). Trained filters are local contrast detectors: edges at several orientations and
# blob-like detectors of light against dark.

# %%
plots.plot_filters(cnn.network_)

# %% [markdown]
# Feature maps of one test image: each filter's response over the image after the ReLU, and
# the coarse-grained maps after each pooling.

# %%
plots.plot_feature_maps(cnn, X_test[0])

# %% [markdown]
# ## Discriminative against generative features
#
# A CNN is *discriminative*: every weight is tuned to separate the labels. A restricted
# Boltzmann machine is *generative*: it is trained without labels to give high probability to
# the images themselves, and its hidden units are features of the image distribution. A
# classifier can still read labels off them. Here a logistic regression is fitted on the
# hidden-unit probabilities p(h_j = 1 | v) of an RBM trained by persistent contrastive
# divergence, on the same 8,000 images and the same test set. The RBM here is scikit-learn's
# `BernoulliRBM`, an independent implementation; the workbench's own trainer,
# `workbench.nn.rbm.RBM` (tutorial 06), can take its place (an exercise below).

# %%
with threadpool_limits(1):
    rbm = rbm_logistic_baseline(
        X_train, y_train, X_test, y_test, n_components=100, n_iter=8, seed=SEED
    )
print(f"RBM (100 hidden) + logistic regression: {rbm.test_accuracy:.4f}  ({rbm.seconds:.0f} s)")
print(f"logistic regression on raw pixels:      {rbm.pixel_accuracy:.4f}")
print(f"CNN (4 epochs):                          {cnn_accuracy:.4f}")
assert cnn_accuracy > rbm.test_accuracy

# %% [markdown]
# The hidden units of the RBM, shown as images, are global templates: each one spans the whole
# picture, as the RBM has no notion of locality. The CNN's filters are small and reused
# everywhere.

# %%
weights = rbm.model.named_steps["rbm"].components_[:16]
fig, axes = plt.subplots(2, 8, figsize=(10, 2.6))
for ax, w in zip(axes.ravel(), weights, strict=True):
    ax.imshow(w.reshape(28, 28), cmap="RdBu_r")
    ax.axis("off")
fig.suptitle("16 RBM hidden units (weights to the 784 pixels)")

# %% [markdown]
# ## Data-parallel training
#
# The same training loop runs on several processes with `torchrun` (gloo on CPU, NCCL on
# GPU): `workbench cnn train --data fashion-mnist --nproc 2`. Each process takes its share of
# every global batch and the gradients are averaged, so two processes follow the single
# process's trajectory to float rounding; the test suite checks this on the CPU.

# %% [markdown]
# ## Exercises
#
# Solutions: `tutorials/solutions/08_cnn.py`.
#
# 1. Count the parameters of the second convolution (6 → 16 channels, 5 x 5, output 8 x 8)
#    and of the dense and locally connected layers with the same input and output sizes.
#    Which factor is larger here, locality or sharing?
# 2. Show that a 2 x 2 max-pool is exactly invariant to shifts that keep every maximum inside
#    its block, and not otherwise, on a one-hot image.
# 3. Is max-pooling equivariant to shifts by 2 pixels? Check, and explain.
