"""config/schema.json is generated from the pydantic models, never edited by hand.

    python -m crawler.configschema > config/schema.json
"""

from __future__ import annotations

import json

from crawler.config import Config


def config_schema() -> dict:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "newsarchive config"
    return schema


def main() -> None:
    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
