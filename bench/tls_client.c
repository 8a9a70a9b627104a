/*
 * bench/tls_client.c: a TLS 1.2 full-handshake load client on BearSSL
 * that costs less per handshake than the server it loads.
 *
 * Each connection: TCP to 127.0.0.1:PORT, a full handshake (no session is
 * kept, so none is resumed) offering ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
 * and X25519 (and P-256, which OpenSSL wants to see offered for its
 * P-256 certificate), with SNI HOST; one GET PATH with Connection: close; the
 * answer read to the end of its Content-Length body and checked (status
 * 200); close. INFLIGHT connections at a time in one poll() loop, for
 * SECONDS.
 *
 * What a bench client may leave out, and this one does: it does not check
 * the server's ECDSA signature (a verifier that accepts it) nor its
 * certificate chain (br_x509_knownkey with the key of CERT), and its
 * ECDHE key share is made once and reused by every connection (`-fresh`: a
 * new one each time, as a real client makes it), so a handshake costs it
 * one X25519 multiplication. The server does all of its work each time: its
 * signature and both of its X25519 operations are fresh.
 *
 * `-plain` makes the same connections and requests without TLS: what a
 * connection costs the server apart from the handshake.
 *
 * Usage: tls_client PORT CERT.pem SECONDS INFLIGHT HOST PATH [-fresh|-plain]
 * Prints key=value lines: handshakes (answered), errors, seconds (wall),
 * cpu_us (getrusage of this process), p50_ms and p99_ms (connect to the
 * answer's last byte), curve (the server's ECDHE choice), first_error.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#define LAT_MAX 1000000

struct slot {
	br_ssl_client_context cc;
	br_x509_knownkey_context xk;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	int fd;
	int connecting;
	int sent;
	short want;
	double t0;
	char head[2048];
	size_t headlen;
	long body_left;         /* -1 until the head is in */
};

static const uint16_t suites[] = { BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 };
static br_ec_public_key server_pk;
static unsigned char server_q[BR_EC_KBUF_PUB_MAX_SIZE];
static char request[512];
static size_t request_len;
static const char *host;
static struct sockaddr_in dest;
static double *lat;
static long nlat;
static char first_error[160];
static int last_curve = -1;     /* the server's choice, from its key exchange */

/* ---- the cheap parts: key shares made once, a verifier that accepts ---- */

static const br_ec_impl *real_ec;
static int fresh_share;
static int plain;               /* -plain: no TLS at all, the same request */

/* One private key and its public share per curve the client offers. */
static struct share {
	int curve;
	unsigned char x[32];
	size_t xlen;
	unsigned char pub[65];
	size_t publen;
} shares[2] = { { BR_EC_curve25519, {0}, 0, {0}, 0 },
		{ BR_EC_secp256r1, {0}, 0, {0}, 0 } };

static const struct share *
share_of(int curve)
{
	size_t i;

	if (fresh_share)
		return NULL;
	for (i = 0; i < sizeof(shares) / sizeof(shares[0]); i++)
		if (shares[i].curve == curve)
			return &shares[i];
	return NULL;
}

static int
make_shares(const br_prng_class **rng)
{
	br_ec_private_key sk;
	br_ec_public_key pk;
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t i;

	for (i = 0; i < sizeof(shares) / sizeof(shares[0]); i++) {
		if (br_ec_keygen(rng, real_ec, &sk, kbuf, shares[i].curve) == 0 ||
		    sk.xlen > sizeof(shares[i].x) ||
		    br_ec_compute_pub(real_ec, &pk, pbuf, &sk) == 0 ||
		    pk.qlen > sizeof(shares[i].pub))
			return -1;
		memcpy(shares[i].x, sk.x, sk.xlen);
		shares[i].xlen = sk.xlen;
		memcpy(shares[i].pub, pk.q, pk.qlen);
		shares[i].publen = pk.qlen;
	}
	return 0;
}

static const unsigned char *
ec_generator(int curve, size_t *len)
{
	return real_ec->generator(curve, len);
}

static const unsigned char *
ec_order(int curve, size_t *len)
{
	return real_ec->order(curve, len);
}

static size_t
ec_xoff(int curve, size_t *len)
{
	return real_ec->xoff(curve, len);
}

/* The shared secret with the key made once (the engine's own random key
 * is ignored, so that the share sent below matches it). */
static uint32_t
ec_mul(unsigned char *G, size_t Glen, const unsigned char *kb, size_t kblen,
    int curve)
{
	const struct share *sh = share_of(curve);

	if (sh == NULL)
		return real_ec->mul(G, Glen, kb, kblen, curve);
	return real_ec->mul(G, Glen, sh->x, sh->xlen, curve);
}

static size_t
ec_mulgen(unsigned char *R, const unsigned char *x, size_t xlen, int curve)
{
	const struct share *sh = share_of(curve);

	if (sh == NULL)
		return real_ec->mulgen(R, x, xlen, curve);
	memcpy(R, sh->pub, sh->publen);
	return sh->publen;
}

static uint32_t
ec_muladd(unsigned char *A, const unsigned char *B, size_t len,
    const unsigned char *x, size_t xlen, const unsigned char *y, size_t ylen,
    int curve)
{
	(void)A; (void)B; (void)len; (void)x; (void)xlen; (void)y; (void)ylen;
	(void)curve;
	return 0;
}

/* P-256 is offered too: OpenSSL takes the client's curves as the ones its
 * ECDSA certificate may be on. Both servers are set to prefer X25519. */
static const br_ec_impl cheap_ec = {
	((uint32_t)1 << BR_EC_curve25519) | ((uint32_t)1 << BR_EC_secp256r1),
	ec_generator, ec_order, ec_xoff, ec_mul, ec_mulgen, ec_muladd
};

static uint32_t
accept_signature(const br_ec_impl *impl, const void *hash, size_t hash_len,
    const br_ec_public_key *pk, const void *sig, size_t sig_len)
{
	(void)impl; (void)hash; (void)hash_len; (void)pk; (void)sig; (void)sig_len;
	return 1;
}

/* ---- the server's public key, from its certificate ---- */

static unsigned char der[8192];
static size_t derlen;

static void
der_append(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	if (derlen + len <= sizeof(der)) {
		memcpy(der + derlen, data, len);
		derlen += len;
	}
}

static int
load_key(const char *path)
{
	static char pem[16384];
	br_pem_decoder_context pc;
	br_x509_decoder_context xd;
	const br_x509_pkey *pk;
	size_t len, off = 0, n;
	FILE *f;
	int in_cert = 0, done = 0;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		return -1;
	}
	len = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	br_pem_decoder_init(&pc);
	while (off < len && !done) {
		n = br_pem_decoder_push(&pc, pem + off, len - off);
		off += n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in_cert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0;
			br_pem_decoder_setdest(&pc, in_cert ? der_append : NULL, NULL);
			break;
		case BR_PEM_END_OBJ:
			done = in_cert;
			break;
		case BR_PEM_ERROR:
			fprintf(stderr, "tls_client: %s: bad PEM\n", path);
			return -1;
		}
	}
	br_x509_decoder_init(&xd, NULL, NULL);
	br_x509_decoder_push(&xd, der, derlen);
	if ((pk = br_x509_decoder_get_pkey(&xd)) == NULL ||
	    pk->key_type != BR_KEYTYPE_EC || pk->key.ec.qlen > sizeof(server_q)) {
		fprintf(stderr, "tls_client: %s: no EC certificate\n", path);
		return -1;
	}
	memcpy(server_q, pk->key.ec.q, pk->key.ec.qlen);
	server_pk.curve = pk->key.ec.curve;
	server_pk.q = server_q;
	server_pk.qlen = pk->key.ec.qlen;
	return 0;
}

/* ---- connections ---- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
note_error(const char *what, int err)
{
	if (first_error[0] == '\0')
		snprintf(first_error, sizeof(first_error), "%s (%d)", what, err);
}

static void
slot_init(struct slot *s)
{
	br_ssl_engine_context *eng = &s->cc.eng;

	br_ssl_client_zero(&s->cc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, 1);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_ec(eng, &cheap_ec);
	br_ssl_engine_set_ecdsa(eng, accept_signature);
	br_x509_knownkey_init_ec(&s->xk, &server_pk,
	    BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	br_ssl_engine_set_x509(eng, &s->xk.vtable);
	br_ssl_engine_set_buffer(eng, s->iobuf, sizeof(s->iobuf), 1);
	s->fd = -1;
}

static int
slot_start(struct slot *s)
{
	int fd, one = 1;

	s->t0 = now_ms();
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		note_error("socket", errno);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&dest, sizeof(dest)) < 0 &&
	    errno != EINPROGRESS) {
		note_error("connect", errno);
		close(fd);
		return -1;
	}
	/* resume_session 0: a full handshake every time */
	if (!plain && !br_ssl_client_reset(&s->cc, host, 0)) {
		note_error("br_ssl_client_reset", br_ssl_engine_last_error(&s->cc.eng));
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->connecting = 1;
	s->sent = 0;
	s->want = POLLOUT;
	s->headlen = 0;
	s->body_left = -1;
	return 0;
}

/* Take answer bytes: 1 once the whole answer is in, -1 if it is not a 200. */
static int
absorb(struct slot *s, const unsigned char *p, size_t len)
{
	const char *end;
	size_t take, hl;
	const char *cl;

	if (s->body_left < 0) {
		take = sizeof(s->head) - 1 - s->headlen;
		if (take > len)
			take = len;
		memcpy(s->head + s->headlen, p, take);
		s->headlen += take;
		s->head[s->headlen] = '\0';
		if ((end = strstr(s->head, "\r\n\r\n")) == NULL)
			return s->headlen + 1 >= sizeof(s->head) ? -1 : 0;
		if (strncmp(s->head, "HTTP/1.1 200", 12) != 0 ||
		    ((cl = strstr(s->head, "Content-Length:")) == NULL &&
		    (cl = strstr(s->head, "content-length:")) == NULL))
			return -1;
		hl = (size_t)(end + 4 - s->head);
		s->body_left = strtol(cl + 15, NULL, 10) - (long)(s->headlen - hl);
		return s->body_left <= 0;
	}
	s->body_left -= (long)len;
	return s->body_left <= 0;
}

/* -plain: the request, then the answer, straight on the socket. */
static int
pump_plain(struct slot *s)
{
	unsigned char buf[4096];
	ssize_t n;
	int r;

	if (!s->sent) {
		n = write(s->fd, request, request_len);
		if (n != (ssize_t)request_len) {
			note_error("write", errno);
			return -1;
		}
		s->sent = 1;
	}
	for (;;) {
		n = read(s->fd, buf, sizeof(buf));
		if (n > 0) {
			if ((r = absorb(s, buf, (size_t)n)) != 0) {
				if (r < 0)
					note_error("not a 200 answer", 0);
				return r;
			}
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			s->want = POLLIN;
			return 0;
		}
		note_error(n == 0 ? "closed before the answer" : "read", errno);
		return -1;
	}
}

/* Drive the engine until it waits for the socket: 0 (s->want set), 1 the
 * answer is in, -1 failed. */
static int
pump(struct slot *s)
{
	br_ssl_engine_context *eng = &s->cc.eng;
	unsigned char *buf;
	unsigned st;
	size_t len;
	ssize_t n;
	int r;

	if (s->connecting) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			note_error("connect", err);
			return -1;
		}
		s->connecting = 0;
	}
	if (plain)
		return pump_plain(s);
	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			note_error("TLS closed, BearSSL error", br_ssl_engine_last_error(eng));
			return -1;
		}
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			n = write(s->fd, buf, len);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EAGAIN) {
				s->want = POLLOUT;
				return 0;
			}
			note_error("write", errno);
			return -1;
		}
		if (st & BR_SSL_RECVAPP) {
			buf = br_ssl_engine_recvapp_buf(eng, &len);
			r = absorb(s, buf, len);
			br_ssl_engine_recvapp_ack(eng, len);
			if (r < 0)
				note_error("not a 200 answer", 0);
			if (r != 0)
				return r;
			continue;
		}
		if ((st & BR_SSL_SENDAPP) && !s->sent) {
			buf = br_ssl_engine_sendapp_buf(eng, &len);
			if (len < request_len) {
				note_error("request does not fit", (int)len);
				return -1;
			}
			memcpy(buf, request, request_len);
			br_ssl_engine_sendapp_ack(eng, request_len);
			br_ssl_engine_flush(eng, 0);
			s->sent = 1;
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			n = read(s->fd, buf, len);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EAGAIN) {
				s->want = POLLIN;
				return 0;
			}
			note_error(n == 0 ? "closed before the answer" : "read", errno);
			return -1;
		}
		s->want = POLLIN;
		return 0;
	}
}

static void
slot_end(struct slot *s)
{
	close(s->fd);
	s->fd = -1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct slot *slots;
	struct pollfd *pfd;
	struct rusage ru;
	unsigned char seed[32];
	br_hmac_drbg_context rng;
	double seconds, start, end, wall;
	long handshakes = 0, errors = 0;
	int inflight, i, n, r, port, stopping = 0, active;
	double cpu;

	if (argc < 7) {
		fprintf(stderr, "usage: tls_client PORT CERT.pem SECONDS INFLIGHT HOST PATH "
		    "[-fresh | -plain]\n");
		return 2;
	}
	port = atoi(argv[1]);
	seconds = atof(argv[3]);
	inflight = atoi(argv[4]);
	host = argv[5];
	fresh_share = argc > 7 && strcmp(argv[7], "-fresh") == 0;
	plain = argc > 7 && strcmp(argv[7], "-plain") == 0;
	if (port <= 0 || seconds <= 0 || inflight <= 0 || load_key(argv[2]) < 0)
		return 2;
	request_len = (size_t)snprintf(request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[6], host);
	if (request_len >= sizeof(request))
		return 2;
	memset(&dest, 0, sizeof(dest));
	dest.sin_family = AF_INET;
	dest.sin_port = htons((uint16_t)port);
	dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	real_ec = br_ec_get_default();
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		perror("tls_client: getrandom");
		return 1;
	}
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof(seed));
	if (make_shares(&rng.vtable) < 0) {
		fprintf(stderr, "tls_client: key share generation failed\n");
		return 1;
	}
	slots = calloc((size_t)inflight, sizeof(*slots));
	pfd = calloc((size_t)inflight, sizeof(*pfd));
	lat = calloc(LAT_MAX, sizeof(*lat));
	if (slots == NULL || pfd == NULL || lat == NULL) {
		perror("tls_client: calloc");
		return 1;
	}
	for (i = 0; i < inflight; i++)
		slot_init(&slots[i]);
	start = now_ms();
	end = start + seconds * 1e3;
	for (;;) {
		if (!stopping && now_ms() >= end)
			stopping = 1;
		active = 0;
		for (i = 0; i < inflight; i++) {
			if (slots[i].fd < 0 && !stopping && slot_start(&slots[i]) < 0)
				errors++;
			pfd[i].fd = slots[i].fd;
			pfd[i].events = slots[i].want;
			pfd[i].revents = 0;
			active += slots[i].fd >= 0;
		}
		if (stopping)
			break;     /* what is still in flight is not counted */
		if (active == 0)
			continue;
		n = poll(pfd, (nfds_t)inflight, 100);
		if (n < 0 && errno != EINTR) {
			perror("tls_client: poll");
			return 1;
		}
		for (i = 0; n > 0 && i < inflight; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = pump(&slots[i]);
			if (r == 0)
				continue;
			if (r > 0) {
				handshakes++;
				last_curve = slots[i].cc.eng.ecdhe_curve;
				if (nlat < LAT_MAX)
					lat[nlat++] = now_ms() - slots[i].t0;
			} else {
				errors++;
			}
			slot_end(&slots[i]);
		}
	}
	wall = (now_ms() - start) / 1e3;
	for (i = 0; i < inflight; i++)
		if (slots[i].fd >= 0)
			slot_end(&slots[i]);
	if (getrusage(RUSAGE_SELF, &ru) < 0) {
		perror("tls_client: getrusage");
		return 1;
	}
	cpu = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
	    (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_double);
	printf("handshakes=%ld\nerrors=%ld\nseconds=%.3f\ncpu_us=%.0f\n",
	    handshakes, errors, wall, cpu);
	printf("mode=%s\n", plain ? "plain" : fresh_share ? "tls, key share fresh" :
	    "tls, key share reused");
	if (!plain)
		printf("curve=%s\n", last_curve == BR_EC_curve25519 ? "X25519" :
	    last_curve == BR_EC_secp256r1 ? "P-256" : "unknown");
	if (nlat > 0)
		printf("p50_ms=%.2f\np99_ms=%.2f\n", lat[nlat / 2],
		    lat[(long)((double)(nlat - 1) * 0.99)]);
	printf("first_error=%s\n", first_error);
	return 0;
}
