"""Convolutional network architectures: size arithmetic, layer table, and the Torch module.

The default is the course's digit network (a LeNet)::

    28x28x1 -> conv 6@5x5 -> 24x24x6 -> max-pool 2x2 -> 12x12x6
            -> conv 16@5x5 -> 8x8x16 -> max-pool 2x2 -> 4x4x16
            -> fully connected 256 -> 120 -> fully connected 120 -> 10 -> softmax

Every convolution and pooling layer maps a side of W units to (W - F + 2P) / S + 1 units
(F: filter size, P: zero padding, S: stride). :func:`layer_table` checks that this is a whole,
positive number for every layer and names the first layer where it is not.

Example::

    config = CNNConfig.for_input((1, 28, 28))
    print(format_summary(config))
    net = build_network(config)        # torch.nn.Module: (batch, 1, 28, 28) -> (batch, 10) logits
"""

import re
from dataclasses import asdict, dataclass, field, replace
from numbers import Integral

from workbench.errors import InputError

__all__ = [
    "CNNConfig",
    "ConvLayer",
    "build_network",
    "conv_output_size",
    "format_summary",
    "layer_table",
    "parse_conv_spec",
]


@dataclass(frozen=True)
class ConvLayer:
    """One convolution (ReLU after it), optionally followed by max-pooling.

    ``pool`` is the pooling window and stride (0: no pooling).
    """

    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: int = 2

    def __post_init__(self):
        for name, low in (("channels", 1), ("kernel", 1), ("stride", 1), ("padding", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise InputError("conv", f"a layer {name} >= {low}", f"{value!r} in {self}")
        if not _is_int(self.pool) or self.pool < 0:
            raise InputError("pool", "a pooling window >= 0 (0: none)", repr(self.pool))


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


COURSE_STACK = (ConvLayer(6, 5), ConvLayer(16, 5))
# The 8x8 digits cannot take two unpadded 5x5 convolutions (8 -> 4 -> pool 2 -> conv: too small).
# The small-image variant keeps the course net's filters, widths and pooling but pads each
# convolution by 2 zeros, so it keeps the side: 8 -> 8 -> pool 4 -> 4 -> pool 2 (2x2x16).
SMALL_IMAGE_STACK = (ConvLayer(6, 5, padding=2), ConvLayer(16, 5, padding=2))


@dataclass(frozen=True)
class CNNConfig:
    """A convolutional classifier: ``conv`` stack, then fully connected ``hidden`` layers (ReLU),
    then a linear layer to ``n_classes`` logits (softmax in the loss and in predict_proba).

    input_shape : (channels, height, width)
    """

    input_shape: tuple[int, int, int] = (1, 28, 28)
    conv: tuple[ConvLayer, ...] = COURSE_STACK
    hidden: tuple[int, ...] = (120,)
    n_classes: int = 10

    def __post_init__(self):
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(_is_int(s) and s >= 1 for s in shape):
            raise InputError("input_shape", "positive (channels, height, width)", repr(shape))
        bad = [w for w in self.hidden if not _is_int(w) or w < 1]
        if bad:
            raise InputError("hidden", "layer widths >= 1", f"{list(self.hidden)}")
        if not _is_int(self.n_classes) or self.n_classes < 2:
            raise InputError("n_classes", "at least 2 classes", repr(self.n_classes))
        if not all(isinstance(layer, ConvLayer) for layer in self.conv):
            raise InputError("conv", "a tuple of ConvLayer", repr(self.conv))

    @classmethod
    def for_input(cls, input_shape, n_classes=10, hidden=(120,), pool=None):
        """The course net for ``input_shape`` if it fits; else the small-image variant.
        ``pool``: the max-pooling window after each convolution (None: the course's 2)."""
        input_shape = tuple(int(s) for s in input_shape)
        stacks = (COURSE_STACK, SMALL_IMAGE_STACK)
        if pool is not None:
            stacks = tuple(tuple(replace(layer, pool=pool) for layer in s) for s in stacks)
        for stack in stacks:
            config = cls(input_shape, stack, tuple(hidden), int(n_classes))
            try:
                layer_table(config)
            except ValueError:
                continue
            return config
        layer_table(cls(input_shape, stacks[-1], tuple(hidden), int(n_classes)))
        raise AssertionError("unreachable: layer_table raised above")  # pragma: no cover

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(
            tuple(d["input_shape"]),
            tuple(ConvLayer(**layer) for layer in d["conv"]),
            tuple(d["hidden"]),
            int(d["n_classes"]),
        )


@dataclass
class LayerRow:
    """One row of :func:`layer_table`: output shape (C, H, W) or (units,), parameter counts."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    dense_params: int = field(default=0)  # a fully connected layer with the same in/out sizes


def conv_output_size(size, kernel, padding=0, stride=1, *, layer="layer"):
    """(W - F + 2P) / S + 1, checked: a ValueError names ``layer`` when it is not a positive
    whole number."""
    span = size - kernel + 2 * padding
    if span < 0:
        raise ValueError(
            f"{layer}: a {kernel}x{kernel} window with padding {padding} does not fit an input "
            f"of side {size} (W - F + 2P = {size} - {kernel} + 2*{padding} = {span} < 0); use a "
            "larger image, a smaller filter or more padding"
        )
    if span % stride:
        raise ValueError(
            f"{layer}: (W - F + 2P) / S + 1 = ({size} - {kernel} + 2*{padding}) / {stride} + 1 "
            f"= {span / stride + 1:g} is not a whole number of units; change the stride, "
            "padding or image size"
        )
    return span // stride + 1


def layer_table(config):
    """Rows (name, kind, output shape, parameters, fully-connected parameters) of ``config``.

    Raises a ValueError naming the first layer whose size arithmetic fails.
    """
    channels, height, width = config.input_shape
    if min(config.input_shape) < 1:
        raise ValueError(
            f"input_shape: expected positive (channels, height, width), got {config.input_shape}"
        )
    rows = []
    for i, layer in enumerate(config.conv, start=1):
        name = f"conv{i}"
        args = (layer.kernel, layer.padding, layer.stride)
        out_h = conv_output_size(height, *args, layer=f"{name} (height)")
        out_w = conv_output_size(width, *args, layer=f"{name} (width)")
        params = layer.channels * (channels * layer.kernel**2 + 1)
        dense = (channels * height * width + 1) * layer.channels * out_h * out_w
        channels, height, width = layer.channels, out_h, out_w
        rows.append(
            LayerRow(
                name,
                f"conv {layer.channels}@{layer.kernel}x{layer.kernel}"
                f" s{layer.stride} p{layer.padding} + ReLU",
                (channels, height, width),
                params,
                dense,
            )
        )
        if layer.pool:
            name = f"pool{i}"
            height = conv_output_size(height, layer.pool, 0, layer.pool, layer=f"{name} (height)")
            width = conv_output_size(width, layer.pool, 0, layer.pool, layer=f"{name} (width)")
            rows.append(
                LayerRow(
                    name, f"max-pool {layer.pool}x{layer.pool}", (channels, height, width), 0, 0
                )
            )
    units = channels * height * width
    widths = (*config.hidden, config.n_classes)
    for i, out in enumerate(widths, start=1):
        last = i == len(widths)
        kind = "linear (logits; softmax)" if last else "fully connected + ReLU"
        rows.append(LayerRow(f"fc{i}", kind, (out,), (units + 1) * out, (units + 1) * out))
        units = out
    return rows


def format_summary(config):
    """The layer table as text, with totals and the saving against fully connected layers."""
    rows = layer_table(config)
    c, h, w = config.input_shape
    head = f"{'layer':<7}{'kind':<34}{'output':>12}{'params':>10}{'dense params':>15}"
    lines = [head, "-" * len(head), f"{'input':<7}{'':<34}{f'{h}x{w}x{c}':>12}"]
    for row in rows:
        shape = row.output_shape
        text = f"{shape[1]}x{shape[2]}x{shape[0]}" if len(shape) == 3 else str(shape[0])
        dense = f"{row.dense_params:,}" if row.dense_params else "-"
        lines.append(f"{row.name:<7}{row.kind:<34}{text:>12}{row.params:>10,}{dense:>15}")
    total = sum(r.params for r in rows)
    dense_total = sum(r.dense_params for r in rows if r.name.startswith(("conv", "fc")))
    lines.append("-" * len(head))
    lines.append(f"{'total':<53}{total:>10,}{dense_total:>15,}")
    lines.append(
        f"weight sharing: this network has {total:,} parameters; fully connected layers of the "
        f"same widths would need {dense_total:,} ({dense_total / total:.0f}x more)"
    )
    return "\n".join(lines)


def build_network(config, pixel_mean=0.0, pixel_std=1.0):
    """The Torch module for ``config``: (batch, C, H, W) images -> (batch, n_classes) logits.

    The first layer standardises pixels, (x - pixel_mean) / pixel_std, with constants kept as
    buffers, so a saved state dict holds them.
    """
    import torch
    from torch import nn

    class Standardize(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(float(pixel_mean)))
            self.register_buffer("std", torch.tensor(float(pixel_std)))

        def forward(self, x):
            return (x - self.mean) / self.std

    layer_table(config)  # size arithmetic checked before any module is built
    layers, channels = [Standardize()], config.input_shape[0]
    for layer in config.conv:
        layers += [
            nn.Conv2d(channels, layer.channels, layer.kernel, layer.stride, layer.padding),
            nn.ReLU(),
        ]
        if layer.pool:
            layers.append(nn.MaxPool2d(layer.pool))
        channels = layer.channels
    layers.append(nn.Flatten())
    units = _flat_units(config)
    for width in config.hidden:
        layers += [nn.Linear(units, width), nn.ReLU()]
        units = width
    layers.append(nn.Linear(units, config.n_classes))
    return nn.Sequential(*layers)


def _flat_units(config):
    rows = [r for r in layer_table(config) if not r.name.startswith("fc")]
    if not rows:
        c, h, w = config.input_shape
        return c * h * w
    c, h, w = rows[-1].output_shape
    return c * h * w


_CONV_SPEC = re.compile(r"(\d+)@(\d+)(?:p(\d+))?(?:s(\d+))?")


def parse_conv_spec(text, pool=2):
    """``"6@5,16@5"`` (channels@kernel, optional ``p<padding>`` and ``s<stride>``, e.g.
    ``6@3p1``) as a tuple of :class:`ConvLayer`, each followed by ``pool`` max-pooling."""
    layers = []
    for part in text.split(","):
        match = _CONV_SPEC.fullmatch(part.strip())
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError(
                f"--conv: expected CHANNELS@KERNEL[pPADDING][sSTRIDE] items separated by "
                f"commas (e.g. 6@5,16@5 or 6@3p1), got {part!r}"
            )
        ch, k, p, s = match.groups()
        layers.append(ConvLayer(int(ch), int(k), int(s or 1), int(p or 0), int(pool)))
    return tuple(layers)
