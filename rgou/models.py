"""The models shipped inside the package (found through importlib.resources, `rgou.resources`).

``default`` is the model `ml` agents use when no file is named: ``strong``,
which `rgou train --preset strong` made (exact targets from the solved game);
``upstream`` is the upstream engine's published model, converted to rgou's
layout, kept for comparison. A model name is accepted wherever a weight file is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from rgou._io import file_path
from rgou.resources import data_file

PACKAGED_MODELS = {
    "default": "models/strong.json.gz",
    "strong": "models/strong.json.gz",
    "upstream": "models/upstream.json.gz",
}


@contextmanager
def model_file(name_or_path: str | Path) -> Iterator[Path]:
    """A readable path for a packaged model name (`PACKAGED_MODELS`) or a weight file's path.

    A file of the same name as a packaged model wins; a folder does not.
    """
    path = file_path("name_or_path", name_or_path)
    text = str(name_or_path)
    if text in PACKAGED_MODELS and not path.is_file():
        with resources.as_file(data_file(PACKAGED_MODELS[text])) as path:
            yield path
        return
    yield path


class ModelError(ValueError):
    """A model that cannot serve where it was asked for; the message names the model."""


class ModelRulesError(ModelError):
    """A model trained for another rule set than the one asked for; the message names both."""


def check_agent_weights(weights) -> None:
    """ValueError unless `weights` (a checked `rgou.weights.Weights`) are nets an ML agent can play with: 150
    inputs, a value net of 1 output and at least one hidden layer, a policy net of 7, the in_out layout, and
    weights whose sums stay within float32 on every position (`check_bounded_nets`)."""
    from rgou.features import NUM_FEATURES
    from rgou.nn.layout import LAYOUT_IN_OUT
    from rgou.rules import MAX_PIECES

    if weights.value_config.input_size != NUM_FEATURES or weights.policy_config.input_size != NUM_FEATURES:
        raise ValueError(f"ML agent needs networks with {NUM_FEATURES} inputs")
    if weights.policy_config.output_size != MAX_PIECES or weights.value_config.output_size != 1:
        raise ValueError(f"ML agent needs a value net with 1 output and a policy net with {MAX_PIECES}")
    if weights.layout != LAYOUT_IN_OUT:
        raise ValueError(
            f"ML agent needs weights in the {LAYOUT_IN_OUT} layout, got {weights.layout} "
            f"(convert them: rgou.weights.convert_weights or rgou convert)"
        )
    if not weights.value_config.hidden_sizes:
        raise ValueError("ML agent needs a value net with at least one hidden layer")
    check_bounded_nets(weights)


def check_bounded_nets(weights) -> None:
    """ValueError naming the net and its layer unless both nets' sums stay within float32 on every position
    (`rgou.nn.inference.check_bounded`): finite weights past that play with inf and NaN scores and train nothing."""
    from rgou.nn.inference import check_bounded
    from rgou.nn.layout import layer_sizes

    check_bounded(weights.value, layer_sizes(weights.value_config), "the value net")
    check_bounded(weights.policy, layer_sizes(weights.policy_config), "the policy net")


def load_model(name_or_path: str | Path, rules: str | None = None, for_agent: bool = False):
    """`Weights` of a packaged model name or a weight file (see `rgou.weights.load_weights`).

    rules: the rule set the model must be trained for (None: any); another is
    refused (`ModelRulesError`, a ValueError) naming the model and both rule sets.
    for_agent: refuse nets an ML agent cannot play with (`check_agent_weights`;
    `ModelError`, naming the model).
    """
    from rgou.rules import DEFAULT_RULES, rule_set
    from rgou.weights import load_weights

    if rules is not None:
        rules = rule_set(rules, "rules").name  # "Finkel" is finkel; an unknown name is refused as one
    with model_file(name_or_path) as path:
        weights = load_weights(path)
    if for_agent:
        try:
            check_agent_weights(weights)
        except ValueError as e:
            raise ModelError(f"the model {name_or_path}: {e}") from None
    if rules is not None and weights.rules != rules:
        raise ModelRulesError(
            f"the model {name_or_path} plays the {weights.rules} rules, not {rules}; "
            + (
                f"play it under its own rules (--rules {weights.rules}), or play the shipped model (ml) or a "
                "model file trained for them (ml:FILE)"
                if rules == DEFAULT_RULES
                else f"train a model for {rules} with `rgou train --rules {rules} --preset strong`"
            )
        )
    return weights
