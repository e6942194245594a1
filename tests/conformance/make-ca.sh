#!/bin/sh
# make-ca.sh DIR
#
# Creates, with openssl, a throw-away CA and a server certificate for 127.0.0.1
# (IP SAN, plus DNS:localhost) in DIR:
#   DIR/ca.pem          CA certificate: trust this one (the provider's `ca_file`)
#   DIR/ca.key          CA private key
#   DIR/server.pem      server certificate (leaf only)
#   DIR/server.key      server private key (unencrypted, 0600)
#
# Idempotent: if all four files exist and server.pem verifies against ca.pem and
# is valid for at least another hour, nothing is done. EC P-256 keys: fast.
# Prints nothing on success; exits non-zero with a message on failure.
set -eu

dir=${1:?usage: make-ca.sh DIR}
command -v openssl >/dev/null 2>&1 || { echo "make-ca.sh: openssl not found; install it (e.g. apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

if [ -s ca.pem ] && [ -s ca.key ] && [ -s server.pem ] && [ -s server.key ] \
   && openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 \
   && openssl x509 -in server.pem -noout -checkend 3600 >/dev/null 2>&1; then
  exit 0
fi

umask 077
tmp=$(mktemp -d ./.make-ca.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 \
  -subj "/CN=bankdeck conformance throw-away CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tmp/err" \
  || { cat "$tmp/err" >&2; exit 1; }

openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" \
  -subj "/CN=127.0.0.1" 2>"$tmp/err" \
  || { cat "$tmp/err" >&2; exit 1; }

cat >"$tmp/ext.cnf" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF

openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
  -CAcreateserial -days 2 -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/server.pem" 2>"$tmp/err" \
  || { cat "$tmp/err" >&2; exit 1; }

openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" >/dev/null

chmod 600 "$tmp/ca.key" "$tmp/server.key"
chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
# A set left half-moved by a crash fails the check above and is simply redone.
mv -f "$tmp/ca.key" ca.key
mv -f "$tmp/ca.pem" ca.pem
mv -f "$tmp/server.key" server.key
mv -f "$tmp/server.pem" server.pem
