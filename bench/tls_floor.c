/*
 * bench/tls_floor.c: the server's crypto in one TLS 1.2 full handshake
 * with an EC P-256 certificate and X25519, timed with BearSSL as itkd's
 * tls.c uses it: one ECDSA P-256 signature (br_ecdsa_i31_sign_asn1 over
 * br_ec_get_default(), SHA-256) and two X25519 operations on
 * br_ec_get_default() (mulgen: the server's key share; mul: the shared
 * secret; BearSSL's server prefers X25519 whenever the client offers it).
 * Nothing a server does can make a full handshake cheaper than this sum:
 * its inverse is the crypto floor, in handshakes per second of one core.
 *
 * Timed in CPU time of this thread (CLOCK_THREAD_CPUTIME_ID), so that other
 * load on the machine costs the figure less than wall time would. Also
 * timed, for the client's side: an ECDSA P-256 verification (what a client
 * that checks the server's signature pays, on top of its own two X25519).
 *
 * Usage: tls_floor [SECONDS per operation, default 1]
 * Prints key=value lines (microseconds of CPU per operation).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <bearssl.h>

static br_hmac_drbg_context rng;

static double
cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
		perror("tls_floor: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
random_bytes(void *buf, size_t len)
{
	br_hmac_drbg_generate(&rng, buf, len);
}

/* What each timed operation needs, made once. */
struct keys {
	const br_ec_impl *ec;
	br_ec_private_key sk;
	unsigned char skbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	br_ec_public_key pk;
	unsigned char pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char hash[32];
	unsigned char sig[80];
	size_t siglen;
	unsigned char x25519_peer[32];   /* the client's share */
};

enum op { OP_SIGN, OP_MULGEN, OP_MUL, OP_VERIFY };

static int
one(struct keys *k, enum op op)
{
	unsigned char x[32], point[32], sig[80], hash[32];

	switch (op) {
	case OP_SIGN:
		/* A fresh hash each time, as each handshake signs its own. */
		random_bytes(hash, sizeof(hash));
		return br_ecdsa_i31_sign_asn1(k->ec, &br_sha256_vtable, hash,
		    &k->sk, sig) > 0;
	case OP_MULGEN:
		random_bytes(x, sizeof(x));
		return k->ec->mulgen(point, x, sizeof(x), BR_EC_curve25519) == 32;
	case OP_MUL:
		random_bytes(x, sizeof(x));
		memcpy(point, k->x25519_peer, sizeof(point));
		return k->ec->mul(point, sizeof(point), x, sizeof(x),
		    BR_EC_curve25519) == 1;
	case OP_VERIFY:
		return br_ecdsa_i31_vrfy_asn1(k->ec, k->hash, sizeof(k->hash),
		    &k->pk, k->sig, k->siglen) == 1;
	}
	return 0;
}

/* CPU microseconds per operation, over about seconds of CPU time. */
static double
time_op(struct keys *k, enum op op, double seconds)
{
	double start = cpu_us(), now;
	long n = 0;
	int i;

	do {
		for (i = 0; i < 16; i++) {
			if (!one(k, op)) {
				fprintf(stderr, "tls_floor: operation %d failed\n", (int)op);
				exit(1);
			}
		}
		n += 16;
		now = cpu_us();
	} while (now - start < seconds * 1e6);
	return (now - start) / (double)n;
}

int
main(int argc, char **argv)
{
	struct keys k;
	unsigned char seed[32], x[32];
	double seconds = 1.0, sign, mulgen, mul, verify, total;

	if (argc > 1 && (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: tls_floor [SECONDS]\n");
		return 2;
	}
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		perror("tls_floor: getrandom");
		return 1;
	}
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof(seed));
	memset(&k, 0, sizeof(k));
	k.ec = br_ec_get_default();
	if (br_ec_keygen(&rng.vtable, k.ec, &k.sk, k.skbuf, BR_EC_secp256r1) == 0 ||
	    br_ec_compute_pub(k.ec, &k.pk, k.pkbuf, &k.sk) == 0) {
		fprintf(stderr, "tls_floor: P-256 key generation failed\n");
		return 1;
	}
	random_bytes(x, sizeof(x));
	if (k.ec->mulgen(k.x25519_peer, x, sizeof(x), BR_EC_curve25519) != 32) {
		fprintf(stderr, "tls_floor: X25519 failed\n");
		return 1;
	}
	random_bytes(k.hash, sizeof(k.hash));
	k.siglen = br_ecdsa_i31_sign_asn1(k.ec, &br_sha256_vtable, k.hash, &k.sk, k.sig);
	if (k.siglen == 0) {
		fprintf(stderr, "tls_floor: ECDSA signature failed\n");
		return 1;
	}
	sign = time_op(&k, OP_SIGN, seconds);
	mulgen = time_op(&k, OP_MULGEN, seconds);
	mul = time_op(&k, OP_MUL, seconds);
	verify = time_op(&k, OP_VERIFY, seconds);
	total = sign + mulgen + mul;
	printf("ec_impl=%s\n", k.ec == &br_ec_all_m31 ? "br_ec_all_m31" :
	    k.ec == &br_ec_all_m15 ? "br_ec_all_m15" : "other");
	printf("ecdsa_p256_sign_us=%.1f\n", sign);
	printf("x25519_mulgen_us=%.1f\n", mulgen);
	printf("x25519_mul_us=%.1f\n", mul);
	printf("ecdsa_p256_verify_us=%.1f\n", verify);
	printf("server_handshake_us=%.1f\n", total);
	printf("floor_per_core=%.1f\n", 1e6 / total);
	return 0;
}
