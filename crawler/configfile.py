"""Reading the config file: YAML nodes keep their line numbers for errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crawler.config import CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH, SOURCE_KINDS, Config, ConfigError

Location = tuple[Any, ...]
# A number with an exponent and no dot: YAML 1.2 and every YAML user call it a float.
EXPONENT_FLOAT_RE = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """--config, else $NEWSARCHIVE_CONFIG, else config/newsarchive.yaml."""
    return Path(explicit or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def _index_lines(node: yaml.Node, here: Location, lines: dict[Location, int], problems: list) -> None:
    """Record the 1-based line of every key and item; catch duplicate keys, which PyYAML hides."""
    lines.setdefault(here, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append((key_node.start_mark.line + 1, _dotted((*here, key)), "duplicate key"))
            seen.add(key)
            lines[(*here, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*here, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*here, index), lines, problems)


def _dotted(location: Location) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_location(data: Any, loc: Location) -> Location:
    """Pydantic's error location without the union tags it inserts (sources.0.feed.url)."""
    out: list[Any] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part not in current and part in SOURCE_KINDS and current.get("kind") == part:
            continue
        out.append(part)
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(out)


def _line_for(location: Location, lines: dict[Location, int]) -> int | None:
    while location:
        if location in lines:
            return lines[location]
        location = location[:-1]
    return lines.get(())


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading 1e3 and 2.5E-1 as numbers (YAML 1.2) where YAML 1.1 reads strings."""


ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT_FLOAT_RE, list("-+0123456789."))


def parse_config(text: str, path: Path) -> Config:
    try:
        root = yaml.compose(text, Loader=ConfigLoader)
        data = yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, [(mark.line + 1 if mark else None, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(path, [(1, "", "the config must be a mapping (archive:, crawl:, sources:)")])
    lines: dict[Location, int] = {}
    problems: list[tuple[int | None, str, str]] = []
    if root is not None:
        _index_lines(root, (), lines, problems)
    if problems:
        raise ConfigError(path, problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            location = _data_location(data, error["loc"])
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                location = (*location, "kind")  # the discriminator is what is wrong
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append((_line_for(location, lines), _dotted(location), message))
        raise ConfigError(path, problems) from exc
    seen: dict[str, int] = {}
    for index, source in enumerate(config.sources):
        if source.id in seen:
            location = ("sources", index, "id")
            problems.append((_line_for(location, lines), _dotted(location), f"duplicate source id {source.id!r} (first at sources[{seen[source.id]}])"))
        seen.setdefault(source.id, index)
    if problems:
        raise ConfigError(path, problems)
    return config


def load_config(path: str | os.PathLike | None = None) -> Config:
    resolved = config_path(path)
    try:
        raw = resolved.read_bytes()
    except OSError as exc:
        raise ConfigError(resolved, [(None, "", f"cannot read the config: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some editors write, is no error
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(resolved, [(line, "", f"not UTF-8 (byte 0x{raw[exc.start]:02x}): save the config as UTF-8")]) from exc
    return parse_config(text, resolved)
