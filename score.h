/* score.h: the scoreboard, one slot per connection process. The master
 * keeps who holds each slot (pid, peer) in memory of its own that no child
 * ever maps: nothing a child writes can steer the master's kill() or its
 * loops. Children see a shared board only when some vhost has
 * `max-clients`, or `max-clients-per-ip` applies behind a `trusted-proxy`:
 * per slot, whether it is live, the vhost it serves and the client address
 * a PROXY header gave it. A child also names itself after its vhost, which
 * is how the master tells whose child crashed. */
#ifndef ITKD_SCORE_H
#define ITKD_SCORE_H

#include <sys/types.h>
#include <sys/socket.h>

#define SCORE_SLOTS_MAX 65536

/* Master, once: room for n slots. 0 or -1. */
int score_init(int n);
int score_size(void);
/* Master, at start and after each reload: a new config (vhost numbers
 * change meaning), and whether children count on the shared board (some
 * vhost has `max-clients`, or `max-clients-per-ip` applies behind a
 * `trusted-proxy`); when they do not, no child gets the board. 0 or -1. */
int score_config(int count_vhosts);
/* Master, before fork: reserve a free slot for peer; -1 if full. The child
 * learns its slot from the return value it inherits. */
int score_reserve(const struct sockaddr_storage *peer);
/* Master, after fork: the slot belongs to pid (or is freed if pid <= 0). */
void score_set_pid(int slot, pid_t pid);
/* Master, for a child that has ended but is not reaped yet: the vhost it
 * had chosen (its position in the config), or -1. Reads /proc/PID/comm. */
int score_vhost_of(pid_t pid);
/* Master: free pid's slot once it is reaped. */
void score_release(pid_t pid);
int score_count(void);
/* Master: the slot pid holds, or -1. */
int score_slot_of(pid_t pid);
/* Master: 1 if ss is the address slot's connection was accepted from. */
int score_same_peer(int slot, const struct sockaddr_storage *ss);
/* Master: how many times the connection of slot went to a fresh process. */
int score_handoffs(int slot);
/* Master: a connection handed off by the slot's process, which has ended
 * and been reaped, goes on in pid: the slot, its peer and its place in
 * max-clients pass to it, and its hand-off count goes up by one. */
void score_hand_over(int slot, pid_t pid);
/* Connections from the same address as peer. */
int score_count_peer(const struct sockaddr_storage *peer);
/* Child: name the process after vhost pos and, if max > 0, take a place
 * unless max others serve that vhost already. 0, or -1 when full. */
int score_enter_vhost(int slot, int pos, int max);
/* Child, once it knows its client's own address from a trusted proxy's
 * PROXY header: enter it for its slot and, if max > 0, refuse when max
 * other live connections come from that address already. client of family
 * AF_UNSPEC (no header, or LOCAL): nothing to count, 0. The master does
 * not count connections from a trusted proxy by address: this does. 0, or
 * -1 when over the limit (answer 503). A lie written there by a child can
 * only miscount (see score.c). */
int score_claim_client(int slot, const struct sockaddr_storage *client,
    int max);
/* Master, at shutdown: signal every live child. */
void score_kill_all(int sig);
/* Child: unmap the board if it has one (stage 2 needs no view of other
 * connections). */
void score_unmap(void);

#endif
