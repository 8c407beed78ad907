"""LeNet-5 as published, and the "modern" LeNet most tutorials mean.

Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998 -- section II-B (the architecture, Fig. 2 and Table I), eq. 7
(RBF output), eq. 9 (the training criterion) and appendix A (the scaled tanh, the initialisation).

    C1  conv 5x5, 6 maps 28x28              S2  subsampling 2x2, 6 maps 14x14
    C3  conv 5x5, 16 maps 10x10 (Table I)   S4  subsampling 2x2, 16 maps 5x5
    C5  conv 5x5, 120 maps 1x1              F6  84 units
    output: 10 Euclidean RBF units with fixed ±1 codes (7x12 bitmaps of the digits)
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..layers.lenet5_layers import (
    EuclideanRBF,
    PartialConv2d,
    ScaledTanh,
    Subsampling,
    check_init,
    init_uniform_,
)
from .registry import expect_input, register

__all__ = ["C3_TABLE", "C3_TABLE_ROWS", "DIGIT_BITMAPS", "LeNet5", "LeNet5Modern", "MAPCriterion",
           "c3_inputs", "digit_bitmap", "lenet5", "lenet5_modern", "paper_distortions",
           "paper_input", "rbf_codes"]

# --------------------------------------------------------------------------- Table I
# Which S2 feature maps (rows) feed each C3 feature map (columns). C3 maps 0-5 read 3 contiguous S2
# maps, 6-11 read 4 contiguous ones, 12-14 read 4 non-contiguous ones, and 15 reads all six: 60
# links in all.
#                                                 1 1 1 1 1 1
#                           C3 map:  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
C3_TABLE_ROWS = (
    "X . . . X X X . . X X X X . X X",   # S2 map 0
    "X X . . . X X X . . X X X X . X",   # S2 map 1
    "X X X . . . X X X . . X . X X X",   # S2 map 2
    ". X X X . . X X X X . . X . X X",   # S2 map 3
    ". . X X X . . X X X X . X X . X",   # S2 map 4
    ". . . X X X . . X X X X . X X X",   # S2 map 5
)
C3_TABLE = tuple(tuple(mark == "X" for mark in row.split()) for row in C3_TABLE_ROWS)


def c3_inputs(c3_map: int, table: Sequence[Sequence[bool]] = C3_TABLE) -> list[int]:
    """The S2 maps that feed C3 map ``c3_map`` (Table I's column)."""
    return [s2 for s2, row in enumerate(table) if row[c3_map]]


# --------------------------------------------------------------------------- the RBF codes
# The output units' parameter vectors: each digit drawn as a stylised 7x12 bitmap, '#' = +1, '.' =
# -1 (section II-B: "the components of those parameter vectors were set to -1 or +1 ... designed to
# represent a stylized image of the corresponding character class drawn on a 7x12 bitmap"). Our own
# drawings.
DIGIT_BITMAPS = {
    "0": """.......  ..###..  .##.##.  .#...#.  .#...#.  .#...#.
            .#...#.  .#...#.  .##.##.  ..###..  .......  .......""",
    "1": """.......  ...#...  ..##...  .#.#...  ...#...  ...#...
            ...#...  ...#...  ...#...  .#####.  .......  .......""",
    "2": """.......  ..###..  .#...#.  .....#.  .....#.  ....#..
            ...#...  ..#....  .#.....  .#####.  .......  .......""",
    "3": """.......  .####..  .....#.  .....#.  .....#.  ..###..
            .....#.  .....#.  .....#.  .####..  .......  .......""",
    "4": """.......  ....#..  ...##..  ..#.#..  .#..#..  #...#..
            ######.  ....#..  ....#..  ....#..  .......  .......""",
    "5": """.......  .#####.  .#.....  .#.....  .####..  .....#.
            .....#.  .....#.  .#...#.  ..###..  .......  .......""",
    "6": """.......  ..###..  .#.....  .#.....  .####..  .#...#.
            .#...#.  .#...#.  .#...#.  ..###..  .......  .......""",
    "7": """.......  .#####.  .....#.  .....#.  ....#..  ....#..
            ...#...  ...#...  ..#....  ..#....  .......  .......""",
    "8": """.......  ..###..  .#...#.  .#...#.  .#...#.  ..###..
            .#...#.  .#...#.  .#...#.  ..###..  .......  .......""",
    "9": """.......  ..###..  .#...#.  .#...#.  .#...#.  ..####.
            .....#.  .....#.  .....#.  ..###..  .......  .......""",
}
BITMAP_HEIGHT, BITMAP_WIDTH = 12, 7      # 84 = 7 x 12: one F6 unit per pixel


def digit_bitmap(digit) -> torch.Tensor:
    """The 12x7 bitmap of ``digit`` as a tensor of ±1 (row by row, top to bottom)."""
    rows = DIGIT_BITMAPS[str(digit)].split()
    if len(rows) != BITMAP_HEIGHT or any(len(r) != BITMAP_WIDTH for r in rows):
        raise ValueError(f"the bitmap of {digit} must be {BITMAP_HEIGHT} rows of {BITMAP_WIDTH} "
                         f"characters")
    return torch.tensor([[1.0 if c == "#" else -1.0 for c in row] for row in rows])


def rbf_codes() -> torch.Tensor:
    """(10, 84) parameter vectors of the output RBF units: the flattened ±1 bitmaps of the digits
    0-9.
    """
    return torch.stack([digit_bitmap(d).flatten() for d in range(10)])


# --------------------------------------------------------------------------- the input
BACKGROUND, FOREGROUND = -0.1, 1.175   # section II-B: "mean input roughly 0, variance roughly 1"


def paper_input(images: torch.Tensor) -> torch.Tensor:
    """MNIST digits (N, 1, 28, 28) in [0, 1] -> LeNet-5's input: padded to 32x32 (section II-B: so
    that stroke end-points and corners can reach the centre of C3's receptive fields), background
    (white paper, 0 in MNIST) at -0.1 and foreground (ink, 1) at 1.175."""
    if images.shape[-1] == 28:
        images = F.pad(images, (2, 2, 2, 2))
    return BACKGROUND + images * (FOREGROUND - BACKGROUND)


INPUT_HINT = ("LeNet-5 reads 32x32 grey images: pad 28x28 digits by 2 pixels on each side "
              "(torch.nn.functional.pad(x, (2, 2, 2, 2)), or cnnlit.models.lenet.paper_input(x), "
              "which also "
              "applies the paper's -0.1/1.175 scaling) and convert RGB to grey (x.mean(dim=1, "
              "keepdim=True)).")


# --------------------------------------------------------------------------- the networks

class LeNet5(nn.Module):
    """LeNet-5 as in Fig. 2. ``forward`` returns scores = -y_i, the RBF penalties negated, so that
    the largest score is the nearest code (as every classifier in cnnlit); :meth:`penalties` returns
    y_i."""

    def __init__(self, table: Sequence[Sequence[bool]] = C3_TABLE,
                 codes: Optional[torch.Tensor] = None,
                 init: str = "paper"):
        super().__init__()
        check_init(init)
        self.C1 = nn.Conv2d(1, 6, kernel_size=5)       # 6 @ 28x28
        self.tanh1 = ScaledTanh()
        self.S2 = Subsampling(6)                       # 6 @ 14x14
        self.tanh2 = ScaledTanh()
        self.C3 = PartialConv2d(table, kernel_size=5)  # 16 @ 10x10, Table I
        self.tanh3 = ScaledTanh()
        self.S4 = Subsampling(16)                      # 16 @ 5x5
        self.tanh4 = ScaledTanh()
        # 120 @ 1x1 (a convolution: bigger inputs give bigger maps)
        self.C5 = nn.Conv2d(16, 120, kernel_size=5)
        self.tanh5 = ScaledTanh()
        self.F6 = nn.Linear(120, 84)                   # 84 = the 7x12 bitmap
        self.tanh6 = ScaledTanh()
        self.output = EuclideanRBF(rbf_codes() if codes is None else codes)
        self.reset_parameters(init)

    @torch.no_grad()
    def reset_parameters(self, init: str = "paper") -> None:
        """Uniform weights in +-bound(F), F each unit's fan-in
        (:data:`~cnnlit.layers.lenet5_layers.INIT_RULES`); biases too for "paper"."""
        for layer in (self.C1, self.C5, self.F6):
            fan_in = layer.weight[0].numel()
            init_uniform_(layer.weight, fan_in, init)
            init_uniform_(layer.bias, fan_in, init) if init == "paper" else layer.bias.zero_()
        for layer in (self.S2, self.S4):
            layer.reset_parameters(init)
        self.C3.reset_parameters(init)

    def f6(self, x: torch.Tensor) -> torch.Tensor:
        """The F6 state (N, 84): what the RBF units compare with their codes."""
        x = self.tanh2(self.S2(self.tanh1(self.C1(x))))     # (N, 6, 14, 14)
        x = self.tanh4(self.S4(self.tanh3(self.C3(x))))     # (N, 16, 5, 5)
        x = self.tanh5(self.C5(x)).flatten(1)               # (N, 120)
        return self.tanh6(self.F6(x))                       # (N, 84)

    def penalties(self, x: torch.Tensor) -> torch.Tensor:
        """y_i = sum_j (x_j - w_ij)^2 (eq. 7), (N, 10): smaller is better."""
        return self.output(self.f6(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.penalties(x)


class MAPCriterion(nn.Module):
    """The paper's training criterion (eq. 9), written on scores = -y_i:

        E = y_D + log(exp(-j) + sum_i exp(-y_i)),

    the penalty of the correct class D plus a term that pushes the other classes' penalties up. The
    constant ``j`` > 0 acts as a "rubbish class": penalties already above about j are not pushed
    further. With j -> infinity it is cross-entropy on the scores.

    ``temperature`` T (our addition; T = 1 is eq. 9) applies the criterion to y_i / T. The paper
    trained with a per-parameter step size (stochastic diagonal Levenberg-Marquardt, section III-B
    and appendix C); with plain SGD, dividing the penalties (sums of 84 squares) by T ~ 8 keeps the
    early steps sensible.
    """

    def __init__(self, j: float = 10.0, temperature: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.j, self.temperature = float(j), float(temperature)

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        scores = scores / self.temperature
        rubbish = scores.new_full((scores.shape[0], 1), -self.j)
        competition = torch.logsumexp(torch.cat([scores, rubbish], dim=1), dim=1)
        correct = scores.gather(1, labels[:, None]).squeeze(1)
        return (competition - correct).mean()

    def extra_repr(self) -> str:
        return f"j={self.j}, temperature={self.temperature}"


class LeNet5Modern(nn.Module):
    """What "LeNet-5" usually means today: ReLU, max-pooling, C3 connected to all six S2 maps, and a
    linear output read through softmax (train with cross-entropy). Same layer sizes as the paper."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.C1 = nn.Conv2d(1, 6, kernel_size=5)
        self.relu1 = nn.ReLU()
        self.S2 = nn.MaxPool2d(2)
        self.C3 = nn.Conv2d(6, 16, kernel_size=5)      # all 6 x 16 links
        self.relu3 = nn.ReLU()
        self.S4 = nn.MaxPool2d(2)
        self.C5 = nn.Conv2d(16, 120, kernel_size=5)
        self.relu5 = nn.ReLU()
        self.F6 = nn.Linear(120, 84)
        self.relu6 = nn.ReLU()
        self.output = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.S2(self.relu1(self.C1(x)))                 # (N, 6, 14, 14)
        x = self.S4(self.relu3(self.C3(x)))                 # (N, 16, 5, 5)
        x = self.relu5(self.C5(x)).flatten(1)               # (N, 120)
        return self.output(self.relu6(self.F6(x)))          # (N, 10) logits


@register("lenet5")
def lenet5(table: Sequence[Sequence[bool]] = C3_TABLE, codes: Optional[torch.Tensor] = None,
           init: str = "paper") -> LeNet5:
    """LeNet-5 as published (input (N, 1, 32, 32)); ``table`` replaces Table I (e.g. all True for a
    full C3), ``init`` picks the initial weights ("paper" or "lecun", see
    :data:`~cnnlit.layers.lenet5_layers.INIT_RULES`)."""
    return expect_input(LeNet5(table, codes, init), name="LeNet-5", channels=1, size=32,
                        hint=INPUT_HINT)


@register("lenet5_modern")
def lenet5_modern(num_classes: int = 10) -> LeNet5Modern:
    """The modern variant (ReLU, max-pooling, full C3, softmax), input (N, 1, 32, 32)."""
    return expect_input(LeNet5Modern(num_classes), name="LeNet-5 (modern)", channels=1, size=32,
                        hint=INPUT_HINT)


def paper_distortions(shift: float = 2.0, scale: float = 0.1, shear: float = 0.15):
    """Random planar affine distortions of a batch on its device, as in section III-B ("horizontal
    and vertical translations, scaling, squeezing, and horizontal shearing"): shifts up to ``shift``
    pixels, independent x/y scale factors in 1 +- ``scale`` (scaling and squeezing) and a horizontal
    shear up to
    +-``shear``. Pixels brought in from outside repeat the border (the background)."""
    def distort(batch: torch.Tensor) -> torch.Tensor:
        n, _, height, width = batch.shape
        uniform = lambda limit: (torch.rand(n, device=batch.device) * 2 - 1) * limit  # noqa: E731
        sx, sy, k = 1 + uniform(scale), 1 + uniform(scale), uniform(shear)
        # grid units: 2 / side per pixel
        tx, ty = uniform(2 * shift / width), uniform(2 * shift / height)
        theta = torch.stack([torch.stack([sx, k, tx], 1),
                             torch.stack([torch.zeros_like(sy), sy, ty], 1)], 1)
        grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
        return F.grid_sample(batch, grid, padding_mode="border", align_corners=False)
    return distort
