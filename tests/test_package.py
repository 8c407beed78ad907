"""The package's shape: no import cycles, one meaning per public name, modules reachable as modules,
every docstring example runs, and the shared helpers of cnnlit.module_tools do what they say."""
from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
import io
import os
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import cnnlit  # noqa: E402
from cnnlit.data import DataUnavailableError  # noqa: E402
from cnnlit.module_tools import (  # noqa: E402
    capturing,
    evaluating,
    he_initialisation,
    hooked,
    main_output,
    on_meta,
    output_size,
    pair,
    training_mode,
)
from cnnlit.runtime import env_flag  # noqa: E402

PACKAGE = Path(cnnlit.__file__).parent
SKIPPED_MODULES = ("cnnlit.train.__main__",)      # running it is running the command line


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def all_modules() -> list:
    names = ["cnnlit"] + [info.name for info in pkgutil.walk_packages(cnnlit.__path__, "cnnlit.")]
    return [importlib.import_module(name) for name in names if name not in SKIPPED_MODULES]


# --------------------------------------------------------------------------- imports

def imported_from(name: str, node: ast.ImportFrom) -> list:
    """(alias, module named in the statement) for each name of a ``from ... import`` in module
    ``name``.
    """
    if node.level:
        package = name if SOURCES[name].name == "__init__.py" else name.rpartition(".")[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    return [(alias, target) for alias in node.names]


def imported_modules(name: str, path: Path) -> set:
    """The cnnlit modules ``name`` imports anywhere in its source, function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            for alias, target in imported_from(name, node):
                found.add(
                    f"{target}.{alias.name}" if f"{target}.{alias.name}" in SOURCES else target
                )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target in SOURCES and target != name}


IMPORTS = {name: imported_modules(name, path) for name, path in SOURCES.items()}


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_walk_sees_function_level_and_relative_imports():
    # from ..layers.normalization
    assert "cnnlit.layers.normalization" in IMPORTS["cnnlit.models.alexnet"]
    # inside a function
    assert "cnnlit.models" in IMPORTS["cnnlit.train.command_line"]
    assert "cnnlit.train.command_line" in IMPORTS["cnnlit.train.__main__"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_inside_cnnlit():
    assert cycles(IMPORTS) == []


def reaches(start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(IMPORTS.get(node, ()))
    return False


def test_layers_depend_on_torch_alone():
    """No module under cnnlit/layers imports anything of cnnlit outside cnnlit.layers: what a layer
    costs and how far it sees are counted in cnnlit.costs, which sits above the layers."""
    layers = [name for name in SOURCES if name.startswith("cnnlit.layers")]
    assert len(layers) > 1
    for name in layers:
        outside = {target for target in IMPORTS[name] if not target.startswith("cnnlit.layers")}
        assert not outside, f"{name} imports {sorted(outside)}"
    assert "cnnlit.layers" in IMPORTS["cnnlit.costs"] and reaches("cnnlit.analysis", "cnnlit.costs")


def test_models_depend_on_layers_not_on_data():
    allowed = ("cnnlit.models", "cnnlit.layers", "cnnlit.module_tools", "cnnlit.imagenet")
    for name in SOURCES:
        if name.startswith("cnnlit.models"):
            outside = {target for target in IMPORTS[name] if not target.startswith(allowed)}
            assert not outside, f"{name} imports {sorted(outside)}"


def parent(module: str) -> str:
    return module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]


def test_no_module_reaches_into_another_package_s_private_names():
    """Nothing imports a leading-underscore name from a cnnlit module of another package, or reads
    one as an attribute of such a module (the registry's builders, say: get_builder is the public
    way). Modules of one package may share their private helpers."""
    offences = []
    for name, path in SOURCES.items():
        tree = ast.parse(path.read_text())
        here = parent(name)
        # local name -> the cnnlit module it is bound to
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                targets = imported_from(name, node)
                for alias, target in targets:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if target in SOURCES and private and parent(target) != here:
                        offences.append(f"{name} imports {alias.name} from {target}")
                    if f"{target}.{alias.name}" in SOURCES:
                        modules[alias.asname or alias.name] = f"{target}.{alias.name}"
            elif isinstance(node, ast.Import):
                modules.update({alias.asname: alias.name for alias in node.names
                                if alias.asname and alias.name in SOURCES})
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and parent(modules[node.value.id]) != here
            ):
                offences.append(f"{name} reads {node.value.id}.{node.attr}")
    assert offences == []


def test_paper_modules_are_modules_and_builders_stay_reachable():
    import cnnlit.models as models
    for paper in ("lenet", "alexnet", "zfnet", "vgg", "googlenet", "resnet"):
        assert inspect.ismodule(getattr(models, paper)), paper
    assert models.vgg.vgg("A", width=64, hidden=8).config == "A"
    assert type(on_meta(models.get_model, "vgg16")) is models.vgg.VGG
    assert models.resnet.resnet(18).depth == 18 and callable(models.googlenet.googlenet)


# --------------------------------------------------------------------------- one name, one meaning

def public_callables():
    """(name, object, where it is visible) for every public function and class defined in cnnlit."""
    for module in all_modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if (getattr(obj, "__module__",
                        "") or "").startswith("cnnlit") and not obj.__name__.startswith("_"):
                yield obj.__name__, obj, f"{module.__name__}.{name}"


def test_no_two_public_functions_share_a_name_with_different_meanings():
    meanings = defaultdict(dict)
    for name, obj, where in public_callables():
        meanings[name].setdefault(id(obj), f"{obj.__module__}.{obj.__qualname__}")
    clashes = {
        name: sorted(defined.values()) for name, defined in meanings.items() if len(defined) > 1
    }
    assert clashes == {}


def test_the_name_check_sees_re_exports_as_one_meaning():
    names = defaultdict(set)
    for name, obj, where in public_callables():
        names[name].add(where)
    # one function, two places
    assert {"cnnlit.train.fit", "cnnlit.train.loop.fit"} <= names["fit"]
    assert "cnnlit.models.registry.get_model" in names["get_model"]


# --------------------------------------------------------------------------- docstring examples

class _StatedOutputOnly(doctest.OutputChecker):
    """An example's printed output is checked where the docstring states it, and may be anything
    where it does not (a progress line, the device in use)."""

    def check_output(self, want, got, optionflags):
        return not want or super().check_output(want, got, optionflags)


def docstring_examples() -> list:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [pytest.param(test, id=test.name) for module in all_modules()
            for test in finder.find(module, module.__name__) if test.examples]


@pytest.mark.parametrize("example", docstring_examples())
def test_docstring_example_runs(example, monkeypatch):
    monkeypatch.setenv("CNNLIT_PROFILE", "smoke")
    monkeypatch.setenv("CNNLIT_DEVICE", "cpu")
    monkeypatch.delenv("CNNLIT_DRY_RUN", raising=False)
    runner = doctest.DocTestRunner(checker=_StatedOutputOnly(),
                                   optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    try:
        result = runner.run(example, out=report.write, clear_globs=True)
    finally:
        plt.close("all")
    if result.failed and "DataUnavailableError" in report.getvalue():
        pytest.skip(f"{example.name} needs a dataset this machine does not have")
    assert result.failed == 0, report.getvalue()


CODE_LINE = re.compile(r"^(import |from \S+ import |cnnlit\.|[A-Za-z_][\w.]*(, ?[A-Za-z_]\w*)* = "
                       r"[A-Za-z_][\w.]*\(|[A-Za-z_][\w.]*\()")


def test_docstring_code_is_written_as_runnable_examples():
    """Code in a docstring is a ``>>>`` example (which the test above runs), not an indented block
    that nothing runs and that can go stale."""
    stale = []
    for name, path in SOURCES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                                     ast.ClassDef)):
                continue
            for line in (ast.get_docstring(node, clean=True) or "").splitlines():
                code = line.strip()
                if (
                    line.startswith("    ")
                    and not code.startswith((">>>", "..."))
                    and CODE_LINE.match(code)
                ):
                    try:
                        ast.parse(code)
                    except SyntaxError:
                        continue
                    stale.append(f"{name}: {code}")
    assert stale == []


def test_the_package_example_feeds_lenet5_what_it_reads():
    """The package docstring's example, checked on its own: LeNet-5 reads 32x32 inputs (28x28 digits
    raise).
    """
    model = cnnlit.models.get_model("lenet5")
    digits = torch.rand(4, 1, 28, 28)
    with pytest.raises(cnnlit.models.InputShapeError):
        model(digits)
    assert model(cnnlit.models.lenet.paper_input(digits)).shape == (4, 10)
    assert ">>> train = digits.map(cnnlit.models.lenet.paper_input)" in cnnlit.__doc__
    try:
        cnnlit.data.load("mnist", "test", subset=1, verbose=False)
    except DataUnavailableError:
        pytest.skip("MNIST is not available here")


# --------------------------------------------------------------------------- cnnlit.module_tools

def test_evaluating_restores_the_mode_even_after_an_error():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    with evaluating(net):
        assert not net.training and not net[1].training
    assert net.training and net[1].training
    with pytest.raises(RuntimeError):
        with evaluating(net):
            raise RuntimeError("inside")
    assert net.training
    net.eval()
    with training_mode(net, True):
        assert net[1].training
    assert not net.training


def test_hooked_removes_every_hook_even_after_an_error():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    calls = []
    with pytest.raises(RuntimeError):
        hooks = [(net[0], lambda m, i, o: calls.append(o.shape)),
                 (net[1], lambda m, i, o: calls.append(0))]
        with hooked(hooks):
            net(torch.zeros(4, 2))
            raise RuntimeError("inside")
    assert calls == [(4, 3), 0]
    assert not net[0]._forward_hooks and not net[1]._forward_hooks
    with hooked([(net[1], lambda m, args: calls.append(args[0].shape))], pre=True):
        net(torch.zeros(1, 2))
    assert calls[-1] == (1, 3) and not net[1]._forward_pre_hooks


def test_capturing_keeps_what_named_modules_output_or_receive():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x = torch.randn(5, 2)
    with capturing({"fc1": net[0]}) as outputs, capturing({"fc2": net[2]}, inputs=True) as inputs:
        net(x)
    assert torch.equal(outputs["fc1"], net[0](x)) and torch.equal(inputs["fc2"], net[1](net[0](x)))
    assert not outputs["fc1"].requires_grad and not net[0]._forward_hooks


def test_main_output_and_output_size():
    scores = torch.zeros(2, 10)
    assert main_output(scores) is scores and main_output((scores, None, None)) is scores
    for size, kernel, stride, padding in [(224, 11, 4, 2), (227, 11, 4, 0), (55, 3, 2, 0),
                                          (13, 3, 1, 1)]:
        side = nn.Conv2d(1, 1, kernel, stride, padding)(torch.zeros(1, 1, size, size)).shape[-1]
        assert output_size(size, kernel, stride, padding) == side
    with pytest.raises(ValueError, match="does not fit"):
        output_size(3, 5)


def test_env_flag_reads_one_set_of_words(monkeypatch):
    monkeypatch.delenv("CNNLIT_TEST_FLAG", raising=False)
    assert env_flag("CNNLIT_TEST_FLAG", True, "on")
    assert not env_flag("CNNLIT_TEST_FLAG", False, "on")
    for value, expected in [("1", True), ("Yes", True), (" on ", True), ("0", False),
                            ("FALSE", False)]:
        monkeypatch.setenv("CNNLIT_TEST_FLAG", value)
        assert env_flag("CNNLIT_TEST_FLAG", not expected, "on") is expected
    monkeypatch.setenv("CNNLIT_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match=r"CNNLIT_TEST_FLAG='maybe': expected 1 \(on\) or 0"):
        env_flag("CNNLIT_TEST_FLAG", False, "on")


def test_on_meta_builds_without_memory():
    model = on_meta(cnnlit.models.get_model, "vgg16")
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 138_357_544       # torchvision's vgg16


def test_he_initialisation_has_the_variance_of_he_et_al_2015():
    torch.manual_seed(0)
    conv, linear = nn.Conv2d(64, 128, 3), nn.Linear(512, 256)
    model = he_initialisation(nn.Sequential(conv, nn.ReLU(), nn.Flatten(), linear))
    assert conv.weight.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.02)      # fan-in
    assert torch.all(conv.bias == 0)
    # left alone
    assert linear.weight.std().item() == pytest.approx((1 / 512 / 3) ** 0.5, rel=0.05)
    he_initialisation(model, mode="fan_out", linear=True)
    assert conv.weight.std().item() == pytest.approx((2 / (128 * 9)) ** 0.5, rel=0.02)     # fan-out
    assert linear.weight.std().item() == pytest.approx((2 / 256) ** 0.5, rel=0.05)
    norm = nn.BatchNorm2d(4)
    nn.init.constant_(norm.weight, 3.0)
    he_initialisation(nn.Sequential(norm), batch_norm=True)
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_pair():
    assert pair(3) == (3, 3) and pair((2, 5)) == (2, 5) and pair([1, 4]) == (1, 4)


def test_nothing_is_left_of_the_old_names():
    """The command line and recipes moved into cnnlit.train; the chapter helpers into
    cnnlit.chapters.
    """
    for gone in ("cnnlit.scale", "cnnlit.recipes", "cnnlit.explore"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(gone)
    assert not hasattr(cnnlit.data, "random_crop_flip") and callable(cnnlit.augment.pad_crop_flip)
    assert os.path.isfile(PACKAGE / "train" / "__main__.py")


# --------------------------------------------------------------------------- what a module exports

def test_every_module_says_what_it_exports_and_has_it():
    offences = []
    for module in all_modules():
        exported = getattr(module, "__all__", None)
        if exported is None:
            offences.append(f"{module.__name__} has no __all__")
            continue
        for name in exported:
            if not hasattr(module, name) and importlib.util.find_spec(
                    f"{module.__name__}.{name}") is None:
                offences.append(f"{module.__name__}.__all__ names {name}, which it lacks")
    assert offences == []


def test_what_the_chapters_and_scripts_import_from_cnnlit_is_exported():
    """A name a notebook, benchmark or tool imports is part of its module's ``__all__``."""
    import json
    root = Path(cnnlit.__file__).resolve().parents[1]
    sources = [(path.name, path.read_text()) for folder in ("benchmarks", "tools")
               for path in sorted((root / folder).glob("*.py"))]
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                python = [line for line in lines if not line.lstrip().startswith(("%", "!"))]
                sources.append((notebook.name, "\n".join(python)))
    offences = []
    for where, code in sources:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnlit"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    submodule = importlib.util.find_spec(f"{node.module}.{alias.name}") \
                        if hasattr(module, "__path__") else None
                    if alias.name not in module.__all__ and submodule is None:
                        offences.append(f"{where} imports {node.module}.{alias.name}")
    assert offences == []
