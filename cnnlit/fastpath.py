"""How a training step runs: memory layout (NCHW or channels-last) and precision (fp32 or mixed).

On CUDA, mixed precision (float16 autocast with a gradient scaler) and channels-last are on by
default. On the CPU, two things can make a step faster, and neither helps every network:

- **channels-last** (NHWC): oneDNN's convolutions work in this layout natively, so NCHW tensors are
  reordered around every convolution unless the model and its inputs are channels-last already;
- **bfloat16 autocast**: matrix products and convolutions in bfloat16 (float32's exponent range, so
  no gradient scaler), the weights and the optimizer's update in float32. Only where the CPU has
  bfloat16 instructions (x86 AVX512_BF16 or AMX-BF16): without them it is emulated in float32
  arithmetic plus conversions, so it is not used.

What is on by default is decided per network family from measurements (``FAMILIES``, numbers in
benchmarks/RESULTS.md), not by rule: LeNet-5, for instance, gains too little from either to count
on. ``fit(..., amp=False, channels_last=False)`` (``--no-amp``/``--no-channels-last`` on the command
line) switches them off; ``CNNLIT_FASTPATH=0`` switches off the automatic CPU choices for a whole
session.
"""
from __future__ import annotations

import functools
import platform
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from .runtime import env_flag

__all__ = ["FAMILIES", "FASTPATH_VARIABLE", "StepPlan", "cpu_bf16", "family", "fast_path_settings",
           "float32", "plan"]

FASTPATH_VARIABLE = "CNNLIT_FASTPATH"
BF16_FLAGS = ("avx512_bf16", "amx_bf16")        # /proc/cpuinfo's names for x86 bfloat16 arithmetic
X86 = ("x86_64", "amd64", "x64", "i386", "i686")


# --------------------------------------------------------------------------- what this CPU can do

@dataclass(frozen=True)
class Bf16Support:
    """Whether this CPU does bfloat16 arithmetic in hardware (``native``) and how that was found."""

    native: bool
    reason: str
    measured: bool = False      # a CPU kind the FAMILIES measurements speak for (x86)

    def __str__(self) -> str:
        return f"bfloat16 {'native' if self.native else 'not native'} ({self.reason})"


def _cpuinfo_flags(path: str = "/proc/cpuinfo") -> Optional[set]:
    """The CPU's feature flags from Linux's /proc/cpuinfo, or None where there is no such file."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):      # x86 / ARM
            return set(value.split())
    return set()


def _torch_says(name: str) -> Optional[bool]:
    check = getattr(getattr(torch, "cpu", None), name, None)
    try:
        return bool(check()) if callable(check) else None
    except Exception:  # noqa: BLE001 - a private probe; absent or failing means "cannot tell"
        return None


@functools.lru_cache(maxsize=None)
def cpu_bf16() -> Bf16Support:
    """Does this CPU compute in bfloat16 natively? x86 with AVX512_BF16 or AMX-BF16: yes. Read from
    /proc/cpuinfo on Linux, else from torch's own CPU probe; anything else (emulation) counts as
    no."""
    machine = platform.machine().lower()
    if not torch.backends.mkldnn.is_available():
        return Bf16Support(False, "this torch build has no oneDNN (mkldnn) kernels")
    if machine not in X86:
        flags = _cpuinfo_flags() or set()
        # ARMv8.6 BF16 instructions: used when asked (amp=True), not by default,
        if "bf16" in flags:
            return Bf16Support(True, f"{machine} with BF16 instructions; the defaults were "
                                     f"measured on x86")
        return Bf16Support(False, f"{machine}: no bfloat16 instructions reported")
    flags = _cpuinfo_flags()
    if flags is not None and flags:
        found = [flag for flag in BF16_FLAGS if flag in flags]
        if found:
            return Bf16Support(True, "x86 with " + " and ".join(f.upper() for f in found),
                               measured=True)
        return Bf16Support(False, "x86 without AVX512_BF16 or AMX-BF16: bfloat16 would be emulated")
    avx512_bf16, amx = (
        _torch_says("_is_avx512_bf16_supported"),
        _torch_says("_is_amx_tile_supported"),
    )
    if avx512_bf16 or amx:
        return Bf16Support(True, "x86 with " + ("AVX512_BF16" if avx512_bf16 else "AMX"),
                           measured=True)
    if avx512_bf16 is None and amx is None:
        return Bf16Support(False, "cannot tell whether this x86 CPU has bfloat16 instructions")
    return Bf16Support(False, "x86 without AVX512_BF16 or AMX-BF16: bfloat16 would be emulated")


# --------------------------------------------------------------------------- what pays, per network
# family

@dataclass(frozen=True)
class FamilyChoice:
    """The CPU defaults for one network family, with the measurement they come from."""

    channels_last: bool
    bf16: bool
    evidence: str


# Training throughput of fit relative to fp32 NCHW (channels-last / bf16 / both), each network as
# its chapter trains it in the cpu profile, batch 64, on a 2-core AMD EPYC (Zen 4, AVX512_BF16),
# torch's 2 threads, GOMP_SPINCOUNT=3000, wall clock, median of 3 interleaved rounds
# (`benchmarks/throughput.py --sections layouts`, 2026-12-02 04:32; benchmarks/RESULTS.md).
# Differences under about 10% are within this machine's round-to-round spread, so where two settings
# are that close the earlier runs in RESULTS.md decide.
FAMILIES: dict[str, FamilyChoice] = {
    "LeNet5": FamilyChoice(False, False, "1.01x / 0.93x / 1.15x: too little to count on, and bf16 "
                                         "would "
                                         "compute the RBF output's squared distances in bfloat16 "
                                         "(its test "
                                         "error left fp32's seed range: benchmarks/RESULTS.md)"),
    "LeNet5Modern": FamilyChoice(False, False, "1.15x / 1.03x / 1.27x, and 0.98x / 0.68x / 0.92x "
                                               "in the run "
                                               "before: too little arithmetic per image to gain "
                                               "reliably"),
    "AlexNetSmall": FamilyChoice(True, True, "1.59x / 1.20x / 1.84x, with local response "
                                             "normalisation's channel sum as one matrix product "
                                             "(cnnlit.layers.normalization)"),
    "ZFNetSmall": FamilyChoice(True, True, "1.18x / 1.14x / 1.58x"),
    "VGG": FamilyChoice(True, True, "configuration A 1.33x / 1.02x / 1.59x, E with batch norm "
                                    "1.21x / 1.14x / 1.36x"),
    "CifarResNet": FamilyChoice(True, True, "at 14 px 1.08x / 1.31x / 1.18x (1.45x both in the run "
                                            "before); "
                                            "at 28 px 1.08x / 1.31x / 1.44x, so channels-last is "
                                            "kept"),
    "GoogLeNetSmall": FamilyChoice(True, True, "1.67x / 1.12x / 2.17x"),
}
UNMEASURED = FamilyChoice(False, False, "not measured: PyTorch's defaults (fp32, NCHW)")


def family(model: nn.Module) -> str:
    """The class name that keys ``FAMILIES``, looking through torch.compile and
    DistributedDataParallel.
    """
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return type(model).__name__
        model = inner


def automatic() -> bool:
    """False when ``CNNLIT_FASTPATH=0`` asks for PyTorch's defaults on the CPU for the whole
    session.
    """
    return env_flag(FASTPATH_VARIABLE, True, "the fast path where it pays")


# --------------------------------------------------------------------------- the plan for one run

@dataclass(frozen=True)
class StepPlan:
    """Layout and precision of the training steps of one run on one device."""

    device_type: str
    channels_last: bool
    autocast_dtype: Optional[torch.dtype]      # None: float32 throughout
    reason: str

    @property
    def needs_scaler(self) -> bool:
        """float16 gradients underflow without loss scaling; bfloat16's do not (float32's exponent).
        """
        return self.autocast_dtype == torch.float16

    def autocast(self):
        """The context the forward pass runs in."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)

    def evaluation_autocast(self):
        """The context evaluation runs in: CUDA keeps float16; the CPU evaluates in float32, so the
        test errors the chapters print do not depend on this CPU's training precision."""
        return self.autocast() if self.device_type == "cuda" else nullcontext()

    def prepare_model(self, model: nn.Module) -> nn.Module:
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last and images.ndim == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def __str__(self) -> str:
        precision = {None: "float32", torch.float16: "float16 autocast",
                     torch.bfloat16: "bfloat16 autocast"}[self.autocast_dtype]
        layout = "channels-last" if self.channels_last else "NCHW"
        return f"{precision}, {layout} ({self.reason})"


def float32(outputs):
    """A network's outputs in float32 (a tensor, or a tuple / named tuple of tensors and None), so
    that the loss is computed in float32 whatever precision the forward pass ran in."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    if isinstance(outputs, tuple):
        converted = [float32(item) for item in outputs]
        return type(outputs)(*converted) if hasattr(outputs, "_fields") else tuple(converted)
    return outputs


def plan(model: nn.Module, device, *, amp: Optional[bool] = None,
         channels_last: Optional[bool] = None) -> StepPlan:
    """Choose layout and precision for training ``model`` on ``device``.

    ``amp``: None = where it pays (CUDA: float16; CPU: bfloat16 where the CPU does it natively and
    the family gains from it), True = wherever the hardware does it natively, False = float32.
    ``channels_last``: None = CUDA, or the family's CPU choice; True/False = as asked.
    """
    device = torch.device(device)
    for name, value in (("amp", amp), ("channels_last", channels_last)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be None (automatic), True or False, got {value!r}")
    if device.type == "cuda":
        dtype = torch.float16 if amp in (None, True) else None
        layout = True if channels_last is None else channels_last
        return StepPlan("cuda", layout, dtype,
                        "CUDA defaults" if amp is None and channels_last is None
                        else "as asked")
    if device.type != "cpu":
        return StepPlan(device.type, bool(channels_last), None, f"{device.type}: float32")

    name = family(model)
    if not automatic():
        choice, source = UNMEASURED, f"{FASTPATH_VARIABLE}=0"
    elif name in FAMILIES:
        choice, source = FAMILIES[name], f"measured default for {name}"
    else:
        choice, source = UNMEASURED, f"{name} not measured: PyTorch's defaults"
    reasons = [source] if amp is None or channels_last is None else []
    if amp is not None or channels_last is not None:
        reasons.append("as asked")
    support = cpu_bf16()
    wants_bf16 = choice.bf16 if amp is None else amp
    if wants_bf16 and not (support.native and (support.measured or amp)):
        reasons.append(f"no bfloat16: {support.reason}")
        wants_bf16 = False
    layout = choice.channels_last if channels_last is None else channels_last
    return StepPlan("cpu", layout, torch.bfloat16 if wants_bf16 else None, "; ".join(reasons))


def fast_path_settings() -> str:
    """One line for ``cnnlit.about()``: what the CPU fast path can use here."""
    state = "on where it pays" if automatic() else f"off ({FASTPATH_VARIABLE}=0)"
    return f"{cpu_bf16()}; fast path {state}"
