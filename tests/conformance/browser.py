#!/usr/bin/env python3
"""$BROWSER stand-in for bankdeck's conformance tests (Python standard library only).

    browser.py URL

Invoked the way an application invokes a real browser. It opens URL at the
oidc-provider (HTTPS, trusting the throw-away CA), follows redirects with a
cookie jar, completes oidc-provider's development interactions (login, then
consent; or the RP-initiated logout confirmation), and finally delivers the
redirect to the loopback redirect URI (http://127.0.0.1:PORT/...) with one plain
GET, exactly as a browser would.

Environment:
  CONF_CA_FILE          CA certificate (PEM) to trust for https (make-ca.sh's ca.pem);
                        unset: the system trust store
  CONF_LOGIN            login name at the development login, default "alice"
                        (oidc-provider makes it the subject, `sub`)
  CONF_PASSWORD         password, default "test" (devInteractions accepts anything)
  CONF_CONSENT          "yes" (default) grants consent; "no" aborts the interaction,
                        which makes the provider redirect with error=access_denied
  CONF_COOKIE_JAR       optional file to load/save cookies across runs (needed to
                        log the same browser session out later via /session/end)
  CONF_BROWSER_TIMEOUT  per-request timeout in seconds, default 10
  CONF_BROWSER_VERBOSE  "1": trace each step (paths only, never query strings) on stderr

Exit status:
  0  the redirect to the loopback URI was delivered and carried no `error`
     parameter, or a logout ended on the provider's own sign-out success page
  2  a redirect carrying `error=...` was delivered to the loopback URI
     (the error code and description are printed on stderr)
  1  anything else (TLS failure, unexpected page, HTTP error, loop, timeout);
     the reason is printed on stderr
Nothing is printed on stdout. Codes, tokens and query strings are never printed.
"""

import http.cookiejar
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

MAX_STEPS = 30
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


class Fail(Exception):
    pass


def log(msg):
    if os.environ.get("CONF_BROWSER_VERBOSE") == "1":
        print(f"browser: {msg}", file=sys.stderr)


def show(url):
    """A URL without its query and fragment, safe to print."""
    p = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, p.path, "", ""))


class Forms(HTMLParser):
    """Collects <form>s with their <input>s (name, value) and the page title."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form["inputs"].append((a["name"], a.get("value") or ""))
        elif tag == "title":
            self._in_title = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # redirects are handled (and bounded) by the loop below


def main(argv):
    if len(argv) != 2:
        print("usage: browser.py URL", file=sys.stderr)
        return 1
    url = argv[1]
    timeout = float(os.environ.get("CONF_BROWSER_TIMEOUT", "10"))
    login = os.environ.get("CONF_LOGIN", "alice")
    password = os.environ.get("CONF_PASSWORD", "test")
    consent = os.environ.get("CONF_CONSENT", "yes")
    cafile = os.environ.get("CONF_CA_FILE")
    if cafile and not os.path.isfile(cafile):
        raise Fail(f"CONF_CA_FILE={cafile} does not exist")
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()

    jar_path = os.environ.get("CONF_COOKIE_JAR")
    jar = http.cookiejar.LWPCookieJar(jar_path) if jar_path else http.cookiejar.CookieJar()
    if jar_path and os.path.exists(jar_path):
        jar.load(ignore_discard=True)

    provider = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ctx),
        urllib.request.HTTPCookieProcessor(jar),
        NoRedirect,
    )
    plain = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)

    start_origin = urllib.parse.urlsplit(url)[:2]
    method, data = "GET", None
    try:
        for _ in range(MAX_STEPS):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts[:2] != start_origin:
                return deliver(plain, url, timeout)

            log(f"{method} {show(url)}")
            req = urllib.request.Request(url, data=data, method=method)
            if data is not None:
                req.add_header("Content-Type", "application/x-www-form-urlencoded")
            try:
                resp = provider.open(req, timeout=timeout)
            except urllib.error.HTTPError as e:
                resp = e  # 3xx (not followed) and 4xx/5xx land here
            status = resp.status if hasattr(resp, "status") else resp.code
            body = resp.read()
            method, data = "GET", None

            if status in (301, 302, 303, 307, 308):
                loc = resp.headers.get("Location")
                if not loc:
                    raise Fail(f"HTTP {status} without Location from {show(url)}")
                url = urllib.parse.urljoin(url, loc)
                continue
            if status != 200:
                raise Fail(f"HTTP {status} from {show(url)}: {snippet(body)}")

            ctype = resp.headers.get("Content-Type", "")
            if "html" not in ctype:
                raise Fail(f"unexpected {ctype or 'untyped'} page at {show(url)}: {snippet(body)}")
            page = Forms()
            page.feed(body.decode("utf-8", "replace"))
            step = next_step(page, url, login, password, consent)
            if step == "done":
                log("sign-out success page reached")
                return 0
            method, url, data = step
        raise Fail(f"gave up after {MAX_STEPS} steps (redirect loop?) at {show(url)}")
    finally:
        if jar_path:
            jar.save(ignore_discard=True)


def next_step(page, url, login, password, consent):
    """Decide what a user would do on this provider page."""
    path = urllib.parse.urlsplit(url).path
    if path.endswith("/session/end/success"):
        return "done"
    for form in page.forms:
        fields = dict(form["inputs"])
        action = urllib.parse.urljoin(url, form["attrs"].get("action") or url)
        prompt = fields.get("prompt")
        if prompt == "login":
            log("development login")
            body = {"prompt": "login", "login": login, "password": password}
            return "POST", action, urllib.parse.urlencode(body).encode()
        if prompt == "consent":
            if consent != "yes":
                log("consent refused: aborting the interaction")
                abort = action.rstrip("/") + "/abort"
                return "GET", abort, None
            log("consent")
            return "POST", action, urllib.parse.urlencode({"prompt": "consent"}).encode()
        if "xsrf" in fields:
            # RP-initiated logout: the confirmation form (id op.logoutForm, the
            # "Yes, sign me out" button carries logout=yes) or the auto-submitted
            # form_post the provider serves when there is no session.
            log("logout confirmation")
            body = {"xsrf": fields["xsrf"], "logout": "yes"}
            return "POST", action, urllib.parse.urlencode(body).encode()
    title = page.title.strip() or "untitled"
    raise Fail(f"don't know what to do on page {title!r} at {show(url)}")


def deliver(opener, url, timeout):
    """The final, plain GET to the application's loopback redirect URI."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    log(f"GET {show(url)} (loopback redirect, parameters: {', '.join(sorted(query)) or 'none'})")
    try:
        resp = opener.open(urllib.request.Request(url, method="GET"), timeout=timeout)
        status = resp.status
        resp.read()
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError as e:
        raise Fail(f"loopback redirect {show(url)} not delivered: {e}") from e
    if status >= 400:
        raise Fail(f"loopback redirect {show(url)} answered HTTP {status}")
    if "error" in query:
        desc = query.get("error_description", "")
        print(f"browser: delivered an authorization error to {show(url)}: "
              f"error={query['error']}{' (' + desc + ')' if desc else ''}", file=sys.stderr)
        return 2
    return 0


def snippet(body):
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:300] or "(empty body)"


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Fail as e:
        print(f"browser: {e}", file=sys.stderr)
        sys.exit(1)
    except (OSError, ssl.SSLError) as e:
        print(f"browser: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
