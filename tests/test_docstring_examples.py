"""The docstring examples run as shown, and the documented Args match the code.

The API reference (docs/api/) is built from these docstrings, so an example
that fails, prints something else, or needs an import it does not show
misleads its reader. Each example runs with no names given to it (as a reader
pasting it into a fresh interpreter would), from a temporary folder.
"""

import ast
import dataclasses
import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import keras
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "training")
PUBLIC_PACKAGES = (
    "zoo.layers",
    "zoo.models.vit",
    "zoo.models.seq2seq",
    "zoo.models.forecaster",
    "training",
    "zoo.data",
)

# Docstrings whose examples may carry `# doctest: +SKIP`, and why each cannot
# run in a test. A skip not listed here fails `test_skipped_examples_are_listed`.
SKIPPED_EXAMPLES = {
    "zoo.data.images": "needs a folder of the reader's own images",
    "zoo.data.images.decode_image_bytes": "needs the reader's own image file",
    "zoo.data.images.decode_image_tensor": "needs the reader's own image file",
    "zoo.data.images.load_image_folder": "needs a folder of the reader's own images",
    "zoo.data.mo_catalog.read_mo": "needs a .mo catalog at a path of its own",
    "zoo.data.series": "needs an ETT .csv, which ships nowhere offline",
    "zoo.data.series.load_series": "needs the reader's own series",
    "zoo.data.series.read_frame": "needs an ETT .csv, which ships nowhere offline",
    "zoo.decoding.Decoder": "needs a trained seq2seq model",
    "zoo.models.vit.export.export_saved_model": "needs a trained model",
    "zoo.models.vit.family.ViTFamily": "prepares all of Fashion-MNIST",
    "zoo.models.vit.rollout.attention_rollout": "needs a trained backbone",
    "training.precision.gpu_compute_capabilities": "the answer depends on the GPU",
}

# Examples that use TensorFlow itself (tf.data, SavedModel) run only there.
TENSORFLOW_ONLY = re.compile(r"\b(tensorflow|tf\.data|tf\.io)\b")

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names():
    """Every module of the packages, except the `python -m` entry points."""
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package_name
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if not info.name.endswith("__main__"):
                yield info.name


def _docstring_tests():
    """Name -> doctest.DocTest, for every docstring with examples."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = {}
    for module_name in _module_names():
        module = importlib.import_module(module_name)
        for test in finder.find(module, module_name):
            # The finder also walks re-exported objects; keep each at its home.
            if test.examples and test.name.startswith(module_name):
                tests[test.name] = test
    return tests


DOCTESTS = _docstring_tests()


def _has_skip(test):
    return any(example.options.get(doctest.SKIP) for example in test.examples)


def _source(test):
    return "\n".join(example.source for example in test.examples)


@pytest.fixture
def clean_keras_state(tmp_path, monkeypatch):
    """A fresh folder, seed and float32 policy; the policy restored after."""
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def test_examples_were_found():
    # A broken finder would otherwise pass every test below by finding none.
    assert len(DOCTESTS) > 50, sorted(DOCTESTS)


@pytest.mark.parametrize("name", sorted(DOCTESTS))
def test_docstring_example_runs_as_shown(name, clean_keras_state):
    test = DOCTESTS[name]
    if keras.backend.backend() != "tensorflow" and TENSORFLOW_ONLY.search(
        _source(test)
    ):
        pytest.skip(f"{name}: the example uses TensorFlow itself")
    # No module globals: the example must import what it uses.
    test = doctest.DocTest(
        test.examples, {}, test.name, test.filename, test.lineno, test.docstring
    )
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


def test_skipped_examples_are_listed():
    skipping = {name for name, test in DOCTESTS.items() if _has_skip(test)}
    assert skipping == set(SKIPPED_EXAMPLES), (
        f"skipped but not listed: {sorted(skipping - set(SKIPPED_EXAMPLES))}; "
        f"listed but not skipped: {sorted(set(SKIPPED_EXAMPLES) - skipping)}"
    )


def test_skipped_examples_still_parse():
    # A skipped example is not run, but it must at least be valid Python.
    for name in SKIPPED_EXAMPLES:
        for example in DOCTESTS[name].examples:
            ast.parse(example.source)


def test_example_sections_render_as_examples():
    # Google style: only "Examples:" with an indented body becomes an
    # examples section; "Example:" is an admonition whose `>>>` lines
    # Markdown renders as nested block quotes.
    for name, test in DOCTESTS.items():
        docstring = inspect.cleandoc(test.docstring)
        assert not re.search(r"^Example:\s*$", docstring, re.MULTILINE), (
            f"{name}: expected an 'Examples:' section; received 'Example:'"
        )
        assert not re.search(r"^Examples:\n>>>", docstring, re.MULTILINE), (
            f"{name}: expected the examples indented under 'Examples:'"
        )


# -- Args against signatures ------------------------------------------------


def _public_symbols():
    """(qualified name, object) for each name in a public package's __all__."""
    for package_name in PUBLIC_PACKAGES:
        package = importlib.import_module(package_name)
        for name in package.__all__:
            yield f"{package_name}.{name}", getattr(package, name)


PUBLIC = dict(_public_symbols())
CALLABLES = {
    name: obj for name, obj in PUBLIC.items() if inspect.isclass(obj) or callable(obj)
}


def _documented_args(docstring, section="Args:"):
    """Argument name -> its text, from a Google-style section such as "Args:"."""
    lines = inspect.cleandoc(docstring or "").splitlines()
    try:
        start = lines.index(section) + 1
    except ValueError:
        return {}
    args, current = {}, None
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^    (\*{0,2}\w+)(?: \(.*?\))?:(.*)$", line)
        if match:
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current and line.strip():
            args[current] += " " + line.strip()
    return args


def _signature_args(obj):
    """Parameter name -> inspect.Parameter of a function or a class's __init__."""
    function = obj.__init__ if inspect.isclass(obj) else obj
    parameters = inspect.signature(function).parameters
    return {name: p for name, p in parameters.items() if name != "self"}


def _docstring_of(obj):
    if inspect.isclass(obj) and "Args:" not in (obj.__doc__ or ""):
        # Some classes document their arguments on __init__.
        return obj.__init__.__doc__
    return obj.__doc__


def _documented(obj):
    """The documented arguments: "Args:", or a dataclass's "Attributes:"."""
    if dataclasses.is_dataclass(obj):
        return _documented_args(obj.__doc__, "Attributes:")
    return _documented_args(_docstring_of(obj))


def _delegated_args():
    """Classes whose docstring says their arguments are another class's."""
    from zoo.layers import MultiHeadAttention, TransformerEncoderBlock

    return {
        "zoo.layers.Dropout": keras.layers.Dropout,
        "zoo.layers.TransformerDecoderBlock": TransformerEncoderBlock,
        "zoo.models.vit.LocalityEncoderBlock": TransformerEncoderBlock,
        "zoo.models.vit.LocalitySelfAttention": MultiHeadAttention,
    }


DELEGATED = _delegated_args()


@pytest.mark.parametrize("name", sorted(DELEGATED))
def test_delegated_args_are_those_of_the_named_class(name):
    # "Arguments are those of X" must stay true, and must stay said.
    obj, other = CALLABLES[name], DELEGATED[name]
    assert list(_signature_args(obj)) == list(_signature_args(other)), (
        f"{name}: expected the arguments of {other.__name__}; received "
        f"{list(_signature_args(obj))}"
    )
    assert other.__name__ in obj.__doc__, (
        f"{name}: expected the docstring to name {other.__name__}; received none"
    )


def _defined_in(module_name):
    """(name, function or class) defined in a module, with the classes' methods."""
    module = importlib.import_module(module_name)
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield f"{module_name}.{name}", obj
        if inspect.isclass(obj):
            for method_name, method in vars(obj).items():
                if inspect.isfunction(method) and method_name != "__init__":
                    yield f"{module_name}.{name}.{method_name}", method


def _with_args_sections():
    """Every function, class and method of the packages with an "Args:" section."""
    found = {}
    for module_name in _module_names():
        for name, obj in _defined_in(module_name):
            if "Args:" in inspect.cleandoc(_docstring_of(obj) or "").splitlines():
                found[name] = obj
    return found


WITH_ARGS = _with_args_sections()


def _argument_mismatch(obj):
    """(undocumented, unknown) argument names of obj's "Args:" section."""
    signature = _signature_args(obj)
    documented = _documented(obj)
    expected = {
        n
        for n, p in signature.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n != "cls"
    }
    # `*args` and `**kwargs` (Keras' name, dtype, ...) may be documented or not.
    optional = {f"**{n}" for n, p in signature.items() if p.kind == p.VAR_KEYWORD}
    optional |= {f"*{n}" for n, p in signature.items() if p.kind == p.VAR_POSITIONAL}
    return (
        sorted(expected - set(documented)),
        sorted(set(documented) - expected - optional),
    )


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_symbol_has_a_docstring(name):
    obj = PUBLIC[name]
    if not (inspect.isclass(obj) or callable(obj)):
        return  # a preset table: plain data
    summary = (obj.__doc__ or "").strip().splitlines()
    assert summary and summary[0], f"{name}: expected a docstring; received none"


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_documented_args_match_the_signature(name):
    if name in DELEGATED:
        return  # test_delegated_args_are_those_of_the_named_class checks it
    undocumented, unknown = _argument_mismatch(CALLABLES[name])
    assert not undocumented and not unknown, (
        f"{name}: arguments in the signature but not in Args: {undocumented}; "
        f"in Args but not in the signature: {unknown}"
    )


@pytest.mark.parametrize("name", sorted(WITH_ARGS))
def test_every_args_section_matches_its_signature(name):
    # Beyond the public API: one entry per argument ("a, b: ..." is not one).
    undocumented, unknown = _argument_mismatch(WITH_ARGS[name])
    assert not undocumented and not unknown, (
        f"{name}: arguments in the signature but not in Args: {undocumented}; "
        f"in Args but not in the signature: {unknown}"
    )


_DEFAULT = re.compile(
    r"Defaults? to `{0,2}([^`,;]+?)`{0,2}[.,;)]|`{0,2}([^`\s]+?)`{0,2} \(default\)",
    re.IGNORECASE,
)


def _stated_defaults(obj):
    """(argument, stated default text) for each literal default the Args state."""
    signature = _signature_args(obj)
    for arg, text in _documented(obj).items():
        if arg not in signature:
            continue  # reported by test_documented_args_match_the_signature
        for groups in _DEFAULT.findall(text):
            stated = "".join(groups).strip()
            try:
                yield arg, stated, ast.literal_eval(stated)
            except (ValueError, SyntaxError):
                continue  # a description ("the query's size"), not a literal


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_documented_defaults_match_the_signature(name):
    obj = CALLABLES[name]
    signature = _signature_args(obj)
    for arg, stated, value in _stated_defaults(obj):
        actual = signature[arg].default
        assert value == actual, (
            f"{name}: Args says {arg} defaults to {stated!r}; "
            f"the signature's default is {actual!r}"
        )


def test_some_stated_defaults_are_checked():
    # Guards the pattern above: if it matched nothing, the test would be empty.
    stated = [d for obj in CALLABLES.values() for d in _stated_defaults(obj)]
    assert len(stated) >= 2, stated


def _api_pages_text():
    return "\n".join(
        page.read_text() for page in sorted((REPO / "docs" / "api").glob("*.md"))
    )


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_public_symbol_is_in_the_api_reference(name):
    obj = CALLABLES[name]
    pages = _api_pages_text()
    # Either the symbol where it is exported, or the module that defines it.
    candidates = (name, f"{obj.__module__}.{obj.__name__}", obj.__module__)
    entries = set(re.findall(r"^::: (\S+)\s*$", pages, re.MULTILINE))
    assert entries & set(candidates), (
        f"{name}: expected a '::: {name}' entry in docs/api/*.md; received none"
    )
