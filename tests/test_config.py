"""Configuration: typed, defaults that match the README, and every typo or bad value refused by name."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.config import (
    DEFAULT_TOML,
    Config,
    EngineConfig,
    ExportConfig,
    PipelineOptions,
    StoreConfig,
    load_config,
    parse_config,
)
from ledgerlens.pipeline.errors import ConfigError


def test_defaults_are_the_documented_ones() -> None:
    cfg = Config()
    assert cfg.pipeline.dpi == 200
    assert cfg.pipeline.max_image_pixels == 100_000_000
    assert cfg.pipeline.ocr_languages == ("eng", "deu", "fra", "spa")
    assert cfg.pipeline.ocr_psm == 0
    assert cfg.pipeline.review_confidence == 0.5
    assert cfg.engine == EngineConfig(name="ocr", model="", options={})
    assert cfg.store.url == ""
    assert cfg.export == ExportConfig(xlsx="exports/ledger.xlsx", csv_dir="exports/csv")


def test_default_toml_parses_to_the_defaults() -> None:
    assert parse_config(tomllib.loads(DEFAULT_TOML)) == Config()


def test_an_empty_file_gives_the_defaults() -> None:
    assert parse_config({}) == Config()


def test_values_are_read_and_typed() -> None:
    cfg = parse_config(
        {
            "pipeline": {"dpi": 300, "ocr_languages": ["eng"], "review_confidence": 1, "ocr_psm": 6},
            "engine": {"name": "vlm", "model": "qwen", "options": {"device": "cpu"}},
            "store": {"url": "sqlite:///x.db"},
            "export": {"csv_dir": "out/csv"},
        }
    )
    assert cfg.pipeline.dpi == 300
    assert cfg.pipeline.ocr_languages == ("eng",)  # a TOML list becomes the tuple the type says
    assert cfg.pipeline.review_confidence == 1.0
    assert isinstance(cfg.pipeline.review_confidence, float)  # an int is fine where a float is expected
    assert cfg.pipeline.ocr_psm == 6
    assert cfg.pipeline.max_pages == PipelineOptions().max_pages  # untouched keys keep their default
    assert cfg.engine == EngineConfig(name="vlm", model="qwen", options={"device": "cpu"})
    assert cfg.store == StoreConfig(url="sqlite:///x.db")
    assert cfg.export == ExportConfig(xlsx="exports/ledger.xlsx", csv_dir="out/csv")


def test_an_unknown_section_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"unknown section.*pipline") as e:
        parse_config({"pipline": {"dpi": 300}})
    assert "pipeline" in str(e.value)  # lists the known sections


def test_an_unknown_key_is_an_error_naming_it_and_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[pipeline\]: dpii") as e:
        parse_config({"pipeline": {"dpii": 300}})
    assert "dpi" in str(e.value).split("known:")[1]


def test_an_unknown_engine_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\[engine\]: devcie"):
        parse_config({"engine": {"devcie": "cuda"}})


@pytest.mark.parametrize(
    ("section", "key", "value", "expected", "got"),
    [
        ("pipeline", "dpi", "200", "int", "str"),
        ("pipeline", "dpi", 200.0, "int", "float"),
        ("pipeline", "dpi", True, "int", "bool"),  # TOML true is not 1
        ("pipeline", "max_pages", False, "int", "bool"),
        ("pipeline", "review_confidence", "0.5", "float", "str"),
        ("pipeline", "review_confidence", True, "float", "bool"),
        ("pipeline", "ocr_languages", "eng", "tuple", "str"),
        ("engine", "name", 3, "str", "int"),
        ("engine", "options", "fast", "dict", "str"),
        ("store", "url", ["sqlite://"], "str", "list"),
        ("export", "xlsx", 1, "str", "int"),
    ],
)
def test_a_wrong_type_is_an_error_naming_the_key(section: str, key: str, value: Any, expected: str, got: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({section: {key: value}})
    assert str(e.value) == f"[{section}] {key} must be {expected}, got {got}"


def test_a_section_that_is_not_a_table_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\[pipeline\] must be a table"):
        parse_config({"pipeline": 200})


@pytest.mark.parametrize("dpi", [50, 600])
def test_dpi_bounds_are_inclusive(dpi: int) -> None:
    assert parse_config({"pipeline": {"dpi": dpi}}).pipeline.dpi == dpi


@pytest.mark.parametrize("dpi", [0, 49, 601])
def test_dpi_out_of_range_is_refused(dpi: int) -> None:
    with pytest.raises(ConfigError, match=rf"pipeline\.dpi must be between 50 and 600, got {dpi}"):
        parse_config({"pipeline": {"dpi": dpi}})


@pytest.mark.parametrize("value", [0.0, 1.0, 0.85])
def test_review_confidence_within_zero_and_one_is_accepted(value: float) -> None:
    assert parse_config({"pipeline": {"review_confidence": value}}).pipeline.review_confidence == value


@pytest.mark.parametrize("value", [-0.01, 1.01, 50])
def test_review_confidence_outside_zero_and_one_is_refused(value: float) -> None:
    with pytest.raises(ConfigError, match=r"pipeline\.review_confidence must be between 0 and 1"):
        parse_config({"pipeline": {"review_confidence": value}})


@pytest.mark.parametrize("psm", [0, 1, 3, 4, 6, 11, 12])
def test_supported_ocr_page_modes_are_accepted(psm: int) -> None:
    assert PipelineOptions(ocr_psm=psm).ocr_psm == psm


@pytest.mark.parametrize("psm", [2, 5, 7, 13, -1])
def test_other_ocr_page_modes_are_refused(psm: int) -> None:
    with pytest.raises(ConfigError, match=rf"pipeline\.ocr_psm .* got {psm}"):
        parse_config({"pipeline": {"ocr_psm": psm}})


def test_no_ocr_language_is_refused() -> None:
    with pytest.raises(ConfigError, match="ocr_languages must name at least one"):
        parse_config({"pipeline": {"ocr_languages": []}})


def test_load_config_of_a_missing_file_or_none_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "ledgerlens.toml") == Config()
    assert load_config(None) == Config()


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlens.toml"
    path.write_text('[pipeline]\ndpi = 300\n[store]\nurl = "sqlite:///b.db"\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.pipeline.dpi == 300
    assert cfg.store.url == "sqlite:///b.db"


def test_load_config_of_malformed_toml_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlens.toml"
    path.write_text("[pipeline\ndpi = 300\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"cannot read {path}"):
        load_config(path)


def test_load_config_prefixes_a_bad_value_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlens.toml"
    path.write_text("[pipeline]\ndpi = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: [pipeline] dpi must be int, got bool"
