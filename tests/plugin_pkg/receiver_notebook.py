"""The `notebook` adapter: notes the id of each event, one a line, in RECEIVER_NOTEBOOK_PATH."""

from dataclasses import dataclass

from receiver.adapters import Adapter, Delivered
from receiver.config import read_required


@dataclass(frozen=True)
class NotebookSettings:
    """The file the adapter notes event ids in."""

    path: str

    @classmethod
    def from_environ(cls, environ) -> "NotebookSettings":
        return cls(path=read_required(environ, "RECEIVER_NOTEBOOK_PATH", "notebook",
                                      "name the file to note event ids in"))


class NotebookAdapter(Adapter):
    """Appends each event's id to the notebook file."""

    settings_class = NotebookSettings

    def deliver(self, event: dict) -> Delivered:
        with open(self.config.path, "a", encoding="utf-8") as notebook:
            notebook.write(event["id"] + "\n")
        return Delivered(detail=f"noted in {self.config.path}")
