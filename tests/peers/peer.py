#!/usr/bin/env python3
"""Loopback peers for vault-ci's integration tests and demo.

Subcommands (see README.md next to this file):
  moto          moto's AWS emulator, seeded with the deploy-user / role scenario
  github-token  a GitHub Actions runner OIDC token endpoint (or Forgejo's, --flavor forgejo)
  azure-token   Azure DevOps' OIDC token endpoint (Oidctoken - Create)
  gcp-metadata  Google's metadata server, its identity tokens
  proxy         an HTTP proxy (CONNECT + absolute-URI forwarding) for 127.0.0.1 only
  faulty-sts    an STS endpoint answering with scripted errors, then forwarding
  throttled-sts an STS endpoint with a token-bucket request quota (Throttling past it)
  lying-sts     an STS whose answers are shaped right and wrong inside (too big, expired, ...)
  mint-token    print one GitHub-shaped RS256 JWT and exit

Long-running subcommands bind 127.0.0.1 on a free port, print exactly one JSON
line on stdout once they serve, and run until stdin reaches EOF (the parent
closed the pipe or died) or SIGTERM/SIGINT, then exit 0. Logs go to stderr and
are quiet unless -v is given.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import http.client
import http.server
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.sax.saxutils
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_REPOSITORY = "octo-org/octo-repo"

log = logging.getLogger("peer")


# --------------------------------------------------------------------------
# Life cycle shared by the long-running subcommands
# --------------------------------------------------------------------------


def serve_in_background(server) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def announce_and_wait(ready: dict) -> int:
    """Print the ready line, then block until stdin reaches EOF.

    All server and connection threads are daemons, so returning ends the
    process at once; there is no state worth a graceful shutdown.
    """
    print(json.dumps(ready), file=sys.__stdout__, flush=True)
    if sys.stdin is not None:
        while sys.stdin.buffer.read1(65536):
            pass
    return 0


def exit_on_signal(_signum, _frame) -> None:
    # Raising in the main thread interrupts the blocking stdin read.
    raise SystemExit(0)


class LoopbackServer(http.server.ThreadingHTTPServer):
    """Threaded server on 127.0.0.1, port chosen by the kernel."""

    def __init__(self, handler) -> None:
        super().__init__((LOOPBACK, 0), handler)

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up mid-request are routine in tests; keep the
        # traceback for -v instead of printing it unconditionally.
        log.info("error serving %s", client_address, exc_info=True)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, access log via `logging` (stderr)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 (stdlib name)
        log.info("%s %s", self.address_string(), format % args)

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, value) -> None:
        self.send_body(status, json.dumps(value).encode(), "application/json; charset=utf-8")

    def send_endless(self, status: int, content_type: str, prefix: bytes, total: int) -> None:
        """A body of `total` bytes (`prefix`, then spaces) in 64 KiB chunks and
        without a Content-Length, so the client learns its size only by reading;
        stops early when the client hangs up."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        filler = b" " * 65536
        sent, chunk = 0, prefix
        try:
            while sent < total:
                chunk = (chunk or filler)[: total - sent]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                chunk = b""
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            log.info("the client hung up after %d of %d bytes", sent, total)


# --------------------------------------------------------------------------
# GitHub-shaped OIDC tokens
# --------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenSigner:
    """RS256 signer with a throwaway RSA-2048 key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # GitHub's kid is the upper-case hex SHA-1 thumbprint of its signing
        # certificate and x5t the same digest in base64url. There is no
        # certificate here, so the digest is taken over the public key.
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        thumbprint = hashlib.sha1(der).digest()
        self.header = {"typ": "JWT", "alg": "RS256", "x5t": b64url(thumbprint), "kid": thumbprint.hex().upper()}

    def sign(self, claims: dict) -> str:
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (self.header, claims)
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def github_claims(
    *,
    aud: str | None = None,
    sub: str | None = None,
    repository: str = DEFAULT_REPOSITORY,
    iss: str = GITHUB_ISSUER,
    exp_in: int = 300,
) -> dict:
    """Claims as GitHub Actions issues them for a push to main (no environment).

    All values are strings except the timestamps, as in GitHub's tokens.

    Timing follows GitHub's documented example: exp = iat + 300 and
    nbf = iat - 600. For tokens that expire in the past (exp_in < 300) iat is
    moved back so the claims stay self-consistent.
    """
    now = int(time.time())
    exp = now + exp_in
    iat = min(now, exp - 300)
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/.github/workflows/deploy.yml@refs/heads/main"
    sha = secrets.token_hex(20)
    return {
        "jti": str(uuid.uuid4()),
        "sub": sub or f"repo:{repository}:ref:refs/heads/main",
        "aud": aud or f"https://github.com/{owner}",
        "ref": "refs/heads/main",
        "sha": sha,
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": "65",
        "run_id": str(secrets.randbelow(10**10)),
        "run_number": "10",
        "run_attempt": "1",
        "repository_visibility": "private",
        "repository_id": "74",
        "actor_id": "12",
        "actor": "octocat",
        "workflow": "deploy",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_protected": "false",
        "ref_type": "branch",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "runner_environment": "github-hosted",
        "iss": iss,
        "nbf": iat - 600,
        "exp": exp,
        "iat": iat,
    }


def cmd_mint_token(args) -> int:
    claims = github_claims(aud=args.aud, sub=args.sub, iss=args.iss, exp_in=args.exp_in)
    claims.update(json.loads(args.claims))
    print(TokenSigner().sign(claims), file=sys.__stdout__, flush=True)
    return 0


# --------------------------------------------------------------------------
# The other CIs' claim sets, each as that CI's documentation shows its tokens
# --------------------------------------------------------------------------

AZURE_DEVOPS_AUDIENCE = "api://AzureADTokenExchange"
# The application ID behind api://AzureADTokenExchange: an Entra v2.0 token's aud.
ENTRA_AUDIENCE = "fb60f99c-7a34-4190-8149-302f77469936"
AZURE_DEVOPS_APP = "499b84ac-1321-427f-aa17-267ca6975798"


def guid_b64url(guid: str) -> str:
    """A GUID as Entra's subjects encode it: base64url of its bytes in GUID order."""
    return b64url(uuid.UUID(guid).bytes_le)


def azure_claims(*, org: str, org_id: str, project: str, project_id: str, pipeline: str | None = None,
                 connection: str | None = None, aud: str | None = None) -> dict:
    """An Azure DevOps-issued token: the pipeline's own (sub p://ORG/PROJECT/PIPELINE,
    with the run's claims) or a service connection's (sub sc://ORG/PROJECT/NAME),
    as Teleport's RFD 211 recorded both. Five minutes to live, nbf ten before iat."""
    now = int(time.time())
    claims = {"jti": str(uuid.uuid4())}
    if connection is not None:
        claims["sub"] = f"sc://{org}/{project}/{connection}"
        claims["aud"] = aud or AZURE_DEVOPS_AUDIENCE
    else:
        claims.update({
            "sub": f"p://{org}/{project}/{pipeline}",
            "aud": aud or AZURE_DEVOPS_AUDIENCE,
            "org_id": org_id,
            "prj_id": project_id,
            "def_id": "1",
            "rpo_id": f"{org}/app",
            "rpo_uri": f"https://dev.azure.com/{org}/{project}/_git/app",
            "rpo_ver": secrets.token_hex(20),
            "rpo_ref": "refs/heads/main",
            "run_id": str(secrets.randbelow(10**6)),
        })
    claims.update({"iss": f"https://vstoken.dev.azure.com/{org_id}", "nbf": now - 600, "exp": now + 299, "iat": now})
    return claims


def entra_claims(*, tenant: str, org_id: str, connection_id: str, aud: str | None = None) -> dict:
    """An Entra-issued service connection token, as Teleport's RFD 211 recorded one."""
    now = int(time.time())
    return {
        "aud": aud or ENTRA_AUDIENCE,
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "iat": now, "nbf": now, "exp": now + 86700,
        "aio": b64url(secrets.token_bytes(36)),
        "azp": AZURE_DEVOPS_APP, "azpacr": "2", "idtyp": "app",
        "oid": str(uuid.uuid4()),
        "rh": "1." + b64url(secrets.token_bytes(40)) + ".",
        "sub": f"/eid1/c/pub/t/{guid_b64url(tenant)}/a/{guid_b64url(AZURE_DEVOPS_APP)}/sc/{org_id}/{connection_id}",
        "tid": tenant, "uti": b64url(secrets.token_bytes(16)), "ver": "2.0",
        "xms_ficinfo": "CAAQARgAIAA", "xms_idrel": "7 30",
    }


def forgejo_claims(*, instance: str, repository: str, aud: str | None = None, sub: str | None = None) -> dict:
    """A Forgejo Actions token as Forgejo's documentation shows one, for a push to main."""
    now = int(time.time())
    owner = repository.split("/", 1)[0]
    return {
        "actor": "user1", "aud": aud or f"{instance}/{owner}", "event_name": "push",
        "exp": now + 3600, "iat": now, "iss": f"{instance}/api/actions", "nbf": now,
        "ref": "refs/heads/main", "ref_protected": "false", "ref_type": "branch",
        "repository": repository, "repository_owner": owner, "run_attempt": "1",
        "run_id": str(secrets.randbelow(10**6)), "run_number": "43", "sha": secrets.token_hex(20),
        "sub": sub or f"repo:{repository}:ref:refs/heads/main", "workflow": "deploy.yml",
        "workflow_ref": f"{repository}/.forgejo/workflows/deploy.yml@refs/heads/main",
    }


def google_claims(*, aud: str, account_id: str, email: str) -> dict:
    """A service account's ID token from the metadata server with format=full:
    azp and sub the account's unique ID, an hour to live, and on Compute Engine
    the instance it came from."""
    now = int(time.time())
    return {
        "aud": aud, "azp": account_id, "email": email, "email_verified": True,
        "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com", "sub": account_id,
        "google": {"compute_engine": {
            "instance_creation_timestamp": now - 300, "instance_id": str(secrets.randbelow(10**18)),
            "instance_name": "cloud-build-worker", "project_id": "acme-build", "project_number": 123456789012,
            "zone": "europe-west1-b",
        }},
    }


def answer_hostile(handler, args, prefix: bytes) -> bool:
    """The hostile twins every token endpoint here has: --slow SECONDS before
    answering, --huge BYTES of an answer that never ends. True when answered."""
    if getattr(args, "slow", 0):
        time.sleep(args.slow)
    if getattr(args, "huge", 0):
        handler.send_endless(200, "application/json", prefix, args.huge)
        return True
    return False


def cmd_azure_token(args) -> int:
    """Azure DevOps' Oidctoken - Create: POST only, the job's access token as a
    bearer, api-version required; with serviceConnectionId a connection's token
    (404 for one no task of the pipeline references), without it the pipeline's."""
    signer = TokenSigner()
    access_token = secrets.token_urlsafe(48)
    org, project, pipeline = "acme", "web", "deploy"
    org_id, project_id = str(uuid.uuid4()), str(uuid.uuid4())
    connections = {"aws-deploy": str(uuid.uuid4())}
    path = (f"/{org}/{project_id}/_apis/distributedtask/hubs/build/plans/{uuid.uuid4()}"
            f"/jobs/{uuid.uuid4()}/oidctoken")
    seen: list[dict] = []
    lock = threading.Lock()
    failures = [args.fail]

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path == "/_log":
                with lock:
                    return self.send_json(200, list(seen))
            self.send_json(405, {"message": "The requested resource does not support http method 'GET'."})

        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            scheme, _, bearer = self.headers.get("Authorization", "").partition(" ")
            authorized = scheme.lower() == "bearer" and secrets.compare_digest(bearer.strip(), access_token)
            with lock:
                seen.append({"path": url.path, "query": query, "authorized": authorized,
                             "content_type": self.headers.get("Content-Type"),
                             "content_length": self.headers.get("Content-Length")})
                failing = failures[0] > 0
                failures[0] -= 1
            if url.path != path:
                return self.send_json(404, {"message": "Not found"})
            if self.headers.get("Content-Length") is None:
                # IIS, in front of Azure DevOps, wants a POST's length.
                return self.send_body(411, b"<h2>Length Required</h2>", "text/html")
            if not authorized or args.html:
                if args.html:
                    # What Azure DevOps answers a token it does not take: its sign-in page.
                    page = b"<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head></html>"
                    return self.send_body(203, page, "text/html; charset=utf-8")
                return self.send_json(401, {
                    "$id": "1", "innerException": None,
                    "message": "TF400813: The user '' is not authorized to access this resource.",
                    "typeKey": "UnauthorizedRequestException", "errorCode": 0, "eventId": 3000,
                })
            if "api-version" not in query:
                return self.send_json(400, {"message": "No api-version was supplied for the POST request."})
            if failing:
                return self.send_json(503, {"message": "Service Unavailable"})
            if answer_hostile(self, args, b'{"oidcToken": "'):
                return
            connection_id = query.get("serviceConnectionId", [None])[-1]
            if connection_id is None:
                claims = azure_claims(org=org, org_id=org_id, project=project, project_id=project_id,
                                      pipeline=pipeline, aud=args.aud)
            else:
                names = [name for name, known in connections.items() if known == connection_id]
                if not names:
                    return self.send_json(404, {"message": f"Service connection {connection_id} not found."})
                if args.entra:
                    claims = entra_claims(tenant=args.entra, org_id=org_id, connection_id=connection_id, aud=args.aud)
                else:
                    claims = azure_claims(org=org, org_id=org_id, project=project, project_id=project_id,
                                          connection=names[0], aud=args.aud)
            self.send_json(200, {"oidcToken": signer.sign(claims)})

    server = LoopbackServer(Handler)
    serve_in_background(server)
    base = f"http://{LOOPBACK}:{server.server_port}"
    return announce_and_wait({
        "url": f"{base}{path}", "access_token": access_token, "log": f"{base}/_log",
        "org": org, "org_id": org_id, "project": project, "project_id": project_id, "pipeline": pipeline,
        "connections": connections,
    })


def cmd_gcp_metadata(args) -> int:
    """Google's metadata server, the identity endpoint: Metadata-Flavor: Google
    required (403 without it, as the real one answers), an audience required
    (400), the JWT itself as the answer, sent with Metadata-Flavor: Google."""
    signer = TokenSigner()
    path = "/computeMetadata/v1/instance/service-accounts/default/identity"
    seen: list[dict] = []
    lock = threading.Lock()
    failures = [args.fail]

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/_log":
                with lock:
                    return self.send_json(200, list(seen))
            query = urllib.parse.parse_qs(url.query)
            flavoured = self.headers.get("Metadata-Flavor") == "Google"
            with lock:
                seen.append({"path": url.path, "query": query, "flavoured": flavoured})
                failing = failures[0] > 0
                failures[0] -= 1
            if not flavoured:
                return self.send_body(403, b"Missing Metadata-Flavor:Google header.\n", "text/plain")
            if url.path != path or args.no_account:
                return self.send_body(404, b"Not Found\n", "text/html")
            audience = query.get("audience", [""])[-1]
            if not audience:
                return self.send_body(400, b"non-empty audience parameter required\n", "text/html")
            if failing:
                return self.send_body(503, b"Service Unavailable\n", "text/plain")
            if args.html:
                page = b"<html><body><h1>Sign in to the network</h1></body></html>"
                return self.send_body(200, page, "text/html")
            if answer_hostile(self, args, b"eyJhbGciOiJSUzI1NiJ9."):
                return
            jwt = signer.sign(google_claims(aud=args.aud or audience, account_id=args.account_id, email=args.email))
            body = jwt.encode()
            self.send_response(200)
            if not args.no_flavor:
                self.send_header("Metadata-Flavor", "Google")
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = LoopbackServer(Handler)
    serve_in_background(server)
    return announce_and_wait({
        "host": f"{LOOPBACK}:{server.server_port}", "log": f"http://{LOOPBACK}:{server.server_port}/_log",
        "account_id": args.account_id, "email": args.email,
    })


def cmd_github_token(args) -> int:
    signer = TokenSigner()
    request_token = secrets.token_urlsafe(32)
    # Same shape as ACTIONS_ID_TOKEN_REQUEST_URL on a hosted runner (Forgejo's:
    # <instance>/api/actions/_apis/pipelines/workflows/<run>/idtoken).
    if args.flavor == "forgejo":
        token_path = f"/api/actions/_apis/pipelines/workflows/{secrets.randbelow(10**7)}/idtoken"
    else:
        token_path = (
            f"/{uuid.uuid4()}/00000000-0000-0000-0000-000000000000/_apis/distributedtask"
            f"/hubs/Actions/plans/{uuid.uuid4()}/jobs/{uuid.uuid4()}/idtoken"
        )
    requests_seen: list[dict] = []
    lock = threading.Lock()
    failures = [args.fail]

    def failures_left() -> bool:
        with lock:
            failures[0] -= 1
            return failures[0] >= 0

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/_log":
                with lock:
                    seen = list(requests_seen)
                self.send_json(200, seen)
                return
            scheme, _, bearer = self.headers.get("Authorization", "").partition(" ")
            authorized = scheme.lower() == "bearer" and secrets.compare_digest(bearer.strip(), request_token)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            with lock:
                requests_seen.append({"path": url.path, "query": query, "authorized": authorized})
            if url.path != token_path:
                self.send_body(404, b"Not Found", "text/plain; charset=utf-8")
            elif not authorized:
                # The Azure DevOps-style error body the runner service returns.
                self.send_json(401, {
                    "$id": "1",
                    "innerException": None,
                    "message": "TF400813: The user '' is not authorized to access this resource.",
                    "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, "
                    "Microsoft.TeamFoundation.Framework.Server",
                    "typeKey": "UnauthorizedRequestException",
                    "errorCode": 0,
                    "eventId": 3000,
                })
            elif failures_left():
                # The runner service has bad moments too; clients should retry.
                self.send_json(503, {"message": "Service Unavailable"})
            elif answer_hostile(self, args, b'{"count": 1, "value": "'):
                # --huge: what no token endpoint sends, a JSON reply that never ends.
                pass
            else:
                audience = args.aud or query.get("audience", [None])[-1]
                if args.flavor == "forgejo":
                    instance = f"http://{LOOPBACK}:{self.server.server_port}"
                    claims = forgejo_claims(instance=instance, repository=args.repository, aud=audience, sub=args.sub)
                else:
                    claims = github_claims(
                        aud=audience, sub=args.sub, repository=args.repository, exp_in=args.exp_in)
                jwt = signer.sign(claims)
                self.send_json(200, {"count": len(jwt), "value": jwt})

    if not args.tls:
        server = LoopbackServer(Handler)
        serve_in_background(server)
        base = f"http://{LOOPBACK}:{server.server_port}"
        return announce_and_wait({
            "url": f"{base}{token_path}?api-version=2.0",
            "request_token": request_token,
            "log": f"{base}/_log",
        })

    # HTTPS with a certificate of a CA of its own, which the client trusts only
    # if given `ca_bundle`. Every connection is logged, handshakes that fail
    # included; the log is served over plain HTTP on a port of its own.
    ca_path, cert_path, key_path = write_tls_files(Path(args.tls).resolve())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)

    class TlsServer(LoopbackServer):
        def finish_request(self, request, client_address) -> None:
            entry = {"connection": True, "tls": "ok"}
            with lock:
                requests_seen.append(entry)
            try:
                tls = context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                entry["tls"] = f"failed: {e}"
                return
            try:
                super().finish_request(tls, client_address)
            finally:
                tls.close()

    class LogHandler(QuietHandler):
        def do_GET(self) -> None:
            with lock:
                seen = list(requests_seen)
            self.send_json(200, seen)

    server, log_server = TlsServer(Handler), LoopbackServer(LogHandler)
    serve_in_background(server)
    serve_in_background(log_server)
    return announce_and_wait({
        "url": f"https://{LOOPBACK}:{server.server_port}{token_path}?api-version=2.0",
        "request_token": request_token,
        "ca_bundle": str(ca_path),
        "log": f"http://{LOOPBACK}:{log_server.server_port}/_log",
    })


# --------------------------------------------------------------------------
# HTTP proxy, loopback targets only
# --------------------------------------------------------------------------

ALLOWED_PROXY_HOSTS = {"127.0.0.1", "localhost"}
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
}


def cmd_proxy(_args) -> int:
    targets: list[str] = []
    # The credentials each request carried in Proxy-Authorization (Basic), decoded.
    auth: list[str | None] = []
    lock = threading.Lock()

    class Handler(QuietHandler):
        def record(self, target: str) -> None:
            scheme, _, encoded = self.headers.get("Proxy-Authorization", "").partition(" ")
            try:
                user_password = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else None
            except ValueError:
                user_password = f"(not base64: {encoded})"
            with lock:
                targets.append(target)
                auth.append(user_password)

        def do_CONNECT(self) -> None:
            self.record(f"CONNECT {self.path}")
            # Whatever happens below, this connection carries no further requests.
            self.close_connection = True
            host, _, port = self.path.rpartition(":")
            if host not in ALLOWED_PROXY_HOSTS or not port.isdigit():
                self.send_body(403, b"only 127.0.0.1/localhost targets\n", "text/plain")
                return
            try:
                # Always dial IPv4 loopback: "localhost" may resolve to ::1.
                upstream = socket.create_connection((LOOPBACK, int(port)))
            except OSError as e:
                self.send_body(502, f"{e}\n".encode(), "text/plain")
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            with upstream:
                pump = threading.Thread(target=self.pump_to_client, args=(upstream,), daemon=True)
                pump.start()
                try:
                    # Read through rfile, not the raw socket: it may already
                    # hold bytes the client sent right after the CONNECT head.
                    while chunk := self.rfile.read1(65536):
                        upstream.sendall(chunk)
                    upstream.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # either side went away; the pump notices too
                pump.join()

        def pump_to_client(self, upstream: socket.socket) -> None:
            try:
                while chunk := upstream.recv(65536):
                    self.wfile.write(chunk)
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the client went away; the other direction ends too

        def forward(self) -> None:
            if self.path.startswith("/"):
                # Origin-form: a request to the proxy itself.
                if self.command == "GET" and self.path in ("/_log", "/_auth"):
                    with lock:
                        seen = list(targets if self.path == "/_log" else auth)
                    self.send_json(200, seen)
                else:
                    self.send_body(400, b"absolute-URI required\n", "text/plain")
                return
            self.record(f"{self.command} {self.path}")
            url = urllib.parse.urlsplit(self.path)
            if url.scheme != "http" or url.hostname not in ALLOWED_PROXY_HOSTS:
                self.send_body(403, b"only http://127.0.0.1/localhost targets\n", "text/plain")
                return
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.send_body(411, b"chunked request bodies are not supported\n", "text/plain")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            upstream = http.client.HTTPConnection(LOOPBACK, url.port or 80, timeout=60)
            try:
                # Relay the client's Host header untouched: SigV4 signs it.
                upstream.putrequest(
                    self.command, urllib.parse.urlunsplit(("", "", url.path or "/", url.query, "")),
                    skip_host=True, skip_accept_encoding=True,
                )
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders(body)
                response = upstream.getresponse()
                payload = response.read()
            except OSError as e:
                self.send_body(502, f"{e}\n".encode(), "text/plain")
                return
            finally:
                upstream.close()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = forward

    server = LoopbackServer(Handler)
    serve_in_background(server)
    base = f"http://{LOOPBACK}:{server.server_port}"
    return announce_and_wait({"url": base, "log": f"{base}/_log", "auth": f"{base}/_auth"})


# --------------------------------------------------------------------------
# moto, seeded with the deploy scenario
# --------------------------------------------------------------------------


def write_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """Throwaway CA plus a server certificate for 127.0.0.1 and localhost.

    ECDSA P-256 keys: generated in milliseconds, accepted by rustls/webpki
    and OpenSSL alike.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    # Backdated a little so a slightly skewed clock does not reject it.
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vault-ci test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def isolate_from_caller_environment() -> None:
    """Keep the parent's AWS and proxy settings away from our own boto3 calls.

    Tests spawn this peer with the environment they give vault-ci (profiles,
    AWS_ENDPOINT_URL, HTTPS_PROXY pointing at the proxy peer, ...); the seeding
    calls below must talk straight to this server with dummy credentials.
    """
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def seed_scenario(endpoint: str, ca_bundle: str | None) -> dict:
    """Create the deploy-user, the deploy/cfn/gha-deploy roles and GitHub's OIDC provider.

    Trust policies are shaped around how moto evaluates them in auth mode
    (moto/iam/access_control.py):
      * the caller is matched literally against Principal.AWS: a role session
        arrives as arn:aws:sts::…:assumed-role/<role>/<session>, which never
        equals the role ARN AWS itself would accept, and only the bare string
        "*" acts as a wildcard (not "*" inside a list);
      * any statement whose Principal.AWS does not match returns an explicit
        deny, so a second, broader statement cannot rescue a chained caller;
      * a statement with a Principal but no "AWS" key crashes the check
        (HTTP 500), so Service principals must share a statement with AWS.
    Hence Principal.AWS is "*" on the roles that are entered by a role chain;
    who may actually assume what is decided by the callers' identity policies
    (moto requires both to allow).
    """
    import boto3

    session = boto3.Session(aws_access_key_id="seed", aws_secret_access_key="seed", region_name=REGION)
    iam = session.client("iam", endpoint_url=endpoint, verify=ca_bundle or True)
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{{}}".format
    oidc_provider = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"

    user = iam.create_user(UserName="deploy-user")["User"]
    key = iam.create_access_key(UserName="deploy-user")["AccessKey"]
    iam.put_user_policy(
        UserName="deploy-user",
        PolicyName="assume-deploy-only",
        PolicyDocument=policy(allow("sts:AssumeRole", role_arn("deploy"))),
    )

    iam.create_open_id_connect_provider(
        Url=GITHUB_ISSUER,
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )

    roles = {
        "deploy": (
            # Admits deploy-user and role sessions chaining into it.
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            [
                allow("sts:AssumeRole", role_arn("cfn")),
                allow("cloudformation:*"),
                allow("iam:PassRole", role_arn("cfn")),
                allow("sts:GetCallerIdentity"),
            ],
        ),
        "cfn": (
            # Admits deploy (and gha-deploy) sessions, and CloudFormation itself.
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*", "Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            [allow("*")],
        ),
        "gha-deploy": (
            # moto does not evaluate web-identity trust, but keep it real.
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                    "StringLike": {"token.actions.githubusercontent.com:sub": f"repo:{DEFAULT_REPOSITORY}:*"},
                },
            },
            [allow("sts:AssumeRole", role_arn("cfn")), allow("sts:GetCallerIdentity")],
        ),
    }
    arns = {}
    for name, (trust, permissions) in roles.items():
        arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-permissions", PolicyDocument=policy(*permissions))

    return {
        "account_id": ACCOUNT_ID,
        "deploy_user": {
            "arn": user["Arn"],
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
        },
        "roles": arns,
    }


def enable_moto_auth(endpoint: str, ca_bundle: str | None) -> None:
    """Enforce SigV4 + IAM policies from the next request on.

    The body is the number of requests moto still lets through unchecked;
    POSTing "inf" would switch enforcement off again.
    """
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        response.read()


def cmd_faulty_sts(args) -> int:
    """An STS endpoint for faults no real peer produces on demand: each request
    takes the next scripted answer (STATUS:CODE[:MESSAGE], or `slow:SECONDS`),
    and once the script is used up, requests go to --forward (a real STS, moto)
    or get the last answer again."""
    script = list(args.respond)
    seen: list[dict] = []
    lock = threading.Lock()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path == "/_log":
                with lock:
                    self.send_json(200, list(seen))
            else:
                self.send_body(404, b"Not Found", "text/plain")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = urllib.parse.parse_qs(body.decode(errors="replace"))
            with lock:
                answer = script.pop(0) if len(script) > 1 or (script and args.forward) else (script[0] if script else None)
                tags = {
                    form[f"Tags.member.{n}.Key"][0]: form.get(f"Tags.member.{n}.Value", [""])[0]
                    for n in range(1, 51)
                    if f"Tags.member.{n}.Key" in form
                }
                entry = {
                    "action": form.get("Action", [""])[0],
                    "answer": answer or "forward",
                    "tags": tags,
                    "role": form.get("RoleArn", [None])[0],
                    "session": form.get("RoleSessionName", [None])[0],
                    "duration": form.get("DurationSeconds", [None])[0],
                    "access_key_id": None,
                }
                seen.append(entry)
            if answer is None or answer == "forward":
                minted = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", self.forward(body))
                if minted:
                    with lock:
                        entry["access_key_id"] = minted.group(1).decode()
            elif answer.startswith("slow:"):
                time.sleep(float(answer.split(":", 1)[1]))
                self.forward(body) if args.forward else self.send_body(500, b"", "text/plain")
            elif answer.split(":")[1] == "raw":
                status, _, raw = answer.split(":", 2)
                self.send_body(int(status), raw.encode(), "text/xml")
            else:
                status, code, *message = answer.split(":", 2)
                xml = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message[0] if message else code}</Message></Error>"
                    "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
                ).encode()
                self.send_body(int(status), xml, "text/xml")

        def forward(self, body: bytes) -> None:
            target = urllib.parse.urlsplit(args.forward)
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = self.headers.get("Host", target.netloc)
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            self.send_body(response.status, answer, response.getheader("Content-Type", "text/xml"))
            return answer

    server = LoopbackServer(Handler)
    serve_in_background(server)
    base = f"http://{LOOPBACK}:{server.server_port}"
    return announce_and_wait({"endpoint": base, "log": f"{base}/_log"})


# --------------------------------------------------------------------------
# EC2 instance metadata (IMDSv2)
# --------------------------------------------------------------------------


def cmd_imds(args) -> int:
    """An IMDSv2-shaped endpoint: PUT /latest/api/token for a session token, then
    with it GET the role's name and its credentials, as an EC2 instance answers."""
    session_token = secrets.token_urlsafe(32)
    requests: list[dict] = []
    state = {"token_failures": args.fail_token}
    credentials = json.loads(args.credentials)
    role_path = "/latest/meta-data/iam/security-credentials/"

    class Handler(QuietHandler):
        def record(self, answer: int) -> None:
            requests.append({"method": self.command, "path": self.path, "answer": answer})

        def do_PUT(self) -> None:
            if self.path != "/latest/api/token" or "X-aws-ec2-metadata-token-ttl-seconds" not in self.headers:
                self.record(400)
                return self.send_body(400, b"", "text/plain")
            if state["token_failures"] > 0:
                state["token_failures"] -= 1
                self.record(503)
                return self.send_body(503, b"", "text/plain")
            self.record(200)
            body = session_token.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            # An IMDSv2 token answer says how long the token lives; SDKs refuse one that does not.
            self.send_header("X-aws-ec2-metadata-token-ttl-seconds",
                             self.headers["X-aws-ec2-metadata-token-ttl-seconds"])
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/_log":
                return self.send_json(200, requests)
            if self.headers.get("X-aws-ec2-metadata-token") != session_token:
                self.record(401)
                return self.send_body(401, b"", "text/plain")
            if self.path == role_path:
                if args.no_role:
                    self.record(404)
                    return self.send_body(404, b"", "text/plain")
                self.record(200)
                return self.send_body(200, args.role.encode(), "text/plain")
            if self.path == role_path + args.role and not args.no_role:
                self.record(200)
                body = {"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": "2026-01-01T00:00:00Z", **credentials}
                return self.send_json(200, body)
            self.record(404)
            self.send_body(404, b"", "text/plain")

    server = LoopbackServer(Handler)
    serve_in_background(server)
    host, port = server.server_address
    return announce_and_wait({"endpoint": f"http://{host}:{port}", "log": f"http://{host}:{port}/_log"})
class BacklogServer(LoopbackServer):
    """A LoopbackServer whose listen backlog takes a whole CI matrix at once.

    socketserver's default backlog is 5: with 200 clients connecting in the
    same millisecond the kernel drops the SYNs past it and each of those
    clients waits a full second before its SYN is sent again, which would
    be measured as throttling that no STS applies."""

    request_queue_size = 1024


STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


def sts_error_xml(code: str, message: str, sender: bool = True) -> bytes:
    return (
        f'<ErrorResponse xmlns="{STS_XMLNS}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def random_id(prefix: str, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length - len(prefix)))


def random_secret() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, unverified (the throttling peer checks nothing)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class StsAnswers:
    """Success answers in real STS's shape for AssumeRoleWithWebIdentity,
    AssumeRole and GetCallerIdentity, with fresh random credentials. Nothing is
    checked (token, signature, trust, policy): the peer it serves is about
    throttling. Remembers which session each minted access key belongs to, so
    a later request signed with it (GetCallerIdentity) is answered as that
    session."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}
        self.lock = threading.Lock()

    def answer(self, form: dict, access_key: str | None) -> tuple[int, bytes]:
        action = form.get("Action", [""])[0]
        value = lambda name, default=None: form.get(name, [default])[0]  # noqa: E731
        request_id = uuid.uuid4()
        if action in ("AssumeRoleWithWebIdentity", "AssumeRole"):
            role_arn, session = value("RoleArn"), value("RoleSessionName")
            if not role_arn or not session or (action == "AssumeRoleWithWebIdentity" and not value("WebIdentityToken")):
                return 400, sts_error_xml("MissingParameter", "RoleArn, RoleSessionName (and WebIdentityToken) are required")
            parts = role_arn.split(":", 5)
            if len(parts) != 6 or not parts[5].startswith("role/"):
                return 400, sts_error_xml("ValidationError", f"{role_arn} is invalid")
            account, role = parts[4], parts[5].rsplit("/", 1)[-1]
            duration = int(value("DurationSeconds", "3600"))
            expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=duration)
            key = random_id("ASIA", 20)
            role_id = random_id("AROA", 21)
            arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
            with self.lock:
                self.sessions[key] = {"arn": arn, "user_id": f"{role_id}:{session}", "account": account, "session": session}
            result = (
                f"<Credentials><AccessKeyId>{key}</AccessKeyId>"
                f"<SecretAccessKey>{random_secret()}</SecretAccessKey>"
                f"<SessionToken>{base64.b64encode(secrets.token_bytes(300)).decode()}</SessionToken>"
                f"<Expiration>{expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>"
                f"<AssumedRoleUser><AssumedRoleId>{role_id}:{session}</AssumedRoleId><Arn>{arn}</Arn></AssumedRoleUser>"
            )
            if action == "AssumeRoleWithWebIdentity":
                claims = jwt_claims(value("WebIdentityToken"))
                issuer = str(claims.get("iss", GITHUB_ISSUER))
                result += (
                    f"<SubjectFromWebIdentityToken>{claims.get('sub', '')}</SubjectFromWebIdentityToken>"
                    f"<Audience>{claims.get('aud', '')}</Audience>"
                    f"<Provider>{urllib.parse.urlsplit(issuer).netloc or issuer}</Provider>"
                )
            else:
                result += "<PackedPolicySize>6</PackedPolicySize>"
        elif action == "GetCallerIdentity":
            with self.lock:
                who = self.sessions.get(access_key or "")
            if who is None:
                return 403, sts_error_xml("InvalidClientTokenId", "The security token included in the request is invalid.")
            result = f"<Arn>{who['arn']}</Arn><UserId>{who['user_id']}</UserId><Account>{who['account']}</Account>"
        else:
            return 400, sts_error_xml("InvalidAction", f"Could not find operation {action or '(none)'}")
        body = (
            f'<{action}Response xmlns="{STS_XMLNS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        )
        return 200, body.encode()

    def session_of(self, access_key: str | None) -> str | None:
        with self.lock:
            who = self.sessions.get(access_key or "")
        return who["session"] if who else None

    def learn(self, body: bytes, session: str | None) -> None:
        """Remembers the access key in a forwarded success answer."""
        start, end = body.find(b"<AccessKeyId>"), body.find(b"</AccessKeyId>")
        if session and start >= 0 and end > start:
            key = body[start + len(b"<AccessKeyId>"):end].decode()
            with self.lock:
                self.sessions[key] = {"session": session}


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; a request takes one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def cmd_throttled_sts(args) -> int:
    """An STS with a request quota: every POST takes a token from one bucket
    (`--burst` tokens, refilled at `--rate` per second, like STS's per-account
    quota); without one it gets STS's 400 Throttling error. Admitted requests
    go to --forward, or are answered here (StsAnswers)."""
    bucket = TokenBucket(args.rate, args.burst)
    answers = StsAnswers()
    seen: list[dict] = []
    lock = threading.Lock()
    started = time.time()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path == "/_log":
                with lock:
                    self.send_json(200, list(seen))
            else:
                self.send_body(404, b"Not Found", "text/plain")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            at = time.time()
            admitted = bucket.take()
            form = urllib.parse.parse_qs(body.decode(errors="replace"))
            credential = self.headers.get("Authorization", "").partition("Credential=")[2]
            access_key = credential.split("/", 1)[0] or None
            job = form.get("RoleSessionName", [None])[0] or answers.session_of(access_key)
            entry = {"t": at, "action": form.get("Action", [""])[0], "admitted": admitted, "job": job}
            with lock:
                seen.append(entry)
            if not admitted:
                status, answer = 400, sts_error_xml("Throttling", "Rate exceeded")
            elif args.forward:
                status, answer = self.forward(body)
                if status == 200:
                    answers.learn(answer, form.get("RoleSessionName", [None])[0])
            else:
                status, answer = answers.answer(form, access_key)
            entry["status"] = status
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(answer)

        def forward(self, body: bytes) -> tuple[int, bytes]:
            target = urllib.parse.urlsplit(args.forward)
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = self.headers.get("Host", target.netloc)
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except OSError as e:
                return 502, sts_error_xml("ServiceUnavailable", f"forwarding failed: {e}", sender=False)
            finally:
                conn.close()

    server = BacklogServer(Handler)
    serve_in_background(server)
    base = f"http://{LOOPBACK}:{server.server_port}"
    return announce_and_wait({
        "endpoint": base, "log": f"{base}/_log", "rate": args.rate, "burst": args.burst, "started": started,
    })


LIES = (
    "none", "short", "huge", "empty-secret", "expired", "beyond-max", "truncated", "bad-arn", "newline-token",
    "error", "unavailable",
)


def cmd_lying_sts(args) -> int:
    """An STS whose answers are shaped like STS's and are not to be believed,
    for checks no real STS can exercise. A request's RoleSessionName chooses
    the lie, `lie-<kind>`; other requests take the --lie answers in order, the
    last one again once they are used up. A lie is the answer of StsAnswers,
    altered, or an error."""
    answers = StsAnswers()
    seen: list[dict] = []
    lock = threading.Lock()
    script = list(args.lie or ["none"])

    def retime(text: str, delta: datetime.timedelta) -> str:
        at = (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
        return re.sub(r"<Expiration>[^<]*</Expiration>", f"<Expiration>{at}</Expiration>", text)

    def lie_about(lie: str, text: str) -> str:
        if lie == "short":
            # Sound, but valid for seconds only, as no STS grants.
            return retime(text, datetime.timedelta(seconds=args.short_seconds))
        if lie == "empty-secret":
            return re.sub(r"<SecretAccessKey>[^<]*</SecretAccessKey>", "<SecretAccessKey></SecretAccessKey>", text)
        if lie == "expired":
            return retime(text, datetime.timedelta(hours=-1))
        if lie == "beyond-max":
            # STS grants at most 12 hours.
            return retime(text, datetime.timedelta(hours=36))
        if lie == "truncated":
            return text[: len(text) // 2]
        if lie == "bad-arn":
            return re.sub(r"<Arn>[^<]*</Arn>", "<Arn>arn:aws:iam::123456789012:role/not-a-session</Arn>", text)
        if lie == "newline-token":
            # A line break (CR LF, then LF) in the token, as character references.
            return re.sub(
                r"<SessionToken>([^<]{40})([^<]*)</SessionToken>",
                r"<SessionToken>\1&#13;&#10;::set-env name=INJECTED::1&#10;\2</SessionToken>",
                text,
            )
        return text

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path == "/_log":
                with lock:
                    self.send_json(200, list(seen))
            else:
                self.send_body(404, b"Not Found", "text/plain")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = urllib.parse.parse_qs(body.decode(errors="replace"))
            session = form.get("RoleSessionName", [""])[0]
            action = form.get("Action", [""])[0]
            with lock:
                if session.startswith("lie-"):
                    lie = session[len("lie-"):]
                else:
                    lie = script.pop(0) if len(script) > 1 else script[0]
                entry = {"action": action, "session": session, "lie": lie}
                seen.append(entry)
            if lie not in LIES:
                return self.send_body(400, sts_error_xml("ValidationError", f"no such lie: {lie}"), "text/xml")
            if lie == "huge":
                prefix = f'<{action}Response xmlns="{STS_XMLNS}"><{action}Result>'.encode()
                return self.send_endless(200, "text/xml", prefix, args.huge_bytes)
            if lie == "error":
                message = xml.sax.saxutils.escape(args.message, {"\r": "&#13;"})
                return self.send_body(403, sts_error_xml("AccessDenied", message), "text/xml")
            if lie == "unavailable":
                message = xml.sax.saxutils.escape(args.message, {"\r": "&#13;"})
                return self.send_body(503, sts_error_xml("ServiceUnavailable", message, sender=False), "text/xml")
            status, answer = answers.answer(form, None)
            text = answer.decode()
            if status == 200:
                text = lie_about(lie, text)
                minted = {
                    name: m[1] for name in ("AccessKeyId", "SecretAccessKey", "SessionToken")
                    if (m := re.search(f"<{name}>([^<]*)</{name}>", text))
                }
                with lock:
                    entry["minted"] = minted
            self.send_body(status, text.encode(), "text/xml")

    server = LoopbackServer(Handler)
    serve_in_background(server)
    base = f"http://{LOOPBACK}:{server.server_port}"
    return announce_and_wait({"endpoint": base, "log": f"{base}/_log"})


def real_sts_error_shape(app):
    """moto's IAM-enforcement errors come as <ErrorResponse><Errors><Error>…, the
    EC2 shape; real STS (an awsQuery service) sends <ErrorResponse><Error>…, and
    that is the shape the Rust SDK parses. Rewrite the wrapper, nothing else."""

    def middleware(environ, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        body = b"".join(app(environ, capture))
        if body.startswith(b"<?xml") and b"<ErrorResponse><Errors><Error>" in body:
            body = body.replace(b"<ErrorResponse><Errors><Error>", b"<ErrorResponse><Error>")
            body = body.replace(b"</Error></Errors></ErrorResponse>", b"</Error></ErrorResponse>")
            captured["headers"] = [
                (k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured["headers"]
            ]
        start_response(captured["status"], captured["headers"])
        return [body]

    return middleware


def cmd_moto(args) -> int:
    isolate_from_caller_environment()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    ssl_context, ca_bundle = None, None
    if args.tls:
        ca_path, cert_path, key_path = write_tls_files(Path(args.tls).resolve())
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(cert_path, key_path)
        ca_bundle = str(ca_path)

    app = real_sts_error_shape(DomainDispatcherApplication(create_backend_app))
    server = make_server(LOOPBACK, 0, app, threaded=True, ssl_context=ssl_context)
    serve_in_background(server)
    endpoint = f"{'https' if ssl_context else 'http'}://{LOOPBACK}:{server.server_port}"

    scenario = seed_scenario(endpoint, ca_bundle)
    if args.auth:
        enable_moto_auth(endpoint, ca_bundle)
    return announce_and_wait({"endpoint": endpoint, "ca_bundle": ca_bundle, **scenario})


# --------------------------------------------------------------------------


def main() -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("moto", parents=[common], help="moto AWS emulator with the deploy scenario")
    p.add_argument("--auth", action="store_true", help="enforce SigV4 and IAM policies after seeding")
    p.add_argument("--tls", metavar="DIR", help="serve HTTPS; write ca.pem, server.pem, server-key.pem to DIR")
    p.set_defaults(run=cmd_moto)

    p = commands.add_parser("github-token", parents=[common], help="GitHub Actions runner OIDC endpoint")
    p.add_argument("--sub", help="sub claim (default: repo:<repository>:ref:refs/heads/main)")
    p.add_argument("--repository", default=DEFAULT_REPOSITORY, help="owner/name")
    p.add_argument("--fail", type=int, default=0, metavar="N", help="answer the first N token requests with 503")
    p.add_argument("--exp-in", type=int, default=300, metavar="SECONDS", help="lifetime of the tokens minted")
    p.add_argument("--huge", type=int, default=0, metavar="BYTES",
                   help="answer token requests with 200 and a body of BYTES that never closes its JSON string")
    p.add_argument("--tls", metavar="DIR", help="serve HTTPS with a CA of its own, written to DIR (ca.pem)")
    p.add_argument("--flavor", choices=["github", "forgejo"], default="github",
                   help="forgejo: Forgejo's URL shape and claims, the issuer http://127.0.0.1:PORT/api/actions")
    p.add_argument("--slow", type=float, default=0, metavar="SECONDS", help="wait this long before answering")
    p.add_argument("--aud", help="mint tokens for this audience, whatever was asked for")
    p.set_defaults(run=cmd_github_token)

    p = commands.add_parser("azure-token", parents=[common], help="Azure DevOps' OIDC token endpoint")
    p.add_argument("--fail", type=int, default=0, metavar="N", help="answer the first N token requests with 503")
    p.add_argument("--huge", type=int, default=0, metavar="BYTES", help="answer with a JSON reply that never ends")
    p.add_argument("--slow", type=float, default=0, metavar="SECONDS", help="wait this long before answering")
    p.add_argument("--html", action="store_true", help="answer 203 with the sign-in page, as for a token refused")
    p.add_argument("--aud", help="mint tokens for this audience instead of Azure DevOps' own")
    p.add_argument("--entra", metavar="TENANT", help="service connection tokens from this tenant's Entra issuer")
    p.set_defaults(run=cmd_azure_token)

    p = commands.add_parser("gcp-metadata", parents=[common], help="Google's metadata server (identity tokens)")
    p.add_argument("--fail", type=int, default=0, metavar="N", help="answer the first N token requests with 503")
    p.add_argument("--huge", type=int, default=0, metavar="BYTES", help="answer with a token that never ends")
    p.add_argument("--slow", type=float, default=0, metavar="SECONDS", help="wait this long before answering")
    p.add_argument("--html", action="store_true", help="answer 200 with an HTML page (a captive portal)")
    p.add_argument("--aud", help="mint tokens for this audience, whatever was asked for")
    p.add_argument("--no-flavor", action="store_true", help="answer without Metadata-Flavor: Google (an impostor)")
    p.add_argument("--no-account", action="store_true", help="no default service account (404)")
    p.add_argument("--account-id", default="100018646976219416293", help="the service account's unique ID")
    p.add_argument("--email", default="deploy@acme-build.iam.gserviceaccount.com")
    p.set_defaults(run=cmd_gcp_metadata)

    p = commands.add_parser("proxy", parents=[common], help="HTTP proxy for 127.0.0.1/localhost targets")
    p.set_defaults(run=cmd_proxy)

    p = commands.add_parser("faulty-sts", parents=[common], help="STS answering with scripted errors")
    p.add_argument("--respond", action="append", default=[], metavar="STATUS:CODE[:MESSAGE]|STATUS:raw:BODY|slow:SECONDS|forward",
                   help="next answer, in order (repeatable)")
    p.add_argument("--forward", metavar="URL", help="send requests past the script to this STS (e.g. moto)")
    p.set_defaults(run=cmd_faulty_sts)

    p = commands.add_parser("imds", parents=[common], help="EC2 instance metadata (IMDSv2) serving a role's credentials")
    p.add_argument("--credentials", required=True, metavar="JSON",
                   help='{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} to serve')
    p.add_argument("--role", default="runner-instance-role", help="the instance profile's role name")
    p.add_argument("--no-role", action="store_true", help="an instance without an instance profile (404)")
    p.add_argument("--fail-token", type=int, default=0, metavar="N", help="answer the first N token PUTs with 503")
    p.set_defaults(run=cmd_imds)

    p = commands.add_parser("throttled-sts", parents=[common], help="STS with a token-bucket request quota")
    p.add_argument("--rate", type=float, default=50, metavar="PER_SECOND", help="tokens added per second")
    p.add_argument("--burst", type=float, default=50, metavar="N", help="bucket size (and its content at start)")
    p.add_argument("--forward", metavar="URL", help="send admitted requests to this STS (e.g. moto); default: answer them here")
    p.set_defaults(run=cmd_throttled_sts)

    p = commands.add_parser("lying-sts", parents=[common], help="STS answers shaped right with something wrong in them")
    p.add_argument("--lie", choices=LIES, action="append",
                   help="the next answer for requests whose RoleSessionName is not lie-<kind> (repeatable; default none)")
    p.add_argument("--huge-bytes", type=int, default=64 << 20, metavar="BYTES", help="the size of the `huge` answer")
    p.add_argument("--short-seconds", type=int, default=4, metavar="SECONDS", help="the lifetime of `short` credentials")
    p.add_argument("--message", default="Not authorized",
                   help="the message of the `error` (403 AccessDenied) and `unavailable` (503 ServiceUnavailable) answers")
    p.set_defaults(run=cmd_lying_sts)

    p = commands.add_parser("mint-token", help="print one GitHub-shaped JWT")
    p.add_argument("--aud", help="audience (default: https://github.com/<owner>)")
    p.add_argument("--sub", help="subject (default: repo:octo-org/octo-repo:ref:refs/heads/main)")
    p.add_argument("--iss", default=GITHUB_ISSUER)
    p.add_argument("--exp-in", type=int, default=300, metavar="SECONDS", help="exp - now; negative = expired")
    p.add_argument("--claims", default="{}", metavar="JSON", help="claims to add or override")
    p.set_defaults(run=cmd_mint_token)

    args = parser.parse_args()
    # Our output goes to sys.__stdout__ explicitly; anything else printing
    # (moto, boto3, werkzeug) lands on stderr and cannot corrupt the one line
    # the parent parses.
    sys.stdout = sys.stderr
    level = logging.INFO if getattr(args, "verbose", False) else logging.WARNING
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(name)s: %(message)s",
    )
    # werkzeug raises its own logger to INFO unless it already has a level.
    logging.getLogger("werkzeug").setLevel(level)
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
