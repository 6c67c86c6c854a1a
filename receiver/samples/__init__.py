"""The example Rocket.Chat webhook bodies shipped with the receiver, one JSON file each."""

import json
from importlib import resources


def sample_bodies() -> dict[str, dict]:
    """The example bodies, by file name without `.json`, in name order."""
    folder = resources.files(__name__)
    return {
        item.name.removesuffix(".json"): json.loads(item.read_text(encoding="utf-8"))
        for item in sorted(folder.iterdir(), key=lambda item: item.name)
        if item.name.endswith(".json")
    }
