#!/bin/sh
# tests/certs.sh DIR: make a throwaway CA and server certificates for the
# TLS tests, with openssl, into DIR. Nothing is cached: it takes a few
# seconds (the one RSA-4096 key is the slow part).
#
#   ca.pem                    the CA (trust it with curl --cacert)
#   a.pem  a.key              a.test, EC P-256, SEC1 key ("EC PRIVATE KEY")
#   a-chain.pem               a.test leaf + CA
#   a.p8                      the same key, PKCS#8 PEM
#   a.der                     the same key, PKCS#8 DER
#   a-sec1.der                the same key, SEC1 DER
#   b.pem  b.key              b.test, RSA 2048, PKCS#8 PEM
#   b.rsa                     the same key, PKCS#1 ("RSA PRIVATE KEY")
#   b-rsa.der                 the same key, PKCS#1 DER
#   c.pem  c.key              c.test, EC P-384
#   d.pem  d.key              d.test, RSA 4096
#   e.pem  e.key              RSA 1024 (too small: refused)
#   k.pem  k.key              EC P-521 (curve not offered: refused)
#   a-enc.key                 a.test's key, encrypted PKCS#8 (refused)
#   b-enc.rsa                 b.test's key, old-style encrypted PEM (refused)
#   mismatch: a.pem with b.key, b.pem with a.key, a.pem with c-other.key
#   c-other.key               another P-256 key (same type, wrong key)
set -e
dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { "$@" 2>/dev/null; }

q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout ca.key -out ca.pem -days 30 -subj "/CN=itkd test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign"

# leaf NAME CN KEYFILE: a certificate for CN signed by the CA.
leaf() {
	q openssl req -new -key "$3" -out "$1.csr" -subj "/CN=$2"
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		"$2" > "$1.ext"
	q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -days 30 -out "$1.pem" -extfile "$1.ext"
	rm -f "$1.csr" "$1.ext"
}

q openssl ecparam -name prime256v1 -genkey -noout -out a.key
leaf a a.test a.key
cat a.pem ca.pem > a-chain.pem
q openssl pkcs8 -topk8 -nocrypt -in a.key -out a.p8
q openssl pkcs8 -topk8 -nocrypt -in a.key -outform DER -out a.der
q openssl ec -in a.key -outform DER -out a-sec1.der
q openssl pkcs8 -topk8 -in a.key -out a-enc.key -passout pass:secret

q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out b.key
leaf b b.test b.key
q openssl rsa -in b.key -traditional -out b.rsa
q openssl rsa -in b.key -traditional -outform DER -out b-rsa.der
q openssl rsa -in b.key -traditional -aes128 -passout pass:secret -out b-enc.rsa

q openssl ecparam -name secp384r1 -genkey -noout -out c.key
leaf c c.test c.key
q openssl ecparam -name prime256v1 -genkey -noout -out c-other.key

q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out d.key
leaf d d.test d.key

q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out e.key
leaf e e.test e.key

q openssl ecparam -name secp521r1 -genkey -noout -out k.key
leaf k k.test k.key

chmod 600 ./*.key ./*.p8 ./*.der ./*.rsa
