#!/usr/bin/env python3
"""End-to-end self-test of the conformance harness, without bankdeck.

    python3 tests/conformance/selftest.py [-v]

Makes the throw-away CA (make-ca.sh), starts server.mjs (running `npm ci` first
if node_modules is missing), and plays the client with the Python standard
library: discovery, client credentials (basic and post), authorization code +
PKCE through a loopback listener and browser.py, refresh with rotation and
reuse detection, introspection, revocation, RP-initiated logout, and real
expiry on a second server started with a 2 s access-token lifetime.
Prints "N passed, M failed" and exits non-zero if anything failed.
"""

import atexit
import base64
import hashlib
import http.server
import json
import os
import queue
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
VERBOSE = "-v" in sys.argv[1:]
SCOPE = "openid offline_access profile email accounts balance"


def info(msg):
    if VERBOSE:
        print(f"  . {msg}")


class Check(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Check(msg)


# ---------------------------------------------------------------- plumbing

def spawn_server(ca_dir, secret, extra_env=None):
    """Start server.mjs; wait_ready() then reads its READY line."""
    env = dict(os.environ, CONF_CLIENT_SECRET=secret, **(extra_env or {}))
    env.pop("CONF_IGNORE_STDIN", None)
    errlog = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        ["node", os.path.join(HERE, "server.mjs"),
         "--cert", os.path.join(ca_dir, "server.pem"), "--key", os.path.join(ca_dir, "server.key")],
        cwd=HERE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
    )
    proc.lines = queue.Queue()
    proc.errlog = errlog
    threading.Thread(target=lambda: [proc.lines.put(l) for l in proc.stdout] and None, daemon=True).start()
    return proc


def wait_ready(proc):
    try:
        line = proc.lines.get(timeout=20)
    except queue.Empty:
        line = b""
    if not line.startswith(b"READY "):
        proc.kill()
        proc.errlog.seek(0)
        raise SystemExit(f"server.mjs did not become ready; stdout: {line!r}\nstderr:\n{proc.errlog.read().decode()}")
    return json.loads(line[len(b"READY "):])


def stop_server(proc):
    proc.stdin.close()  # the server exits on stdin EOF
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


class Http:
    def __init__(self, cafile):
        ctx = ssl.create_default_context(cafile=cafile)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx), NoRedirect)

    def call(self, method, url, form=None, basic=None, bearer=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if basic:
            # RFC 6749 §2.3.1: form-urlencode id and secret before base64
            user, pw = (urllib.parse.quote(x, safe="") for x in basic)
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode())
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            resp = self.opener.open(req, timeout=10)
        except urllib.error.HTTPError as e:
            resp = e
        body = resp.read()
        status = getattr(resp, "status", None) or resp.code
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return status, resp.headers, parsed, body


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Loopback:
    """The application's loopback redirect listener: records one callback's query."""

    def __init__(self, path="/callback"):
        self.got = queue.Queue()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                outer.got.put((u.path, dict(urllib.parse.parse_qsl(u.query))))
                body = b"bankdeck: you may close this window\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}{path}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Suite:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and continue
            self.failed += 1
            # failure messages may quote response bodies: mask token and code values
            msg = re.sub(r"('(?:access_token|refresh_token|id_token|code)': ')[^']*'", r"\1***'", str(e))
            print(f"FAIL {name}: {type(e).__name__}: {msg}")
        else:
            self.passed += 1
            print(f"ok   {name} ({time.monotonic() - t:.2f}s)")


# ---------------------------------------------------------------- the client

class Client:
    def __init__(self, http, disco, client_id, secret, auth_method, ca_file):
        self.http, self.d = http, disco
        self.client_id, self.secret, self.auth = client_id, secret, auth_method
        self.ca_file = ca_file

    def token(self, form):
        form = dict(form)
        basic = None
        if self.auth == "client_secret_basic":
            basic = (self.client_id, self.secret)
        else:
            form.update(client_id=self.client_id, client_secret=self.secret)
        return self.http.call("POST", self.d["token_endpoint"], form=form, basic=basic)

    def authed(self, url, form):
        if self.auth == "client_secret_basic":
            return self.http.call("POST", url, form=form, basic=(self.client_id, self.secret))
        return self.http.call("POST", url, form=dict(form, client_id=self.client_id, client_secret=self.secret))

    def introspect(self, token, hint=None):
        form = {"token": token}
        if hint:
            form["token_type_hint"] = hint
        return self.authed(self.d["introspection_endpoint"], form)

    def revoke(self, token, hint=None):
        form = {"token": token}
        if hint:
            form["token_type_hint"] = hint
        return self.authed(self.d["revocation_endpoint"], form)

    def browser(self, url, **env):
        e = dict(os.environ, CONF_CA_FILE=self.ca_file, **env)
        return subprocess.run([sys.executable, os.path.join(HERE, "browser.py"), url],
                              env=e, capture_output=True, text=True, timeout=30)

    def authorize(self, scope=SCOPE, login="alice", extra=None, browser_env=None):
        """Authorization code + PKCE via the loopback listener and browser.py.
        Returns (callback query, code_verifier, redirect_uri, browser result)."""
        lb = Loopback()
        try:
            verifier = b64url(secrets.token_bytes(48))
            state, nonce = b64url(secrets.token_bytes(16)), b64url(secrets.token_bytes(16))
            params = {
                "response_type": "code", "client_id": self.client_id, "redirect_uri": lb.redirect_uri,
                "scope": scope, "state": state, "nonce": nonce,
                "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
                "code_challenge_method": "S256",
                # oidc-provider drops offline_access unless prompt=consent is sent (OIDC Core §11)
                "prompt": "consent" if "offline_access" in scope.split() else None,
            }
            params.update(extra or {})
            params = {k: v for k, v in params.items() if v is not None}
            url = self.d["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
            res = self.browser(url, CONF_LOGIN=login, **(browser_env or {}))
            try:
                path, query = lb.got.get(timeout=1)
            except queue.Empty:
                raise Check(f"no callback; browser rc={res.returncode}: {res.stderr.strip()}")
            expect(path == "/callback", f"callback path {path}")
            expect(query.get("state") == state, "state mismatch")
            query["_nonce"] = nonce
            return query, verifier, lb.redirect_uri, res
        finally:
            lb.close()

    def login_and_exchange(self, scope=SCOPE, login="alice"):
        q, verifier, redirect_uri, res = self.authorize(scope=scope, login=login)
        expect(res.returncode == 0, f"browser rc={res.returncode}: {res.stderr.strip()}")
        expect("code" in q, f"no code in callback: {sorted(q)}")
        st, _, body, raw = self.token({
            "grant_type": "authorization_code", "code": q["code"],
            "redirect_uri": redirect_uri, "code_verifier": verifier,
        })
        expect(st == 200, f"code exchange HTTP {st}: {raw[:300]!r}")
        return q, body


# ---------------------------------------------------------------- tests

def main():
    t0 = time.monotonic()
    if shutil.which("node") is None:
        print("selftest: `node` not found: install Node.js 20 or later (22 LTS recommended) with npm")
        return 1
    if not os.path.isdir(os.path.join(HERE, "node_modules", "oidc-provider")):
        print("selftest: installing oidc-provider from package-lock.json (npm ci)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)

    work = tempfile.mkdtemp(prefix="bankdeck-conf-")
    atexit.register(shutil.rmtree, work, True)  # also when a step aborts the run
    ca_dir = os.path.join(work, "ca")
    subprocess.run([os.path.join(HERE, "make-ca.sh"), ca_dir], check=True)
    ca_file = os.path.join(ca_dir, "ca.pem")
    secret = b64url(secrets.token_bytes(32))

    proc = spawn_server(ca_dir, secret)
    # a second server with a 2 s access token lifetime for the real expiry test, started in parallel
    proc2 = spawn_server(ca_dir, secret, {"CONF_ACCESS_TTL": "2", "CONF_CLOCK_TOLERANCE": "0"})
    ready = wait_ready(proc)
    issuer = ready["issuer"]
    print(f"server ready at {issuer} after {time.monotonic() - t0:.2f}s")
    http = Http(ca_file)
    s = Suite()
    ctx = {}

    def discovery():
        st, _, d, _ = http.call("GET", issuer + "/.well-known/openid-configuration")
        expect(st == 200, f"HTTP {st}")
        expect(d["issuer"] == issuer, "issuer")
        for k, path in [("authorization_endpoint", "/auth"), ("token_endpoint", "/token"),
                        ("introspection_endpoint", "/token/introspection"),
                        ("revocation_endpoint", "/token/revocation"), ("end_session_endpoint", "/session/end"),
                        ("userinfo_endpoint", "/me"), ("jwks_uri", "/jwks")]:
            expect(d.get(k) == issuer + path, f"{k} = {d.get(k)}")
        expect(d["code_challenge_methods_supported"] == ["S256"], "S256 only")
        expect(d["authorization_response_iss_parameter_supported"] is True, "RFC 9207 iss")
        for m in ("client_secret_basic", "client_secret_post"):
            expect(m in d["token_endpoint_auth_methods_supported"], m)
        for g in ("authorization_code", "refresh_token", "client_credentials"):
            expect(g in d["grant_types_supported"], g)
        for sc in SCOPE.split():
            expect(sc in d["scopes_supported"], sc)
        ctx["d"] = d
        ctx["basic"] = Client(http, d, "bankdeck-basic", secret, "client_secret_basic", ca_file)
        ctx["post"] = Client(http, d, "bankdeck-post", secret, "client_secret_post", ca_file)

    def client_credentials(which):
        def t():
            c = ctx[which]
            st, _, b, raw = c.token({"grant_type": "client_credentials", "scope": "accounts balance"})
            expect(st == 200, f"HTTP {st}: {raw[:300]!r}")
            expect(b["token_type"] == "Bearer" and b["expires_in"] == 60, f"{b.get('token_type')} {b.get('expires_in')}")
            expect(b["scope"] == "accounts balance", f"scope {b.get('scope')!r}")
            expect("refresh_token" not in b and "id_token" not in b, "no refresh/id token")
            st, _, i, _ = c.introspect(b["access_token"])
            expect(st == 200 and i["active"] is True, f"introspection {i}")
            expect(i["client_id"] == c.client_id and "sub" not in i, f"introspection {i}")
            info(f"client_credentials response keys: {sorted(b)}; introspection keys: {sorted(i)}")
        return t

    def wrong_auth_method():
        tok = ctx["d"]["token_endpoint"]
        # strict mode (server.mjs): each client must use the method it is registered with
        st, h, b, _ = http.call("POST", tok, form={
            "grant_type": "client_credentials", "client_id": "bankdeck-basic", "client_secret": secret})
        expect(st == 401 and b["error"] == "invalid_client", f"basic client via post: {st} {b}")
        st, h, b, _ = http.call("POST", tok, form={"grant_type": "client_credentials"}, basic=("bankdeck-post", secret))
        expect(st == 401 and b["error"] == "invalid_client", f"post client via basic: {st} {b}")
        st, h, b, _ = http.call("POST", tok, form={"grant_type": "client_credentials"},
                                basic=("bankdeck-basic", "wrong-secret-wrong-secret"))
        expect(st == 401 and b["error"] == "invalid_client", f"{st} {b}")
        info(f"wrong secret: {st} {b} WWW-Authenticate={h.get('WWW-Authenticate')!r}")
        st, h, b, _ = http.call("POST", tok, form={"grant_type": "client_credentials", "client_id": "bankdeck-post",
                                                   "client_secret": "wrong-secret-wrong-secret"})
        expect(st == 401 and b["error"] == "invalid_client", f"{st} {b}")
        # /token takes form bodies only
        st, _, b, _ = http.call("POST", tok, basic=("bankdeck-basic", secret),
                                headers={"Content-Type": "application/json"})
        expect(st == 400 and b["error"] == "invalid_request", f"JSON body: {st} {b}")
        info(f"JSON body at /token: {st} {b}")
        st, _, b, _ = ctx["post"].token({"grant_type": "client_credentials", "scope": "accounts",
                                         "resource": "https://api.example.test/"})
        expect(st == 400 and b["error"] == "invalid_target", f"resource= → {st} {b}")
        info(f"resource= → {st} {b}")
        st, _, b, _ = ctx["post"].token({"grant_type": "client_credentials", "scope": "transfer"})
        info(f"client_credentials with an unknown scope: {st} {b if st != 200 else sorted(b)}")

    def auth_code(which):
        def t():
            c = ctx[which]
            q, b = c.login_and_exchange()
            expect(q.get("iss") == issuer, f"iss in authorization response: {q.get('iss')!r}")
            expect(set(q) == {"code", "state", "iss", "_nonce"}, f"callback params {sorted(q)}")
            for k in ("access_token", "refresh_token", "id_token"):
                expect(k in b, f"missing {k}")
            expect(b["token_type"] == "Bearer" and b["expires_in"] == 60, f"{b['token_type']} {b['expires_in']}")
            expect(set(b["scope"].split()) == set(SCOPE.split()), f"scope {b.get('scope')!r}")
            idt = jwt_claims(b["id_token"])
            expect(idt["iss"] == issuer and idt["aud"] == c.client_id and idt["sub"] == "alice", f"id_token {idt}")
            expect(idt["nonce"] == q["_nonce"], "nonce")
            info(f"token response keys: {sorted(b)} scope={b['scope']!r}; id_token claims: {sorted(idt)}")
            st, _, ui, _ = http.call("GET", ctx["d"]["userinfo_endpoint"], bearer=b["access_token"])
            expect(st == 200 and ui["sub"] == "alice", f"userinfo {st} {ui}")
            info(f"userinfo: {ui}")
            ctx[which + "_tokens"] = b
        return t

    def pkce_required():
        c = ctx["basic"]
        q, _, _, res = c.authorize(extra={"code_challenge": None, "code_challenge_method": None})
        expect(res.returncode == 2, f"browser rc={res.returncode}")
        expect(q.get("error") == "invalid_request", f"{q}")
        info(f"no PKCE → error={q.get('error')} ({q.get('error_description')}), iss={q.get('iss') == issuer}")
        q, _, _, res = c.authorize(extra={"code_challenge_method": "plain"})
        expect(q.get("error") == "invalid_request", f"plain → {q}")

    def wrong_verifier():
        c = ctx["basic"]
        q, _, redirect_uri, _ = c.authorize()
        st, _, b, _ = c.token({"grant_type": "authorization_code", "code": q["code"], "redirect_uri": redirect_uri,
                               "code_verifier": b64url(secrets.token_bytes(48))})
        expect(st == 400 and b["error"] == "invalid_grant", f"{st} {b}")
        info(f"wrong code_verifier → {b}")

    def consent_denied():
        q, _, _, res = ctx["basic"].authorize(browser_env={"CONF_CONSENT": "no"})
        expect(res.returncode == 2 and q.get("error") == "access_denied", f"rc={res.returncode} {q}")

    def offline_access_needs_prompt_consent():
        # OIDC Core §11, as oidc-provider applies it: offline_access without prompt=consent is dropped
        c = ctx["post"]
        q, verifier, redirect_uri, res = c.authorize(extra={"prompt": None})
        st, _, b, _ = c.token({"grant_type": "authorization_code", "code": q["code"],
                               "redirect_uri": redirect_uri, "code_verifier": verifier})
        expect(st == 200, f"exchange {st}")
        expect("offline_access" not in b["scope"].split(), f"scope {b['scope']!r}")
        expect("refresh_token" in b, "refresh token (issueRefreshToken override) missing")
        info(f"offline_access without prompt=consent → scope {b['scope']!r}, refresh_token issued anyway")

    def refresh_rotation():
        c = ctx["basic"]
        rt1 = ctx["basic_tokens"]["refresh_token"]
        st, _, r2, raw = c.token({"grant_type": "refresh_token", "refresh_token": rt1})
        expect(st == 200, f"refresh 1 HTTP {st}: {raw[:200]!r}")
        rt2 = r2["refresh_token"]
        expect(rt2 != rt1, "refresh token not rotated")
        info(f"refresh response keys: {sorted(r2)} scope={r2.get('scope')!r}")
        st, _, r3, _ = c.token({"grant_type": "refresh_token", "refresh_token": rt2})
        expect(st == 200 and r3["refresh_token"] not in (rt1, rt2), "refresh 2")
        ctx["rot"] = (rt1, rt2, r3)

    def refresh_reuse():
        c = ctx["basic"]
        rt1, rt2, r3 = ctx["rot"]
        st, _, b, _ = c.token({"grant_type": "refresh_token", "refresh_token": rt1})
        expect(st == 400 and b["error"] == "invalid_grant", f"reuse → {st} {b}")
        info(f"reused rotated refresh token → {b}")
        st, _, b, _ = c.token({"grant_type": "refresh_token", "refresh_token": r3["refresh_token"]})
        expect(st == 400 and b["error"] == "invalid_grant", f"newest after reuse → {st} {b}")
        info(f"newest refresh token after reuse → {b}")
        st, _, i, _ = c.introspect(r3["access_token"])
        expect(i == {"active": False}, f"access token after reuse: {i}")

    def introspection():
        c = ctx["post"]
        b = ctx["post_tokens"]
        st, _, i, _ = c.introspect(b["access_token"], "access_token")
        expect(st == 200 and i["active"] is True, f"{st} {i}")
        expect(i["exp"] - i["iat"] == 60, f"exp - iat = {i['exp'] - i['iat']}")
        expect(i["client_id"] == c.client_id and i["sub"] == "alice" and i["iss"] == issuer, f"{i}")
        expect(i["token_type"] == "Bearer", f"{i}")
        info(f"introspection (access token): {sorted(i)} scope={i.get('scope')!r}")
        st, _, i, _ = c.introspect(b["refresh_token"], "refresh_token")
        expect(i["active"] is True and i["exp"] - i["iat"] == 86400, f"refresh token introspection {i}")
        # a client may introspect another client's tokens (allowedPolicy default for confidential clients)
        st, _, i, _ = ctx["basic"].introspect(b["access_token"])
        info(f"introspection of bankdeck-post's token by bankdeck-basic: active={i['active']}")

    def revocation():
        c = ctx["post"]
        b = ctx["post_tokens"]
        st, _, body, raw = c.revoke(b["refresh_token"], "refresh_token")
        expect(st == 200 and raw == b"", f"revocation {st} {raw!r}")
        st, _, r, _ = c.token({"grant_type": "refresh_token", "refresh_token": b["refresh_token"]})
        expect(st == 400 and r["error"] == "invalid_grant", f"refresh after revocation {st} {r}")
        info(f"refresh after revocation → {r}")
        st, _, i, _ = c.introspect(b["access_token"])
        expect(i == {"active": False}, f"access token after refresh-token revocation: {i}")
        st, _, _, raw = c.revoke("not-a-token-at-all")
        expect(st == 200, f"revoking an unknown token {st} {raw!r}")

    def revoke_access_token():
        # oidc-provider: revoking an access token revokes every token of its grant
        c = ctx["basic"]
        _, b = c.login_and_exchange(login="bob")
        st, _, _, raw = c.revoke(b["access_token"], "access_token")
        expect(st == 200 and raw == b"", f"{st} {raw!r}")
        st, _, i, _ = c.introspect(b["access_token"])
        expect(i == {"active": False}, "revoked access token still active")
        st, _, r, _ = c.token({"grant_type": "refresh_token", "refresh_token": b["refresh_token"]})
        expect(st == 400 and r["error"] == "invalid_grant", f"refresh after revoking the access token: {st} {r}")

    def logout_session_end():
        # RP-initiated logout in the same browser session (cookie jar kept across runs).
        c = ctx["basic"]
        jar = os.path.join(work, "jar.txt")
        env = {"CONF_COOKIE_JAR": jar}
        q, verifier, redirect_uri, res = c.authorize(browser_env=env)
        st, _, b, _ = c.token({"grant_type": "authorization_code", "code": q["code"],
                               "redirect_uri": redirect_uri, "code_verifier": verifier})
        expect(st == 200, f"exchange {st}")
        q2, v2, ru2, res = c.authorize(scope="openid accounts", browser_env=env)
        st, _, b2, _ = c.token({"grant_type": "authorization_code", "code": q2["code"],
                                "redirect_uri": ru2, "code_verifier": v2})
        expect(st == 200 and "refresh_token" in b2, f"exchange without offline_access {st}")
        lb = Loopback()
        try:
            url = ctx["d"]["end_session_endpoint"] + "?" + urllib.parse.urlencode({
                "id_token_hint": b2["id_token"], "post_logout_redirect_uri": lb.redirect_uri, "state": "bye"})
            res = c.browser(url, **env)
            expect(res.returncode == 0, f"browser logout rc={res.returncode}: {res.stderr.strip()}")
            path, lq = lb.got.get(timeout=1)
            expect(lq == {"state": "bye"}, f"post logout redirect query {lq}")
        finally:
            lb.close()
        # offline_access grant survives the browser logout, the other one does not
        st, _, r, _ = c.token({"grant_type": "refresh_token", "refresh_token": b["refresh_token"]})
        expect(st == 200, f"offline_access refresh after /session/end: {st} {r}")
        st, _, r, _ = c.token({"grant_type": "refresh_token", "refresh_token": b2["refresh_token"]})
        expect(st == 400 and r["error"] == "invalid_grant", f"non-offline refresh after /session/end: {st} {r}")
        info(f"/session/end: offline_access refresh still works; without offline_access → {r}")

    s.run("discovery", discovery)
    s.run("client_credentials, client_secret_basic", client_credentials("basic"))
    s.run("client_credentials, client_secret_post", client_credentials("post"))
    s.run("wrong client auth → invalid_client; resource= → invalid_target", wrong_auth_method)
    s.run("authorization code + PKCE via browser.py (basic)", auth_code("basic"))
    s.run("authorization code + PKCE via browser.py (post)", auth_code("post"))
    s.run("PKCE required, S256 only", pkce_required)
    s.run("wrong code_verifier → invalid_grant", wrong_verifier)
    s.run("consent refused → access_denied delivered", consent_denied)
    s.run("offline_access without prompt=consent is dropped", offline_access_needs_prompt_consent)
    s.run("refresh rotates the refresh token", refresh_rotation)
    s.run("reuse of a rotated refresh token revokes the grant", refresh_reuse)
    s.run("introspection: active, exp - iat == 60", introspection)
    s.run("revoking the refresh token kills refresh and access", revocation)
    s.run("revoking the access token also kills the refresh token", revoke_access_token)
    s.run("RP-initiated logout via /session/end", logout_session_end)

    rc = stop_server(proc)
    s.run("server exits 0 when stdin closes", lambda: expect(rc == 0, f"exit status {rc}"))

    # Real expiry, on a second server with a 2 s access token lifetime.
    def expiry():
        p2, r2 = proc2, wait_ready(proc2)
        try:
            st, _, d, _ = http.call("GET", r2["issuer"] + "/.well-known/openid-configuration")
            c = Client(http, d, "bankdeck-post", secret, "client_secret_post", ca_file)
            st, _, cc, _ = c.token({"grant_type": "client_credentials", "scope": "accounts"})
            expect(cc["expires_in"] == 2, f"client credentials expires_in {cc['expires_in']}")
            _, b = c.login_and_exchange()
            expect(b["expires_in"] == 2, f"expires_in {b['expires_in']}")
            i = c.introspect(b["access_token"])[2]
            expect(i["active"] is True and i["exp"] - i["iat"] == 2, f"{i}")
            st, _, ui, _ = http.call("GET", d["userinfo_endpoint"], bearer=b["access_token"])
            expect(st == 200, f"userinfo before expiry {st}")
            time.sleep(max(0.0, i["exp"] + 0.1 - time.time()))  # expired once now >= exp
            i = c.introspect(b["access_token"])[2]
            expect(i == {"active": False}, f"after expiry: {i}")
            expect(c.introspect(cc["access_token"])[2] == {"active": False}, "client credentials token after expiry")
            st, h, ui, _ = http.call("GET", d["userinfo_endpoint"], bearer=b["access_token"])
            expect(st == 401 and ui["error"] == "invalid_token", f"userinfo after expiry {st} {ui}")
            info(f"userinfo with an expired token → {st} {ui} WWW-Authenticate={h.get('WWW-Authenticate')!r}")
            st, _, r, _ = c.token({"grant_type": "refresh_token", "refresh_token": b["refresh_token"]})
            expect(st == 200 and c.introspect(r["access_token"])[2]["active"] is True, "refresh after expiry")
        finally:
            p2.send_signal(15)
            p2.wait(timeout=5)
    s.run("expiry (CONF_ACCESS_TTL=2): introspection inactive after exp", expiry)

    print(f"{s.passed} passed, {s.failed} failed in {time.monotonic() - t0:.1f}s")
    if s.failed and VERBOSE or os.environ.get("CONF_DEBUG") == "1":
        proc.errlog.seek(0)
        print(proc.errlog.read().decode(), file=sys.stderr)
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
