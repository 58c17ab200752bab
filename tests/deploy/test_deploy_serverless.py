"""serverless.yml, offline: parsed with its variables resolved, and packaged by the CLI when present.

The parse test resolves the few variable sources the file uses (`param`, `self`,
`file`, `opt` with a default, `aws:region`, `sls:stage`) the way the Framework does,
innermost first, so the assertions see what a deploy would send. The CLI test runs
`osls`/`serverless package` (no AWS account needed) and lints the CloudFormation it
writes; it is skipped, with the reason, only when no CLI is installed
(`npm install` in the repository installs osls, see package.json).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\$\{([^${}]+)\}")
CFN_TAGS = ("Ref", "Condition", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "Sub")


class CfnLoader(yaml.SafeLoader):
    """PyYAML with CloudFormation's short tags (!Ref, !If, ...) read as their long form."""


def _tag(name: str):
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        else:
            value = loader.construct_sequence(node, deep=True)
        key = name if name in ("Ref", "Condition") else f"Fn::{name}"
        return {key: value}

    return construct


for _name in CFN_TAGS:
    CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=CfnLoader)


class Resolver:
    """Serverless Framework variables, for the sources serverless.yml uses."""

    def __init__(self, **params: str) -> None:
        self.config = load(ROOT / "serverless.yml")
        self.params = {k: str(v) for k, v in self.config["params"]["default"].items()} | params

    def source(self, expr: str) -> Any:
        expr, _, fallback = expr.partition(",")
        fallback = fallback.strip().strip("'\"")
        kind, _, address = expr.strip().partition(":")
        if kind == "param":
            return self.params[address]
        if kind == "opt":
            return fallback  # no CLI options given
        if kind == "sls" and address == "stage":
            return "dev"
        if kind == "aws" and address == "region":
            return self.resolve(self.config["provider"]["region"])
        if kind == "self":
            node: Any = self.config
            for part in address.split("."):
                node = node[part]
            return self.resolve(node)
        file = re.fullmatch(r"file\((.+)\)", kind)
        if file:
            return self.resolve(load(ROOT / file[1])[address])
        raise AssertionError(f"unexpected variable ${{{expr}}}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str):
            return value
        while match := VARIABLE.search(value):
            found = self.source(match[1])
            if match.group(0) == value:
                return found  # a whole value may be an object (functions, resources)
            value = value[: match.start()] + str(found) + value[match.end() :]
        return value

    def service(self) -> dict:
        return self.resolve({k: v for k, v in self.config.items() if k != "params"})


def merged_resources(service: dict) -> dict:
    merged: dict[str, dict] = {}
    for part in service["resources"]:
        for section, content in part.items():
            merged.setdefault(section, {}).update(content)
    return merged


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_stream_mode_essentials(arch):
    service = Resolver(arch=arch).service()
    provider = service["provider"]
    assert provider["runtime"] == "python3.13" and provider["architecture"] == arch
    assert service["package"]["artifact"] == f"build/lambda-{arch}.zip"  # infra/build_package.py's output
    (fn,) = service["functions"].values()
    assert fn["handler"] == "run.sh"
    assert fn["url"] == {"invokeMode": "RESPONSE_STREAM"}
    assert int(fn["timeout"]) == 900
    layer = "LambdaAdapterLayerArm64" if arch == "arm64" else "LambdaAdapterLayerX86"
    assert fn["layers"] == [f"arn:aws:lambda:us-east-1:753240598075:layer:{layer}:26"]
    env = provider["environment"] | fn["environment"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    assert env["AWS_LWA_PORT"] == "8080" and "PORT" not in env
    assert env["ALLOW_CLIENT_KEYS"] == "true"
    secret_arn = {"Fn::If": ["CreateSecret", {"Ref": "KeysSecret"}, {"Ref": "ExistingKeysSecretArn"}]}
    assert env["KEYS_SECRET_ARN"] == secret_arn
    (statement,) = provider["iam"]["role"]["statements"]
    assert statement == {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}
    resources = merged_resources(service)
    config = resources["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert resources["Resources"]["Distribution"]["Condition"] == "HasDomain"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["Compress"] is False
    assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    read_timeout = config["Origins"][0]["CustomOriginConfig"]["OriginReadTimeout"]
    assert float(env["HEARTBEAT_SECONDS"]) < read_timeout <= 120
    assert json.loads(resources["Resources"]["KeysSecret"]["Properties"]["SecretString"]) == {
        "gemini_keys": [],
        "access_tokens": [],
    }
    assert {"EndpointUrl", "KeysSecretArn", "PutKeysCommand", "DomainUrl"} <= set(resources["Outputs"])


def test_buffered_mode_essentials():
    service = Resolver(mode="buffered").service()
    (fn,) = service["functions"].values()
    assert fn["handler"] == "handler.lambda_function.handler"
    assert fn["events"] == [{"httpApi": "*"}]
    assert int(fn["timeout"]) < 30
    assert "url" not in fn and "layers" not in fn and "environment" not in fn
    resources = merged_resources(service)["Resources"]
    assert "Distribution" not in resources
    assert {"ApiDomain", "ApiDomainMapping", "ApiDomainRecord"} <= set(resources)
    assert resources["ApiDomainMapping"]["Properties"]["ApiId"] == {"Ref": "HttpApi"}


def find_cli() -> str | None:
    for name in ("osls", "serverless", "sls"):
        local = ROOT / "node_modules" / ".bin" / name
        if local.exists():
            return str(local)
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.parametrize(
    "params",
    [
        {
            "arch": "x86_64",
            "domainName": "gemini.example.com",
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "hostedZoneId": "Z0123456789",
        },
        {"mode": "buffered", "keysSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:keys-AbCdEf"},
        {"fleetMetrics": "true", "metricsDashboard": "true"},
    ],
    ids=["stream-domain-x86", "buffered-existing-secret", "stream-fleet-metrics"],
)
def test_cli_packages_offline(tmp_path, params):
    cli = find_cli()
    if cli is None:
        reason = "no Serverless Framework CLI (osls or serverless) installed; run `npm install` to get osls"
        print(reason)
        pytest.skip(reason)
    shutil.copy(ROOT / "serverless.yml", tmp_path)
    shutil.copytree(ROOT / "infra" / "serverless", tmp_path / "infra" / "serverless")
    arch = params.get("arch", "arm64")
    (tmp_path / "build").mkdir()
    with zipfile.ZipFile(tmp_path / "build" / f"lambda-{arch}.zip", "w") as archive:
        archive.writestr("run.sh", "#!/bin/sh\n")  # the CLI only checks that the artifact exists
    args = [f"--param={k}={v}" for k, v in params.items()]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    }
    done = subprocess.run(
        [cli, "package", "--package", "out", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cfn = json.loads((tmp_path / "out" / "cloudformation-template-update-stack.json").read_text())
    errors = [
        str(m) for m in lint(json.dumps(cfn), config=ManualArgs(regions=["us-east-1"])) if m.rule.id.startswith("E")
    ]
    assert errors == []
    res = cfn["Resources"]
    fn = res["ProxyLambdaFunction"]["Properties"]
    assert fn["Runtime"] == "python3.13" and fn["Architectures"] == [arch]
    if params.get("mode") == "buffered":
        assert fn["Handler"] == "handler.lambda_function.handler" and "Layers" not in fn
        assert res["HttpApiRouteDefault"]["Properties"]["RouteKey"] == "$default"
        assert "ProxyLambdaFunctionUrl" not in res
        assert cfn["Parameters"]["ExistingKeysSecretArn"]["Default"] == params["keysSecretArn"]
    else:
        assert fn["Handler"] == "run.sh"
        assert fn["Environment"]["Variables"]["AWS_LWA_INVOKE_MODE"] == "response_stream"
        assert res["ProxyLambdaFunctionUrl"]["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
        assert res["ProxyLambdaFunctionUrl"]["Properties"]["AuthType"] == "NONE"
        layer = "LambdaAdapterLayerArm64" if arch == "arm64" else "LambdaAdapterLayerX86"
        assert fn["Layers"] == [f"arn:aws:lambda:us-east-1:753240598075:layer:{layer}:26"]
        assert cfn["Parameters"]["DomainName"]["Default"] == params.get("domainName", "")
    fleet = params.get("fleetMetrics") == "true"
    assert cfn["Parameters"]["FleetMetrics"]["Default"] == ("true" if fleet else "false")
    assert fn["Environment"]["Variables"]["FLEET_METRICS"] == ("true" if fleet else "false")
    assert res["FleetMetricsPolicy"]["Condition"] == "HasFleetMetrics"
    assert res["FleetMetricsPolicy"]["Properties"]["Roles"] == [{"Ref": "IamRoleLambdaExecution"}]
    assert '{\\"GeminiEdgeProxy\\",Key}' in res["KeyHealthDashboard"]["Properties"]["DashboardBody"]
    statements = res["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    secret = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert secret == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": {"Fn::If": ["CreateSecret", {"Ref": "KeysSecret"}, {"Ref": "ExistingKeysSecretArn"}]},
        }
    ]


# Key health figures (docs/status-and-metrics.md): optional, off by default ----------------


@pytest.mark.parametrize("mode", ["stream", "buffered"])
def test_fleet_figures_and_dashboard_are_optional(mode):
    from handler import metrics

    service = Resolver(mode=mode).service()
    env = service["provider"]["environment"]
    assert env["FLEET_METRICS"] == "false" and env["METRICS_NAMESPACE"] == "GeminiEdgeProxy"
    resources = merged_resources(service)
    assert resources["Parameters"]["FleetMetrics"]["Default"] == "false"
    assert resources["Parameters"]["MetricsDashboard"]["Default"] == "false"
    policy = resources["Resources"]["FleetMetricsPolicy"]
    assert policy["Condition"] == "HasFleetMetrics"
    assert resources["Conditions"]["HasFleetMetrics"] == {"Fn::Equals": [{"Ref": "FleetMetrics"}, "true"]}
    assert policy["Properties"]["Roles"] == [{"Ref": "IamRoleLambdaExecution"}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}
    ]
    assert len(service["provider"]["iam"]["role"]["statements"]) == 1  # the secret's, unchanged

    dashboard = resources["Resources"]["KeyHealthDashboard"]
    assert dashboard["Condition"] == "HasDashboard"
    widgets = json.loads(dashboard["Properties"]["DashboardBody"])["widgets"]
    expressions = [m[0]["expression"] for w in widgets for m in w["properties"]["metrics"]]
    assert "SEARCH('{\"GeminiEdgeProxy\",Key} MetricName=\"Upstream429\"', 'Sum', 300)" in expressions
    for expression in expressions:  # the names the EMF records write
        assert [re.search(r'\{"GeminiEdgeProxy",(\w+)\}', expression)[1]] in metrics.DIMENSION_SETS
        assert re.search(r'MetricName="(\w+)"', expression)[1] in {m["Name"] for m in metrics.METRICS}
    assert all(w["properties"]["region"] == "us-east-1" for w in widgets)


def test_fleet_figures_on_with_own_namespace():
    service = Resolver(fleetMetrics="true", metricsDashboard="true", metricsNamespace="Team/Gemini").service()
    resources = merged_resources(service)
    assert service["provider"]["environment"]["FLEET_METRICS"] == "true"
    assert resources["Parameters"]["FleetMetrics"]["Default"] == "true"
    body = resources["Resources"]["KeyHealthDashboard"]["Properties"]["DashboardBody"]
    assert '{\\"Team/Gemini\\",Key}' in body and "GeminiEdgeProxy" not in body
    json.loads(body)
