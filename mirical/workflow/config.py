"""Configuration helpers used by the Snakefile before schema validation."""

from __future__ import annotations

from typing import Any

import yaml

# Top-level keys whose values are names or paths: never re-typed.
TEXT_KEYS = ("name", "output_dir", "science", "background", "association", "reference_files", "crds")


def typed_values(config: dict) -> dict:
    """Re-type string leaves that Snakemake's ``--config`` left as text.

    ``snakemake --config steps='{resample: {pixfrac: 0.8}}'`` parses nested
    values with YAML's BaseLoader, so 0.8 arrives as '0.8'. Each string leaf
    outside `TEXT_KEYS` is read again with YAML's safe loader ('0.8' -> 0.8,
    'null' -> None, 'true' -> True; 'NaN' and 'square' stay text).
    """
    return {key: value if key in TEXT_KEYS else _retype(value) for key, value in config.items()}


def _retype(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _retype(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_retype(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if isinstance(parsed, (int, float, bool, type(None), list)) else value
    return value


def set_option(config: dict, dotted: str) -> None:
    """Apply one ``a.b.c=value`` override (the CLI's ``--set``) to a nested config."""
    key, sep, text = dotted.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects key.path=value, got {dotted!r}")
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(text) if text else None


#: How a JSON-schema type reads in a message.
TYPE_WORDS = {"number": "a number", "integer": "a whole number", "string": "text", "boolean": "true or false",
              "array": "a list", "object": "a section of keys", "null": "empty (null)"}
#: What a `pattern` of the schema asks for, by the key it applies to.
PATTERN_WORDS = {"name": "a plain name: a letter or digit first, then letters, digits, _ . + or -",
                 "snr": "two numbers separated by a space, e.g. '5.0 4.0'",
                 "scale": "two numbers separated by a space, e.g. '1.2 0.7'"}


def check_config(config: dict, schema_path: str) -> None:
    """Validate ``config`` against the schema (filling its defaults); one plain line per problem.

    Raises `MiricalError` naming each wrong key (``config steps.resample.kernel``) and what it
    must be, instead of the schema's own wording.
    """
    import jsonschema

    from mirical.errors import MiricalError

    with open(schema_path) as handle:
        schema = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    validator_class = jsonschema.validators.validator_for(schema)
    problems = sorted({plain_problem(error) for error in validator_class(schema).iter_errors(config)})
    if problems:
        raise MiricalError(problems[0].partition(": ")[0],
                           "\n".join([problems[0].partition(": ")[2], *problems[1:]]))
    filling_validator(validator_class)(schema).validate(config)


def filling_validator(validator_class: type) -> type:
    """``validator_class`` that also sets each missing key that has a ``default`` in the schema.

    The recipe of jsonschema's FAQ, which ``snakemake.utils.validate(set_default=True)`` uses too
    (that function would load the schema a second time, through YTE: ~0.2 s CPU of every planning).
    """
    import jsonschema

    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def plain_problem(error: Any) -> str:
    """One jsonschema error as ``config <key>: <what it must be>``."""
    path = [str(part) for part in error.absolute_path]
    key = "config " + (".".join(path) if path else "(top level)")
    value, rule, kind = error.instance, error.schema, error.validator
    if kind == "additionalProperties":
        import difflib

        known = sorted(rule.get("properties", {}))
        unknown = sorted(set(value) - set(known))
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = ".".join(path) + "." if path else ""
        line = f"config {where}{unknown[0] if len(unknown) == 1 else '...'}: unknown key {', '.join(hints)}"
        return line if "did you mean" in line else f"{line}; the keys here are {', '.join(known)}"
    if kind == "type" and path and path[-1] in PATTERN_WORDS:
        return f"{key}: {value!r} is not {PATTERN_WORDS[path[-1]]}"
    if kind == "type":
        wanted = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
        return f"{key}: {value!r} is not {' or '.join(TYPE_WORDS.get(w, w) for w in wanted)}"
    if kind == "enum":
        return f"{key}: {value!r} is not one of {', '.join(map(str, error.validator_value))}"
    if kind == "pattern":
        return f"{key}: {value!r} is not {PATTERN_WORDS.get(path[-1] if path else '', 'of the expected form')}"
    if kind in ("oneOf", "anyOf"):
        choices = []
        for option in error.validator_value:
            words = [TYPE_WORDS.get(option.get("type"), "?")]
            choices += [str(v) for v in option["enum"]] if "enum" in option else words
        return f"{key}: {value!r} is not {' or '.join(choices)}"
    bounds = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
              "exclusiveMaximum": "less than"}
    if kind in bounds:
        return f"{key}: {value!r} must be {bounds[kind]} {error.validator_value}"
    if kind in ("minItems", "maxItems"):
        return f"{key}: {value!r} must be a list of {error.validator_value} values"
    if kind == "minLength":
        return f"{key}: must not be empty"
    if kind == "required":
        return f"{key}: {error.message}"
    return f"{key}: {str(error.message).splitlines()[0]}"
