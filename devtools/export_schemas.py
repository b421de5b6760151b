"""Export the JSON Schema of every contract event into ``contracts/schemas/``.

Both the events of ``dossier-events`` and the curated ones of the inter-agency topics
(``contracts/interagency.py``) are exported; the AsyncAPI document
(``devtools/asyncapi.py``) describes which topic carries which.

Run ``python -m devtools.export_schemas`` after changing a contract on purpose; the test
``test_exported_schemas_match_models`` fails until the files match the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.events import EVENT_TYPES
from contracts.interagency import INTERAGENCY_EVENT_TYPES

SCHEMA_DIR = Path(__file__).parent.parent / "contracts" / "schemas"


def schemas() -> dict[str, str]:
    """File name -> JSON text for every event type."""
    return {
        f"{name}.json": json.dumps(cls.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
        for name, cls in sorted({**EVENT_TYPES, **INTERAGENCY_EVENT_TYPES}.items())
    }


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in schemas().items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote contracts/schemas/{name}")


if __name__ == "__main__":
    main()
