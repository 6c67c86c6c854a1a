"""A third-party adapter, installed as its own package, is configured exactly like a built-in."""

import shutil
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from receiver import cli, create_app
from receiver.adapters import Adapter, Delivered, registry
from receiver.adapters.log import LogAdapter
from receiver.config import ConfigError, load_settings
from receiver.writeback import enabled

from .builders import payload
from .delivering import drain
from .stored import delivery_states

PLUGIN = Path(__file__).parent / "plugin_pkg"


def install(package: Path, site: Path) -> None:
    """What pip leaves in `site` for `package`: its modules, a dist-info with its entry points."""
    project = tomllib.loads((package / "pyproject.toml").read_text())
    about = project["project"]
    info = site / f"{about['name'].replace('-', '_')}-{about['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {about['name']}\nVersion: {about['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in about["entry-points"].items()))
    for module in project["tool"]["setuptools"]["py-modules"]:
        shutil.copy(package / f"{module}.py", site)


@pytest.fixture
def notebook_installed(tmp_path, monkeypatch):
    """The `notebook` package installed in a folder on sys.path, as into site-packages."""
    site = tmp_path / "site-packages"
    install(PLUGIN, site)
    monkeypatch.syspath_prepend(str(site))
    registry.read_entry_points.cache_clear()  # installed after the first read, as by pip
    yield
    registry.read_entry_points.cache_clear()  # sys.path is restored after this


@pytest.fixture
def environment(environment, notebook_installed, tmp_path):
    """The operator turns the plugin on as any adapter: by name, with its own variable."""
    environment.update(RECEIVER_ADAPTERS="notebook",
                       RECEIVER_NOTEBOOK_PATH=str(tmp_path / "notebook.txt"))
    return environment


def test_the_package_provides_an_adapter(runner):
    assert registry.installed()["notebook"].value == "receiver_notebook:NotebookAdapter"
    listing = runner.invoke(cli.main, ["adapters", "list"])
    assert listing.exit_code == 0, listing.output
    assert ["notebook", "receiver_notebook:NotebookAdapter", "yes"] in [
        line.split() for line in listing.output.splitlines()]


def test_start_up_refuses_the_plugin_without_its_setting(environment):
    del environment["RECEIVER_NOTEBOOK_PATH"]
    with pytest.raises(ConfigError, match="^RECEIVER_NOTEBOOK_PATH is required when "
                                          "RECEIVER_ADAPTERS includes notebook"):
        create_app(environment)


def test_the_worker_builds_and_delivers_to_the_plugin(post, worker, engine, environment):
    ids = [post(payload(name)).get_json()["id"] for name in (
        "e-livechat-session-start", "e-message-visitor", "e-livechat-session-close")]
    assert list(worker.adapters) == ["notebook"]
    assert worker.adapters["notebook"].config.path == environment["RECEIVER_NOTEBOOK_PATH"]
    assert drain(worker) == 3
    assert Path(environment["RECEIVER_NOTEBOOK_PATH"]).read_text().split() == ids
    assert set(delivery_states(engine).values()) == {"delivered"}


def test_entry_points_are_read_once(monkeypatch):
    reads, real = [], registry.entry_points

    def counted(**selection):
        reads.append(selection)
        return real(**selection)

    registry.read_entry_points.cache_clear()
    monkeypatch.setattr(registry, "entry_points", counted)
    settings = load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "log"})
    registry.build(settings.adapters, settings)
    registry.installed()
    monkeypatch.undo()
    registry.build(settings.adapters, settings)
    assert reads == [{"group": registry.GROUP}]


def test_each_adapter_is_imported_once(monkeypatch):
    point = EntryPoint("oncecrm", "receiver.adapters.log:LogAdapter", registry.GROUP)
    known = {**registry.installed(), "oncecrm": point}
    loads = []
    original = EntryPoint.load
    monkeypatch.setattr(registry, "installed", lambda: known)
    monkeypatch.setattr(EntryPoint, "load", lambda self: loads.append(self) or original(self))
    settings = load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t"})
    registry.check_settings(["oncecrm"], settings.environ)
    first, _ = registry.build(["oncecrm"], settings)
    second, _ = registry.build(["oncecrm"], settings)
    enabled(["oncecrm"])
    assert loads == [point]
    assert type(first["oncecrm"]) is type(second["oncecrm"]) is LogAdapter


class SettingsOfItsOwnUnknown(Adapter):
    """A plugin written before adapters had settings classes: built from the receiver's alone."""

    def __init__(self, settings):
        super().__init__(settings)

    def deliver(self, event: dict) -> Delivered:
        return Delivered()


def test_a_plugin_without_a_settings_class_is_built_as_before(monkeypatch):
    point = EntryPoint("oldcrm", f"{__name__}:SettingsOfItsOwnUnknown", registry.GROUP)
    known = {**registry.installed(), "oldcrm": point}
    monkeypatch.setattr(registry, "installed", lambda: known)
    settings = load_settings({"ROCKETCHAT_LIVECHAT_TOKEN": "t", "RECEIVER_ADAPTERS": "oldcrm"})
    adapters, broken = registry.build(settings.adapters, settings)
    assert broken == {} and adapters["oldcrm"].settings is settings
