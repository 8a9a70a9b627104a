/* gate.h: the gatekeeper, the one process of a connection that reads the
 * client's bytes before a vhost is chosen, and the one message it sends
 * its parent (the monitor). */
#ifndef ITKD_GATE_H
#define ITKD_GATE_H

#include <stdint.h>
#include <sys/socket.h>

struct config;
struct tls_keys;
struct accepted;

#define GATE_MAGIC    0x69746b67u       /* "itkg" */
#define GATE_NAME_MAX 64                /* a userdir name, with its NUL */

/* Fixed size, and every field range-checked by the monitor before it acts
 * on any of it: the only thing the process holding CAP_SETUID ever reads
 * from a process that has read client bytes. */
struct gate_msg {
	uint32_t magic;                 /* GATE_MAGIC */
	int32_t vhost;                  /* position in cfg->vhosts */
	int32_t sni_vhost;              /* TLS with SNI: the vhost it chose; -1 */
	uint32_t tls;                   /* 1: the gatekeeper relays plaintext */
	uint32_t nbytes;                /* request bytes after the message */
	char user[GATE_NAME_MAX];       /* "/~user/": user, NUL-padded; or "" */
	struct sockaddr_storage client; /* a trusted PROXY header's client,
					 * or family AF_UNSPEC */
};

/* The gatekeeper, in the spawner's child (spawned: its privileges are
 * gone already) or the monitor's: give up every privilege, read
 * the PROXY header, do the TLS handshake, read and parse the first request
 * head and choose its vhost; answer it itself when it cannot be served.
 * Else send the monitor a gate_msg and the bytes read (the head and what
 * came behind it) on sp; then exit (plain) or relay plaintext between the
 * client and sp until either side ends (TLS). Never returns. */
void gate_run(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, int slot, int sp, int spawned)
    __attribute__((noreturn));

/* "/~name" or "/~name/..." on a vhost with `userdir`: name into
 * out[GATE_NAME_MAX] if it is one a user could have (the POSIX portable
 * set), else "". The monitor looks the name up itself. */
struct vhost;
void gate_userdir_name(const struct vhost *vh, const char *path, char *out);

#endif
