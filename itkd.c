/* itkd.c: command line, the master loop, signals, reload, inetd mode.
 *
 * The master runs as uid 0 with a cut-down capability set. It binds the
 * listeners, opens the logs, loads the keys, then accept()s and fork()s:
 * it never reads a byte a client sent (invariant 1). With `cross-identity
 * handoff` it also passes a connection from one connection process to a
 * fresh one: a fixed-size message and two fds it checks but never reads
 * (handoff.c). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgiabi.h"
#include "file.h"
#include "handoff.h"
#include "log.h"
#include "path.h"
#include "priv.h"
#include "proxy.h"
#include "score.h"
#include "serve.h"
#include "sig.h"
#include "spawn.h"
#include "tls.h"
#include "vhost.h"

#define GRACE_SECONDS 10
#define ACCEPT_BATCH  16     /* connections taken per poll() wake-up */
#define HANDOFF_PENDING 64   /* hand-offs waiting for their sender's exit */

struct listener {
	int fd;
	int tls;
	int nodelay;            /* TCP_NODELAY set: accepted sockets inherit it */
	struct listen_addr addr;
};

static struct config cfg;
static struct tls_keys *keys;
static struct listener lst[CONF_LISTEN_MAX];
static int nlst;
static int foreground;
static int activated;            /* listeners came from systemd */
static int sig_fd = -1;           /* signalfd: TERM, INT, HUP, CHLD */
static int chan_master = -1;      /* the hand-off channel: ours */
static int chan_child = -1;       /* every connection process's */
static int stopping;              /* SIGTERM: no new connection process */
/* The spawners (spawn.h) of this config generation: [0] for plain
 * connections, which holds no key and no session cache (only with a
 * plain listener), [1] for TLS ones (only with a TLS listener). sock: our
 * end, each monitor's to ask; -1 when there is none (monitors fork their
 * gatekeepers themselves). since: when it was started; once it failed
 * or ended, when that was, and delay the seconds from then to the next
 * try. */
static struct spawner {
	int sock;
	pid_t pid;
	time_t since;
	unsigned delay;
} spawners[2] = { { -1, 0, 0, 1 }, { -1, 0, 0, 1 } };
/* One that cannot start, or dies young, waits twice as long each time,
 * up to a minute: a line in the log per try, not one a second for
 * ever. One that lived SPAWNER_STEADY seconds starts again after one. */
#define SPAWNER_DELAY_MAX 64
#define SPAWNER_STEADY 60
static unsigned generation;       /* of the config, one more per reload */
/* A hand-off goes on in a fresh process once its sender has exited and
 * been reaped: the slot passes from one to the other, so the hand-off
 * never counts twice against max-clients or max-clients-per-ip, and a
 * sender that does not exit only keeps its own connection waiting. */
static struct pending {
	pid_t from;             /* 0: free */
	int fds[2];             /* the connection, the sealed memfd */
	struct handoff_msg m;
} pending[HANDOFF_PENDING];
static int npending;
/* What the signalfd said, for the loop. Not globals: a master page
 * written between two forks is a copy-on-write fault each time. */
struct sig_flags {
	int term, hup, chld;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: itkd [-c FILE] [-f] [-t] [-i] [-T] [-v] [-h]\n"
	    "  -c FILE   config file (default /etc/itkd.conf)\n"
	    "  -f        stay in the foreground, log to stderr\n"
	    "  -t        check the config and exit\n"
	    "  -i        inetd mode: serve the connection on standard input\n"
	    "  -T        trace every privilege step to the error log\n"
	    "  -v, -h    version, help\n");
}

/* The dispositions a connection process wants (serve.h), set once here
 * and inherited by every fork. Whoever started us may have left a signal
 * ignored, and an ignored signal stays ignored across execve: an ignored
 * SIGCHLD would make the kernel reap children unseen (the master's
 * scoreboard slots never freed, CGI exit statuses lost). So every one
 * goes back to SIG_DFL, and then only sig.c's own few are ignored. */
static int
signals_default(void)
{
	sig_default_all();
	return sig_ignore_ours();
}

/* A connection process blocks nothing (CGI programs inherit its mask). */
static int
signals_unblock(void)
{
	sigset_t none;

	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The master's signals arrive as reads from a signalfd in its poll set,
 * not through handlers: no handler frame, self-pipe write and restarted
 * poll per exited child, and the connection process has no handler to
 * undo (see serve.h for the state it is handed). */
static int
signals_init(void)
{
	sigset_t set;

	if (signals_default() < 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	if ((sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	return 0;
}

/* Turn what the signalfd holds into flags for the loop. Four signals,
 * each pending at most once: one read takes them all. Not inlined: its
 * 1 KiB buffer would sit in the loop's frame, above every fork. */
static void __attribute__((noinline))
signals_read(struct sig_flags *f)
{
	struct signalfd_siginfo si[8];
	ssize_t n;
	size_t i;

	if ((n = read(sig_fd, si, sizeof(si))) > 0)
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			if (si[i].ssi_signo == SIGTERM || si[i].ssi_signo == SIGINT)
				f->term = 1;
			else if (si[i].ssi_signo == SIGHUP)
				f->hup = 1;
			else if (si[i].ssi_signo == SIGCHLD)
				f->chld = 1;
		}
}

/* TCP_NODELAY on a listening socket is inherited by every socket it
 * accepts (Linux copies it at accept): one setsockopt here instead of one
 * in each connection process. 1 if set (a non-TCP socket from systemd
 * refuses it: then conn_init does what it needs itself). */
static int
listener_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
}

/* A listener bound to every address: its connections' local address is
 * one of them, which only getsockname on the connection tells. */
static int
is_wildcard(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return s4->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	return 1;
}

static int
listener_open(struct listener *l, const struct listen_addr *a, char *err,
    size_t errlen)
{
	int one = 1;

	l->addr = *a;
	l->tls = a->tls;
	l->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		goto err;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto err;
	/* [::]:80 means IPv6 only; `*:80` or a separate line gives IPv4. */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto err;
	if (bind(l->fd, (const struct sockaddr *)&a->ss, a->sslen) < 0)
		goto err;
	if (listen(l->fd, 511) < 0)
		goto err;
	l->nodelay = listener_nodelay(l->fd);
	return 0;
err:
	snprintf(err, errlen, "%s:%d: listen %s: %s", cfg.path ? cfg.path : "",
	    a->line, a->text, strerror(errno));
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	return -1;
}

static int
same_addr(const struct listen_addr *a, const struct listen_addr *b)
{
	return a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* The config line a, maybe a wildcard, covers the bound socket b. */
static int
same_port(const struct listen_addr *a, const struct listen_addr *b)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a->ss;

	if (port_of(&a->ss) != port_of(&b->ss))
		return 0;
	if (same_addr(a, b))
		return 1;
	return (a->ss.ss_family == AF_INET && a4->sin_addr.s_addr == INADDR_ANY) ||
	    (a->ss.ss_family == AF_INET6 && memcmp(&a6->sin6_addr, &any6, 16) == 0);
}

/* Bind what c asks for, reusing the sockets we hold for the same address, so
 * a reload never drops a connection waiting in a backlog. All or nothing. */
static int
listeners_update(const struct config *c, char *err, size_t errlen)
{
	struct listener next[CONF_LISTEN_MAX];
	int i, j, n = 0, used[CONF_LISTEN_MAX] = { 0 };

	for (i = 0; i < c->nlisten; i++, n++) {
		for (j = 0; j < nlst; j++)
			if (!used[j] && same_addr(&lst[j].addr, &c->listen[i]))
				break;
		if (j < nlst) {
			used[j] = 1;
			next[n] = lst[j];
			next[n].addr = c->listen[i];
			next[n].tls = c->listen[i].tls;
		} else if (listener_open(&next[n], &c->listen[i], err, errlen) < 0) {
			goto err;
		}
	}
	for (j = 0; j < nlst; j++)
		if (!used[j])
			close(lst[j].fd);
	memcpy(lst, next, sizeof(next[0]) * (size_t)n);
	nlst = n;
	return 0;
err:
	/* Close only what this call opened. */
	while (n-- > 0) {
		for (j = 0; j < nlst; j++)
			if (lst[j].fd == next[n].fd)
				break;
		if (j == nlst)
			close(next[n].fd);
	}
	return -1;
}

/* systemd socket activation: LISTEN_FDS sockets from fd 3 replace the
 * `listen` lines. A socket is TLS when a `listen ... tls` line names its
 * address (or its port, for a wildcard line). */
static int
listeners_inherit(const struct config *c, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct listener *l;
	char *end;
	long n;
	int i, j, fl;

	if (pid == NULL || fds == NULL || strtol(pid, &end, 10) != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	if (*end != '\0' || n < 1 || n > CONF_LISTEN_MAX) {
		snprintf(err, errlen, "LISTEN_FDS=%s: not a usable count", fds);
		return -1;
	}
	for (i = 0; i < n; i++) {
		l = &lst[i];
		memset(l, 0, sizeof(*l));
		l->fd = 3 + i;
		l->addr.sslen = sizeof(l->addr.ss);
		if (getsockname(l->fd, (struct sockaddr *)&l->addr.ss, &l->addr.sslen) < 0 ||
		    (fl = fcntl(l->fd, F_GETFL)) < 0 ||
		    fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(l->fd, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "LISTEN_FDS: fd %d: %s", l->fd, strerror(errno));
			return -1;
		}
		snprintf(l->addr.text, sizeof(l->addr.text), "fd %d", l->fd);
		l->nodelay = listener_nodelay(l->fd);
		for (j = 0; j < c->nlisten; j++)
			if (same_port(&c->listen[j], &l->addr))
				l->tls = l->addr.tls = c->listen[j].tls;
	}
	nlst = (int)n;
	activated = 1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 1;
}

static int handoff_start(pid_t from);
static int spawner_ended(pid_t pid, const siginfo_t *si);

/* Reap one child that has ended, waiting for one if `block`: 1, or 0 when
 * there is none. An abnormal end is logged under the vhost the child
 * served, which its name tells while it is not reaped yet (WNOWAIT). */
static int
reap_one(int block)
{
	const struct vhost *vh = NULL;
	siginfo_t si;
	int pos;

	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) < 0 ||
	    si.si_pid <= 0)
		return 0;
	if (si.si_code != CLD_EXITED || si.si_status != 0) {
		pos = score_vhost_of(si.si_pid);
		vh = pos >= 0 && pos < cfg.nvhosts ? &cfg.vhosts[pos] : NULL;
	}
	if (waitpid(si.si_pid, NULL, 0) != si.si_pid)
		return 0;
	if (spawner_ended(si.si_pid, &si))
		return 1;
	if (!handoff_start(si.si_pid))
		score_release(si.si_pid);
	if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
		log_error(vh, "child %ld killed by signal %d", (long)si.si_pid,
		    si.si_status);
	else if (si.si_status != 0)
		log_error(vh, "child %ld exited with status %d",
		    (long)si.si_pid, si.si_status);
	return 1;
}

/* Reap every child that has exited: one SIGCHLD may stand for many. */
static void
reap(void)
{
	while (reap_one(0))
		;
}

/* Whether the children of c count on the shared board: some vhost has
 * `max-clients`, or clients behind a trusted proxy are counted by address. */
static int
counts_vhosts(const struct config *c)
{
	int i;

	for (i = 0; i < c->nvhosts; i++)
		if (c->vhosts[i].max_clients > 0)
			return 1;
	/* Behind a trusted proxy, the children count clients by address. */
	return c->max_clients_per_ip > 0 && c->nproxy > 0;
}

/* A reload that would change what the seccomp filter admits cannot work:
 * the filter is fixed at start (docs/design.md, rule 5). */
static int
reload_allowed(const struct config *n, char *err, size_t errlen)
{
	if (n->uid_min != cfg.uid_min || n->uid_max != cfg.uid_max ||
	    n->gid_min != cfg.gid_min || n->gid_max != cfg.gid_max ||
	    n->uid != cfg.uid || n->gid != cfg.gid) {
		snprintf(err, errlen, "%s: uid-range, gid-range, user and group "
		    "cannot change on reload: restart itkd", n->path);
		return -1;
	}
	return 0;
}

static void spawners_start(void);

/* Not inlined: its two struct config (16 KiB) would sit in the master
 * loop's frame, between the top of the stack and every fork. */
static void __attribute__((noinline))
reload(void)
{
	struct config n;
	struct config old;
	struct tls_keys *k = NULL;
	char err[1024];
	int i;

	if (config_load(&n, cfg.path, err, sizeof(err)) < 0)
		goto err;
	if (reload_allowed(&n, err, sizeof(err)) < 0)
		goto err_cfg;
	if ((k = tls_load(&n, err, sizeof(err))) == NULL)
		goto err_cfg;
	/* NULL drops the types of an old `mime-types` file. */
	if (file_mime_load(n.mime_types, err, sizeof(err)) < 0)
		goto err_keys;
	if (!activated && listeners_update(&n, err, sizeof(err)) < 0)
		goto err_keys;
	if (log_open(&n, foreground, err, sizeof(err)) < 0)
		goto err_keys;
	old = cfg;
	cfg = n;
	config_free(&old);
	if (score_config(counts_vhosts(&cfg)) < 0)
		log_error(NULL, "madvise: %s: vhost max-clients not counted",
		    strerror(errno));
	tls_free(keys);
	keys = k;
	/* Vhost positions change meaning: a hand-off from a process of the
	 * old config is refused (its connection closes, as with `close`). */
	generation++;
	/* The old spawners exit once their last monitors have asked. */
	spawners_start();
	log_error(NULL, "reloaded %s", cfg.path);
	for (i = 0; config_warning(&cfg, &i, err, sizeof(err));)
		log_error(NULL, "%s", err);
	return;
err_keys:
	tls_free(k);
err_cfg:
	config_free(&n);
err:
	log_error(NULL, "reload failed, keeping the old config: %s", err);
}

/* The master's fds a child closes (the listeners, the signalfd, the
 * hand-off channel's master end, the spawners' sockets but keep's) into
 * fds; their number. */
static int
master_fds(int *fds, int keep)
{
	int i, n = 0;

	for (i = 0; i < nlst; i++)
		fds[n++] = lst[i].fd;
	fds[n++] = sig_fd;
	if (chan_master >= 0)
		fds[n++] = chan_master;
	for (i = 0; i < 2; i++)
		if (spawners[i].sock >= 0 && spawners[i].sock != keep)
			fds[n++] = spawners[i].sock;
	return n;
}

/* The child of a fork: serve a, after closing what is the master's. */
static void __attribute__((noreturn))
child_serve(struct accepted *a, struct tls_keys *k, int slot)
{
	int fds[CONF_LISTEN_MAX + 5], n;

	/* Undo the master's signal set-up: serve.h's state. */
	if (signals_unblock() < 0)
		_exit(1);
	n = master_fds(fds, a->spawner);
	a->chan = -1;
	a->generation = generation;
	if (chan_child >= 0 && cfg.cross_identity == CROSS_HANDOFF)
		a->chan = chan_child;
	else if (chan_child >= 0)
		fds[n++] = chan_child;
	serve_connection(&cfg, k, a, fds, n, slot);
}

/* s failed to start or ended: the wait before the next try. */
static void
spawner_backoff(struct spawner *s)
{
	time_t now = time(NULL);

	if (now - s->since >= SPAWNER_STEADY)
		s->delay = 1;
	else if (s->delay < SPAWNER_DELAY_MAX)
		s->delay *= 2;
	s->since = now;
}

/* Fork the spawner of kind tls (0 plain, 1 TLS) for the config and keys
 * of now. Its socket is SOCK_SEQPACKET: one request per message, and its
 * fds with it. The plain one gets neither key nor session cache. */
static void
spawner_start(int tls)
{
	struct spawner *s = &spawners[tls];
	int sv[2], fds[CONF_LISTEN_MAX + 5], n, i;

	s->since = time(NULL);
	s->pid = -1;            /* until it runs: spawners_check tries again */
	if (tls_fork_prepare(keys, tls) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_error(NULL, "spawner: %s", strerror(errno));
		spawner_backoff(s);
		return;
	}
	if ((s->pid = _Fork()) == 0) {
		n = master_fds(fds, -1);
		fds[n++] = chan_child;
		fds[n++] = sv[0];
		/* A hand-off waiting for its sender: not the spawner's. */
		for (i = 0; i < HANDOFF_PENDING; i++)
			if (pending[i].from != 0) {
				close(pending[i].fds[0]);
				close(pending[i].fds[1]);
			}
		for (i = 0; i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (signals_unblock() < 0)
			_exit(1);
		spawn_serve(&cfg, tls ? keys : NULL, sv[1]);
	}
	close(sv[1]);
	if (s->pid < 0) {
		log_error(NULL, "spawner: fork: %s", strerror(errno));
		close(sv[0]);
		spawner_backoff(s);
		return;
	}
	s->sock = sv[0];
}

/* At start and after a reload: new spawners for the new config. Closing
 * our end of the old ones' sockets first keeps them out of the new ones;
 * each old spawner exits when its last monitor has closed its copy. */
static void
spawners_start(void)
{
	int i, kind[2] = { 0, 0 };

	for (i = 0; i < 2; i++) {
		if (spawners[i].sock >= 0)
			close(spawners[i].sock);
		spawners[i].sock = -1;
		spawners[i].pid = 0;
		spawners[i].delay = 1;
	}
	for (i = 0; i < nlst; i++)
		kind[lst[i].tls != 0] = 1;
	for (i = 0; i < 2; i++)
		if (kind[i])
			spawner_start(i);
}

/* A spawner of this generation that died is started again once its
 * delay has passed (one that cannot start must not make the master spin,
 * nor fill the log); meanwhile monitors fork their own gatekeepers. 1
 * while one waits. */
static int
spawners_check(void)
{
	int i, waiting = 0;

	for (i = 0; i < 2; i++) {
		if (spawners[i].pid < 0 &&
		    time(NULL) - spawners[i].since >= (time_t)spawners[i].delay)
			spawner_start(i);
		waiting |= spawners[i].pid < 0;
	}
	return waiting;
}

/* pid was reaped: if it was a spawner, 1 (and a live one of this
 * generation is marked for spawners_check). An old one exits 0 when
 * drained; any other end is logged. */
static int
spawner_ended(pid_t pid, const siginfo_t *si)
{
	int i;

	for (i = 0; i < 2; i++)
		if (spawners[i].pid == pid) {
			close(spawners[i].sock);
			spawners[i].sock = -1;
			spawners[i].pid = stopping ? 0 : -1;
			if (stopping)
				return 1;
			spawner_backoff(&spawners[i]);
			log_error(NULL, "spawner %ld ended (%d): restarting "
			    "it in %u s", (long)pid, si->si_status,
			    spawners[i].delay);
			return 1;
		}
	return 0;
}

static void
spawn(int fd, const struct listener *l, const struct sockaddr_storage *peer)
{
	struct accepted a = { .fd = fd, .tls = l->tls, .peer = peer,
	    .local = is_wildcard(&l->addr.ss) ? NULL : &l->addr.ss,
	    .ready = l->nodelay, .chan = -1, .preload = -1, .relayed = 0,
	    .sni_vhost = -1, .requests = 0, .spawner = -1 };
	static time_t last_fail;
	const char *what;
	int slot;
	pid_t pid;

	/* A trusted proxy's connections are counted by the child, per client
	 * its PROXY header names (score_claim_client). */
	if (cfg.max_clients_per_ip > 0 && !proxy_trusted(&cfg, peer) &&
	    score_count_peer(peer) >= cfg.max_clients_per_ip) {
		close(fd);      /* closed at once: nothing is read */
		return;
	}
	if ((slot = score_reserve(peer)) < 0) {
		close(fd);
		return;
	}
	a.spawner = spawners[l->tls != 0].sock;
	/* The session cache and the private keys go to a TLS connection's
	 * child only: a plain one's never holds them, not even its gatekeeper. */
	if (tls_fork_prepare(keys, l->tls) < 0) {
		what = "madvise";
		goto drop;
	}
	/* _Fork, not fork: the master has one thread and no atfork
	 * handlers, so fork's extra work (blocking signals around the C
	 * library's locks, twice) bought nothing: two syscalls fewer in the
	 * master per connection, one in the child (POSIX.1-2024; glibc 2.34,
	 * musl 1.2.2). */
	if ((pid = _Fork()) < 0) {
		what = "fork";
		goto drop;
	}
	if (pid == 0)
		child_serve(&a, l->tls ? keys : NULL, slot);
	score_set_pid(slot, pid);
	close(fd);
	return;
drop:
	/* Out of processes or memory: drop this one, keep serving, and do
	 * not flood the log while it lasts. */
	if (time(NULL) != last_fail)
		log_error(NULL, "%s: %s", what, strerror(errno));
	last_fail = time(NULL);
	score_set_pid(slot, 0);
	close(fd);
}

static int
pending_of(pid_t from)
{
	int i;

	for (i = 0; i < HANDOFF_PENDING; i++)
		if (pending[i].from == from)
			return i;
	return -1;
}

/* The connection handed off is the one slot's process was given, not
 * one it made or took elsewhere: a plain one is a socket from the peer
 * the master accepted; a TLS one is the relay its first monitor made
 * (socketpair's credentials: that monitor's, uid 0, which no stage 2
 * has). The client address it names must be that peer's too, unless a
 * trusted proxy may have named another in a PROXY header: that the
 * master cannot check, as it never reads the header. The local address
 * of a plain one is taken from the socket. */
static int
handoff_bound(struct handoff_msg *m, int fd, int slot)
{
	struct sockaddr_storage ss;
	struct ucred cr;
	socklen_t len;

	if (m->tls) {
		len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    cr.uid != 0)
			return 0;
	} else {
		memset(&ss, 0, sizeof(ss));
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    !score_same_peer(slot, &ss))
			return 0;
		memset(&m->local, 0, sizeof(m->local));
		len = sizeof(m->local);
		if (getsockname(fd, (struct sockaddr *)&m->local, &len) < 0)
			return 0;
	}
	return cfg.nproxy > 0 || score_same_peer(slot, &m->client);
}

/* Take the hand-off messages waiting on the channel: each is checked
 * (handoff_recv), must come from a live connection process of ours that
 * has none pending yet, and its connection may not have changed process
 * keepalive-requests times already; it then waits for its sender's exit. */
static void
handoffs_take(void)
{
	static time_t last_refusal;
	struct handoff_msg m;
	/* Set by handoff_recv when it returns 1, the only case they are
	 * closed in; initialised for gcc's LTO, which cannot see that. */
	int fds[2] = { -1, -1 }, rc, i, slot, k;
	pid_t from;

	for (k = 0; k < ACCEPT_BATCH && npending < HANDOFF_PENDING; k++) {
		if ((rc = handoff_recv(chan_master, &cfg, &m, fds, &from)) < 0)
			return;
		slot = score_slot_of(from);
		if (rc == 0 || slot < 0 || pending_of(from) >= 0 || stopping ||
		    cfg.cross_identity != CROSS_HANDOFF ||
		    score_handoffs(slot) >= cfg.keepalive_requests ||
		    m.generation != generation ||
		    !handoff_bound(&m, fds[0], slot)) {
			if (rc == 1) {
				close(fds[0]);
				close(fds[1]);
			}
			/* Only a process gone wrong sends these: a line a
			 * second at most. */
			if (time(NULL) != last_refusal)
				log_error(NULL, "hand-off from %ld refused", (long)from);
			last_refusal = time(NULL);
			continue;
		}
		i = pending_of(0);
		pending[i].from = from;
		pending[i].fds[0] = fds[0];
		pending[i].fds[1] = fds[1];
		pending[i].m = m;
		npending++;
	}
}

/* Called for each child reaped: if it handed its connection off, start
 * the fresh process for it in the child's slot. 1 if it did (the slot is
 * taken), 0 if the slot is to be freed. */
static int
handoff_start(pid_t from)
{
	struct pending *p;
	struct accepted a;
	int i, slot;
	pid_t pid;

	/* Nothing to look for (and no syscall) unless hand-offs are on. */
	if (chan_master < 0 || (cfg.cross_identity != CROSS_HANDOFF &&
	    npending == 0))
		return 0;
	/* Its message was sent before it exited: it is on the channel now. */
	handoffs_take();
	if ((i = pending_of(from)) < 0)
		return 0;
	p = &pending[i];
	p->from = 0;
	npending--;
	/* Checked against the config it was taken under: a reload since
	 * renumbers the vhosts (and may change the request limit). */
	if ((slot = score_slot_of(from)) < 0 || p->m.generation != generation ||
	    p->m.sni_vhost >= cfg.nvhosts ||
	    p->m.requests >= (uint32_t)cfg.keepalive_requests) {
		close(p->fds[0]);
		close(p->fds[1]);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.fd = p->fds[0];
	a.tls = 0;              /* any handshake is behind it */
	a.peer = &p->m.client;
	a.local = p->m.local.ss_family == AF_UNSPEC ? NULL : &p->m.local;
	a.preload = p->fds[1];
	a.relayed = (int)p->m.tls;
	a.sni_vhost = p->m.sni_vhost;
	a.requests = (int)p->m.requests;
	a.spawner = -1;         /* its gatekeeper reads a memfd first */
	pid = -1;
	if (!stopping && tls_fork_prepare(keys, 0) == 0 && (pid = _Fork()) == 0)
		child_serve(&a, NULL, slot);
	close(p->fds[0]);
	close(p->fds[1]);
	if (pid < 0) {
		if (!stopping)
			log_error(NULL, "hand-off: fork: %s", strerror(errno));
		return 0;
	}
	score_hand_over(slot, pid);
	if (priv_trace_on)
		log_error(NULL, "hand-off: the connection of %ld goes on in %ld "
		    "(%u requests answered, hand-off %d)", (long)from, (long)pid,
		    p->m.requests, score_handoffs(slot));
	return 1;
}

static int
full(void)
{
	int n = score_count();

	return n >= cfg.max_clients || n >= score_size();
}

/* Take what the backlog holds, a few at a time: under load one poll()
 * wake-up then serves several connections. */
static void
accept_some(struct listener *l)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int fd, n;

	for (n = 0; n < ACCEPT_BATCH && !full(); n++) {
		memset(&peer, 0, sizeof(peer));
		len = sizeof(peer);
		/* Non-blocking already: the connection process need not. */
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, ECONNABORTED, EMFILE: try later */
		spawn(fd, l, &peer);
	}
}

/* SIGTERM: stop accepting, give the children a grace period, then kill. */
static void
shutdown_master(void)
{
	time_t end = time(NULL) + GRACE_SECONDS;
	int i;

	stopping = 1;
	for (i = 0; i < nlst; i++)
		close(lst[i].fd);
	nlst = 0;
	for (i = 0; i < 2; i++)         /* each spawner exits when drained */
		if (spawners[i].sock >= 0)
			close(spawners[i].sock);
	while (score_count() > 0 && time(NULL) < end) {
		reap();
		if (score_count() > 0)
			usleep(20000);
	}
	if (score_count() > 0) {
		log_error(NULL, "killing %d children left after %d s",
		    score_count(), GRACE_SECONDS);
		score_kill_all(SIGKILL);
		while (reap_one(1))
			;
	}
}

/* Not inlined: its frame must be below master_loop_page_top's pad. */
static void __attribute__((noinline))
master_loop(void)
{
	struct pollfd p[CONF_LISTEN_MAX + 2];
	struct sig_flags sig = { 0, 0, 0 };
	int i, n, busy, wait;

	for (;;) {
		if (sig.chld) {
			sig.chld = 0;
			reap();
		}
		wait = spawners_check() ? 1000 : -1;
		if (sig.term)
			break;
		if (sig.hup) {
			sig.hup = 0;
			reload();
		}
		/* At max-clients the listeners are not polled: connections
		 * wait in the backlog until a child exits. */
		busy = full();
		p[0].fd = sig_fd;
		p[0].events = POLLIN;
		for (i = 0; i < nlst; i++) {
			p[i + 1].fd = busy ? -1 : lst[i].fd;
			p[i + 1].events = POLLIN;
			p[i + 1].revents = 0;
		}
		/* Hand-offs take no new place: polled while there is room
		 * to keep them until their senders exit. */
		p[nlst + 1].fd = npending < HANDOFF_PENDING ? chan_master : -1;
		p[nlst + 1].events = POLLIN;
		p[nlst + 1].revents = 0;
		n = poll(p, (nfds_t)nlst + 2, wait);
		if (n < 0)
			continue;
		if (p[0].revents & POLLIN)
			signals_read(&sig);
		if (p[nlst + 1].revents & POLLIN)
			handoffs_take();
		for (i = 0; i < nlst; i++)
			if (p[i + 1].revents & POLLIN)
				accept_some(&lst[i]);
	}
	shutdown_master();
}

/* A connection process runs on in the master's stack page where fork
 * left it, and each further page it writes is a page fault.
 * Where that page ends depends on the random offset the kernel gives the
 * stack: a connection's own frames (under 2 KiB for a static file) fitted
 * in it or not from one start to the next. Start the loop at the top of a
 * page, so that they always have some 3.5 KiB: pad down to the boundary. */
/* Startup (config parsing, listeners, keys) left stack pages resident
 * below the loop's: every fork copies a page-table entry for each, and
 * every connection's exit drops it again. Give them back: the whole pages
 * of a frame that reaches 128 KiB below the loop's page, none of which is
 * in use (MADV_DONTNEED on private memory reads back as zeros; pages not
 * present, or past the end of the stack mapping, are left as they are). */
static void __attribute__((noinline))
stack_trim(void)
{
	char below[128 * 1024];
	uintptr_t lo = ((uintptr_t)below + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)below + sizeof(below)) & ~(uintptr_t)4095;

	__asm__ volatile ("" : : "r"(below) : "memory");
	/* Only an optimisation: a failure leaves the pages where they are. */
	(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void __attribute__((noinline))
master_loop_page_top(void)
{
	char here;              /* a few bytes from the stack pointer */
	char pad[((uintptr_t)&here & 4095) + 1];

	/* An empty asm that takes pad's address: the compiler must keep it. */
	__asm__ volatile ("" : : "r"(pad) : "memory");
	stack_trim();
	master_loop();
}

static int
load_all(const char *path, int check_only)
{
	char err[1024];
	int i;

	/* Every root, file and log is opened with openat2: without it
	 * there is no safe way to serve (and no way to check a config). */
	if (path_check_kernel(err, sizeof(err)) < 0)
		goto err;
	if (config_load(&cfg, path, err, sizeof(err)) < 0)
		goto err;
	if ((keys = tls_load(&cfg, err, sizeof(err))) == NULL)
		goto err;
	/* Called without a mime-types file too, as reload does: its
	 * variables are then written here, in the master, and a connection
	 * process reads them through the page it inherits instead of taking
	 * a page fault for them. */
	if (file_mime_load(cfg.mime_types, err, sizeof(err)) < 0)
		goto err;
	for (i = 0; config_warning(&cfg, &i, err, sizeof(err));)
		fprintf(stderr, "itkd: %s\n", err);
	if (check_only)
		return 0;
	if (log_open(&cfg, foreground, err, sizeof(err)) < 0)
		goto err;
	return 0;
err:
	fprintf(stderr, "itkd: %s\n", err);
	return -1;
}

/* Not -f: detach from the terminal like any daemon. */
static int
daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (cfg.error_log == NULL || strcmp(cfg.error_log, "stderr") != 0)
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return chdir("/");
}

/* inetd mode: the connection is on standard input; no master, same stages.
 * TLS when the socket's local port is a `listen ... tls` port. */
static int
inetd_main(void)
{
	struct accepted a = { .fd = -1, .chan = -1, .preload = -1,
	    .sni_vhost = -1, .spawner = -1 };
	struct listen_addr self;
	int i, fd, is_tls = 0;

	self.sslen = sizeof(self.ss);
	if (getsockname(0, (struct sockaddr *)&self.ss, &self.sslen) == 0)
		for (i = 0; i < cfg.nlisten; i++)
			if (cfg.listen[i].tls && same_port(&cfg.listen[i], &self))
				is_tls = 1;
	/* A plain connection needs no key: wipe them all now (the master
	 * withholds them from such a child; here we are the only process). */
	if (!is_tls) {
		tls_free(keys);
		keys = NULL;
	}
	/* Move the socket off 0 and 1, so stray stdio never reaches it. */
	if ((fd = fcntl(0, F_DUPFD_CLOEXEC, 3)) < 0)
		return 1;
	i = open("/dev/null", O_RDWR);
	if (i < 0 || dup2(i, 0) < 0 || dup2(i, 1) < 0)
		return 1;
	if (i > 2)
		close(i);
	if (priv_master(&cfg) < 0 || signals_default() < 0 ||
	    signals_unblock() < 0)
		return 1;
	a.fd = fd;
	a.tls = is_tls;
	serve_connection(&cfg, is_tls ? keys : NULL, &a, NULL, 0, -1);
}

int
main(int argc, char **argv)
{
	const char *path = "/etc/itkd.conf";
	int ch, check = 0, inetd = 0;
	char err[1024];

	while ((ch = getopt(argc, argv, "c:ftiTvh")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 't': check = 1; break;
		case 'i': inetd = 1; break;
		case 'T': priv_trace_on = 1; break;
		case 'v':
			printf("itkd %s\n", ITKD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_all(path, check) < 0)
		return 1;
	/* Not per connection in inetd mode: it walks the vhosts' trees. */
	if (check || !inetd)
		(void)cgiabi_warn(&cfg, stderr);
	if (check) {
		printf("%s: ok\n", path);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "itkd: must be started as root\n");
		return 1;
	}
	if (inetd)
		return inetd_main();
	/* Before the first listener: once a port answers, whoever started
	 * us may send HUP or TERM, and with the default action that would
	 * kill the master that is still loading. Blocked now, they wait in
	 * the signalfd for the loop. */
	if (signals_init() < 0) {
		fprintf(stderr, "itkd: cannot set up signals: %s\n", strerror(errno));
		return 1;
	}
	switch (listeners_inherit(&cfg, err, sizeof(err))) {
	case 0:
		if (cfg.nlisten == 0) {
			fprintf(stderr, "itkd: %s: no listen directive\n", cfg.path);
			return 1;
		}
		if (listeners_update(&cfg, err, sizeof(err)) == 0)
			break;
		/* FALLTHROUGH */
	case -1:
		fprintf(stderr, "itkd: %s\n", err);
		return 1;
	}
	if (score_init(cfg.max_clients > 1024 ? SCORE_SLOTS_MAX : 1024) < 0 ||
	    score_config(counts_vhosts(&cfg)) < 0) {
		fprintf(stderr, "itkd: cannot map shared memory: %s\n", strerror(errno));
		return 1;
	}
	if (cfg.tls_session_cache > 0 && tls_cache_init(cfg.tls_session_cache) < 0) {
		if (errno == ENOSYS)
			fprintf(stderr, "itkd: tls-session-cache: its lock, a robust "
			    "process-shared mutex, needs the kernel's robust futex "
			    "list (get_robust_list), which this system lacks (qemu-user "
			    "does); `tls-session-cache 0` does without the cache\n");
		else
			fprintf(stderr, "itkd: tls-session-cache: cannot set up the "
			    "shared session cache: %s\n", strerror(errno));
		return 1;
	}
	if (handoff_channel(&chan_master, &chan_child) < 0) {
		fprintf(stderr, "itkd: hand-off channel: %s\n", strerror(errno));
		return 1;
	}
	if (!foreground && daemonize() < 0) {
		fprintf(stderr, "itkd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	if (priv_master(&cfg) < 0) {
		log_error(NULL, "cannot set up the master: %s", strerror(errno));
		return 1;
	}
	/* A TLS connection's gatekeeper outlives its parent by the moment
	 * it takes to send close_notify: the master reaps it, not whatever
	 * init the machine (or the container) has. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		log_error(NULL, "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
		return 1;
	}
	spawners_start();
	log_error(NULL, "itkd %s serving %d vhosts on %d listeners",
	    ITKD_VERSION, cfg.nvhosts, nlst);
	master_loop_page_top();
	log_error(NULL, "stopped");
	return 0;
}
