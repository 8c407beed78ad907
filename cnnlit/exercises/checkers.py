"""How an answer is compared with the reference, one checker per kind of answer.

Every checker returns ``None`` (right) or a :class:`~cnnlit.exercises.core.Problem` whose message
says what is wrong -- the shape, the values, the gradient, the parameters -- without printing the
reference.

- ``number``: equal (integers) or within a tolerance (floats). A wrong number that is one of the
  exercise's registered slips gets that slip's hint; any other gets the exercise's hint about the
  method, never the direction or the distance to the answer (which a student could bisect).
- ``tensor``: the shape first, then the values.
- ``function``: called on random inputs next to the reference: output type, shape, values (naming
  the slip when the output is that of a registered wrong function), then the gradient of a random
  projection of the output with respect to the inputs.
- ``module``: built (class or factory with the exercise's arguments, or an instance), then output
  shape, parameter count and parameter shapes; the reference's (random) weights are copied into it
  and the outputs and gradients compared, in eval mode and, where the exercise asks, in training
  mode (batch statistics).
- ``design``: a network checked against the exercise's constraints (output shape, parameter
  budget...).
- ``property``: an exercise-specific test of the answer's behaviour (e.g. dropout's statistics).
"""
from __future__ import annotations

__all__ = ["CHECKERS", "build_answer", "check_design", "check_function", "check_module",
           "check_number",
           "check_property", "check_tensor", "compare_tensors", "line_up", "seeded"]

import math
import numbers
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Optional

import torch
from torch import nn

from .core import Exercise, Problem, Slip


@contextmanager
def seeded(seed: int):
    """Deterministic random numbers inside, the caller's random state untouched outside."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------- numbers
def _as_number(answer) -> Optional[float]:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, numbers.Number):
        return answer
    if torch.is_tensor(answer) and answer.numel() == 1:
        return answer.item()
    # numpy scalars and 1-element arrays
    if hasattr(answer, "item") and getattr(answer, "size", 0) == 1:
        return answer.item()
    return None


def slip_value(slip: Slip, reference):
    """The wrong number a slip gives: a number, or a callable of the reference."""
    return slip.answer(reference) if callable(slip.answer) else slip.answer


def check_number(exercise: Exercise, answer) -> Optional[Problem]:
    reference = exercise.reference()
    value = _as_number(answer)
    if value is None:
        return Problem("type", f"expected a number, got {type(answer).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        return Problem("value", f"your answer is {value}, not a finite number")
    options = exercise.options
    if isinstance(reference, int) and not options.get("rel"):
        right = value == reference
    else:
        right = math.isclose(value, reference, rel_tol=options.get("rel", 1e-3),
                             abs_tol=options.get("abs", 0.0))
    if right:
        return None
    for slip in options.get("slips", ()):
        if math.isclose(value, slip_value(slip, reference), rel_tol=options.get("rel", 1e-9)):
            return Problem("value", f"not the expected value — {slip.hint}")
    return Problem("value", f"not the expected value. The method: {options['method']}")


# --------------------------------------------------------------------------- tensors
def _as_tensor(answer) -> Optional[torch.Tensor]:
    if torch.is_tensor(answer):
        return answer.detach()
    try:
        return torch.as_tensor(answer)
    except (TypeError, ValueError, RuntimeError):
        return None


def compare_tensors(mine: torch.Tensor, reference: torch.Tensor, what: str = "the output", *,
                    atol: float = 1e-5, rtol: float = 1e-4) -> Optional[Problem]:
    """Shape, then values, of ``mine`` against ``reference``."""
    if tuple(mine.shape) != tuple(reference.shape):
        hint = ""
        if mine.ndim == 2 and tuple(mine.shape) == tuple(reference.shape)[::-1]:
            hint = " (transposed?)"
        return Problem("shape", f"{what} has shape {tuple(mine.shape)}, expected "
                                f"{tuple(reference.shape)}{hint}")
    if reference.dtype == torch.bool:
        if mine.dtype != torch.bool:
            if not torch.all((mine == 0) | (mine == 1)):
                return Problem("value", f"{what} should hold True/False (or 0/1) entries")
            mine = mine != 0
        wrong = int((mine != reference).sum())
        if wrong:
            return Problem("value", f"{wrong} of {reference.numel()} entries of {what} are wrong")
        return None
    mine, reference = mine.detach().double().cpu(), reference.detach().double().cpu()
    if not torch.isfinite(mine).all():
        return Problem("value", f"{what} contains inf or NaN")
    scale = max(1.0, float(reference.abs().max())) if reference.numel() else 1.0
    close = torch.isclose(mine, reference, rtol=rtol, atol=atol * scale)
    if not close.all():
        share = 1 - float(close.double().mean())
        return Problem("value", f"{what} has the right shape but {share:.0%} of its entries differ "
                                f"from the reference{_pattern(mine, reference)}")
    return None


def _pattern(mine: torch.Tensor, reference: torch.Tensor) -> str:
    """A hint when the difference has a simple form (a constant factor, a sign), without the factor.
    """
    usable = reference.abs() > 1e-6
    if usable.sum() < 2:
        return ""
    ratio = mine[usable] / reference[usable]
    if float(ratio.std()) < 1e-4 * max(1.0, float(ratio.abs().mean())):
        if torch.allclose(ratio, -torch.ones_like(ratio)):
            return " (the sign is flipped)"
        return " (by the same factor everywhere: check the scaling)"
    return ""


def check_tensor(exercise: Exercise, answer) -> Optional[Problem]:
    mine = _as_tensor(answer)
    if mine is None:
        return Problem("type", f"expected a tensor (or nested lists of numbers), got "
                               f"{type(answer).__name__}")
    return compare_tensors(mine, exercise.reference(), "your tensor", **_tolerances(exercise))


def _tolerances(exercise: Exercise) -> dict:
    return {k: exercise.options[k] for k in ("atol", "rtol") if k in exercise.options}


# --------------------------------------------------------------------------- functions
def _describe(args: tuple, kwargs: dict) -> str:
    """'arguments (shape (2, 3, 8, 8), shape (4,), 2, padding=1)': tensors by their shape only."""
    def one(value):
        if torch.is_tensor(value):
            return f"shape {tuple(value.shape)}"
        if isinstance(value, nn.Module):
            return f"a {type(value).__name__}"
        return repr(value)
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "arguments (" + ", ".join(parts) + ")"


def _clone(value, grad: bool):
    if torch.is_tensor(value):
        copy = value.detach().clone()
        return copy.requires_grad_(grad and copy.is_floating_point())
    return value


def _flatten(output) -> list:
    if isinstance(output, (tuple, list)):
        return [item for part in output for item in _flatten(part)]
    return [output]


def _call(function: Callable, adapter: Optional[Callable], args: tuple, kwargs: dict):
    return adapter(function, *args, **kwargs) if adapter else function(*args, **kwargs)


def _grads(outputs: list, inputs: list, weights: list) -> list:
    tensors = [o for o in outputs if torch.is_tensor(o) and o.requires_grad]
    if not tensors:
        return [None] * len(inputs)
    loss = sum((o * w).sum() for o, w in zip(outputs,
                                             weights) if torch.is_tensor(o) and o.requires_grad)
    return list(torch.autograd.grad(loss, inputs, allow_unused=True))


def _named_slip(exercise: Exercise, adapter: Optional[Callable], args: tuple, kwargs: dict,
                got: list) -> Optional[Problem]:
    """The registered slip whose output ``got`` is, as a value problem with its hint (or None)."""
    for slip in exercise.options.get("slips", ()):
        with torch.no_grad():
            wrong = _flatten(_call(slip.answer, adapter, tuple(_clone(a, False) for a in args),
                                   dict(kwargs)))
        if len(wrong) == len(got) and all(
                torch.is_tensor(w) and torch.is_tensor(g) and w.shape == g.shape
                and torch.allclose(g.detach().double(), w.double(), rtol=1e-4, atol=1e-5)
                if torch.is_tensor(w) else _as_number(g) == w for w, g in zip(wrong, got)):
            return Problem("value", f"your output differs from the reference — {slip.hint}")
    return None


def check_function(exercise: Exercise, answer) -> Optional[Problem]:
    if not callable(answer):
        return Problem("type", f"expected a function, got {type(answer).__name__}")
    options = exercise.options
    reference = exercise.reference()
    adapter = options.get("adapter")
    with seeded(options.get("seed", 0)):
        trials = options["inputs"]()
    for trial in trials:
        args, kwargs = (
            trial
            if isinstance(trial, tuple) and len(trial) == 2 and isinstance(trial[1], dict)
            else (trial, {})
        )
        grad = options.get("grad", True)
        where = f"for {_describe(args, kwargs)}"
        ref_args = tuple(_clone(a, grad) for a in args)
        my_args = tuple(_clone(a, grad) for a in args)
        my_kwargs = {k: _clone(v, False) for k, v in kwargs.items()}
        expected = _flatten(_call(reference, adapter, ref_args, dict(kwargs)))
        try:
            with seeded(options.get("seed", 0) + 1):
                got = _flatten(_call(answer, adapter, my_args, my_kwargs))
        # the student's code: report it, do not crash the notebook
        except Exception as error:
            return Problem.raised(error, f"calling your function {where}")
        if len(got) != len(expected):
            return Problem("type", f"your function returned {len(got)} value(s) {where}, expected "
                                   f"{len(expected)}")
        for index, (mine, ref) in enumerate(zip(got, expected)):
            what = "your output" if len(expected) == 1 else f"output {index}"
            if torch.is_tensor(ref):
                if not torch.is_tensor(mine):
                    return Problem("type", f"{what} is a {type(mine).__name__} {where}, expected a "
                                           f"tensor")
                problem = compare_tensors(mine, ref, f"{what} {where}", **_tolerances(exercise))
            else:
                value = _as_number(mine)
                problem = (
                    None
                    if value is not None and math.isclose(value, ref, rel_tol=1e-6, abs_tol=1e-9)
                    else Problem("value", f"{what} {where} is {mine!r}, not the expected value")
                )
            if problem:
                return _named_slip(exercise, adapter, args, kwargs, got) or problem
        differentiable = [
            i for i, a in enumerate(ref_args) if torch.is_tensor(a) and a.requires_grad
        ]
        if not grad or not differentiable:
            continue
        weights = [torch.randn(o.shape,
                               dtype=o.dtype) if torch.is_tensor(o) else None for o in expected]
        if not any(torch.is_tensor(o) and o.requires_grad for o in got):
            if any(torch.is_tensor(o) and o.requires_grad for o in expected):
                return Problem("gradient", f"your output {where} is cut off from autograd (did you "
                                           f"use .detach(),"
                                           f" .data, .item(), numpy or torch.no_grad()?)")
            continue
        ref_grads = _grads(expected, [ref_args[i] for i in differentiable], weights)
        my_grads = _grads(got, [my_args[i] for i in differentiable], weights)
        for position, mine, ref in zip(differentiable, my_grads, ref_grads):
            if ref is None:
                continue
            mine = torch.zeros_like(ref) if mine is None else mine
            if compare_tensors(mine, ref, atol=1e-4, rtol=1e-3) is not None:
                return Problem("gradient", f"the outputs match {where}, but the gradient with "
                                           f"respect to "
                                           f"argument {position + 1} differs (an operation outside "
                                           f"autograd, or an in-place change?)")
    return None


# --------------------------------------------------------------------------- modules
def build_answer(answer, args: tuple = (),
                 kwargs: Optional[dict] = None) -> tuple[Optional[nn.Module], Optional[Problem]]:
    """An nn.Module from an instance, a class or a factory called with ``args``."""
    kwargs = kwargs or {}
    if isinstance(answer, nn.Module):
        return answer, None
    if not callable(answer):
        return None, Problem("type", f"expected an nn.Module, its class or a function that builds "
                                     f"it, got {type(answer).__name__}")
    call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    try:
        module = answer(*args, **kwargs)
    except Exception as error:
        name = getattr(answer, "__name__", "answer")
        return None, Problem.raised(error, f"building your module as {name}({call})")
    if not isinstance(module, nn.Module):
        return None, Problem("type", f"{getattr(answer, '__name__', 'answer')}({call}) returned a "
                                     f"{type(module).__name__}, not an nn.Module")
    return module, None


def _run(module: nn.Module, x: torch.Tensor, train: bool):
    module.train(train)
    output = module(x)
    return output[0] if isinstance(output, (tuple, list)) else output


def line_up(reference: nn.Module, mine: nn.Module) -> Optional[Problem]:
    """Give ``reference`` random weights and copy them into ``mine``.

    Tensors of two or more dimensions are matched by shape, in the order the modules define them.
    Every one-dimensional parameter of length L (biases, batch-norm scales and shifts) gets the same
    random vector, and every running mean / variance of length L the same pair, so their order does
    not matter."""
    ref_params, my_params = list(reference.parameters()), list(mine.parameters())
    ref_shapes = sorted(tuple(p.shape) for p in ref_params)
    my_shapes = sorted(tuple(p.shape) for p in my_params)
    if ref_shapes != my_shapes:
        extra = [s for s in set(my_shapes) if my_shapes.count(s) > ref_shapes.count(s)]
        missing = sum(max(0, ref_shapes.count(s) - my_shapes.count(s)) for s in set(ref_shapes))
        detail = f"yours has a {extra[0]} tensor the reference lacks" if extra else \
            f"yours lacks {missing} parameter tensor(s) the reference has"
        return Problem("parameters",
                       f"the right number of parameters in the wrong shapes: {detail}")
    vectors, stats = {}, {}
    with torch.no_grad():
        for p in ref_params:
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.normal_(0.0, 1.0 / math.sqrt(fan_in))
        groups = defaultdict(list)
        for p in ref_params:
            if p.ndim >= 2:
                groups[tuple(p.shape)].append(p)
        for p in my_params:
            if p.ndim >= 2:
                p.copy_(groups[tuple(p.shape)].pop(0))
        for module in (reference, mine):
            for p in module.parameters():
                if p.ndim < 2:
                    length = p.numel()
                    if length not in vectors:
                        vectors[length] = (torch.rand(length) + 0.5).reshape(p.shape)
                    p.copy_(vectors[length].reshape(p.shape))
            for name, buffer in module.named_buffers():
                if name.endswith(("running_mean", "running_var")) and buffer.is_floating_point():
                    length = buffer.numel()
                    if length not in stats:
                        stats[length] = (torch.randn(length) * 0.1, torch.rand(length) + 0.5)
                    buffer.copy_(stats[length][0 if name.endswith("running_mean") else 1])
    return None


def check_module(exercise: Exercise, answer) -> Optional[Problem]:
    options = exercise.options
    args, kwargs = options.get("build", ((), {}))
    with seeded(options.get("seed", 0)):
        mine, problem = build_answer(answer, args, kwargs)
        if problem:
            return problem
        reference = exercise.reference()(*args, **kwargs)
        x = torch.randn(*options["input_shape"])
        where = f"for an input of shape {tuple(x.shape)}"
        try:
            with torch.no_grad():
                got = _run(mine, x, False)
        except Exception as error:
            return Problem.raised(error, f"running your module {where}")
        with torch.no_grad():
            expected = _run(reference, x, False)
        if not torch.is_tensor(got):
            return Problem("type",
                           f"your module returned a {type(got).__name__}, expected a tensor")
        if tuple(got.shape) != tuple(expected.shape):
            return Problem("shape", f"your output {where} has shape {tuple(got.shape)}, expected "
                                    f"{tuple(expected.shape)}")
        mine_count = sum(p.numel() for p in mine.parameters())
        ref_count = sum(p.numel() for p in reference.parameters())
        if mine_count != ref_count:
            more = "more" if mine_count > ref_count else "fewer"
            return Problem("parameters", f"your module has {more} trainable parameters than it "
                                         f"should {options.get('parameter_hint', '')}".strip())
        problem = line_up(reference, mine)
        if problem:
            return problem
        modes = (False, True) if options.get("train_mode") else (False,)
        for train in modes:
            mode = "training" if train else "eval"
            ref_x, my_x = x.clone().requires_grad_(), x.clone().requires_grad_()
            expected = _run(reference, ref_x, train)
            try:
                got = _run(mine, my_x, train)
            except Exception as error:
                return Problem.raised(error, f"running your module in {mode} mode")
            problem = compare_tensors(got, expected, f"with the reference's weights copied in, "
                                                     f"your output "
                                                     f"({mode} mode)", **_tolerances(exercise))
            if problem:
                shapes = [tuple(p.shape) for p in reference.parameters() if p.ndim >= 2]
                if len(set(shapes)) < len(shapes):
                    problem = Problem(
                        problem.kind,
                        problem.message + "; weights of the same shape are matched "
                        "in the order the layers are defined, so "
                        "define them in the order they run",
                    )
                return problem
            weights = torch.randn(expected.shape)
            if not got.requires_grad:
                return Problem("gradient", "your output is cut off from autograd (.detach(), .data "
                                           "or no_grad?)")
            (expected * weights).sum().backward()
            (got * weights).sum().backward()
            if my_x.grad is None or compare_tensors(my_x.grad, ref_x.grad, atol=1e-4, rtol=1e-3):
                return Problem("gradient", f"the outputs match but the gradient with respect to "
                                           f"the input differs ({mode} mode)")
            for ref_p in [p for p in reference.parameters() if p.ndim >= 2]:
                twins = [
                    p for p in mine.parameters() if p.shape == ref_p.shape and torch.equal(p, ref_p)
                ]
                if twins and (twins[0].grad is None or
                              compare_tensors(twins[0].grad, ref_p.grad, atol=1e-4, rtol=1e-3)):
                    return Problem("gradient", f"the outputs match but the gradient of a "
                                               f"{tuple(ref_p.shape)} weight differs ({mode} mode)")
            reference.zero_grad()
            mine.zero_grad()
    return None


# --------------------------------------------------------------------------- designs and properties
def check_design(exercise: Exercise, answer) -> Optional[Problem]:
    """A network against the exercise's constraints; ``options["constraints"]`` are callables
    (module, output) -> message or None, run after the output shape and the parameter budget."""
    options = exercise.options
    with seeded(options.get("seed", 0)):
        module, problem = build_answer(answer)
        if problem:
            return problem
        x = torch.randn(*options["input_shape"])
        module.eval()
        try:
            with torch.no_grad():
                output = module(x)
        except Exception as error:
            return Problem.raised(error, f"running your network on an input of shape "
                                         f"{tuple(x.shape)}")
        output = output[0] if isinstance(output, (tuple, list)) else output
        expected = (x.shape[0],) + tuple(options["output_shape"])
        if not torch.is_tensor(output) or tuple(output.shape) != expected:
            got = tuple(output.shape) if torch.is_tensor(output) else type(output).__name__
            return Problem("shape", f"for an input of shape {tuple(x.shape)} your network returns "
                                    f"{got}, the design asks for {expected}")
        budget = options.get("max_params")
        count = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if budget is not None and count > budget:
            return Problem("design", f"{count:,} trainable parameters: over the budget of "
                                     f"{budget:,}")
        for constraint in options.get("constraints", ()):
            message = constraint(module, options["input_shape"])
            if message:
                return Problem("design", message)
    return None


def check_property(exercise: Exercise, answer) -> Optional[Problem]:
    with seeded(exercise.options.get("seed", 0)):
        try:
            return exercise.options["verify"](answer)
        except Exception as error:
            return Problem.raised(error, "running your answer")


CHECKERS: dict[str, Callable[[Exercise, Any], Optional[Problem]]] = {
    "number": check_number, "tensor": check_tensor, "function": check_function,
    "module": check_module,
    "design": check_design, "property": check_property,
}
