"""template.yaml, offline: SAM transform, then cfn-lint, then the structure that matters.

cfn-lint no longer runs the SAM transform itself, so a wrong value inside a SAM
resource (a bad InvokeMode, a bad runtime) would pass a lint of template.yaml alone:
each parameter combination is transformed with aws-sam-translator first (as
`sam deploy` does, after `sam package` has replaced CodeUri with an S3 location),
the CloudFormation it produces is linted, and then the conditions are evaluated for
that combination to check which resources exist and what they hold.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
DOMAIN = "gemini.example.com"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b6a4f7e-1111-2222-3333-444455556666"
ZONE = "Z0123456789ABCDEFGHIJ"
EXISTING = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gemini-keys-AbCdEf"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"
NO_VALUE = object()


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only when a template names one by its short name."""

    def load(self) -> dict[str, str]:
        return {}


def sam_template() -> dict:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    template["Globals"]["Function"]["CodeUri"] = "s3://example-artifacts/gemini-edge-proxy.zip"
    return template


def cloudformation(template: dict, params: dict[str, str], monkeypatch) -> dict:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # the translator needs a region, no credentials
    return transform(copy.deepcopy(template), dict(params), NoManagedPolicies())


def lint_errors(cfn: dict, params: dict[str, str]) -> list[str]:
    """cfn-lint errors (not warnings), with this combination's values as the parameter defaults."""
    cfn = copy.deepcopy(cfn)
    for name, value in params.items():
        cfn["Parameters"][name]["Default"] = value
    matches = lint(json.dumps(cfn), config=ManualArgs(regions=[REGION]))
    return [str(m) for m in matches if m.rule.id.startswith("E")]


class Stack:
    """The transformed template as CloudFormation would create it for one set of parameters."""

    def __init__(self, cfn: dict, params: dict[str, str]) -> None:
        self.cfn = cfn
        self.params = {name: str(spec.get("Default", "")) for name, spec in cfn["Parameters"].items()} | params
        self.conditions: dict[str, bool] = {}
        for name in cfn["Conditions"]:
            self.condition(name)
        self.resources = {
            name: self.resolve(res)
            for name, res in cfn["Resources"].items()
            if "Condition" not in res or self.conditions[res["Condition"]]
        }
        self.outputs = {
            name: self.resolve(out["Value"])
            for name, out in cfn["Outputs"].items()
            if "Condition" not in out or self.conditions[out["Condition"]]
        }

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.cfn["Conditions"][name])
        return self.conditions[name]

    def truth(self, expr: Any) -> bool:
        ((fn, arg),) = expr.items()
        if fn == "Fn::Equals":
            return self.resolve(arg[0]) == self.resolve(arg[1])
        if fn == "Fn::Not":
            return not self.truth(arg[0])
        if fn == "Fn::And":
            return all(self.truth(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.truth(a) for a in arg)
        if fn == "Condition":
            return self.condition(arg)
        raise AssertionError(f"unexpected condition function {fn}")

    def resolve(self, value: Any) -> Any:
        """Parameters, pseudo parameters, Fn::If and plain Fn::Sub resolved; resource references kept."""
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                pseudo = {"AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
                return self.params.get(arg, pseudo.get(arg, value))
            if fn == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                whole = re.fullmatch(r"\$\{([^}]+)\}", text)
                if whole and whole[1] in names:
                    return names[whole[1]]
                known = {
                    **self.params,
                    "AWS::Region": REGION,
                    "AWS::Partition": "aws",
                    "AWS::URLSuffix": "amazonaws.com",
                }
                for k, v in names.items():  # a resource reference stays visible as ${Name}
                    known[k] = v if isinstance(v, str) else f"${{{v['Ref']}}}" if set(v) == {"Ref"} else known.get(k)
                text = re.sub(r"\$\{([^}.]+)\}", lambda m: known.get(m[1], m[0]), text)
                return text if "${" not in text else {"Fn::Sub": text}
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}


def params_for(mode: str, domain: bool, arch: str, **extra: str) -> dict[str, str]:
    params = {"DeployMode": mode, "Architecture": arch}
    if domain:
        params |= {"DomainName": DOMAIN, "CertificateArn": CERT, "HostedZoneId": ZONE}
    return params | extra


COMBINATIONS = list(itertools.product(["stream", "buffered"], [False, True], ["arm64", "x86_64"]))


@pytest.fixture(scope="module")
def template() -> dict:
    return sam_template()


@pytest.mark.parametrize("mode,domain,arch", COMBINATIONS)
def test_combination_transforms_lints_and_has_the_right_shape(template, monkeypatch, mode, domain, arch):
    params = params_for(mode, domain, arch)
    cfn = cloudformation(template, params, monkeypatch)
    assert lint_errors(cfn, params) == []
    stack = Stack(cfn, params)
    res = stack.resources
    types = {name: r["Type"] for name, r in res.items()}

    # One function, for the chosen mode, with the shared settings.
    functions = [n for n, t in types.items() if t == "AWS::Lambda::Function"]
    assert functions == ["StreamFunction" if mode == "stream" else "BufferedFunction"]
    fn = res[functions[0]]["Properties"]
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == [arch]
    assert fn["MemorySize"] == "512"
    assert "ReservedConcurrentExecutions" not in fn  # no cap unless asked
    env = fn["Environment"]["Variables"]
    assert env["KEYS_SECRET_ARN"] == {"Ref": "KeysSecret"}
    assert env["ALLOW_CLIENT_KEYS"] == "true"
    assert not any(k in env for k in ("GEMINI_API_KEYS", "ACCESS_TOKENS"))  # never plaintext in the config
    # Resumable-upload URLs point at PUBLIC_BASE_URL: the parameter, else the custom domain.
    assert env["PUBLIC_BASE_URL"] == (f"https://{params['DomainName']}" if domain else "")

    # Read access to that one secret and nothing else.
    role = res[functions[0] + "Role"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Action": ["secretsmanager:GetSecretValue"], "Effect": "Allow", "Resource": {"Ref": "KeysSecret"}}
    ]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    secret = res["KeysSecret"]["Properties"]
    assert json.loads(secret["SecretString"]) == {"gemini_keys": [], "access_tokens": []}

    if mode == "stream":
        assert fn["Handler"] == "run.sh"
        assert int(fn["Timeout"]) == 900
        assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
        assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
        assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
        assert env["AWS_LWA_PORT"] == "8080" and "PORT" not in env
        layer = "LambdaAdapterLayerArm64" if arch == "arm64" else "LambdaAdapterLayerX86"
        assert fn["Layers"] == [f"arn:aws:lambda:{REGION}:753240598075:layer:{layer}:26"]
        url = res["StreamFunctionUrl"]["Properties"]
        assert url == {
            "TargetFunctionArn": {"Ref": "StreamFunction"},
            "AuthType": "NONE",
            "InvokeMode": "RESPONSE_STREAM",
        }
        public = sorted(r["Properties"]["Action"] for r in res.values() if r["Type"] == "AWS::Lambda::Permission")
        assert public == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
        assert not any(t.startswith("AWS::ApiGateway") for t in types.values())
        assert stack.outputs["EndpointUrl"] == {"Fn::GetAtt": ["StreamFunctionUrl", "FunctionUrl"]}
    else:
        assert fn["Handler"] == "handler.lambda_function.handler"
        assert int(fn["Timeout"]) == 30
        assert "Layers" not in fn and not any(k.startswith("AWS_L") for k in env)
        assert "StreamFunctionUrl" not in res
        paths = res["HttpApi"]["Properties"]["Body"]["paths"]
        assert set(paths) == {"/", "/{proxy+}"}
        for path in paths.values():
            integration = path["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy" and integration["timeoutInMillis"] == 30000
            assert "${BufferedFunction.Arn}" in integration["uri"]["Fn::Sub"]
        assert stack.outputs["EndpointUrl"] == {"Fn::Sub": "https://${HttpApi}.execute-api.us-east-1.amazonaws.com/"}

    # The custom domain: CloudFront in stream mode, API Gateway's own in buffered mode.
    assert ("Distribution" in res) == (domain and mode == "stream")
    assert ("ApiDomain" in res) == ("ApiDomainMapping" in res) == (domain and mode == "buffered")
    assert ("DomainUrl" in stack.outputs) == domain
    if domain:
        assert stack.outputs["DomainUrl"] == f"https://{DOMAIN}/"
    if domain and mode == "stream":
        config = res["Distribution"]["Properties"]["DistributionConfig"]
        assert config["Aliases"] == [DOMAIN]
        assert config["ViewerCertificate"]["AcmCertificateArn"] == CERT
        (origin,) = config["Origins"]
        assert origin["DomainName"] == {
            "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["StreamFunctionUrl", "FunctionUrl"]}]}]
        }
        assert "OriginAccessControlId" not in origin  # would require signed requests
        custom = origin["CustomOriginConfig"]
        assert custom["OriginProtocolPolicy"] == "https-only"
        assert custom["OriginReadTimeout"] > 30  # raised from the default
        assert float(env["HEARTBEAT_SECONDS"]) < custom["OriginReadTimeout"]
        behaviour = config["DefaultCacheBehavior"]
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert behaviour["Compress"] is False
        assert {"POST", "GET", "OPTIONS", "PUT", "DELETE"} <= set(behaviour["AllowedMethods"])
        records = res["DistributionRecord"]["Properties"]["RecordSets"]
        assert {r["Type"] for r in records} == {"A", "AAAA"}
        assert all(
            r["AliasTarget"]
            == {"DNSName": {"Fn::GetAtt": ["Distribution", "DomainName"]}, "HostedZoneId": CLOUDFRONT_ZONE}
            for r in records
        )
    if domain and mode == "buffered":
        assert res["ApiDomain"]["Properties"]["DomainNameConfigurations"][0]["CertificateArn"] == CERT
        mapping = res["ApiDomainMapping"]["Properties"]
        assert mapping["ApiId"] == {"Ref": "HttpApi"} and mapping["DomainName"] == DOMAIN
        assert mapping["Stage"] == {"Ref": "HttpApiApiGatewayDefaultStage"}
        assert res["ApiDomainRecord"]["Properties"]["AliasTarget"]["DNSName"] == {
            "Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]
        }

    # The secret and the one command that fills it.
    assert stack.outputs["KeysSecretArn"] == {"Ref": "KeysSecret"}
    command = stack.outputs["PutKeysCommand"]["Fn::Sub"]
    assert command.startswith("aws secretsmanager put-secret-value --region us-east-1 --secret-id ${KeysSecret} ")
    secret_string = re.search(r"--secret-string '([^']+)'", command)[1]
    assert set(json.loads(secret_string)) == {"gemini_keys", "access_tokens"}  # the format the app reads


def test_domain_without_zone_makes_no_dns_record(template, monkeypatch):
    for mode in ("stream", "buffered"):
        params = params_for(mode, True, "arm64", HostedZoneId="")
        stack = Stack(cloudformation(template, params, monkeypatch), params)
        assert not any(r["Type"].startswith("AWS::Route53") for r in stack.resources.values())
        assert ("Distribution" in stack.resources) == (mode == "stream")
        assert "DomainTarget" in stack.outputs  # where to point DNS by hand


@pytest.mark.parametrize("domain", [False, True])
def test_public_base_url_parameter_wins(template, monkeypatch, domain):
    """Resumable-upload URLs: the operator's PublicBaseUrl over the custom domain."""
    params = params_for("stream", domain, "arm64", PublicBaseUrl="https://uploads.example.com")
    cfn = cloudformation(template, params, monkeypatch)
    assert lint_errors(cfn, params) == []
    fn = Stack(cfn, params).resources["StreamFunction"]["Properties"]
    assert fn["Environment"]["Variables"]["PUBLIC_BASE_URL"] == "https://uploads.example.com"


def test_existing_secret_and_cost_cap(template, monkeypatch):
    params = params_for(
        "stream",
        False,
        "arm64",
        ExistingKeysSecretArn=EXISTING,
        ReservedConcurrency="5",
        AllowClientKeys="false",
        MemorySize="1024",
    )
    cfn = cloudformation(template, params, monkeypatch)
    assert lint_errors(cfn, params) == []
    stack = Stack(cfn, params)
    assert "KeysSecret" not in stack.resources
    fn = stack.resources["StreamFunction"]["Properties"]
    assert fn["Environment"]["Variables"]["KEYS_SECRET_ARN"] == EXISTING
    assert fn["Environment"]["Variables"]["ALLOW_CLIENT_KEYS"] == "false"
    assert fn["ReservedConcurrentExecutions"] == "5"
    assert fn["MemorySize"] == "1024"
    (policy,) = stack.resources["StreamFunctionRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == EXISTING
    assert stack.outputs["KeysSecretArn"] == EXISTING
    assert f"--secret-id {EXISTING} " in stack.outputs["PutKeysCommand"]  # fully resolved


def test_heartbeat_cannot_be_set_above_cloudfront_read_timeout(template):
    spec = template["Parameters"]["HeartbeatSeconds"]
    read_timeout = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"][0][
        "CustomOriginConfig"
    ]["OriginReadTimeout"]
    assert spec["Default"] < spec["MaxValue"] < read_timeout <= 120  # CloudFormation's own maximum


@pytest.mark.parametrize(
    "path,bad",
    [
        (("Resources", "StreamFunction", "Properties", "FunctionUrlConfig", "InvokeMode"), "STREAM"),
        (("Globals", "Function", "Runtime"), "python3.99"),
    ],
)
def test_a_wrong_sam_value_is_caught(template, monkeypatch, path, bad):
    """The check above is not blind: the values a lint of the raw SAM file would miss fail here."""
    broken = copy.deepcopy(template)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    params = params_for("stream", False, "arm64")
    errors = lint_errors(cloudformation(broken, params, monkeypatch), params)
    assert any(bad in e for e in errors), errors


def test_sam_build_targets_exist_for_every_function(template, tmp_path):
    """`sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR for makefile-built functions."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    functions = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions == ["StreamFunction", "BufferedFunction"]
    for name in functions:
        assert template["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}
        for arch in ("arm64", "x86_64"):
            done = subprocess.run(
                ["make", "-n", f"build-{name}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin:/bin", "ARTIFACTS_DIR": str(tmp_path), "ARCH": arch},
            )
            assert done.returncode == 0, done.stderr
            assert f'infra/build_package.py --arch {arch} --out "{tmp_path}"' in done.stdout


# Key health figures (docs/status-and-metrics.md): optional, off by default ----------------


def dashboard_widgets(stack: Stack) -> list[dict]:
    body = stack.resources["KeyHealthDashboard"]["Properties"]["DashboardBody"]
    assert isinstance(body, str), body  # fully resolved: namespace and region filled in
    return json.loads(body)["widgets"]


@pytest.mark.parametrize("mode", ["stream", "buffered"])
def test_fleet_figures_and_dashboard_are_off_by_default(template, monkeypatch, mode):
    params = params_for(mode, False, "arm64")
    stack = Stack(cloudformation(template, params, monkeypatch), params)
    types = [r["Type"] for r in stack.resources.values()]
    assert "AWS::CloudWatch::Dashboard" not in types and "AWS::IAM::Policy" not in types
    fn = stack.resources["StreamFunction" if mode == "stream" else "BufferedFunction"]["Properties"]
    env = fn["Environment"]["Variables"]
    assert env["FLEET_METRICS"] == "false" and env["METRICS_NAMESPACE"] == "GeminiEdgeProxy"
    assert "DashboardUrl" not in stack.outputs
    statements = [
        s
        for r in stack.resources.values()
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
    ]
    assert not any("cloudwatch" in str(s["Action"]) for s in statements)


@pytest.mark.parametrize("mode", ["stream", "buffered"])
def test_fleet_figures_and_dashboard_when_asked(template, monkeypatch, mode):
    from handler import metrics

    params = params_for(
        mode, False, "arm64", FleetMetrics="true", MetricsDashboard="true", MetricsNamespace="Team/Gemini"
    )
    cfn = cloudformation(template, params, monkeypatch)
    assert lint_errors(cfn, params) == []
    stack = Stack(cfn, params)
    function = "StreamFunction" if mode == "stream" else "BufferedFunction"
    env = stack.resources[function]["Properties"]["Environment"]["Variables"]
    assert env["FLEET_METRICS"] == "true" and env["METRICS_NAMESPACE"] == "Team/Gemini"

    # One read-only action, on the function's own role, nothing else.
    policy = stack.resources["FleetMetricsPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": f"{function}Role"}]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}
    ]
    # The secret statement of the role is unchanged.
    (secret_policy,) = stack.resources[f"{function}Role"]["Properties"]["Policies"]
    assert secret_policy["PolicyDocument"]["Statement"][0]["Action"] == ["secretsmanager:GetSecretValue"]

    # The dashboard reads the names the EMF records write.
    widgets = dashboard_widgets(stack)
    expressions = [m[0]["expression"] for w in widgets for m in w["properties"]["metrics"]]
    assert all(w["properties"]["region"] == REGION for w in widgets)
    assert "SEARCH('{\"Team/Gemini\",Key} MetricName=\"Requests\"', 'Sum', 300)" in expressions
    assert "SEARCH('{\"Team/Gemini\",Key} MetricName=\"Upstream429\"', 'Sum', 300)" in expressions
    for expression in expressions:
        dimension = re.search(r'\{"Team/Gemini",(\w+)\}', expression)[1]
        metric = re.search(r'MetricName="(\w+)"', expression)[1]
        assert [dimension] in metrics.DIMENSION_SETS and metric in {m["Name"] for m in metrics.METRICS}
    assert stack.outputs["DashboardUrl"]["Fn::Sub"].endswith("#dashboards:name=${KeyHealthDashboard}")


def test_dashboard_alone_grants_nothing(template, monkeypatch):
    params = params_for("stream", False, "arm64", MetricsDashboard="true")
    stack = Stack(cloudformation(template, params, monkeypatch), params)
    assert "KeyHealthDashboard" in stack.resources and "FleetMetricsPolicy" not in stack.resources
    expressions = [m[0]["expression"] for w in dashboard_widgets(stack) for m in w["properties"]["metrics"]]
    assert "SEARCH('{\"GeminiEdgeProxy\",Key} MetricName=\"Requests\"', 'Sum', 300)" in expressions
