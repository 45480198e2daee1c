"""core/inputs.py: ASCII numbers with bounds, bounded JSON nesting, NUL found and removed."""

from __future__ import annotations

import pytest

from core.inputs import ascii_int, json_depth, loads_bounded, nul_path, strip_nul


@pytest.mark.parametrize("text", ["²", "١٢", "１２", "", " 1", "1 ", "-1", "+1", "1e3", "9" * 19])
def test_only_ascii_digits_are_numbers(text: str) -> None:
    assert ascii_int(text) is None


def test_bounds_are_kept() -> None:
    assert ascii_int("200", lo=1, hi=200) == 200
    assert ascii_int("201", lo=1, hi=200) is None and ascii_int("0", lo=1) is None
    assert ascii_int(str(2**31)) is None and ascii_int("007") == 7


def test_json_depth_skips_strings_and_refuses_deep_nesting() -> None:
    assert json_depth('{"a": "[[[[", "b": [1, {"c": "\\"]"}]}') == 3
    assert loads_bounded(b"[[1]]") == [[1]]
    for raw in ("[" * 100_000, '{"a":' * 33 + "1" + "}" * 33):
        with pytest.raises(ValueError):
            loads_bounded(raw)


def test_nul_is_found_by_path_and_removed() -> None:
    value = {"title": "ok", "fields": {"x": ["a", "b\x00"]}}
    assert nul_path(value) == "fields.x.1" and nul_path({"t": "ok"}) is None
    assert nul_path({"a\x00": 1}) == "a\x00"
    assert strip_nul(value) == {"title": "ok", "fields": {"x": ["a", "b"]}}
