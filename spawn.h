/* spawn.h: the gatekeeper spawner. A long-lived child of the master, one
 * per config generation and kind (plain connections, TLS ones), that has
 * given up its privileges and installed the gatekeepers' seccomp filter
 * once; it forks each connection's gatekeeper, which so inherits both
 * instead of paying for them (the filter's attach is the largest cost of
 * a connection above its two forks). It never reads a client's byte. */
#ifndef ITKD_SPAWN_H
#define ITKD_SPAWN_H

struct config;
struct tls_keys;
struct accepted;

/* The spawner, in the master's child on the end sock of a SOCK_SEQPACKET
 * socketpair whose other end the master keeps (and each monitor
 * inherits), once the master's fds are closed: ids, capabilities and the
 * filter (priv_spawner), then one gatekeeper per request; exits when every
 * holder of the other end has closed it. keys: NULL for plain
 * connections. Never returns. */
void spawn_serve(const struct config *cfg, struct tls_keys *keys, int sock)
    __attribute__((noreturn));

/* The monitor: ask the spawner on sock for a gatekeeper of a (slot), to
 * talk to it on sp (passed, with a->fd). 0, or -1 with errno when the
 * spawner is gone or busy: the monitor forks the gatekeeper itself. */
int spawn_ask(int sock, const struct accepted *a, int slot, int sp);

#endif
