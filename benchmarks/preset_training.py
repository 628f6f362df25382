"""Timing copies of a zoo preset's training steps on its first real batches.

Shared by the benchmarks that train copies of one preset, differing in one
setting, in turn in one process (``attention_core.py``, ``dropout_rng.py``).
A case is ``(family, preset, data, unit)``: the unit counted per batch.
"""

import argparse
import json
from pathlib import Path

import keras
import numpy as np
from device_info import describe_device
from speed import first_training_batches, interleaved_median_seconds

from zoo import registry

RESULTS = Path(__file__).parent / "results"
# Options counting batches or passes: each must be at least one.
COUNT_OPTIONS = ("batches", "repeats")


def argument_parser(description, cases, batches, repeats):
    """A parser with --batches, --repeats, --families (of ``cases``) and --name."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batches", type=int, default=batches)
    parser.add_argument("--repeats", type=int, default=repeats)
    families = [family for family, *_ in cases]
    parser.add_argument(
        "--families",
        nargs="+",
        default=families,
        choices=families,
        help="which of the presets to time (default: all)",
    )
    parser.add_argument("--name", default=None, help="stem of the result files")
    return parser


def parse_tensorflow_arguments(parser, why):
    """Parse; refuse counts below one and a backend other than TensorFlow.

    The counts are ``--batches`` and ``--repeats``, where the parser has them.
    """
    args = parser.parse_args()
    for option in COUNT_OPTIONS:
        value = getattr(args, option, None)
        if value is not None and value < 1:
            parser.error(f"--{option}: expected a positive integer; received {value}")
    if keras.backend.backend() != "tensorflow":
        parser.error(
            f"expected KERAS_BACKEND=tensorflow: {why}; "
            f"received {keras.backend.backend()!r}"
        )
    return args


def first_batches(family_name, preset, data_name, count):
    """The preset's model inputs: the first ``count`` training batches, and info."""
    family = registry.get_family(family_name)
    config = family.check_preset(preset)
    record = {"model": family_name, "preset": preset, "config": config}
    batches, info = first_training_batches(
        family, data_name, config["batch_size"], count, record
    )
    return family, config, batches, info


def compiled_copy(family, config, info, jit_compile, layer_class, **settings):
    """The preset built from seed 0, ``settings`` set on its ``layer_class`` layers.

    Every copy built this way starts from the same weights. Returns the
    compiled model and the layers the settings went to.
    """
    keras.utils.set_random_seed(0)
    model = family.build_model(config, info)
    # Keras has no public walk over nested layers; `_flatten_layers` is it.
    nested = model._flatten_layers()
    layers = [layer for layer in nested if isinstance(layer, layer_class)]
    for layer in layers:
        for attribute, value in settings.items():
            setattr(layer, attribute, value)
    model.compile(**family.compile_arguments(config, info), jit_compile=jit_compile)
    return model, layers


def copies_by_setting(copies, layer_class, attribute, required=None):
    """A ``build_copies`` for ``time_copies``: one compiled copy per entry of ``copies``.

    Args:
        copies: copy name -> ``(jit_compile, value)``, ``value`` set as
            ``attribute`` on every ``layer_class`` layer of that copy.
        layer_class: the layers the setting goes to.
        attribute: the setting's name.
        required: optional ``(predicate, what)``: each copy's ``layer_class``
            layers must satisfy ``predicate``, else a ``ValueError`` says the
            preset lacks ``what``.
    """

    def build(family, config, info):
        models = {}
        for name, (jit_compile, value) in copies.items():
            models[name], layers = compiled_copy(
                family, config, info, jit_compile, layer_class, **{attribute: value}
            )
            if required is not None and not required[0](layers):
                raise ValueError(
                    f"expected a preset with {required[1]}; {config} has none"
                )
        return models

    return build


def units_in(batches, unit):
    """How many ``unit``s the batches hold: examples, or non-padding label ids."""
    if unit.startswith("non-padding"):
        # Label id 0 is padding.
        return sum(int(np.count_nonzero(labels)) for _, labels in batches)
    return sum(len(labels) for _, labels in batches)


def training_pass(model, batches):
    """A callable training ``model`` one step on each batch."""

    def run():
        for inputs, labels in batches:
            model.train_on_batch(inputs, labels)

    return run


def time_copies(case, count, repeats, build_copies, tolerance):
    """Train each copy of ``case``'s preset in turn; its row of throughputs.

    Args:
        case: ``(family, preset, data, unit)``.
        count: training batches per timed pass.
        repeats: timed passes of each copy.
        build_copies: ``(family, config, info) -> {name: compiled model}``,
            every copy from the same weights.
        tolerance: how closely the copies' outputs must agree in inference.

    Returns:
        ``(row, seconds)``: ``row`` has the model, batch count, unit and
        ``<name>_per_second`` for each copy; ``seconds`` the median pass times.
    """
    family_name, preset, data_name, unit = case
    family, config, batches, info = first_batches(family_name, preset, data_name, count)
    models = build_copies(family, config, info)
    inputs = batches[0][0]
    outputs = [keras.ops.convert_to_numpy(m(inputs)) for m in models.values()]
    for other in outputs[1:]:
        np.testing.assert_allclose(outputs[0], other, rtol=tolerance, atol=tolerance)
    seconds = interleaved_median_seconds(
        {name: training_pass(m, batches) for name, m in models.items()}, repeats
    )
    units = units_in(batches, unit)
    row = {
        "model": f"{family_name} {preset} on {data_name}",
        "batches": len(batches),
        "unit": unit,
        **{f"{name}_per_second": units / s for name, s in seconds.items()},
    }
    return row, seconds


def time_cases(cases, args, build_copies, tolerance, ratios):
    """``time_copies`` for each of ``cases`` in ``args.families``; the rows.

    ``ratios(seconds)`` maps the copies' median pass times to the ratios
    added to the case's row.
    """
    rows = []
    for case in cases:
        if case[0] not in args.families:
            continue
        row, seconds = time_copies(
            case, args.batches, args.repeats, build_copies, tolerance
        )
        row.update(ratios(seconds))
        rows.append(row)
        print(row, flush=True)
    return rows


def run_record(script, args, flags=""):
    """How a result was made: the command (``flags`` after the script), machine, Keras."""
    # The options the script's parser has: --batches, --repeats, --families.
    options = "".join(
        f" --{option} {getattr(args, option)}"
        for option in COUNT_OPTIONS
        if hasattr(args, option)
    )
    if hasattr(args, "families"):
        options += f" --families {' '.join(args.families)}"
    return {
        "command": f"python benchmarks/{script}{flags}{options}",
        "device": describe_device(),
        "keras": keras.__version__,
        "repeats": args.repeats,
    }


def write_results(name, result, lines):
    """Write ``results/<name>.json`` and the markdown ``lines`` to ``<name>.md``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
