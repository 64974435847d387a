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


class ModelRulesError(ValueError):
    """A model trained for another rule set than the one asked for; the message names both."""


def load_model(name_or_path: str | Path, rules: str | None = None):
    """`Weights` of a packaged model name or a weight file (see `rgou.weights.load_weights`).

    rules: the rule set the model must be trained for (None: any); another is
    refused (`ModelRulesError`, a ValueError) naming the model and both rule sets.
    """
    from rgou.rules import DEFAULT_RULES, rule_set
    from rgou.weights import load_weights

    if rules is not None:
        rules = rule_set(rules, "rules").name  # "Finkel" is finkel; an unknown name is refused as one
    with model_file(name_or_path) as path:
        weights = load_weights(path)
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
