"""app.json holds only what Heroku documents, and names only variables the receiver reads.

The fields and their shapes are those of https://devcenter.heroku.com/articles/app-json-schema;
dyno sizes are those of https://devcenter.heroku.com/articles/dyno-types.
"""

import ast
import json

import pytest

from .servers import ROOT

TOP_LEVEL = {"addons", "buildpacks", "description", "env", "environments", "formation", "image",
             "keywords", "logo", "name", "repository", "scripts", "stack", "success_url",
             "website"}
VARIABLE_FIELDS = {"description", "generator", "required", "value"}
ADDON_FIELDS = {"plan", "as", "options"}
SCRIPTS = {"postdeploy", "pr-predestroy"}
DYNO_SIZES = {"eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l",
              "performance-l-ram", "performance-xl", "performance-2xl"}


@pytest.fixture(scope="module")
def app():
    return json.loads((ROOT / "app.json").read_text())


def procfile_types() -> set[str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {line.split(":", 1)[0].strip() for line in lines if line.strip()}


def strings_in_receiver() -> set[str]:
    """Every string constant in the receiver's code: the variables it reads are among them."""
    found = set()
    for path in (ROOT / "receiver").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def addon_plans(app) -> list[str]:
    return [addon if isinstance(addon, str) else addon["plan"] for addon in app["addons"]]


def test_only_documented_fields(app):
    assert set(app) <= TOP_LEVEL
    assert 3 <= len(app["name"]) <= 30
    assert len(app["description"]) <= 140
    assert set(app.get("scripts", {})) <= SCRIPTS
    for addon in app["addons"]:
        assert isinstance(addon, str) or set(addon) <= ADDON_FIELDS and "plan" in addon
    assert all(set(buildpack) == {"url"} for buildpack in app["buildpacks"])


@pytest.mark.parametrize("name", sorted(json.loads((ROOT / "app.json").read_text())["env"]))
def test_each_variable_is_documented_and_read(app, name):
    variable = app["env"][name]
    assert set(variable) <= VARIABLE_FIELDS
    assert variable["description"]
    assert variable.get("generator", "secret") == "secret"
    assert isinstance(variable.get("required", True), bool)
    assert isinstance(variable.get("value", ""), str)
    assert name in strings_in_receiver(), f"{name} is not a variable the receiver reads"


def test_the_webhook_token_is_generated_as_a_secret(app):
    assert app["env"]["ROCKETCHAT_LIVECHAT_TOKEN"]["generator"] == "secret"


def test_formation_runs_the_procfiles_web_and_worker(app):
    assert set(app["formation"]) == {"web", "worker"}
    assert set(app["formation"]) <= procfile_types()
    for dynos in app["formation"].values():
        assert set(dynos) <= {"quantity", "size"}
        assert dynos["quantity"] >= 1 and dynos["size"] in DYNO_SIZES


def test_postgres_and_the_scheduler_are_added(app):
    services = {plan.split(":")[0] for plan in addon_plans(app)}
    assert {"heroku-postgresql", "scheduler"} <= services


def test_the_release_phase_migrates():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line.strip())
    assert lines["release"].strip() == "receiver db upgrade"
