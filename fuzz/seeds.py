#!/usr/bin/env python3
"""Writes the seed corpus, fuzz/corpus/<target>/: a few real inputs per target.

Tokens are minted and the CA bundle is made as tests/peers/peer.py mints and
makes them (its own code, imported); trust policies are tests/fixtures/trust's.
Tokens and certificates are random, so a rerun rewrites those files.

    python3 fuzz/seeds.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "peers"))
import peer  # noqa: E402

CORPUS = ROOT / "fuzz" / "corpus"
# Far enough ahead that the seeds stay unexpired for as long as anyone fuzzes.
EXP_IN = 60 * 365 * 24 * 3600


def write(target: str, name: str, data: str | bytes) -> None:
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def fields(*values: str) -> str:
    return "\0".join(values)


def tokens() -> None:
    signer = peer.TokenSigner()

    def mint(name: str, exp_in: int = EXP_IN, **overrides) -> None:
        claims = peer.github_claims(aud="sts.amazonaws.com", exp_in=exp_in)
        claims.update(overrides)
        write("token", name, signer.sign(claims))

    mint("github")
    mint("github-expired", exp_in=-60)
    mint("github-two-audiences", aud=["sts.amazonaws.com", "https://github.com/octo-org"])
    mint("github-environment", sub="repo:octo-org/octo-repo:environment:prod")
    mint("gitlab", iss="https://gitlab.com", aud="https://gitlab.com",
         sub="project_path:group/app:ref_type:branch:ref:main")
    mint("circleci", iss="https://oidc.circleci.com/org/9d9e1f9c-6c4c-4b7e-9f7a-2f7c1d2f6a11",
         aud="9d9e1f9c-6c4c-4b7e-9f7a-2f7c1d2f6a11",
         sub="org/9d9e1f9c-6c4c-4b7e-9f7a-2f7c1d2f6a11/project/5b1d5a1e-1f0e-4e55-8a1a-0d0c9e8f7a6b/user/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f")
    mint("buildkite", iss="https://agent.buildkite.com",
         sub="organization:acme:pipeline:deploy:ref:refs/heads/main:commit:abc123:step:deploy")
    mint("bitbucket", iss="https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
         aud="ari:cloud:bitbucket::workspace/84c08677-e2a0-4b4f-9d5f-4d9f1c2b3a4e",
         sub="{b9e5cbb0-0f5c-4e6c-8a7b-1c2d3e4f5a6b}:{0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d}")
    mint("odd-claims", sub="repo:o/r:ref:refs/heads/*\n::stop-commands::x",
         iss="https://token.actions.githubusercontent.com/", exp=2**62)
    write("token", "claims-github", json.dumps(peer.github_claims(aud="sts.amazonaws.com", exp_in=EXP_IN)))
    write("token", "claims-minimal", '{"sub":"s","aud":"a","iss":"i"}')
    # The overflow fixed in src/token.rs (an `exp` this far back).
    write("token", "claims-exp-min", '{"sub":"x","exp":-9223372036854775808}')
    write("token", "not-a-jwt", "not-a-jwt")


def trust_policies() -> None:
    fixtures = ROOT / "tests" / "fixtures" / "trust"
    for path in sorted(fixtures.glob("*/*.json")):
        write("trust_policy", f"{path.parent.name}-{path.stem}", path.read_bytes())
    github = (fixtures / "safe" / "github-docs-branch.json").read_bytes()
    gitlab = (fixtures / "safe" / "gitlab-docs-aws.json").read_bytes()
    gitlab_claims = peer.github_claims(aud="https://gitlab.com", exp_in=EXP_IN,
                                       iss="https://gitlab.com",
                                       sub="project_path:mygroup/myproject:ref_type:branch:ref:main")
    write("trust_policy", "with-claims-gitlab", gitlab + b"\0" + json.dumps(gitlab_claims).encode())
    other = peer.github_claims(aud=["sts.amazonaws.com", "x"], exp_in=EXP_IN,
                               sub="repo:someone/else:ref:refs/heads/main")
    write("trust_policy", "with-claims-other-repo", github + b"\0" + json.dumps(other).encode())


def proxies() -> None:
    # --http-proxy, --no-proxy, HTTPS_PROXY, http_proxy, ALL_PROXY, NO_PROXY
    seeds = {
        "flag": fields("http://proxy.internal:3128"),
        "flag-no-scheme": fields("proxy.internal:3128"),
        "flag-password-odd": fields("http://user:pa^ss word@proxy.internal:3128"),
        "flag-password-encoded": fields("http://u%40corp:p%3Ass%2Fw@proxy.internal:3128"),
        "flag-idn": fields("http://prøxy.example:3128"),
        "flag-ipv6": fields("http://[::1]:3128"),
        "flag-socks": fields("socks5://u:secret@proxy:1080"),
        "flag-https": fields("https://tls-proxy.internal:443", "127.0.0.1,localhost"),
        "env": fields("", "", "https://tls-proxy:443", "http://user:secret@plain:3128", "",
                      "127.0.0.1,.internal,10.0.0.0/8"),
        "env-all": fields("", "", "", "", "http://all.internal:8080", "*"),
        "env-no-proxy-star-flag": fields("http://flag:8080", "*"),
    }
    for name, data in seeds.items():
        write("proxy", name, data)


def ca_bundles() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ca, server, key = peer.write_tls_files(Path(tmp))
        ca_pem, server_pem, key_pem = ca.read_bytes(), server.read_bytes(), key.read_bytes()
    write("ca_bundle", "test-ca", ca_pem)
    write("ca_bundle", "two-certs", ca_pem + server_pem)
    write("ca_bundle", "cert-and-key", key_pem + ca_pem)
    isrg = Path("/etc/ssl/certs/ISRG_Root_X1.pem")
    if isrg.exists():
        write("ca_bundle", "isrg-root-x1", isrg.read_bytes())
    write("ca_bundle", "broken-cert",
          "-----BEGIN CERTIFICATE-----\nTUlJQm5vdGFjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n")
    write("ca_bundle", "crlf", ca_pem.replace(b"\n", b"\r\n"))


def env_writers() -> None:
    # key id, secret, token, region, expiration, role ARN, account, serve URI,
    # serve token, AWS_PROFILE, delimiter, then NAME, VALUE pairs
    arn = "arn:aws:sts::123456789012:assumed-role/deploy/gha-4242"
    seeds = {
        "session": fields("ASIAQWERTYUIOPASDFGH", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                          "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==", "eu-west-1",
                          "1795000000", arn, "123456789012", "", "", "", "ghadelimiter_0123", ""),
        "static-keys": fields("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                              "", "", "arn:aws:iam::123456789012:user/deploy-user", "", "", "", "",
                              "EOF"),
        "serve": fields("", "", "", "us-east-1", "", arn, "123456789012",
                        "http://127.0.0.1:41234/credentials", "c2VydmUtdG9rZW4", "deploy",
                        "ghadelimiter_x"),
        "awkward": fields("ASIA+/=", "a=b+c/d\nNAME=injected\n\nghadelimiter_x\r\nend",
                          "line1\nline2=", "eu-central-1", "0", arn, "", "", "", "it's $HOME \"q\"",
                          "ghadelimiter_x", "AWS_PROFILE", "it's $HOME \"q\" \\n `x`",
                          "aws-account-id", "123456789012", "GITHUB_PATH", "/usr/bin:/bin"),
        "delimiter-in-value": fields("A", "B", "", "", "", arn, "", "", "", "", "EOF",
                                     "X", "a\nEOF\nY=1", "Y", "EOF"),
    }
    for name, data in seeds.items():
        write("env_writers", name, data)


def main() -> int:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    tokens()
    trust_policies()
    proxies()
    ca_bundles()
    env_writers()
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
