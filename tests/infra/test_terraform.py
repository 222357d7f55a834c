"""Static checks of terraform/ with python-hcl2 (no terraform binary or AWS account needed).

Every .tf file parses; module calls pass every required variable and nothing unknown; at least 40 resources;
no internet ingress except HTTPS on the load balancer; no IAM statement granting "*" or "service:*" on "*";
each environment's tfvars sets every root variable without a default. `terraform validate` runs too where a
terraform binary and a local copy of the AWS provider exist (skipped otherwise).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TF = REPO / "terraform"
ENVS = ("staging", "prod")
# Root variables the pipeline passes on the command line instead of the tfvars (.ci/terraform.sh).
PIPELINE_VARS = {"image_tag"}
MODULE_META_ARGS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def _clean(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of strings and labels and adds __is_block__/__comments__ keys: drop them."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return _clean(hcl2.load(handle))


def _tf_files() -> list[Path]:
    return sorted(p for p in TF.rglob("*.tf") if ".terraform" not in p.parts)


def _blocks(doc: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, body) of each one-label block (variable, module, output)."""
    out = []
    for entry in doc.get(kind, []):
        out.extend(entry.items())
    return out


def _resources(doc: dict[str, Any], kind: str = "resource") -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of each two-label block (resource, data)."""
    out = []
    for entry in doc.get(kind, []):
        for rtype, named in entry.items():
            for name, body in named.items():
                out.append((rtype, name, body))
    return out


def _module_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """Every parsed .tf file of one module directory (not recursive)."""
    return {p.name: _load(p) for p in sorted(directory.glob("*.tf"))}


def _variables(directory: Path) -> dict[str, dict[str, Any]]:
    return {name: body for doc in _module_dir(directory).values() for name, body in _blocks(doc, "variable")}


def _all_docs() -> dict[Path, dict[str, Any]]:
    return {p: _load(p) for p in _tf_files()}


@pytest.fixture(scope="module")
def docs() -> dict[Path, dict[str, Any]]:
    return _all_docs()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_tf_file_parses() -> None:
    files = _tf_files()
    assert len(files) >= 20, files
    for path in files:
        _load(path)  # raises on a syntax error
    for path in sorted((TF / "envs").glob("*.tfvars")) + sorted((TF / "envs").glob("*.hcl")):
        _load(path)


def test_module_calls_pass_required_and_only_known_variables() -> None:
    calls = [(name, body) for doc in _module_dir(TF).values() for name, body in _blocks(doc, "module")]
    assert {name for name, _ in calls} >= {
        "network",
        "storage",
        "database",
        "iam",
        "compute",
        "observability",
    }
    for name, body in calls:
        source = TF / body["source"]
        assert source.is_dir(), f"module {name}: no directory {source}"
        variables = _variables(source)
        required = {v for v, spec in variables.items() if "default" not in spec}
        given = set(body) - MODULE_META_ARGS
        assert not required - given, f"module {name} misses required variables {sorted(required - given)}"
        assert not given - set(variables), f"module {name} gets unknown arguments {sorted(given - set(variables))}"


def test_every_module_directory_is_called() -> None:
    called = {(TF / body["source"]).resolve() for doc in _module_dir(TF).values() for _, body in _blocks(doc, "module")}
    for directory in sorted((TF / "modules").iterdir()):
        assert directory.resolve() in called, f"{directory.name} is never called"


def test_at_least_40_resources(docs: dict[Path, dict[str, Any]]) -> None:
    resources = [r for doc in docs.values() for r in _resources(doc)]
    types = {rtype for rtype, _, _ in resources}
    assert len(resources) >= 40, len(resources)
    for needed in (
        "aws_vpc",
        "aws_flow_log",
        "aws_s3_bucket",
        "aws_db_instance",
        "aws_lb",
        "aws_lb_listener",
        "aws_launch_template",
        "aws_ecr_repository",
        "aws_cloudwatch_metric_alarm",
        "aws_sns_topic",
        "aws_kms_key",
    ):
        assert needed in types, needed


def _ingress_rules(docs: dict[Path, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every ingress rule in any of the three forms, with a description of where it is."""
    rules = []
    for path, doc in docs.items():
        for rtype, name, body in _resources(doc):
            where = f"{path.relative_to(TF)}:{rtype}.{name}"
            standalone = rtype == "aws_vpc_security_group_ingress_rule"
            legacy = rtype == "aws_security_group_rule" and body.get("type") == "ingress"
            if standalone or legacy:
                rules.append((where, body))
            elif rtype == "aws_security_group":
                for block in _as_list(body.get("ingress", [])):
                    rules.append((f"{where} (inline, security group {name})", dict(block, _group=name)))
    return rules


def _open_to_internet(rule: dict[str, Any]) -> bool:
    cidrs = [*_as_list(rule.get("cidr_ipv4", [])), *_as_list(rule.get("cidr_blocks", []))]
    cidrs += [*_as_list(rule.get("cidr_ipv6", [])), *_as_list(rule.get("ipv6_cidr_blocks", []))]
    return any(c in ("0.0.0.0/0", "::/0") for c in cidrs)


def test_only_https_on_the_load_balancer_is_open_to_the_internet(docs: dict[Path, dict[str, Any]]) -> None:
    open_rules = [(where, rule) for where, rule in _ingress_rules(docs) if _open_to_internet(rule)]
    assert open_rules, "expected the load balancer's HTTPS rule"
    for where, rule in open_rules:
        group = rule.get("_group") or str(rule.get("security_group_id", ""))
        assert "alb" in group, f"{where}: internet ingress on a group other than the load balancer's"
        assert rule.get("from_port") == 443 and rule.get("to_port") == 443, f"{where}: not port 443 only"
        assert rule.get("ip_protocol", rule.get("protocol")) == "tcp", where


def _statements(docs: dict[Path, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path, doc in docs.items():
        for _, name, body in [r for r in _resources(doc, "data") if r[0] == "aws_iam_policy_document"]:
            for i, statement in enumerate(_as_list(body.get("statement", []))):
                out.append((f"{path.relative_to(TF)}:{name}[{i}]", statement))
    return out


def test_no_wildcard_actions_on_wildcard_resources(docs: dict[Path, dict[str, Any]]) -> None:
    statements = _statements(docs)
    assert len(statements) >= 20
    for where, statement in statements:
        assert "not_actions" not in statement and "not_resources" not in statement, where
        resources = _as_list(statement.get("resources", []))
        actions = _as_list(statement.get("actions", []))
        if "*" in resources:
            wild = [a for a in actions if a == "*" or a.endswith(":*")]
            assert not wild, f"{where}: {wild} on Resource *"
        assert "*" not in actions, f"{where}: Action *"


_POLICY_RESOURCE_TYPES = re.compile(r"^aws_(iam_.*|s3_bucket_policy|sns_topic_policy|kms_key)$")


def test_policies_are_written_as_policy_documents(docs: dict[Path, dict[str, Any]]) -> None:
    """No inline JSON policy escapes the statement checks above: each one comes from aws_iam_policy_document."""
    for path, doc in docs.items():
        module_locals = {k: v for entry in doc.get("locals", []) for k, v in entry.items()}
        for other in docs:  # locals of the same module, in whatever file they are
            if other.parent == path.parent and other != path:
                module_locals.update({k: v for entry in docs[other].get("locals", []) for k, v in entry.items()})
        for rtype, name, body in _resources(doc):
            if not _POLICY_RESOURCE_TYPES.match(rtype):
                continue
            for attribute in ("policy", "assume_role_policy"):
                if attribute not in body:
                    continue
                value = str(body[attribute])
                match = re.fullmatch(r"\$\{local\.(\w+)\[.*\]\}", value)
                if match:
                    value = str(module_locals[match.group(1)])
                if "data.aws_iam_policy_document." in value:
                    continue
                assert attribute == "policy" and value.startswith("arn:"), (
                    f"{path.relative_to(TF)}:{rtype}.{name}.{attribute} is not an aws_iam_policy_document"
                )


@pytest.mark.parametrize("env", ENVS)
def test_env_tfvars_set_every_required_root_variable(env: str) -> None:
    variables = _variables(TF)
    required = {v for v, spec in variables.items() if "default" not in spec} - PIPELINE_VARS
    tfvars = _load(TF / "envs" / f"{env}.tfvars")
    assert not required - set(tfvars), f"{env}.tfvars misses {sorted(required - set(tfvars))}"
    assert not set(tfvars) - set(variables), f"{env}.tfvars sets unknown {sorted(set(tfvars) - set(variables))}"
    assert tfvars["environment"] == env


def test_pipeline_passes_the_variables_left_out_of_the_tfvars() -> None:
    script = (REPO / ".ci" / "terraform.sh").read_text()
    for name in PIPELINE_VARS:
        assert f'-var "{name}=' in script, name


@pytest.mark.parametrize("env", ENVS)
def test_remote_state_per_environment_with_locking(env: str) -> None:
    backend = _load(TF / "envs" / f"{env}.backend.hcl")
    assert backend["use_lockfile"] is True
    assert backend["encrypt"] is True
    assert env in backend["key"]
    assert {"bucket", "key", "region"} <= set(backend)
    root = _module_dir(TF)
    backends = [b for doc in root.values() for t in doc.get("terraform", []) for b in _as_list(t.get("backend", []))]
    assert any("s3" in b for b in backends), backends


def test_outputs_name_the_tracking_uri_buckets_and_gateway() -> None:
    outputs = {name for doc in _module_dir(TF).values() for name, _ in _blocks(doc, "output")}
    assert {"tracking_uri", "gateway_url", "dataset_bucket", "artifacts_bucket"} <= outputs


def test_checkov_skips_are_inline_with_a_reason() -> None:
    skips = []
    for path in _tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                skips.append((path, line))
                assert re.search(r"checkov:skip=CKV2?_[A-Z0-9]+_\d+: *\S.{15,}", line), f"{path}: {line.strip()}"
    assert skips  # the reasons are reviewed in docs/security.md


def _terraform_plugin_dir() -> Path | None:
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
    return plugin_dir if (plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").is_dir() else None


@pytest.mark.skipif(
    shutil.which("terraform") is None or _terraform_plugin_dir() is None,
    reason="needs a terraform binary and a local AWS provider (TF_PLUGIN_DIR)",
)
@pytest.mark.timeout(300)
def test_terraform_validate(tmp_path: Path) -> None:
    work = tmp_path / "terraform"
    shutil.copytree(TF, work, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    env.update(CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_DATA_DIR=str(tmp_path / ".terraform"))
    fmt = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(work)], env=env, capture_output=True, text=True
    )
    assert fmt.returncode == 0, f"terraform fmt would change: {fmt.stdout}{fmt.stderr}"
    init = subprocess.run(
        ["terraform", "init", "-input=false", "-backend=false", f"-plugin-dir={_terraform_plugin_dir()}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = subprocess.run(["terraform", "validate", "-no-color"], cwd=work, env=env, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
