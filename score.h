/* score.h: the scoreboard: one slot per connection process, in memory shared
 * by the master and its children. The master fills a slot at fork and frees
 * it when it reaps the child, so a crashed child never keeps its slot. */
#ifndef ITKD_SCORE_H
#define ITKD_SCORE_H

#include <sys/types.h>
#include <sys/socket.h>

#define SCORE_SLOTS_MAX 65536

struct score_slot {
	pid_t pid;              /* 0: free */
	int vhost;              /* position of the chosen vhost, -1 before */
	int family;
	unsigned char addr[16]; /* peer address, for max-clients-per-ip */
};

/* Master, once: map room for n slots. 0 or -1. */
int score_init(int n);
int score_size(void);
/* Master, before fork: reserve a free slot for peer; -1 if full. The child
 * learns its slot from the return value it inherits. */
int score_reserve(const struct sockaddr_storage *peer);
/* Master, after fork: the slot belongs to pid (or is freed if pid <= 0). */
void score_set_pid(int slot, pid_t pid);
/* Master: free pid's slot; returns the vhost it served (-1) for logs. */
int score_release(pid_t pid);
int score_count(void);
/* Connections from the same address as peer. */
int score_count_peer(const struct sockaddr_storage *peer);
/* Child: claim a place for vhost pos unless max (0: none) are busy with
 * it already. 0, or -1 when full. Atomic against the other children. */
int score_enter_vhost(int slot, int pos, int max);
/* Master, at shutdown: signal every live child. */
void score_kill_all(int sig);
/* Child: unmap (stage 2 needs no view of other connections). */
void score_unmap(void);

#endif
