/* tls.c: BearSSL keys and chains (master), our SNI policy, the session cache
 * shared by all children, and record I/O over a socket under a deadline.
 *
 * Memory: the master decodes every key into memory of its own (one block
 * per vhost) and wipes the file buffers and decoder states it went through.
 * A child handshakes with those keys, then tls_wipe() overwrites them all
 * before the identity switch. BearSSL never allocates: the engine and its
 * buffers are one static struct, since a child serves one connection. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "clock.h"
#include "log.h"
#include "tls.h"
#include "vhost.h"

#define TLS_CHAIN_MAX   8               /* certificates in one chain */
#define TLS_FILE_MAX    (1024 * 1024)   /* a key or chain file, in bytes */
#define TLS_MSG         160
#define TAG_BITS        25              /* of a certificate, see locked_save */

/* One vhost's certificate chain and private key. */
struct tls_entry {
	int pos;                        /* index in cfg->vhosts */
	br_x509_certificate chain[TLS_CHAIN_MAX];
	size_t chain_len;
	unsigned char *chain_mem;       /* the DER of every certificate */
	size_t chain_mem_len;
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	unsigned char *key_mem;         /* our copy of the private key bytes */
	size_t key_mem_len;
	uint32_t tag;                   /* leaf certificate hash, TAG_BITS */
};

struct tls_keys {
	struct tls_entry *e;
	int n;
	int *by_pos;                    /* vhost position -> entry, or -1 */
	int npos;
	unsigned char *vault;           /* every entry's key_mem (vault_build) */
	size_t vault_len;
	int withheld;                   /* MADV_DONTFORK on the vault */
};

/* The policy: picks the chain by SNI and signs with its key. */
struct tls_policy {
	const br_ssl_server_policy_class *vtable;
	const struct tls_keys *keys;
	const struct config *cfg;
	const struct tls_entry *chosen;
};

struct tls_conn {
	br_ssl_server_context sc;
	struct tls_policy policy;
	int fd;
	const struct vhost *vh;
	char server_name[256];
	int64_t resumed_tag;            /* the resumed session's, or -1 */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* One connection per process: no allocation on the request path. */
static struct tls_conn the_conn;

/* The shared session cache: lock, the LRU's context and its store, in one
 * mapping made before the first fork, so the LRU's internal pointer to its
 * store is the same address in every child. */
struct tls_cache {
	pthread_mutex_t lock;
	br_ssl_session_cache_lru lru;
	unsigned char store[];
};

static struct tls_cache *cache;
static size_t cache_len;
static int cache_withheld;      /* MADV_DONTFORK on: see tls_fork_prepare */

static const br_hash_class *const hash_by_id[] = {
	NULL, &br_md5_vtable, &br_sha1_vtable, &br_sha224_vtable,
	&br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable
};

/* Server preference, per key type. The CBC suites are offered only when
 * `tls-versions` allows 1.0/1.1, whose clients have no AEAD suite. */
static const uint16_t suites_ec[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
};
static const uint16_t suites_rsa[] = {
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
};
#define SUITES_AEAD 3

/* Overwrite the stack below the caller: BearSSL's signing and decoding
 * leave key-derived bytes in frames that are gone but not cleared. */
static void __attribute__((noinline))
scrub_stack(void)
{
	unsigned char pad[64 * 1024];
	uintptr_t lo, hi, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	explicit_bzero(pad, sizeof(pad));
	__asm__ __volatile__("" : : "r"(pad) : "memory");
	/* Then give back the whole pages of pad: zero already, they would
	 * stay resident in the master, and every fork copies (and every
	 * exit drops) a page table entry for each of them. MADV_DONTNEED on
	 * private anonymous memory reads back as zeros if touched again. */
	lo = ((uintptr_t)pad + page - 1) & ~(page - 1);
	hi = ((uintptr_t)pad + sizeof(pad)) & ~(page - 1);
	if (page > 0 && (page & (page - 1)) == 0 && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void
wipe_free(void *p, size_t len)
{
	if (p != NULL) {
		explicit_bzero(p, len);
		free(p);
	}
}

/* ---- Loading: files, PEM, keys, chains ---- */

static int
read_file(const char *path, unsigned char **out, size_t *outlen,
    char *msg, size_t msglen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(msg, msglen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "not a regular file");
		goto err;
	}
	if (st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		snprintf(msg, msglen, "empty or larger than %d bytes", TLS_FILE_MAX);
		goto err;
	}
	/* One exact-size buffer (no realloc leaving copies behind). */
	if ((buf = malloc((size_t)st.st_size)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto err;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(msg, msglen, "%s", n < 0 ? strerror(errno) :
			    "file shrank while reading");
			goto err;
		}
		len += (size_t)n;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
err:
	wipe_free(buf, (size_t)(st.st_size > 0 ? st.st_size : 0));
	close(fd);
	return -1;
}

static int
is_pem(const unsigned char *buf, size_t len)
{
	return memmem(buf, len, "-----BEGIN ", 11) != NULL;
}

typedef void (*pem_dest)(void *dctx, const void *data, size_t len);

/* Walk the PEM objects of buf. begin() is told each object's name and sets
 * where its decoded bytes go (*dest NULL: nowhere), or returns -1 to stop
 * with a message of its own; end(), if any, is told the object is complete.
 * 0 or -1 with msg. */
struct pem_walk {
	int (*begin)(void *ctx, const char *name, pem_dest *dest, void **dctx);
	void (*end)(void *ctx);
	void *ctx;
};

static int
pem_walk(const unsigned char *buf, size_t len, const struct pem_walk *w,
    char *msg, size_t msglen)
{
	br_pem_decoder_context pc;
	pem_dest dest;
	void *dctx;
	int inobj = 0, extra_nl = 1, ret = -1;
	size_t n;

	br_pem_decoder_init(&pc);
	while (len > 0) {
		n = br_pem_decoder_push(&pc, buf, len);
		buf += n;
		len -= n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			dest = NULL;
			dctx = NULL;
			if (w->begin(w->ctx, br_pem_decoder_name(&pc), &dest,
			    &dctx) < 0)
				goto out;
			br_pem_decoder_setdest(&pc, dest, dctx);
			inobj = 1;
			break;
		case BR_PEM_END_OBJ:
			if (inobj && w->end != NULL)
				w->end(w->ctx);
			inobj = 0;
			break;
		case BR_PEM_ERROR:
			snprintf(msg, msglen, "invalid PEM");
			goto out;
		}
		/* The decoder needs a final newline to see the last line. */
		if (len == 0 && extra_nl) {
			extra_nl = 0;
			buf = (const unsigned char *)"\n";
			len = 1;
		}
	}
	if (inobj) {
		snprintf(msg, msglen, "unterminated PEM object");
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(&pc, sizeof(pc));
	return ret;
}

/* -- chains -- */

struct chain_parse {
	struct tls_entry *e;
	unsigned char *out;             /* DER of all certificates */
	size_t cap, len, start;
	size_t off[TLS_CHAIN_MAX];      /* where each one starts in out */
	char *msg;
	size_t msglen;
};

static void
chain_append(void *ctx, const void *data, size_t len)
{
	struct chain_parse *cp = ctx;

	/* Base64 never decodes to more than its input: cap >= file size. */
	if (len > cp->cap - cp->len)
		return;
	memcpy(cp->out + cp->len, data, len);
	cp->len += len;
}

static int
chain_begin(void *ctx, const char *name, pem_dest *dest, void **dctx)
{
	struct chain_parse *cp = ctx;

	cp->start = cp->len;
	if (strcmp(name, "CERTIFICATE") != 0 &&
	    strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;       /* a key in the same file, ... */
	if (cp->e->chain_len == TLS_CHAIN_MAX) {
		snprintf(cp->msg, cp->msglen,
		    "more than %d certificates in the chain", TLS_CHAIN_MAX);
		return -1;
	}
	*dest = chain_append;
	*dctx = cp;
	return 0;
}

static void
chain_end(void *ctx)
{
	struct chain_parse *cp = ctx;

	if (cp->start == cp->len)
		return;         /* not a certificate, or an empty one */
	cp->off[cp->e->chain_len] = cp->start;
	cp->e->chain[cp->e->chain_len++].data_len = cp->len - cp->start;
	cp->start = cp->len;
}

static int
parse_chain(struct tls_entry *e, const unsigned char *buf, size_t len,
    char *msg, size_t msglen)
{
	struct chain_parse cp = { .e = e, .msg = msg, .msglen = msglen };
	struct pem_walk w = { chain_begin, chain_end, &cp };
	size_t i;

	e->chain_len = 0;
	if ((cp.out = malloc(len)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	cp.cap = len;
	if (is_pem(buf, len)) {
		if (pem_walk(buf, len, &w, msg, msglen) < 0)
			goto err;
	} else {
		memcpy(cp.out, buf, len);       /* one DER certificate */
		cp.off[0] = 0;
		e->chain[0].data_len = len;
		e->chain_len = 1;
	}
	if (e->chain_len == 0) {
		snprintf(msg, msglen, "no certificate found");
		goto err;
	}
	for (i = 0; i < e->chain_len; i++)
		e->chain[i].data = cp.out + cp.off[i];
	e->chain_mem = cp.out;
	e->chain_mem_len = cp.cap;
	return 0;
err:
	free(cp.out);
	e->chain_len = 0;
	return -1;
}

/* -- keys -- */

struct key_parse {
	br_skey_decoder_context dc;
	int found;
	int trailing;                   /* bytes came after a complete key */
	char *msg;
	size_t msglen;
};

/* 0.6's decoder crashes when pushed more after it stopped (a complete key
 * or an error): feed it only while it still wants bytes. */
static void
key_push(void *ctx, const void *data, size_t len)
{
	struct key_parse *kp = ctx;

	if (br_skey_decoder_key_type(&kp->dc) != 0) {
		kp->trailing = 1;
		return;
	}
	/* last_error() says TRUNCATED while it still wants bytes; only the
	 * err field tells a real error apart (0.6's public header). */
	if (kp->dc.err != 0)
		return;
	br_skey_decoder_push(&kp->dc, data, len);
}

static int
key_begin(void *ctx, const char *name, pem_dest *dest, void **dctx)
{
	struct key_parse *kp = ctx;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		snprintf(kp->msg, kp->msglen,
		    "encrypted private keys are not supported");
		return -1;
	}
	if (strcmp(name, "PRIVATE KEY") != 0 &&
	    strcmp(name, "RSA PRIVATE KEY") != 0 &&
	    strcmp(name, "EC PRIVATE KEY") != 0)
		return 0;       /* certificates, EC PARAMETERS, ... */
	if (kp->found++) {
		snprintf(kp->msg, kp->msglen, "more than one private key");
		return -1;
	}
	br_skey_decoder_init(&kp->dc);
	*dest = key_push;
	*dctx = kp;
	return 0;
}

/* Copy the decoded key out of the decoder into one block of our own. */
static int
key_copy(struct tls_entry *e, const br_skey_decoder_context *dc,
    char *msg, size_t msglen)
{
	const br_rsa_private_key *r;
	const br_ec_private_key *ec;
	unsigned char *p;

	e->key_type = br_skey_decoder_key_type(dc);
	if (e->key_type == BR_KEYTYPE_RSA) {
		r = br_skey_decoder_get_rsa(dc);
		e->key_mem_len = r->plen + r->qlen + r->dplen + r->dqlen + r->iqlen;
		if ((p = e->key_mem = malloc(e->key_mem_len)) == NULL)
			goto oom;
		e->rsa = *r;
#define TAKE(f) do { memcpy(p, r->f, r->f##len); e->rsa.f = p; p += r->f##len; } while (0)
		TAKE(p); TAKE(q); TAKE(dp); TAKE(dq); TAKE(iq);
#undef TAKE
	} else if (e->key_type == BR_KEYTYPE_EC) {
		ec = br_skey_decoder_get_ec(dc);
		e->key_mem_len = ec->xlen;
		if ((e->key_mem = malloc(e->key_mem_len)) == NULL)
			goto oom;
		memcpy(e->key_mem, ec->x, ec->xlen);
		e->ec.curve = ec->curve;
		e->ec.x = e->key_mem;
		e->ec.xlen = ec->xlen;
	} else {
		snprintf(msg, msglen, "unknown private key type");
		return -1;
	}
	return 0;
oom:
	e->key_mem_len = 0;
	snprintf(msg, msglen, "out of memory");
	return -1;
}

static int
parse_key(struct tls_entry *e, const unsigned char *buf, size_t len,
    char *msg, size_t msglen)
{
	struct key_parse kp = { .msg = msg, .msglen = msglen };
	struct pem_walk w = { key_begin, NULL, &kp };
	int ret = -1, err;

	if (is_pem(buf, len)) {
		/* Old-style OpenSSL encryption hides in PEM headers. */
		if (memmem(buf, len, "ENCRYPTED", 9) != NULL) {
			snprintf(msg, msglen,
			    "encrypted private keys are not supported");
			goto out;
		}
		if (pem_walk(buf, len, &w, msg, msglen) < 0)
			goto out;
		if (!kp.found) {
			snprintf(msg, msglen, "no private key found");
			goto out;
		}
	} else {
		br_skey_decoder_init(&kp.dc);
		br_skey_decoder_push(&kp.dc, buf, len);
	}
	if (kp.trailing) {
		snprintf(msg, msglen, "trailing bytes after the private key");
		goto out;
	}
	if ((err = br_skey_decoder_last_error(&kp.dc)) != 0 ||
	    br_skey_decoder_key_type(&kp.dc) == 0) {
		snprintf(msg, msglen, "cannot decode the private key "
		    "(not PKCS#1, SEC1 or unencrypted PKCS#8; BearSSL error %d)",
		    err);
		goto out;
	}
	ret = key_copy(e, &kp.dc, msg, msglen);
out:
	explicit_bzero(&kp, sizeof(kp));
	return ret;
}

/* The key must be one we offer and match the leaf certificate's. */
static int
check_pair(const struct tls_entry *e, char *msg, size_t msglen)
{
	br_x509_decoder_context xd;
	const br_x509_pkey *pk;
	unsigned char pub[BR_EC_KBUF_PUB_MAX_SIZE > 512 ? BR_EC_KBUF_PUB_MAX_SIZE : 512];
	br_ec_public_key ecpub;
	static const unsigned char probe[36] = "itkd: does this key match? ........";
	unsigned char back[sizeof(probe)];
	const unsigned char *n;
	size_t nlen, len;
	int ret = -1;

	br_x509_decoder_init(&xd, NULL, NULL);
	br_x509_decoder_push(&xd, e->chain[0].data, e->chain[0].data_len);
	if ((pk = br_x509_decoder_get_pkey(&xd)) == NULL) {
		snprintf(msg, msglen, "cannot decode the first certificate "
		    "(BearSSL error %d)", br_x509_decoder_last_error(&xd));
		goto out;
	}
	if (pk->key_type != e->key_type) {
		snprintf(msg, msglen, "private key does not match the "
		    "certificate (%s key, %s certificate)",
		    e->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC",
		    pk->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC");
		goto out;
	}
	if (e->key_type == BR_KEYTYPE_EC) {
		if (e->ec.curve != BR_EC_secp256r1 &&
		    e->ec.curve != BR_EC_secp384r1) {
			snprintf(msg, msglen, "EC curve %d not supported "
			    "(P-256 and P-384 are)", e->ec.curve);
			goto out;
		}
		len = br_ec_compute_pub(br_ec_get_default(), &ecpub, pub, &e->ec);
		if (len == 0 || pk->key.ec.curve != e->ec.curve ||
		    pk->key.ec.qlen != len || memcmp(pk->key.ec.q, pub, len)) {
			snprintf(msg, msglen,
			    "private key does not match the certificate");
			goto out;
		}
	} else {
		if (e->rsa.n_bitlen < 2048 || e->rsa.n_bitlen > 4096) {
			snprintf(msg, msglen, "RSA key of %u bits not supported "
			    "(2048 to 4096 are)", (unsigned)e->rsa.n_bitlen);
			goto out;
		}
		/* A signature by the private key that the certificate's key
		 * verifies: the same modulus, and a private key whose parts
		 * agree. With the code TLS signs and verifies with anyway
		 * (i62 where there is 64x64 multiplication), not a modulus
		 * computed apart: in 0.6 i31_compute_modulus fails on 4096
		 * bits, and i15's was 1 KiB of code for this one check. */
		len = (e->rsa.n_bitlen + 7) >> 3;
		n = pk->key.rsa.n;
		nlen = pk->key.rsa.nlen;
		while (nlen > 0 && *n == 0)
			n++, nlen--;
		if (len != nlen ||
		    !br_rsa_pkcs1_sign_get_default()(NULL, probe, sizeof(probe),
		    &e->rsa, pub) ||
		    !br_rsa_pkcs1_vrfy_get_default()(pub, len, NULL,
		    sizeof(probe), &pk->key.rsa, back) ||
		    memcmp(back, probe, sizeof(probe)) != 0) {
			snprintf(msg, msglen,
			    "private key does not match the certificate");
			goto out;
		}
	}
	ret = 0;
out:
	explicit_bzero(&xd, sizeof(xd));
	return ret;
}

static void
entry_wipe(struct tls_entry *e)
{
	if (e->key_mem != NULL)
		explicit_bzero(e->key_mem, e->key_mem_len);
	if (e->chain_mem != NULL)
		explicit_bzero(e->chain_mem, e->chain_mem_len);
	explicit_bzero(&e->rsa, sizeof(e->rsa));
	explicit_bzero(&e->ec, sizeof(e->ec));
}

static void
entry_free(struct tls_entry *e)
{
	entry_wipe(e);
	free(e->key_mem);
	free(e->chain_mem);
	memset(e, 0, sizeof(*e));
}

int
tls_parse_chain(const unsigned char *buf, size_t len, char *msg, size_t msglen)
{
	struct tls_entry e;
	int ret;

	memset(&e, 0, sizeof(e));
	ret = parse_chain(&e, buf, len, msg, msglen);
	entry_free(&e);
	return ret;
}

int
tls_parse_key(const unsigned char *buf, size_t len, char *msg, size_t msglen)
{
	struct tls_entry e;
	int ret;

	memset(&e, 0, sizeof(e));
	ret = parse_key(&e, buf, len, msg, msglen);
	entry_free(&e);
	return ret;
}

int
tls_parse_pair(const unsigned char *chain, size_t chainlen,
    const unsigned char *key, size_t keylen, char *msg, size_t msglen)
{
	struct tls_entry e;
	int ret = -1;

	memset(&e, 0, sizeof(e));
	if (parse_chain(&e, chain, chainlen, msg, msglen) == 0 &&
	    parse_key(&e, key, keylen, msg, msglen) == 0)
		ret = check_pair(&e, msg, msglen);
	entry_free(&e);
	return ret;
}

static uint32_t
cert_tag(const br_x509_certificate *c)
{
	br_sha256_context h;
	unsigned char out[32];

	br_sha256_init(&h);
	br_sha256_update(&h, c->data, c->data_len);
	br_sha256_out(&h, out);
	return (uint32_t)(out[0] | out[1] << 8 | out[2] << 16 |
	    (uint32_t)out[3] << 24) & ((1u << TAG_BITS) - 1);
}

/* Load one vhost's pair; the error names the file at fault. */
static int
load_entry(struct tls_entry *e, const struct config *cfg,
    const struct vhost *vh, char *err, size_t errlen)
{
	const char *keyfile = vh->tls_key ? vh->tls_key : vh->tls_cert;
	const char *what = "tls-cert", *file = vh->tls_cert;
	unsigned char *buf = NULL;
	size_t len = 0;
	char msg[TLS_MSG];
	int ret = -1;

	if (read_file(vh->tls_cert, &buf, &len, msg, sizeof(msg)) < 0 ||
	    parse_chain(e, buf, len, msg, sizeof(msg)) < 0)
		goto out;
	wipe_free(buf, len);
	buf = NULL;
	what = vh->tls_key ? "tls-key" : "tls-cert";
	file = keyfile;
	if (read_file(keyfile, &buf, &len, msg, sizeof(msg)) < 0 ||
	    parse_key(e, buf, len, msg, sizeof(msg)) < 0 ||
	    check_pair(e, msg, sizeof(msg)) < 0)
		goto out;
	e->tag = cert_tag(&e->chain[0]);
	ret = 0;
out:
	wipe_free(buf, len);
	if (ret < 0) {
		entry_free(e);  /* the chain (and key) parsed before the failure */
		snprintf(err, errlen, "%s:%d: %s %s: %s", cfg->path,
		    vh->tls_line ? vh->tls_line : vh->line, what, file, msg);
	}
	return ret;
}

/* Move every private key into one private mapping of their own. The
 * master withholds it from the child of a plain connection, which never
 * holds a key byte (tls_fork_prepare); a TLS child unmaps it before stage
 * 2 (tls_wipe). In the malloc heap, which every child inherits whole,
 * they could be neither. Kept out of core dumps too. */
static int
vault_build(struct tls_keys *k)
{
	struct tls_entry *e;
	unsigned char *v, *old;
	size_t len = 0, off = 0;
	int i;

	for (i = 0; i < k->n; i++)
		len += k->e[i].key_mem_len;
	if (len == 0)
		return 0;
	v = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (v == MAP_FAILED)
		return -1;
	(void)madvise(v, len, MADV_DONTDUMP);   /* best effort: old kernels */
	for (i = 0; i < k->n; i++) {
		e = &k->e[i];
		old = e->key_mem;
		memcpy(v + off, old, e->key_mem_len);
		/* The key's fields point into key_mem: the same offsets. */
#define MOVE(f) (e->f = v + off + (e->f - old))
		if (e->key_type == BR_KEYTYPE_RSA) {
			MOVE(rsa.p); MOVE(rsa.q); MOVE(rsa.dp); MOVE(rsa.dq);
			MOVE(rsa.iq);
		} else {
			MOVE(ec.x);
		}
#undef MOVE
		e->key_mem = v + off;
		wipe_free(old, e->key_mem_len);
		off += e->key_mem_len;
	}
	k->vault = v;
	k->vault_len = len;
	return 0;
}

struct tls_keys *
tls_load(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_keys *k;
	const struct vhost *vh;
	int i;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->e = calloc((size_t)cfg->nvhosts + 1, sizeof(*k->e))) == NULL ||
	    (k->by_pos = calloc((size_t)cfg->nvhosts + 1, sizeof(int))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		goto err;
	}
	k->npos = cfg->nvhosts;
	for (i = 0; i < cfg->nvhosts; i++) {
		vh = &cfg->vhosts[i];
		k->by_pos[i] = -1;
		if (vh->tls_cert == NULL && vh->tls_key == NULL)
			continue;
		if (vh->tls_cert == NULL) {
			snprintf(err, errlen, "%s:%d: tls-key without tls-cert",
			    cfg->path, vh->tls_line ? vh->tls_line : vh->line);
			goto err;
		}
		if (load_entry(&k->e[k->n], cfg, vh, err, errlen) < 0)
			goto err;
		k->e[k->n].pos = i;
		k->by_pos[i] = k->n++;
	}
	for (i = 0; i < cfg->nlisten && k->n == 0; i++) {
		if (cfg->listen[i].tls) {
			snprintf(err, errlen, "%s:%d: listen %s tls: no vhost "
			    "has a tls-cert", cfg->path, cfg->listen[i].line,
			    cfg->listen[i].text);
			goto err;
		}
	}
	if (vault_build(k) < 0) {
		snprintf(err, errlen, "%s: cannot map memory for the private "
		    "keys: %s", cfg->path, strerror(errno));
		goto err;
	}
	scrub_stack();
	return k;
err:
	tls_free(k);
	scrub_stack();
	return NULL;
}

void
tls_free(struct tls_keys *k)
{
	int i;

	if (k == NULL)
		return;
	if (k->vault != NULL) {
		explicit_bzero(k->vault, k->vault_len);
		munmap(k->vault, k->vault_len);
		for (i = 0; i < k->n; i++)
			k->e[i].key_mem = NULL;         /* it lived there */
	}
	for (i = 0; k->e != NULL && i < k->n; i++)
		entry_free(&k->e[i]);
	free(k->e);
	free(k->by_pos);
	free(k);
}

/* ---- The shared session cache ---- */

static void
cache_lock(void)
{
	/* A child killed inside save() may leave the tree half-updated:
	 * start the cache afresh rather than trust it. */
	if (pthread_mutex_lock(&cache->lock) == EOWNERDEAD) {
		explicit_bzero(cache->store, cache_len - sizeof(*cache));
		br_ssl_session_cache_lru_init(&cache->lru, cache->store,
		    cache_len - sizeof(*cache));
		pthread_mutex_consistent(&cache->lock);
	}
}

/* A session is bound to the certificate it was made with: a client that
 * resumes it under another vhost's name (SNI) would get that vhost's
 * requests served behind the first one's certificate. The LRU has no room
 * for more than version and suite, and the lookup comes before SNI is
 * parsed, so the certificate's tag rides in those two fields, packed:
 *   version field: 1, tag bits 0-8, version minor (2 bits), suite index (4)
 *   suite field:   tag bits 9-24
 * and tls_accept() drops a resumed connection whose SNI names another
 * certificate. A session of a certificate no longer loaded is not found. */
static int
suite_index(uint16_t suite)
{
	size_t i;

	for (i = 0; i < sizeof(suites_ec) / sizeof(suites_ec[0]); i++) {
		if (suites_ec[i] == suite)
			return (int)i;
		if (suites_rsa[i] == suite)
			return (int)i + 8;
	}
	return -1;
}

static void
locked_save(const br_ssl_session_cache_class **ctx,
    br_ssl_server_context *sc, const br_ssl_session_parameters *params)
{
	br_ssl_session_parameters p = *params;
	const struct tls_entry *e = the_conn.policy.chosen;
	int idx = suite_index(params->cipher_suite);
	unsigned minor = params->version & 3u;

	(void)ctx;
	if (e == NULL || idx < 0 || (params->version & ~3u) != 0x0300)
		goto out;
	p.version = (uint16_t)(0x8000 | (e->tag & 0x1FF) << 6 | minor << 4 |
	    (unsigned)idx);
	p.cipher_suite = (uint16_t)(e->tag >> 9);
	cache_lock();
	cache->lru.vtable->save(&cache->lru.vtable, sc, &p);
	pthread_mutex_unlock(&cache->lock);
out:
	explicit_bzero(&p, sizeof(p));
}

static int
locked_load(const br_ssl_session_cache_class **ctx,
    br_ssl_server_context *sc, br_ssl_session_parameters *params)
{
	const struct tls_keys *k = the_conn.policy.keys;
	unsigned v, idx;
	uint32_t tag;
	int found, i;

	(void)ctx;
	cache_lock();
	found = cache->lru.vtable->load(&cache->lru.vtable, sc, params);
	pthread_mutex_unlock(&cache->lock);
	if (!found)
		return 0;
	v = params->version;
	idx = v & 15;
	tag = (uint32_t)params->cipher_suite << 9 | (v >> 6 & 0x1FF);
	if (!(v & 0x8000) || (idx & 7) >= 5)
		goto forget;
	params->version = (uint16_t)(0x0300 | (v >> 4 & 3));
	params->cipher_suite = idx < 8 ? suites_ec[idx] : suites_rsa[idx - 8];
	for (i = 0; i < k->n; i++) {
		if (k->e[i].tag == tag) {
			the_conn.resumed_tag = (int64_t)tag;
			return 1;
		}
	}
forget:
	explicit_bzero(params->master_secret, sizeof(params->master_secret));
	return 0;
}

static const br_ssl_session_cache_class locked_class = {
	sizeof(const br_ssl_session_cache_class *), locked_save, locked_load
};
static const br_ssl_session_cache_class *locked_vtable = &locked_class;

/* The lock is a process-shared, robust pthread mutex: a futex in the
 * mapping, which glibc and musl both implement, static builds included (no
 * -lpthread with glibc >= 2.34 or musl). Robust, so a child killed while it
 * holds the lock costs the cache, not every later handshake. */
int
tls_cache_init(int entries)
{
	pthread_mutexattr_t ma;
	size_t store;
	void *m;
	int e;

	if (cache != NULL || entries <= 0)
		return 0;
	if (entries > 10 * 1000 * 1000)
		return -1;      /* 1 GB of sessions is a typo */
	store = (size_t)entries * 100;  /* the LRU's entry size */
	cache_len = sizeof(struct tls_cache) + store;
	m = mmap(NULL, cache_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	cache = m;
	/* errno: what failed. musl refuses a robust mutex with ENOSYS where
	 * get_robust_list is missing (qemu-user has none). */
	if ((e = pthread_mutexattr_init(&ma)) != 0 ||
	    (e = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED)) != 0 ||
	    (e = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (e = pthread_mutex_init(&cache->lock, &ma)) != 0) {
		munmap(m, cache_len);
		cache = NULL;
		errno = e;
		return -1;
	}
	pthread_mutexattr_destroy(&ma);
	br_ssl_session_cache_lru_init(&cache->lru, cache->store, store);
	return 0;
}

/* MADV_DONTFORK on or off for one mapping, only when that changes: a run
 * of connections of one kind costs no system call at all. */
static int
withhold(void *p, size_t len, int *withheld, int on)
{
	if (p == NULL || *withheld == on)
		return 0;
	if (madvise(p, len, on ? MADV_DONTFORK : MADV_DOFORK) < 0)
		return -1;
	*withheld = on;
	return 0;
}

int
tls_fork_prepare(struct tls_keys *k, int tls)
{
	if (withhold(cache, cache_len, &cache_withheld, !tls) < 0)
		return -1;
	if (k != NULL && withhold(k->vault, k->vault_len, &k->withheld, !tls) < 0)
		return -1;
	return 0;
}

/* ---- The policy: SNI, suites, signatures ---- */

static const struct tls_entry *
entry_for(const struct tls_keys *k, const struct vhost *vh,
    const struct config *cfg)
{
	long pos;

	if (vh == NULL)
		return NULL;
	pos = vh - cfg->vhosts;
	if (pos < 0 || pos >= k->npos || k->by_pos[pos] < 0)
		return NULL;
	return &k->e[k->by_pos[pos]];
}

/* The SNI name in lower case without a trailing dot ("" without SNI). */
static void
sni_name(const struct tls_conn *t, char *out, size_t cap)
{
	const char *s = br_ssl_engine_get_server_name(&t->sc.eng);
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
	out[i] = '\0';
	if (i > 0 && out[i - 1] == '.')
		out[i - 1] = '\0';
}

/* The vhost SNI names, if any. */
static const struct vhost *
sni_vhost(const struct tls_conn *t)
{
	char name[256];

	sni_name(t, name, sizeof(name));
	if (name[0] == '\0')
		return NULL;
	return vhost_match(t->policy.cfg, name);
}

/* The chain to send: the SNI vhost's, else the first with a certificate. */
static const struct tls_entry *
sni_entry(const struct tls_conn *t)
{
	const struct tls_entry *e;

	e = entry_for(t->policy.keys, sni_vhost(t), t->policy.cfg);
	return e ? e : &t->policy.keys->e[0];
}

/* The hash of our ServerKeyExchange signature: the best one the client
 * accepts, 0 for TLS 1.0/1.1's MD5+SHA-1 (RSA), -1 for none. */
static int
sign_hash(const br_ssl_server_context *sc, int key_type)
{
	static const int pref[] = { br_sha256_ID, br_sha384_ID,
	    br_sha512_ID, br_sha224_ID, br_sha1_ID };
	uint32_t h = br_ssl_server_get_client_hashes(sc);
	size_t i;

	if (br_ssl_engine_get_version(&sc->eng) < BR_TLS12)
		return key_type == BR_KEYTYPE_EC ? br_sha1_ID : 0;
	if (key_type == BR_KEYTYPE_EC)
		h >>= 8;
	for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (h & (1u << pref[i]))
			return pref[i];
	return -1;
}

static int
policy_choose(const br_ssl_server_policy_class **pctx,
    const br_ssl_server_context *sc, br_ssl_server_choices *ch)
{
	struct tls_policy *p = (struct tls_policy *)(void *)pctx;
	const br_suite_translated *st;
	const uint16_t *ours;
	size_t nst, i, j, nours;
	int hash;

	p->chosen = sni_entry(&the_conn);
	the_conn.resumed_tag = -1;      /* a full handshake after all */
	if (p->chosen->key_type == BR_KEYTYPE_EC) {
		ours = suites_ec;
		nours = sizeof(suites_ec) / sizeof(suites_ec[0]);
	} else {
		ours = suites_rsa;
		nours = sizeof(suites_rsa) / sizeof(suites_rsa[0]);
	}
	if (br_ssl_engine_get_version(&sc->eng) >= BR_TLS12)
		nours = SUITES_AEAD;
	if ((hash = sign_hash(sc, p->chosen->key_type)) < 0)
		return 0;
	st = br_ssl_server_get_client_suites(sc, &nst);
	for (i = 0; i < nours; i++) {
		for (j = 0; j < nst; j++) {
			if (st[j][0] != ours[i])
				continue;
			ch->cipher_suite = ours[i];
			/* 0xFF00 + id: the engine hashes, we sign the hash */
			ch->algo_id = 0xFF00 + (unsigned)hash;
			ch->chain = p->chosen->chain;
			ch->chain_len = p->chosen->chain_len;
			return 1;
		}
	}
	return 0;
}

static uint32_t
policy_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data,
    size_t *len)
{
	/* ECDHE only: the engine never asks for a static key exchange. */
	(void)pctx; (void)data; (void)len;
	return 0;
}

/* DER of the hash OIDs PKCS#1 v1.5 signatures name, by hash id. */
static const unsigned char *const rsa_oid[] = {
	NULL, NULL,
	(const unsigned char *)"\x05\x2B\x0E\x03\x02\x1A",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x04",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03",
};

static size_t
policy_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id,
    unsigned char *data, size_t hv_len, size_t len)
{
	struct tls_policy *p = (struct tls_policy *)(void *)pctx;
	const struct tls_entry *e = p->chosen;
	unsigned char hv[64];
	size_t siglen = 0;

	/* algo_id is 0xFF00 + hash id, as choose() set it. */
	algo_id &= 0xFF;
	if (algo_id > 6 || hv_len > sizeof(hv) || e == NULL)
		return 0;
	memcpy(hv, data, hv_len);
	if (e->key_type == BR_KEYTYPE_EC) {
		if (algo_id < 2 || len < 139)   /* the largest ASN.1 ECDSA */
			goto out;
		siglen = br_ecdsa_i31_sign_asn1(br_ec_get_default(),
		    hash_by_id[algo_id], hv, &e->ec, data);
	} else {
		/* BearSSL's default is its i62 code where the compiler has
		 * 64x64->128 multiplication (x86_64, arm64): twice i31's
		 * signatures per second, measured on RSA 2048. */
		siglen = (e->rsa.n_bitlen + 7) / 8;
		if (algo_id == 1 || len < siglen ||
		    !br_rsa_pkcs1_sign_get_default()(rsa_oid[algo_id], hv,
		    hv_len, &e->rsa, data))
			siglen = 0;
	}
out:
	explicit_bzero(hv, sizeof(hv));
	return siglen;
}

static const br_ssl_server_policy_class policy_class = {
	sizeof(struct tls_policy), policy_choose, policy_keyx, policy_sign
};

/* ---- The engine over the socket ---- */

/* Wait for ev on fd until the deadline (<= 0: none): 1, or -1 with errno
 * ETIMEDOUT when the deadline passed. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left;
	int r;

	for (;;) {
		left = deadline > 0 ? deadline - clock_ms() : -1;
		if (deadline > 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int
send_records(struct tls_conn *t, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned char *buf;
	size_t len;
	ssize_t n;

	buf = br_ssl_engine_sendrec_buf(eng, &len);
	for (;;) {
		n = send(t->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			br_ssl_engine_sendrec_ack(eng, (size_t)n);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(t->fd, POLLOUT, deadline) > 0)
			continue;
		return -1;
	}
}

/* 1 bytes read, 0 EOF, -1 error or deadline. */
static int
recv_records(struct tls_conn *t, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned char *buf;
	size_t len;
	ssize_t n;

	buf = br_ssl_engine_recvrec_buf(eng, &len);
	for (;;) {
		n = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			br_ssl_engine_recvrec_ack(eng, (size_t)n);
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(t->fd, POLLIN, deadline) > 0)
			continue;
		return -1;
	}
}

/* Move records until the engine reaches one of the states in want.
 * 0 reached, 1 the peer closed (close_notify or EOF), -1 error/deadline. */
static int
pump(struct tls_conn *t, unsigned want, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned st;
	int r;

	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED)
			return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 1 : -1;
		if (st & BR_SSL_SENDREC) {
			if (send_records(t, deadline) < 0)
				return -1;
			continue;
		}
		if (st & want)
			return 0;
		if (!(st & BR_SSL_RECVREC))
			return -1;
		if ((r = recv_records(t, deadline)) <= 0)
			return r == 0 ? 1 : -1;
	}
}

static int
reseed(br_ssl_engine_context *eng)
{
	unsigned char seed[32];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(seed)) {
		n = getrandom(seed + got, sizeof(seed) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
	explicit_bzero(seed, sizeof(seed));
	return 0;
}

/* The curves ECDHE may use: X25519, P-256 and P-384, what the docs
 * promise. BearSSL's default implementation also does P-521, which no
 * client needs (every one offers X25519 or P-256): a copy of it with that
 * bit cleared, made once per process. */
#define TLS_CURVES ((UINT32_C(1) << BR_EC_curve25519) | \
    (UINT32_C(1) << BR_EC_secp256r1) | (UINT32_C(1) << BR_EC_secp384r1))

static const br_ec_impl *
ec_offered(void)
{
	static br_ec_impl ec;

	if (ec.supported_curves == 0) {
		ec = *br_ec_get_default();
		ec.supported_curves &= TLS_CURVES;
	}
	return &ec;
}

/* ChaCha20-Poly1305 as br_ssl_engine_set_default_chapol() sets it up,
 * less the fallback a 64-bit target never takes: BearSSL builds its
 * 64-bit Poly1305 wherever the compiler has 128-bit integers, and the
 * default still links the 32-bit multiply code beside it (768 bytes on
 * aarch64, whose binary is at its size limit). */
static void
chapol_setup(br_ssl_engine_context *eng)
{
#ifdef __SIZEOF_INT128__
	br_chacha20_run sse2 = br_chacha20_sse2_get();

	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable,
	    &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, sse2 ? sse2 : &br_chacha20_ct_run);
	br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmulq_run);
#else
	br_ssl_engine_set_default_chapol(eng);
#endif
}

static void
engine_setup(struct tls_conn *t, const struct config *cfg)
{
	static const char *alpn[] = { "http/1.1" };
	uint16_t suites[2 * SUITES_AEAD + 4];
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned min = BR_TLS12;
	size_t n = 0, i;
	int id;

	if (cfg->tls_versions & TLS_V11)
		min = BR_TLS11;
	if (cfg->tls_versions & TLS_V10)
		min = BR_TLS10;
	for (i = 0; i < SUITES_AEAD; i++) {
		suites[n++] = suites_ec[i];
		suites[n++] = suites_rsa[i];
	}
	for (i = SUITES_AEAD; min < BR_TLS12 && i < SUITES_AEAD + 2; i++) {
		suites[n++] = suites_ec[i];
		suites[n++] = suites_rsa[i];
	}
	br_ssl_server_zero(&t->sc);
	br_ssl_engine_set_versions(eng, min, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, n);
	br_ssl_engine_set_default_ec(eng);     /* and ECDSA with it */
	br_ssl_engine_set_ec(eng, ec_offered());
	for (id = br_md5_ID; id <= br_sha512_ID; id++)
		br_ssl_engine_set_hash(eng, id, hash_by_id[id]);
	br_ssl_engine_set_prf10(eng, &br_tls10_prf);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	chapol_setup(eng);
	if (min < BR_TLS12)
		br_ssl_engine_set_default_aes_cbc(eng);
	br_ssl_engine_set_all_flags(eng,
	    BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_protocol_names(eng, alpn, 1);
	br_ssl_engine_set_buffer(eng, t->iobuf, sizeof(t->iobuf), 1);
	br_ssl_server_set_policy(&t->sc, &t->policy.vtable);
	if (cache != NULL)
		br_ssl_server_set_cache(&t->sc, &locked_vtable);
}

struct tls_conn *
tls_accept(struct tls_keys *k, const struct config *cfg, int fd,
    int64_t deadline)
{
	struct tls_conn *t = &the_conn;
	const struct vhost *vh;

	if (k == NULL || k->n == 0)
		return NULL;
	t->fd = fd;
	t->vh = NULL;
	t->server_name[0] = '\0';
	t->policy.vtable = &policy_class;
	t->policy.keys = k;
	t->policy.cfg = cfg;
	t->policy.chosen = NULL;
	t->resumed_tag = -1;
	engine_setup(t, cfg);
	/* Fresh kernel randomness in every child: a context is never shared
	 * with the parent or a sibling (ServerRandom, ECDHE secrets). */
	if (reseed(&t->sc.eng) < 0) {
		log_error(NULL, "tls: getrandom: %s", strerror(errno));
		return NULL;
	}
	if (!br_ssl_server_reset(&t->sc))
		return NULL;
	if (pump(t, BR_SSL_SENDAPP, deadline) != 0)
		return NULL;
	if (t->resumed_tag >= 0 && t->resumed_tag != sni_entry(t)->tag)
		return NULL;    /* resumed under another certificate's name */
	snprintf(t->server_name, sizeof(t->server_name), "%s",
	    br_ssl_engine_get_server_name(&t->sc.eng));
	vh = sni_vhost(t);
	t->vh = vh ? vh : &cfg->vhosts[k->e[0].pos];
	return t;
}

const struct vhost *
tls_vhost(const struct tls_conn *t)
{
	return t ? t->vh : NULL;
}

const char *
tls_server_name(const struct tls_conn *t)
{
	return t ? t->server_name : "";
}

void
tls_unmap(struct tls_keys *k)
{
	the_conn.policy.chosen = NULL;
	if (k != NULL && k->vault != NULL) {
		/* Every key byte this process holds: gone from its memory
		 * (the master keeps its own copy). */
		munmap(k->vault, k->vault_len);
		k->vault = NULL;
	}
	if (cache != NULL) {
		/* The engine must not touch the cache once it is gone. */
		br_ssl_server_set_cache(&the_conn.sc, NULL);
		munmap(cache, cache_len);
		cache = NULL;
	}
}

void
tls_wipe(struct tls_keys *k)
{
	tls_unmap(k);
	scrub_stack();
}

ssize_t
tls_read(struct tls_conn *t, void *buf, size_t len, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned char *app;
	size_t alen;
	int r;

	if (len == 0)
		return 0;
	if ((r = pump(t, BR_SSL_RECVAPP, deadline)) != 0)
		return r > 0 ? 0 : -1;
	app = br_ssl_engine_recvapp_buf(eng, &alen);
	if (alen > len)
		alen = len;
	memcpy(buf, app, alen);
	br_ssl_engine_recvapp_ack(eng, alen);
	return (ssize_t)alen;
}

int
tls_write(struct tls_conn *t, const void *buf, size_t len, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	const unsigned char *p = buf;
	unsigned char *app;
	size_t alen;

	while (len > 0) {
		if (pump(t, BR_SSL_SENDAPP, deadline) != 0)
			return -1;
		app = br_ssl_engine_sendapp_buf(eng, &alen);
		if (alen > len)
			alen = len;
		memcpy(app, p, alen);
		br_ssl_engine_sendapp_ack(eng, alen);
		p += alen;
		len -= alen;
	}
	return 0;
}

int
tls_flush(struct tls_conn *t, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned st;

	br_ssl_engine_flush(eng, 0);
	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED)
			return -1;
		if (!(st & BR_SSL_SENDREC))
			return 0;
		if (send_records(t, deadline) < 0)
			return -1;
	}
}

size_t
tls_pending(const struct tls_conn *t)
{
	size_t len = 0;

	if (br_ssl_engine_current_state(&t->sc.eng) & BR_SSL_RECVAPP)
		br_ssl_engine_recvapp_buf(&t->sc.eng, &len);
	return len;
}

void
tls_close(struct tls_conn *t, int64_t deadline)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	int64_t soon = clock_ms() + 1000;

	/* Our close_notify goes out; the peer's is never waited for. */
	if (deadline <= 0 || deadline > soon)
		deadline = soon;
	br_ssl_engine_close(eng);
	while ((br_ssl_engine_current_state(eng) &
	    (BR_SSL_SENDREC | BR_SSL_CLOSED)) == BR_SSL_SENDREC)
		if (send_records(t, deadline) < 0)
			break;
}
