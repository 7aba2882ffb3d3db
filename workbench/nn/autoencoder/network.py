"""Autoencoder networks, their training loss and its penalties (Torch).

The encoder maps ``n_features -> layers[0] -> ... -> layers[-1]`` (the code) through Linear
layers, each followed by the hidden activation (logistic sigmoid, or the identity for a linear
autoencoder); the decoder is the mirror image with its own (untied) weights and ends in the
output activation: sigmoid for pixels in [0, 1], identity for real-valued data.

The loss of one mini-batch, summed over its rows, is the reconstruction term (squared error,
or the Bernoulli cross-entropy of sigmoid outputs) of the clean rows from a possibly corrupted
input, plus

- sparse: ``sparsity * ||h||_1`` on the code (a Laplace prior on it, the sparse-coding link);
- contractive: ``contraction * ||dh/dx||_F^2``, in closed form for one sigmoid layer
  h = sigmoid(W x + b): ``sum_j (h_j (1 - h_j))^2 ||W_j||^2`` (:func:`contractive_penalty`).
"""

from itertools import pairwise

import torch
import torch.nn.functional as F

from workbench.nn.runtime.distributed import distributed_context
from workbench.nn.runtime.seeds import torch_generator

__all__ = ["CORRUPTIONS", "LOSSES", "AutoencoderLoss", "AutoencoderNet", "contractive_penalty",
           "reconstruction_sum"]  # fmt: skip

CORRUPTIONS = ("masking", "gaussian")
LOSSES = ("squared", "cross-entropy")


class AutoencoderNet(torch.nn.Module):
    """Encoder-decoder for ``sizes = (n_features, *layers)``; ``activation`` (hidden layers),
    ``code`` (the code layer; default: as ``activation``) and ``output`` are "sigmoid" or
    "linear". ``forward(x)`` returns ``(output logits, code)``, (n, n_features)
    and (n, layers[-1]); :meth:`decode` applies the output activation."""

    def __init__(self, sizes, *, activation="sigmoid", output="sigmoid", code=None):
        super().__init__()
        self.sizes, self.activation, self.output = tuple(sizes), activation, output
        self.code = activation if code is None else code
        steps = list(pairwise(self.sizes))
        self.encoder = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in steps)
        self.decoder = torch.nn.ModuleList(torch.nn.Linear(b, a) for a, b in reversed(steps))

    def _act(self, x, activation=None):
        return torch.sigmoid(x) if (activation or self.activation) == "sigmoid" else x

    def encode(self, x):
        """Code (n, layers[-1]) of inputs x (n, n_features)."""
        for layer in self.encoder[:-1]:
            x = self._act(layer(x))
        return self._act(self.encoder[-1](x), self.code)

    def decode_logits(self, h):
        """Pre-activation of the output layer (n, n_features) for codes h (n, layers[-1])."""
        for layer in self.decoder[:-1]:
            h = self._act(layer(h))
        return self.decoder[-1](h)

    def decode(self, h):
        """Reconstruction (n, n_features) from codes h."""
        logits = self.decode_logits(h)
        return torch.sigmoid(logits) if self.output == "sigmoid" else logits

    def forward(self, x):
        code = self.encode(x)
        return self.decode_logits(code), code

    @torch.no_grad()
    def unroll(self, rbms):
        """Set the weights from a stack of RBMs (bottom up, one per encoder layer): encoder
        layer l gets ``W_l^T`` and the hidden biases, its mirror in the decoder ``W_l`` and the
        visible biases (times sigma^2 for Gaussian visible units: the linear output is then
        the RBM's mean of v given h)."""
        for layer, mirror, rbm in zip(self.encoder, reversed(self.decoder), rbms, strict=True):
            W = torch.as_tensor(rbm.weights_, dtype=layer.weight.dtype)  # (n_in, n_out)
            scale = float(rbm.sigma) ** 2 if rbm.visible == "gaussian" else 1.0
            layer.weight.copy_(W.T)
            layer.bias.copy_(torch.as_tensor(rbm.hidden_bias_))
            mirror.weight.copy_(W * scale)
            mirror.bias.copy_(torch.as_tensor(rbm.visible_bias_) * scale)


def contractive_penalty(code, weight, activation="sigmoid"):
    """Sum over rows of ``||dh/dx||_F^2`` for one layer h = act(W x + b): ``code`` h (n, k),
    ``weight`` W (k, d). Sigmoid: ``sum_j (h_j (1 - h_j))^2 ||W_j||^2``; linear: n ||W||^2."""
    row_norms = weight.pow(2).sum(1)  # (k,)
    if activation == "linear":
        return len(code) * row_norms.sum()
    return ((code * (1 - code)).pow(2) @ row_norms).sum()


def reconstruction_sum(logits, targets, loss, output):
    """Reconstruction loss summed over rows and features: squared error of the output, or the
    Bernoulli cross-entropy of sigmoid outputs (stable, from the logits)."""
    if loss == "cross-entropy":
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
    out = torch.sigmoid(logits) if output == "sigmoid" else logits
    return (out - targets).pow(2).sum()


class AutoencoderLoss:
    """The loss of :class:`~workbench.nn.runtime.classifier.ClassifierTask` for an autoencoder
    (the targets are the clean rows). Corruption noise is drawn for the whole global batch of
    each step from the stream ``(seed, "corruption", step)`` and split among ranks, so a
    resumed or data-parallel run draws what one uninterrupted process draws."""

    def __init__(self, *, loss, corruption=None, noise=0.0, sparsity=0.0, contraction=0.0,
                 seed=0):  # fmt: skip
        self.loss, self.corruption, self.noise = loss, corruption, noise
        self.sparsity, self.contraction, self.seed = sparsity, contraction, seed

    def corrupt(self, inputs, step, n_batch):
        """Masking (each input zeroed with probability ``noise``) or additive Gaussian noise of
        standard deviation ``noise``; the inputs as they are without corruption."""
        if self.corruption is None or self.noise == 0:
            return inputs
        rank, world, _ = distributed_context()
        shape = (n_batch, inputs.shape[1])
        gen = torch_generator(self.seed, "corruption", step)
        draw = torch.rand if self.corruption == "masking" else torch.randn
        noise = draw(shape, generator=gen, dtype=inputs.dtype)
        noise = torch.tensor_split(noise, world)[rank].to(inputs.device)
        if self.corruption == "masking":
            return inputs * (noise >= self.noise)
        return inputs + self.noise * noise

    def __call__(self, net, inputs, targets, step, n_batch):
        logits, code = net(self.corrupt(inputs, step, n_batch))
        model = getattr(net, "module", net)  # DistributedDataParallel wraps the network
        total = reconstruction_sum(logits, targets, self.loss, model.output)
        if self.sparsity:
            total = total + self.sparsity * code.abs().sum()
        if self.contraction:
            penalty = contractive_penalty(code, model.encoder[0].weight, model.activation)
            total = total + self.contraction * penalty
        return total
