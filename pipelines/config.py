"""Typed configuration: `params.yaml` loaded into frozen pydantic models that reject unknown keys.

`--set section.key=value` overrides are parsed as YAML scalars and validated by the same models, so a
typo or a wrong type fails with a message naming the key instead of silently training something else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A params file or an override is invalid; the message says which key and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    dir: Path = Path("data")
    sample_archive: Path = Path("../shared/datasets/cifake/cifake-sample.tar.gz")
    url: str = (
        "https://github.com/jordan-bird/CIFAKE-Real-and-AI-Generated-Synthetic-Images/archive/refs/heads/main.zip"
    )


class ValidateParams(_Section):
    min_per_class: int = Field(50, ge=1)
    max_class_ratio: float = Field(1.5, ge=1.0)
    allowed_modes: tuple[str, ...] = ("RGB",)
    convert_modes: bool = False
    allowed_formats: tuple[str, ...] = ("JPEG", "PNG")
    min_side: int = Field(32, ge=1)
    max_side: int = Field(512, ge=1)
    workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _sides_ordered(self) -> ValidateParams:
        if self.min_side > self.max_side:
            raise ValueError(f"min_side ({self.min_side}) is larger than max_side ({self.max_side})")
        return self


class SplitParams(_Section):
    seed: int = 38
    train: float = Field(0.8, gt=0, lt=1)
    validation: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


class TrainParams(_Section):
    backbone: Literal["auto", "efficientnet_b0", "efficientnet_lite0"] = "auto"
    weights: str = "imagenet"
    image_size: int = Field(64, ge=32, le=600)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(12, ge=1)
    freeze_backbone_epochs: int = Field(2, ge=0)
    learning_rate: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    weight_decay: float = Field(1e-4, ge=0)
    dropout: float = Field(0.2, ge=0, lt=1)
    augment_flip: bool = True
    early_stopping_patience: int = Field(3, ge=1)
    bn_momentum: float = Field(0.9, gt=0, lt=1)
    mixed_precision: Literal["auto", "on", "off"] = "auto"
    seed: int = 38
    max_train_images: int = Field(0, ge=0)

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `on`/`off` as a boolean; take it as the word the user wrote.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


class EvaluateParams(_Section):
    threshold: float = Field(0.5, gt=0, lt=1)
    ece_bins: int = Field(15, ge=2)
    misclassified_grid: int = Field(25, ge=0)


class RegisterParams(_Section):
    model_name: str = Field("realeyez", min_length=1)
    experiment: str = Field("realeyez", min_length=1)


class GateParams(_Section):
    min_accuracy: float = Field(0.9, ge=0, le=1)
    min_roc_auc: float = Field(0.95, ge=0, le=1)
    min_improvement: float = Field(0.0, ge=-1, le=1)


class Params(_Section):
    data: DataParams = DataParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    register_: RegisterParams = Field(RegisterParams(), alias="register")
    gate: GateParams = GateParams()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def validation(self) -> ValidateParams:
        """The `validate` section (named so in YAML; `validate` is a pydantic method name)."""
        return self.validate_

    @property
    def registry(self) -> RegisterParams:
        """The `register` section (a BaseModel attribute name, hence the alias)."""
        return self.register_

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def flat(self) -> dict[str, Any]:
        """`section.key -> value`, the form logged as MLflow params."""
        out: dict[str, Any] = {}
        for section, values in self.to_dict().items():
            for key, value in values.items():
                out[f"{section}.{key}"] = value
        return out


def _format_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]).replace("validate_", "validate").replace("register_", "register")
        if e["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        else:
            lines.append(f"  {loc}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], value parsed as a YAML scalar)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, _, raw = text.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if len(path) != 2:
        raise ConfigError(f"--set {text!r}: the key must be section.key, e.g. train.epochs=3")
    if not raw.strip():
        raise ConfigError(f"--set {text!r}: empty value (write the value after '=')")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: cannot parse the value: {exc}") from exc
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    known_sections = {f.alias or name for name, f in Params.model_fields.items()}
    for text in overrides:
        (section, key), value = parse_override(text)
        if section not in known_sections:
            raise ConfigError(f"--set {text!r}: unknown section {section!r} (known: {sorted(known_sections)})")
        field_name = next(n for n, f in Params.model_fields.items() if (f.alias or n) == section)
        model = Params.model_fields[field_name].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        if key not in model.model_fields:
            raise ConfigError(
                f"--set {text!r}: unknown key {section}.{key} (known: {', '.join(sorted(model.model_fields))})"
            )
        merged.setdefault(section, {})
        if not isinstance(merged[section], dict):
            raise ConfigError(f"section {section!r} in the params file is not a mapping")
        merged[section][key] = value
    return merged


def load_params(path: Path | str | None = "params.yaml", overrides: list[str] | None = None) -> Params:
    """Load `path` (None or a missing default file -> embedded defaults) and apply `--set` overrides."""
    raw: dict[str, Any] = {}
    source = "embedded defaults"
    if path is not None:
        p = Path(path)
        if p.exists():
            source = str(p)
            try:
                loaded = yaml.safe_load(p.read_text()) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(loaded).__name__}")
            raw = loaded
        elif str(path) != "params.yaml":
            raise ConfigError(f"params file not found: {p}")
    if overrides:
        raw = apply_overrides(raw, overrides)
        source += " with --set " + " ".join(overrides)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from exc
