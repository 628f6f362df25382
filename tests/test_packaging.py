"""The package as a user installs it: a wheel from setup.cfg, outside the repo.

Fast checks on the packaging metadata against the source tree: every module
sits in a package the wheel picks up, any data file the code could read
is declared as package data, the code imports only what `install_requires`
(or, lazily, an optional extra) brings, and every install requirement is used
at runtime. One test builds the wheel (no network, no build isolation) and
looks inside.
"""

from __future__ import annotations

import ast
import configparser
import functools
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("zoo", "training")

# Extras whose packages the runtime code may import, but only inside a
# function (so that the package imports without them): the optional
# datasets and the other Keras backends.
OPTIONAL_EXTRAS = ("data", "jax", "torch")

# Install requirements used without an `import` in our code.
USED_INDIRECTLY = {
    # keras.callbacks.TensorBoard writes the `logs/` of every run.
    "tensorboard",
}

# Import name -> distribution name where they differ and the distribution
# may not be installed where the test runs.
IMPORT_TO_DISTRIBUTION = {
    "tensorflow_text": "tensorflow-text",
    "tensorflow_datasets": "tensorflow-datasets",
    "rouge_score": "rouge-score",
    "keras_hub": "keras-hub",
    "vega_datasets": "vega-datasets",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str:
    return _normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line).group(1))


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _lines(value: str) -> list[str]:
    return [
        line.strip()
        for line in value.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _install_requires() -> set[str]:
    value = _setup_cfg()["options"]["install_requires"]
    return {_requirement_name(line) for line in _lines(value)}


def _extra(name: str) -> set[str]:
    value = _setup_cfg()["options.extras_require"][name]
    return {_requirement_name(line) for line in _lines(value)}


def _runtime_sources() -> list[Path]:
    return sorted(
        path
        for package in RUNTIME_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )


@functools.cache
def _installed_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distribution(import_name: str) -> str:
    if import_name in IMPORT_TO_DISTRIBUTION:
        return IMPORT_TO_DISTRIBUTION[import_name]
    distributions = _installed_distributions().get(import_name)
    return _normalize(distributions[0] if distributions else import_name)


def _third_party_imports() -> dict[str, list[tuple[str, bool]]]:
    """Top-level third-party imports: name -> [(where, at module level)]."""
    local = set(RUNTIME_PACKAGES)
    found: dict[str, list[tuple[str, bool]]] = {}

    def visit(node, where, module_level):
        for child in ast.iter_child_nodes(node):
            inside = module_level and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                names = [child.module]
            for name in names:
                top = name.split(".")[0]
                if top in local or top in sys.stdlib_module_names:
                    continue
                found.setdefault(top, []).append(
                    (f"{where}:{child.lineno}", module_level)
                )
            visit(child, where, inside)

    for path in _runtime_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visit(tree, str(path.relative_to(ROOT)), True)
    return found


def test_every_module_is_in_a_package_the_wheel_takes():
    from setuptools import find_packages

    include = _lines(_setup_cfg()["options.packages.find"]["include"])
    packages = set(find_packages(str(ROOT), include=include))
    for path in _runtime_sources():
        package = ".".join(path.relative_to(ROOT).parent.parts)
        assert package in packages, (
            f"{path.relative_to(ROOT)} lies in {package!r}, which setup.cfg's "
            "packages = find: does not take (no __init__.py?)"
        )


def test_every_data_file_in_the_packages_is_declared_package_data():
    # The wheel holds the .py files only unless setup.cfg names the others:
    # a preset, vocabulary or template the code reads at runtime would be
    # missing from an installed package though present in the repository.
    config = _setup_cfg()
    declared = {}
    if config.has_section("options.package_data"):
        for package, value in config["options.package_data"].items():
            declared[package] = _lines(value.replace(",", "\n"))
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if (
                path.is_dir()
                or "__pycache__" in path.parts
                or path.suffix in (".py", ".pyc")
            ):
                continue
            relative = path.relative_to(ROOT)
            owner = ".".join(relative.parent.parts)
            patterns = declared.get(owner, []) + declared.get("*", [])
            assert any(path.match(pattern) for pattern in patterns), (
                f"{relative} is not .py and not declared in setup.cfg "
                f"[options.package_data] {owner} =, so a wheel leaves it out"
            )


def test_runtime_imports_are_declared_requirements():
    required = _install_requires()
    optional = set().union(*(_extra(name) for name in OPTIONAL_EXTRAS)) - required
    dev_only = _extra("dev") - required - optional
    for name, places in sorted(_third_party_imports().items()):
        distribution = _distribution(name)
        where = ", ".join(place for place, _ in places)
        assert distribution not in dev_only, (
            f"{name} ({distribution}) is only in the dev extra, but the package "
            f"imports it at {where}"
        )
        if distribution in required:
            continue
        assert distribution in optional, (
            f"{name} ({distribution}) is imported at {where} but is in neither "
            "install_requires nor an optional extra in setup.cfg"
        )
        eager = [place for place, module_level in places if module_level]
        assert not eager, (
            f"{name} ({distribution}) comes from an optional extra but is "
            f"imported at module level at {', '.join(eager)}; import it where "
            "it is used, so that the package works without that extra"
        )


def test_every_install_requirement_is_used_at_runtime():
    imported = {_distribution(name) for name in _third_party_imports()}
    unused = _install_requires() - imported - USED_INDIRECTLY
    assert not unused, (
        f"install_requires lists {sorted(unused)}, which zoo/ and training/ never "
        "import; a requirement of the tests or benchmarks belongs in the dev extra"
    )


def test_console_script_target_exists():
    value = _setup_cfg()["options.entry_points"]["console_scripts"]
    for line in _lines(value):
        _, target = (part.strip() for part in line.split("=", 1))
        module_name, function = target.split(":")
        module = __import__(module_name, fromlist=[function])
        assert callable(getattr(module, function)), target


def test_wheel_holds_the_packages_and_nothing_else(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    # Build from a copy, so that no build/ or *.egg-info lands in the repo.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    if (ROOT / "MANIFEST.in").exists():
        shutil.copy(ROOT / "MANIFEST.in", source / "MANIFEST.in")
    for package in RUNTIME_PACKAGES:
        shutil.copytree(
            ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = {
            _requirement_name(line.split(":", 1)[1])
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        }
    expected = {
        path.relative_to(source).as_posix()
        for package in RUNTIME_PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    in_packages = {name for name in names if name.split("/")[0] in RUNTIME_PACKAGES}
    assert in_packages == expected, (
        f"missing from the wheel: {sorted(expected - in_packages)}; "
        f"unexpected: {sorted(in_packages - expected)}"
    )
    stray = {
        name
        for name in names
        if name.split("/")[0] not in RUNTIME_PACKAGES and ".dist-info/" not in name
    }
    assert not stray, f"the wheel holds files outside the packages: {sorted(stray)}"
    assert requires == _install_requires()
