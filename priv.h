/* priv.h: the identity switch, capabilities (libcap), seccomp, the trace.
 * Called only by the stage code. Every step is checked; any failure returns
 * -1 after logging, and the caller exits without serving. */
#ifndef ITKD_PRIV_H
#define ITKD_PRIV_H

#include <sys/types.h>

struct config;
struct vhost;

extern int priv_trace_on;       /* -T */

/* The identity a request runs as (a vhost's, or a userdir owner's). */
struct priv_ident {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];       /* VHOST_GROUPS_MAX */
	int ngroups;
	int nice, has_nice;
	int no_new_privs;
	const struct vhost *vh; /* for limits; may be NULL */
};

/* Fill id from a vhost. */
void priv_ident_vhost(struct priv_ident *id, const struct vhost *vh);
/* Fill id from a vhost whose `user`/`group` is `owner`: the uid and/or gid
 * are the owner's, as fstat of the root fd that is then served reads them.
 * 0, or -1 (EPERM) when that is 0, the global user's or group, or outside
 * uid-range or gid-range: never switched to. */
int priv_ident_owner(struct priv_ident *id, const struct config *cfg,
    const struct vhost *vh, uid_t owner_uid, gid_t owner_gid);
/* 1 if a and b are the same uid, gid and group set. */
int priv_ident_same(const struct priv_ident *a, const struct priv_ident *b);

/* Master, at start, while it holds every capability: install the seccomp
 * filter (ranges of cfg plus the global user's ids), then cut the
 * capabilities down to the master's set. */
int priv_master(const struct config *cfg);

/* The master's child (the monitor), one per connection: stay uid 0 but
 * keep only CAP_SETUID + CAP_SETGID (+ CAP_SYS_NICE when a vhost has a
 * negative nice); not dumpable. */
int priv_monitor(const struct config *cfg);

/* The monitor's child (the gatekeeper), before it reads the client:
 * cfg's user, no capability in any set, no_new_privs, and an allow-list
 * seccomp filter on top of the master's. */
int priv_gatekeeper(const struct config *cfg);

/* The spawner (spawn.c), once per config generation: what
 * priv_gatekeeper does, with the fork it needs on the allow-list; SIGCHLD
 * is already ignored. Each gatekeeper it forks calls priv_spawned: no
 * fork of its own (RLIMIT_NPROC 0). */
int priv_spawner(const struct config *cfg);
int priv_spawned(void);

/* The monitor, stage 2: limits and nice, then groups, gid, uid; clear every
 * capability set; no_new_privs unless the vhost opts out; verify. */
int priv_stage2(const struct priv_ident *id);

/* With -T: log `step` and the credentials read back from the kernel. */
void priv_trace(const char *step);

#endif
