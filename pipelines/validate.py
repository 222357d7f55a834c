"""Data validation of the manifest with a Great Expectations 1.x suite built in code.

Every check is a real GX expectation run on a pandas batch: the manifest itself (plus a few derived
columns, so each defect is reported once and by the right check), and a small per-class summary frame for
the class-count and class-ratio checks. Severity lives in each expectation (`severity` and `meta`):
errors fail the report; warnings are reported and handled (within-class duplicates are dropped from
`clean_manifest`, other image modes are converted on load when `convert_modes` is true).

Example paths come from GX itself (`unexpected_index_column_names=["path"]`), i.e. from the offending
manifest rows, not from the unexpected values.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.config import ValidateParams
from pipelines.manifest import CLASS_NAMES, MANIFEST_COLUMNS, NON_IMAGE_ERRORS

if TYPE_CHECKING:
    from rich.table import Table

ERROR = "error"
WARNING = "warning"
N_EXAMPLES = 5

# One GX context for the process: creating it (and importing GX) costs seconds; batches are cheap.
_GX_LOCK = threading.Lock()


@dataclass
class FailedCheck:
    """One expectation that did not hold."""

    check: str  # stable id, e.g. "undecodable", "class_ratio"
    expectation: str  # the GX expectation type, e.g. "expect_column_values_to_be_in_set"
    column: str | None
    severity: str  # "error" | "warning"
    description: str  # plain words, with what was found
    n_failed: int  # offending rows (files; classes for the class checks)
    examples: list[str] = field(default_factory=list)  # up to 5 offending relative paths (or class folders)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "expectation": self.expectation,
            "column": self.column,
            "severity": self.severity,
            "description": self.description,
            "n_failed": self.n_failed,
            "examples": list(self.examples),
        }


@dataclass
class ValidationReport:
    """What validation found. `success` is False when any error-severity check failed."""

    success: bool
    failures: list[FailedCheck]
    warnings: list[FailedCheck]
    clean_manifest: pd.DataFrame  # the manifest minus within-class duplicates (first by path kept)
    n_duplicates_dropped: int
    n_images: int  # rows (files) validated
    gx_results: dict[str, Any]  # JSON-able GX validation results, one entry per batch

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the dataframe)."""
        return {
            "success": self.success,
            "n_images": self.n_images,
            "n_clean": len(self.clean_manifest),
            "n_duplicates_dropped": self.n_duplicates_dropped,
            "data_version": data_version(self.clean_manifest),
            "failures": [f.to_dict() for f in self.failures],
            "warnings": [w.to_dict() for w in self.warnings],
            "gx_results": self.gx_results,
        }


@functools.cache
def _batch_definitions() -> dict[str, Any]:
    """The ephemeral GX context's batch definitions, one whole-dataframe asset per kind of frame."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # tqdm bars ("Calculating Metrics") on stderr would garble the CLI's rich output and CI logs.
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = ctx.data_sources.add_pandas("realeyez")
    return {
        name: source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        for name in ("manifest", "classes", "splits")
    }


def _expectation(cls_name: str, check: str, severity: str, description: str, **kwargs: Any) -> Any:
    """Instantiate gxe.<cls_name> with severity both native (GX's FailureSeverity) and in `meta`."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity

    gx_severity = FailureSeverity.CRITICAL if severity == ERROR else FailureSeverity.WARNING
    meta = {"check": check, "severity": severity, "description": description}
    return getattr(gxe, cls_name)(severity=gx_severity, meta=meta, **kwargs)


def _run_suite(batch_name: str, frame: pd.DataFrame, expectations: list[Any], index_column: str) -> Any:
    import great_expectations as gx

    result_format = {
        "result_format": "SUMMARY",
        # The offending rows' paths, straight from GX (unexpected values alone would not say where).
        "unexpected_index_column_names": [index_column],
        "partial_unexpected_count": N_EXAMPLES,
    }
    with _GX_LOCK:
        # The context must exist before a suite is built: GX looks up the "current project" when adding.
        batch_definition = _batch_definitions()[batch_name]
        suite = gx.ExpectationSuite(name=f"realeyez-{batch_name}")
        for exp in expectations:
            suite.add_expectation(exp)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=result_format)


def _json_safe(value: Any) -> Any:
    """GX results may hold inf/NaN and numpy scalars: make them strict-JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# Checks whose unexpected values say nothing a reader can use (hashes, booleans): their description is
# made specific in validate_manifest instead.
_NO_FOUND_VALUES = {"non_image", "undecodable", "unknown_class", "cross_label_duplicate", "within_class_duplicate"}


def _found_text(result: dict[str, Any]) -> str:
    counts = result.get("partial_unexpected_counts") or []
    if counts:
        shown = ", ".join(f"{_display(c['value'])} ×{c['count']}" for c in counts[:N_EXAMPLES])
        return f" (found: {shown})"
    return ""


def _display(value: Any) -> str:
    return repr(value) if isinstance(value, str) and value == "" else str(value)


def _collect(results: list[Any], index_column: str) -> tuple[list[FailedCheck], list[FailedCheck]]:
    """Split GX results into failed errors and failed warnings, with example paths from GX."""
    failures: list[FailedCheck] = []
    warnings: list[FailedCheck] = []
    for res in results:
        config = res.expectation_config
        meta = config.meta or {}
        severity = meta.get("severity", ERROR)
        column = config.kwargs.get("column")
        exc = res.exception_info or {}
        if exc.get("raised_exception"):
            # GX could not evaluate the check: that is never a pass.
            failures.append(
                FailedCheck(
                    check=meta.get("check", config.type),
                    expectation=config.type,
                    column=column,
                    severity=ERROR,
                    description=f"{meta.get('description', config.type)}: GX raised {exc.get('exception_message')}",
                    n_failed=0,
                )
            )
            continue
        if res.success:
            continue
        result = res.result or {}
        examples = [str(row.get(index_column)) for row in result.get("partial_unexpected_index_list") or []]
        check = FailedCheck(
            check=meta.get("check", config.type),
            expectation=config.type,
            column=column,
            severity=severity,
            description=meta.get("description", config.type)
            + ("" if meta.get("check") in _NO_FOUND_VALUES else _found_text(result)),
            n_failed=int(result.get("unexpected_count") or 0),
            examples=examples[:N_EXAMPLES],
        )
        (warnings if severity == WARNING else failures).append(check)
    return failures, warnings


def _require_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def _class_folder(paths: pd.Series, label: str) -> str:
    """The relative folder of a class (e.g. "FAKE" or "cifake/fake"), for naming it in the report."""
    if paths.empty:
        return label  # a missing class: name the folder that should exist
    parts = str(paths.iloc[0]).split("/")
    for i in range(len(parts) - 2, -1, -1):  # nearest ancestor, as the manifest's label rule
        if parts[i].upper() == label:
            return "/".join(parts[: i + 1])
    return label


def _class_summary(clean: pd.DataFrame) -> pd.DataFrame:
    """One row per class (always both, 0 when missing): the frame the count and ratio checks run on."""
    rows = []
    for label in CLASS_NAMES:
        paths = clean.loc[clean["label"] == label, "path"]
        rows.append({"label": label, "folder": _class_folder(paths, label), "n_images": len(paths)})
    summary = pd.DataFrame(rows)
    smallest = int(summary["n_images"].min())
    # Ratio to the smallest class; undefined (null, ignored by GX) when a class is empty, which the
    # count check reports already.
    summary["ratio_to_smallest"] = (
        summary["n_images"] / smallest if smallest > 0 else pd.Series([None] * len(summary), dtype="float64")
    )
    return summary


def _error_kinds(frame: pd.DataFrame, mask: pd.Series) -> str:
    """' (found: truncated ×2, corrupt ×1)' from the manifest's error prefixes, or ''."""
    kinds = frame.loc[mask, "error"].astype(str).str.split(":", n=1).str[0].value_counts()
    if kinds.empty:
        return ""
    return " (found: " + ", ".join(f"{kind} ×{count}" for kind, count in kinds.items()) + ")"


def _derive_columns(manifest: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The manifest plus the derived columns the expectations run on; and the within-class-duplicate mask."""
    # Only what the expectations read goes to GX: it fingerprints (hashes) every column of a batch.
    frame = manifest[["path", "label", "width", "height", "mode", "format", "decodable"]].copy()
    decodable = frame["decodable"].astype(bool)
    # The error kind (prefix) of undecodable rows only: splitting 100k empty strings costs time.
    kind = manifest.loc[~decodable, "error"].fillna("").astype(str).str.split(":", n=1).str[0]
    # A non-image file is reported as such, not again as "undecodable" (row_condition on is_image).
    frame["is_image"] = True
    frame.loc[kind.index, "is_image"] = ~kind.isin(NON_IMAGE_ERRORS)
    known = frame["label"].isin(CLASS_NAMES)
    # Duplicates only among decodable images of a known class: broken files and unknown folders are
    # errors already, and all zero-byte files share one hash.
    eligible = decodable & known
    dup_in_class = eligible & manifest.duplicated(subset=["label", "sha256"], keep="first")
    frame["label_sha256"] = (manifest["label"] + "/" + manifest["sha256"]).where(eligible, None)
    # The first copy per class only: a hash left twice here is in both classes.
    frame["sha256_first_in_class"] = manifest["sha256"].where(eligible & ~dup_in_class, None)
    return frame, dup_in_class


def validate_manifest(manifest: pd.DataFrame, params: ValidateParams) -> ValidationReport:
    """Run the data suite on a manifest from `build_manifest`; never raises for bad data, only reports."""
    from great_expectations.expectations.row_conditions import Column

    _require_columns(manifest, MANIFEST_COLUMNS, "the manifest")
    manifest = manifest.sort_values("path", kind="stable").reset_index(drop=True)
    frame, dup_in_class = _derive_columns(manifest)
    clean = manifest.loc[~dup_in_class].reset_index(drop=True)
    n_dropped = int(dup_in_class.sum())
    n_in_groups = int(frame["label_sha256"].dropna().duplicated(keep=False).sum())

    modes, formats = list(params.allowed_modes), list(params.allowed_formats)
    mode_severity = WARNING if params.convert_modes else ERROR
    mode_text = f"image mode not in {modes}" + (
        f": converted to {modes[0]} on load" if params.convert_modes and modes else ""
    )
    side = f"[{params.min_side}, {params.max_side}] pixels"
    unknown = sorted({str(v) for v in manifest.loc[~manifest["label"].isin(CLASS_NAMES), "label"]})
    named = [u if u else "(files at the top of the data folder)" for u in unknown[:N_EXAMPLES]]
    unknown_text = "file outside a REAL/FAKE class folder" + (f" (found: {', '.join(named)})" if named else "")
    file_checks = [
        _expectation(
            "ExpectColumnValuesToBeInSet",
            "non_image",
            ERROR,
            "not an image file (zero bytes, or content PIL cannot identify whatever the extension)"
            + _error_kinds(manifest, ~frame["is_image"]),
            column="is_image",
            value_set=[True],
        ),
        _expectation(
            "ExpectColumnValuesToBeInSet",
            "undecodable",
            ERROR,
            "image cannot be fully decoded (truncated or corrupt)"
            + _error_kinds(manifest, frame["is_image"] & ~frame["decodable"].astype(bool)),
            column="decodable",
            value_set=[True],
            row_condition=Column("is_image") == True,  # noqa: E712 (a GX condition object, not a comparison)
        ),
        _expectation(
            "ExpectColumnValuesToBeInSet",
            "unknown_class",
            ERROR,
            unknown_text,
            column="label",
            value_set=list(CLASS_NAMES),
        ),
        _expectation(
            "ExpectColumnValuesToBeUnique",
            "cross_label_duplicate",
            ERROR,
            "the same image (sha256) is under both REAL and FAKE",
            column="sha256_first_in_class",
        ),
        _expectation(
            "ExpectColumnValuesToBeUnique",
            "within_class_duplicate",
            WARNING,
            f"byte-identical duplicate images within a class ({n_in_groups} files in {n_in_groups - n_dropped} "
            f"groups): the first by path is kept, {n_dropped} copies dropped",
            column="label_sha256",
        ),
        _expectation("ExpectColumnValuesToBeInSet", "mode", mode_severity, mode_text, column="mode", value_set=modes),
        _expectation(
            "ExpectColumnValuesToBeInSet",
            "format",
            ERROR,
            f"image format not in {formats}",
            column="format",
            value_set=formats,
        ),
        _expectation(
            "ExpectColumnValuesToBeBetween",
            "width",
            ERROR,
            f"image width outside {side}",
            column="width",
            min_value=params.min_side,
            max_value=params.max_side,
        ),
        _expectation(
            "ExpectColumnValuesToBeBetween",
            "height",
            ERROR,
            f"image height outside {side}",
            column="height",
            min_value=params.min_side,
            max_value=params.max_side,
        ),
    ]
    class_checks = [
        _expectation(
            "ExpectColumnValuesToBeBetween",
            "class_min_count",
            ERROR,
            f"class with fewer than {params.min_per_class} images (after dropping duplicates)",
            column="n_images",
            min_value=params.min_per_class,
        ),
        _expectation(
            "ExpectColumnValuesToBeBetween",
            "class_ratio",
            ERROR,
            f"class imbalance: a class has more than {params.max_class_ratio:g}x the images of the smaller one",
            column="ratio_to_smallest",
            max_value=params.max_class_ratio,
        ),
    ]
    file_result = _run_suite("manifest", frame, file_checks, "path")
    class_result = _run_suite("classes", _class_summary(clean), class_checks, "folder")

    failures, warnings = _collect(list(file_result.results), "path")
    class_failures, class_warnings = _collect(list(class_result.results), "folder")
    failures += class_failures
    warnings += class_warnings
    return ValidationReport(
        success=not failures,
        failures=failures,
        warnings=warnings,
        clean_manifest=clean,
        n_duplicates_dropped=n_dropped,
        n_images=len(manifest),
        gx_results=_json_safe({"manifest": file_result.to_json_dict(), "classes": class_result.to_json_dict()}),
    )


def check_split_leakage(split_manifest: pd.DataFrame) -> ValidationReport:
    """Error when an image (sha256) occurs in more than one split (columns path, label, sha256, split)."""
    _require_columns(split_manifest, ["path", "label", "sha256", "split"], "the split manifest")
    frame = split_manifest.sort_values("path", kind="stable").reset_index(drop=True)
    # Keep the first row per (split, sha256): a hash left twice here is in two splits. Copies within one
    # split are not leakage (and cannot happen after validate_manifest's dedup).
    first = ~frame.duplicated(subset=["split", "sha256"], keep="first")
    frame["sha256_first_in_split"] = frame["sha256"].where(first, None)
    checks = [
        _expectation(
            "ExpectColumnValuesToBeUnique",
            "split_leakage",
            ERROR,
            "the same image (sha256) is in more than one split (train/validation/test leakage)",
            column="sha256_first_in_split",
        )
    ]
    result = _run_suite("splits", frame, checks, "path")
    failures, warnings = _collect(list(result.results), "path")
    return ValidationReport(
        success=not failures,
        failures=failures,
        warnings=warnings,
        clean_manifest=split_manifest,
        n_duplicates_dropped=0,
        n_images=len(split_manifest),
        gx_results=_json_safe({"splits": result.to_json_dict()}),
    )


def data_version(manifest: pd.DataFrame) -> str:
    """Content hash (sha256 hex) of the sorted (path, label, sha256) rows: same files and labels, same version."""
    _require_columns(manifest, ["path", "label", "sha256"], "the manifest")
    digest = hashlib.sha256()
    rows = manifest[["path", "label", "sha256"]].astype(str).sort_values(["path", "label", "sha256"])
    for row in rows.itertuples(index=False, name=None):
        # One JSON array per line: unambiguous even for paths holding tabs, newlines or quotes.
        digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


_HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.error { color: #b00020; font-weight: bold; }
.warning { color: #a06000; font-weight: bold; }
.pass { color: #1b7a1b; font-weight: bold; }
code { font-size: .9em; }
"""


def _html_report(report: ValidationReport) -> str:
    esc = html.escape
    status = '<span class="pass">PASSED</span>' if report.success else '<span class="error">FAILED</span>'
    rows = []
    for check in report.failures + report.warnings:
        examples = "<br>".join(f"<code>{esc(p)}</code>" for p in check.examples) or "&ndash;"
        column = f" on <code>{esc(check.column)}</code>" if check.column else ""
        rows.append(
            "<tr>"
            f'<td class="{esc(check.severity)}">{esc(check.severity)}</td>'
            f"<td>{esc(check.check)}</td>"
            f"<td><code>{esc(check.expectation)}</code>{column}</td>"
            f"<td>{esc(check.description)}</td>"
            f"<td>{check.n_failed}</td>"
            f"<td>{examples}</td>"
            "</tr>"
        )
    table = (
        "<table><thead><tr><th>severity</th><th>check</th><th>expectation</th><th>description</th>"
        "<th>failed</th><th>examples</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else "<p>All expectations met.</p>"
    )
    n_expectations = sum(len(part.get("results", [])) for part in report.gx_results.values() if isinstance(part, dict))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>RealEyez data validation</title><style>{_HTML_STYLE}</style></head><body>"
        f"<h1>Data validation: {status}</h1>"
        f"<p>{report.n_images} files checked against {n_expectations} Great Expectations expectations; "
        f"{len(report.failures)} error(s), {len(report.warnings)} warning(s); "
        f"{report.n_duplicates_dropped} within-class duplicate(s) dropped; "
        f"{len(report.clean_manifest)} files kept.</p>"
        f"<p>Data version: <code>{esc(data_version(report.clean_manifest))}</code></p>"
        f"{table}</body></html>\n"
    )


def write_reports(report: ValidationReport, out_dir: Path) -> tuple[Path, Path]:
    """Write `validation.json` (summary + GX results) and a self-contained `validation.html` into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "validation.json"
    html_path = out_dir / "validation.html"
    json_path.write_text(json.dumps(_json_safe(report.to_dict()), indent=2, allow_nan=False) + "\n")
    html_path.write_text(_html_report(report), encoding="utf-8")
    return json_path, html_path


def render_table(report: ValidationReport) -> Table:
    """A rich table of the failed expectations (errors, then warnings) with example file paths."""
    from rich.markup import escape
    from rich.table import Table

    verdict = "[green]PASSED[/green]" if report.success else "[red]FAILED[/red]"
    table = Table(
        title=f"Data validation {verdict}: {report.n_images} files, {len(report.failures)} error(s), "
        f"{len(report.warnings)} warning(s), {report.n_duplicates_dropped} duplicate(s) dropped",
        show_lines=True,
    )
    table.add_column("severity")
    table.add_column("check")
    table.add_column("description")
    table.add_column("failed", justify="right")
    table.add_column("examples")
    for check in report.failures + report.warnings:
        style = "red" if check.severity == ERROR else "yellow"
        table.add_row(
            f"[{style}]{check.severity}[/{style}]",
            escape(f"{check.check}\n({check.expectation})"),
            escape(check.description),
            str(check.n_failed),
            escape("\n".join(check.examples)) or "-",
        )
    if not report.failures and not report.warnings:
        table.caption = "all expectations met"
    return table
