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
