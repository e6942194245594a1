// bankdeck conformance: a real, independent OpenID provider (the npm package
// `oidc-provider`, pinned in package-lock.json) served over HTTPS on 127.0.0.1.
//
//   node server.mjs --cert CERT.pem --key KEY.pem [--port 0]
//
// Env (argv wins over env where both exist):
//   CONF_CERT_FILE, CONF_KEY_FILE  server certificate chain / private key (PEM)
//   CONF_PORT                      listen port, default 0 (ephemeral)
//   CONF_CLIENT_SECRET             secret of both confidential clients (required, never printed)
//   CONF_ACCESS_TTL                access token lifetime in s (auth code and client credentials), default 60
//   CONF_REFRESH_TTL               refresh token (and grant) lifetime in s, default 86400
//   CONF_ROTATE_REFRESH            "1" (default): rotate refresh tokens on every use; "0": never
//   CONF_REDIRECT_URIS             space separated redirect URIs, default
//                                  "http://127.0.0.1/callback http://127.0.0.1/"
//                                  (loopback: any port is accepted, path must match exactly)
//   CONF_STRICT_CLIENT_AUTH        "1" (default): bankdeck-basic must use client_secret_basic and
//                                  bankdeck-post client_secret_post (else 401 invalid_client);
//                                  "0": accept either, as oidc-provider itself does
//   CONF_CLOCK_TOLERANCE           seconds of clock skew oidc-provider tolerates, default 15 (the
//                                  library default); userinfo accepts an access token this long
//                                  after its `exp`, introspection says inactive from `exp` on
//   CONF_IGNORE_STDIN              "1": do not exit when stdin closes (manual runs)
//   CONF_DEBUG                     "1": log every request and provider error event to stderr
//
// stdout carries exactly one line, once listening:
//   READY {"issuer":"https://127.0.0.1:PORT","port":PORT,"pid":PID}
// Everything else (oidc-provider's notices and warnings, debug logs) goes to stderr.
// The process exits 0 when stdin reaches EOF (the parent died or closed the pipe),
// on SIGTERM / SIGINT, and exits 1 with a message on stderr when it cannot start.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';

// oidc-provider prints its NOTICEs with console.info (stdout). Keep stdout for
// the READY line only: route info/log to stderr before the library is loaded.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

function die(msg) {
  process.stderr.write(`conformance server: ${msg}\n`);
  process.exit(1);
}

function intEnv(name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) die(`${name} must be a positive integer of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      cert: { type: 'string' },
      key: { type: 'string' },
      port: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  die(`${err.message}\nusage: node server.mjs --cert CERT.pem --key KEY.pem [--port 0]`);
}

const certFile = args.cert ?? process.env.CONF_CERT_FILE;
const keyFile = args.key ?? process.env.CONF_KEY_FILE;
if (!certFile || !keyFile) die('need --cert and --key (or CONF_CERT_FILE and CONF_KEY_FILE); make them with make-ca.sh');
const port = Number(args.port ?? process.env.CONF_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) die('port must be 0..65535');

const secret = process.env.CONF_CLIENT_SECRET;
if (!secret) die('CONF_CLIENT_SECRET is not set (the secret of bankdeck-basic and bankdeck-post)');
if (secret.length < 16) die('CONF_CLIENT_SECRET must be at least 16 characters');

const ACCESS_TTL = intEnv('CONF_ACCESS_TTL', 60);
const REFRESH_TTL = intEnv('CONF_REFRESH_TTL', 86400);
const ROTATE = (process.env.CONF_ROTATE_REFRESH ?? '1') !== '0';
const DEBUG = process.env.CONF_DEBUG === '1';
const CLOCK_TOLERANCE = process.env.CONF_CLOCK_TOLERANCE === '0' ? 0 : intEnv('CONF_CLOCK_TOLERANCE', 15);
const REDIRECT_URIS = (process.env.CONF_REDIRECT_URIS || 'http://127.0.0.1/callback http://127.0.0.1/')
  .split(/\s+/).filter(Boolean);

let tls;
try {
  tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
} catch (err) {
  die(`cannot read certificate/key: ${err.message}`);
}

const { default: Provider, errors } = await import('oidc-provider');

const SCOPES = 'openid offline_access profile email accounts balance';

function client(clientId, authMethod) {
  return {
    client_id: clientId,
    client_secret: secret,
    client_name: clientId,
    // native: http loopback redirect URIs match on any port (RFC 8252 §7.3);
    // note that native clients are always shown the consent prompt.
    application_type: 'native',
    token_endpoint_auth_method: authMethod,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    post_logout_redirect_uris: REDIRECT_URIS,
    scope: SCOPES,
  };
}

const server = https.createServer(tls);
server.on('tlsClientError', (err) => { if (DEBUG) console.error('tls client error:', err.message); });
server.on('error', (err) => die(`listen failed: ${err.message}`));
await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });
const actualPort = server.address().port;
const issuer = `https://127.0.0.1:${actualPort}`;

const configuration = {
  clients: [client('bankdeck-basic', 'client_secret_basic'), client('bankdeck-post', 'client_secret_post')],
  // No `jwks`: oidc-provider's built-in development key (RS256, kid
  // "keystore-CHANGE-ME") signs ID tokens. Deliberate: generating a key here
  // costs ~0.3 s per start and, on Node 20, crypto.generateKeyPairSync followed
  // by KeyObject.export({ format: 'jwk' }) can deadlock in a GC finalizer
  // (seen here: main thread stuck in ~KeyGenJob under ExportJWKRsaKey).
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'accounts', 'balance'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(_ctx, sub) {
    // devInteractions: any login name becomes the subject.
    return {
      accountId: sub,
      async claims() {
        return { sub, name: sub, email: `${sub}@example.test`, email_verified: true };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // Kept ON (the library default, as in production deployments) but with no
    // resource server: a request without `resource` gets an opaque access token
    // whose audience is the provider itself (userinfo, introspection); a request
    // with any `resource=` is refused with `invalid_target`. Client credentials
    // with `scope=accounts balance` and no resource works the same way.
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async () => { throw new errors.InvalidTarget(); },
    },
  },
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
  // Refresh tokens for every auth code grant of a client allowed refresh_token,
  // with or without offline_access (the library default requires offline_access).
  issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: ROTATE,
  ttl: {
    AccessToken: ACCESS_TTL,
    ClientCredentials: ACCESS_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: REFRESH_TTL,
    Grant: REFRESH_TTL,
    Interaction: 600,
    Session: 3600,
  },
  clockTolerance: CLOCK_TOLERANCE,
  clientBasedCORS: () => false,
  // Plain JSON errors on the HTML error page path too (easier to assert on).
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

let provider;
try {
  provider = new Provider(issuer, configuration);
} catch (err) {
  die(`bad provider configuration: ${err.message}`);
}

for (const ev of ['server_error', 'grant.error', 'introspection.error', 'revocation.error', 'end_session.error', 'authorization.error']) {
  provider.on(ev, (ctx, err) => {
    if (DEBUG || ev === 'server_error') {
      const detail = err?.error_detail ? ` (${err.error_detail})` : '';
      console.error(`[${ev}] ${err?.name}: ${err?.message}: ${err?.error_description ?? ''}${detail}`);
    }
  });
}

// Strict client authentication (our addition, not oidc-provider behaviour):
// oidc-provider accepts client_secret_basic and client_secret_post
// interchangeably for any client registered with either. To make "the client
// uses the method it is configured for" testable, requests to the token,
// introspection and revocation endpoints where bankdeck-basic sends its secret
// in the body, or bankdeck-post sends an Authorization: Basic header, are
// refused with 401 invalid_client. CONF_STRICT_CLIENT_AUTH=0 turns this off.
const STRICT = (process.env.CONF_STRICT_CLIENT_AUTH ?? '1') !== '0';
const AUTHENTICATED_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/request']);
const EXPECTED_METHOD = { 'bankdeck-basic': 'client_secret_basic', 'bankdeck-post': 'client_secret_post' };

function basicClientId(header) {
  const m = /^basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i === -1) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

function readAll(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('request entity too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function strictClientAuth(req, res) {
  // returns true when the request was refused (and answered)
  const path = req.url.split('?')[0];
  if (!STRICT || req.method !== 'POST' || !AUTHENTICATED_PATHS.has(path)) return false;
  if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) return false;
  const raw = await readAll(req);
  req.body = raw; // oidc-provider reads an already consumed body from req.body
  const form = new URLSearchParams(raw);
  const fromHeader = basicClientId(req.headers.authorization);
  const clientId = fromHeader ?? form.get('client_id');
  const used = fromHeader !== undefined ? 'client_secret_basic' : (form.has('client_secret') ? 'client_secret_post' : undefined);
  const expected = EXPECTED_METHOD[clientId];
  if (!expected || !used || used === expected) return false;
  const body = JSON.stringify({
    error: 'invalid_client',
    error_description: `client authentication failed: ${clientId} must use ${expected}, not ${used}`,
  });
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  if (used === 'client_secret_basic') headers['www-authenticate'] = `Basic realm="${issuer}", error="invalid_client"`;
  res.writeHead(401, headers);
  res.end(body);
  if (DEBUG) console.error(`[strict client auth] refused ${clientId} using ${used}`);
  return true;
}

const handler = provider.callback();
server.on('request', (req, res) => {
  if (DEBUG) console.error(`${req.method} ${req.url.split('?')[0]}`);
  strictClientAuth(req, res).then((refused) => { if (!refused) handler(req, res); }, (err) => {
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: 'invalid_request', error_description: err.message }));
  });
});

let stopping = false;
function stop(why) {
  if (stopping) return;
  stopping = true;
  if (DEBUG) console.error(`conformance server: stopping (${why})`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
if (process.env.CONF_IGNORE_STDIN !== '1') {
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('close', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume();
}

process.stdout.write(`READY ${JSON.stringify({ issuer, port: actualPort, pid: process.pid })}\n`);
