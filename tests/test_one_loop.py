"""One training loop: cnnlit.train.fit. Nothing in the package outside cnnlit/train/ steps an
optimiser or builds one (the chapters' experiments are written in the notebooks and pass their
optimiser to fit)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlit"


def _dotted(node) -> str:
    """``torch.optim.SGD`` for the expression torch.optim.SGD; "" for anything but names and
    attributes."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def optimiser_uses(source: str) -> list:
    """(line, what) for each optimiser step (``x.step()``, or with one argument: a closure, a
    schedule's metric; matplotlib's ``axis.step(x, y, ...)`` draws), each optimiser built (a call of
    ``torch.optim.X``/``optim.X``, schedules included) and each import of torch.optim."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = _dotted(node.func)
            arguments = len(node.args) + len(node.keywords)
            if node.func.attr == "step" and arguments <= 1:        # not a step plot
                found.append((node.lineno, f"{name or '...'}() steps an optimiser or a schedule"))
            elif name.startswith(("torch.optim.", "optim.")):
                found.append((node.lineno, f"{name}() builds an optimiser or a schedule"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.optim"):
            found.append((node.lineno, f"imports from {node.module}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "torch" and \
                any(alias.name == "optim" for alias in node.names):
            found.append((node.lineno, "imports torch.optim"))
    return found


def test_the_check_finds_steps_and_optimisers():
    source = ("import torch\nfrom torch import optim\nopt = torch.optim.SGD(ps, lr=1)\nopt.step()\n"
              "s = optim.lr_scheduler.StepLR(opt, 1)\nx: torch.optim.Optimizer = None\n"
              "axis.step(xs, ys)\n")
    assert [line for line, _ in optimiser_uses(source)] == [2, 3, 4, 5]


def test_no_optimiser_step_outside_cnnlit_train():
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 if path.relative_to(PACKAGE).parts[0] != "train"
                 for line, what in optimiser_uses(path.read_text())]
    assert not offenders, ("training belongs to cnnlit.train (fit, training_step, sgd); found:\n"
                           + "\n".join(offenders))
