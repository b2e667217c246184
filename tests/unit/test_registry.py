"""The registry helper: lazy "module:attribute" entries, no duplicates, unknown names listed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nativejobs.errors import StepInputError
from nativejobs.registry import Registry, UnknownNameError


def make_registry(**entries: object) -> Registry[object]:
    registry: Registry[object] = Registry("thing")
    for name, target in entries.items():
        registry.register(name, target)
    return registry


def test_a_string_entry_is_imported_on_lookup_and_kept() -> None:
    registry = make_registry(dumps="json:dumps", obj=len)

    import json

    assert registry["dumps"] is json.dumps and registry["obj"] is len
    assert registry["dumps"] is registry["dumps"]
    assert list(registry) == ["dumps", "obj"] and len(registry) == 2 and "obj" in registry


def test_registering_imports_nothing() -> None:
    code = ("import sys; from nativejobs.registry import Registry; r = Registry('x'); "
            "r.register('a', 'nativejobs.translation.seq2seq:Seq2SeqTranslator'); "
            "print('nativejobs.translation.seq2seq' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("target", "match"), [
    pytest.param(len, "registered twice", id="duplicate-name"),
    pytest.param("json.dumps", "not 'module:attribute'", id="no-colon"),
])
def test_register_rejects(target: object, match: str) -> None:
    registry = make_registry(a=len)
    with pytest.raises(ValueError, match=match):
        registry.register("a" if match == "registered twice" else "b", target)


def test_an_unknown_name_lists_what_exists() -> None:
    registry = make_registry(a=len, b=str)

    with pytest.raises(UnknownNameError) as e:
        registry["c"]
    assert str(e.value) == "thing 'c' is unknown; use one of: a, b"
    assert isinstance(e.value, KeyError) and registry.get("c", 7) == 7


def test_the_unknown_name_error_can_be_the_callers_own() -> None:
    registry: Registry[object] = Registry("engine kind", error=StepInputError)
    registry.register("llm", len)

    with pytest.raises(StepInputError, match="engine kind 'x' is unknown; use one of: llm"):
        registry["x"]


def test_setitem_replaces_an_entry_and_never_adds_one(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = make_registry(a="json:dumps")
    with monkeypatch.context() as m:
        m.setitem(registry, "a", len)  # type: ignore[arg-type]
        assert registry["a"] is len
    import json

    assert registry["a"] is json.dumps
    with pytest.raises(UnknownNameError, match="not registered"):
        registry["b"] = len


def test_importing_the_steps_package_loads_no_step() -> None:
    code = ("import sys; from nativejobs.steps import REGISTRY; "
            "print(sorted(m for m in sys.modules if m.startswith('nativejobs.steps.')), list(REGISTRY))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("[] ['prepare', 'translate', 'train', 'evaluate', 'judge', "
                                  "'summarize']")
