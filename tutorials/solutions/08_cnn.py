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
# # Solutions to the exercises of tutorial 08

# %%
import torch

# %% [markdown]
# **1.** Input 12 x 12 x 6, output 8 x 8 x 16 = 1,024 units. Dense: (864 + 1) x 1,024.
# Locally connected: one 5 x 5 x 6 filter (+ bias) per output unit, 151 x 1,024. Convolution:
# 16 x 151 = 2,416. Locality saves 865/151 ≈ 5.7x, sharing 64x (the 8 x 8 positions): here
# sharing is by far the larger factor, and locality matters less because the input is small.

# %%
dense = (12 * 12 * 6 + 1) * (8 * 8 * 16)
local = (8 * 8 * 16) * (5 * 5 * 6 + 1)
conv = sum(p.numel() for p in torch.nn.Conv2d(6, 16, 5).parameters())
print(f"dense {dense:,}  local {local:,}  conv {conv:,}")
print(f"locality {dense / local:.1f}x, sharing {local / conv:.0f}x")
assert conv == 2416 and local // conv == 64

# %% [markdown]
# **2.** A one-hot image has its only non-zero pixel in one 2 x 2 block; moving it within the
# block leaves every block's maximum unchanged, moving it across a block boundary does not.

# %%
pool = torch.nn.MaxPool2d(2)
image = torch.zeros(1, 1, 8, 8)
image[0, 0, 2, 2] = 1.0
within = torch.roll(image, shifts=1, dims=3)  # column 2 -> 3: same block
across = torch.roll(image, shifts=2, dims=3)  # column 2 -> 4: the next block
print("within a block:", torch.equal(pool(image), pool(within)),
      "  across blocks:", torch.equal(pool(image), pool(across)))  # fmt: skip
assert torch.equal(pool(image), pool(within)) and not torch.equal(pool(image), pool(across))

# %% [markdown]
# **3.** Yes, for shifts by a multiple of the pooling size: a shift by 2 pixels moves every
# 2 x 2 block onto the next block, so the pooled map shifts by one unit (with wrap-around
# input, exactly). Shifts by 1 pixel regroup the pixels and are not equivariant.

# %%
x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(8))
by2 = torch.equal(pool(torch.roll(x, 2, dims=3)), torch.roll(pool(x), 1, dims=3))
by1 = torch.equal(pool(torch.roll(x, 1, dims=3)), pool(x))
print("shift by 2 commutes with pooling:", by2, "  shift by 1 leaves it unchanged:", by1)
assert by2 and not by1
