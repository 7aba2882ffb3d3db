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
# # 07 — Deep belief nets: stacking RBMs
#
# A deep belief net is trained one layer at a time. The first RBM models the data; its hidden
# probabilities p(h | v) become the "data" of a second RBM, and so on. Each new layer models
# the aggregate posterior of the layer below better than that layer's own prior could, which
# is why stacking improves a variational bound on the likelihood (Hinton, Osindero and Teh,
# 2006). The result is a hybrid generative model: an RBM on top, directed sigmoid layers
# beneath it.

# %%
import torch
from sklearn.linear_model import LogisticRegression

from workbench.data import load_dataset
from workbench.nn import DBN
from workbench.nn.rbm.plots import plot_images

SEED = 0
torch.set_num_threads(1)  # small models: one thread is as fast and immune to a busy machine
train = load_dataset("digits", split="train", binarize=True)
test = load_dataset("digits", split="test", binarize=True)
dbn = DBN((64, 32), n_epochs=10, rbm_params={"batch_size": 20, "learning_rate": 0.05},
          random_state=SEED, verbose=False).fit(train.X)  # fmt: skip
[rbm.n_hidden for rbm in dbn.rbms_]

# %% [markdown]
# ## Sampling from the top down
#
# A long Gibbs run in the top RBM gives a sample of the top hidden layer; one pass down through
# p(v | h) of each lower RBM turns it into a digit.

# %%
plot_images(dbn.sample(24, n_steps=1000, random_state=SEED), (8, 8), title="DBN samples")

# %% [markdown]
# ## Features and fine-tuning
#
# The deterministic up-pass gives features. Used as they are, a logistic regression on the
# top-layer features classifies digits; fine-tuning the whole stack with back-propagation (the
# RBM weights initialise a sigmoid network, a softmax layer is added) does better.

# %%
features = LogisticRegression(max_iter=2000).fit(dbn.transform(train.X), train.y)
print("logistic regression on DBN features:", features.score(dbn.transform(test.X), test.y))
raw = LogisticRegression(max_iter=2000).fit(train.X, train.y)
print("logistic regression on the pixels:   ", raw.score(test.X, test.y))
dbn.fine_tune(train.X, train.y, n_epochs=30, learning_rate=1e-2, random_state=SEED)
print("fine-tuned DBN:                      ", dbn.score(test.X, test.y))
