/* handoff.h: a kept-alive connection that asks for another identity goes
 * from its stage-2 process, through the master, to a fresh connection
 * process (`cross-identity handoff`). One fixed-size message and two fds
 * on a SOCK_SEQPACKET socketpair the master makes at start. */
#ifndef ITKD_HANDOFF_H
#define ITKD_HANDOFF_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct config;

#define HANDOFF_MAGIC 0x69746b68u       /* "itkh" */

/* Fixed size; the master range-checks every field and reads nothing
 * else of the sender's but the two fds it names (and those only with
 * fstat and F_GET_SEALS). */
struct handoff_msg {
	uint32_t magic;                 /* HANDOFF_MAGIC */
	uint32_t tls;                   /* 1: fd is the plaintext end of a
					 * TLS gatekeeper's relay */
	int32_t sni_vhost;              /* TLS with SNI: its vhost; -1 */
	uint32_t requests;              /* answered on the connection so far */
	uint32_t generation;            /* of the config the sender was
					 * started with: sni_vhost's numbering */
	struct sockaddr_storage client; /* as stage 2 logged it (PROXY's) */
	struct sockaddr_storage local;  /* the connection's local address */
};

/* Master, at start: the channel. *master_end is polled by the master,
 * *child_end is inherited by every connection process (both CLOEXEC).
 * 0 or -1. */
int handoff_channel(int *master_end, int *child_end);

/* Stage 2: put bytes[0..len) in a sealed memfd and send m, conn_fd and
 * the memfd on chan. 0, or -1 (nothing was handed off: close as
 * before). */
int handoff_send(int chan, const struct handoff_msg *m, int conn_fd,
    const char *bytes, size_t len);

/* Master: one message from chan, checked. 1 with *m, fds[0] (the
 * connection), fds[1] (the sealed memfd) and *sender (its pid, from the
 * kernel); 0 when a message was refused (its fds closed; *sender set if
 * known, else 0); -1 when none is waiting. */
int handoff_recv(int chan, const struct config *cfg, struct handoff_msg *m,
    int fds[2], pid_t *sender);

/* The gatekeeper of a handed-off connection: the bytes of the memfd into
 * buf[0..cap), read from its start. Their count, or -1. */
ssize_t handoff_load(int memfd, char *buf, size_t cap);

#endif
