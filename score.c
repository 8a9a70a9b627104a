/* score.c: the scoreboard in a shared anonymous mapping (see score.h). */
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "score.h"

struct board {
	int lock;               /* a spinlock: held for a scan of slots only */
	int n;
	/* Slots taken, kept by the master (the only one that takes and
	 * frees them): its loop asks before every poll, and a scan of every
	 * slot each time was most of its own work per connection. Here and
	 * not in the master's data: a write to a private page after fork
	 * copies it (a fault in the master) and leaves the child's copy
	 * private to the child (PSS); this mapping is shared. */
	int used;
	struct score_slot slot[];
};

static struct board *board;
static size_t board_len;

int
score_init(int n)
{
	if (n < 1 || n > SCORE_SLOTS_MAX)
		return -1;
	board_len = sizeof(*board) + (size_t)n * sizeof(struct score_slot);
	board = mmap(NULL, board_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED) {
		board = NULL;
		return -1;
	}
	board->n = n;
	return 0;
}

int
score_size(void)
{
	return board ? board->n : 0;
}

static void
lock(void)
{
	while (__atomic_exchange_n(&board->lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void
unlock(void)
{
	__atomic_store_n(&board->lock, 0, __ATOMIC_RELEASE);
}

static void
peer_key(const struct sockaddr_storage *ss, int *family, unsigned char *addr)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	memset(addr, 0, 16);
	*family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		/* Mapped IPv4 counts as the IPv4 address it is. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			*family = AF_INET;
			memcpy(addr, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			memcpy(addr, &s6->sin6_addr, 16);
		}
	}
}

int
score_reserve(const struct sockaddr_storage *peer)
{
	int i;

	for (i = 0; i < board->n; i++) {
		if (board->slot[i].pid != 0)
			continue;
		board->slot[i].vhost = -1;
		peer_key(peer, &board->slot[i].family, board->slot[i].addr);
		/* -1: taken, owner not known yet; counts as busy everywhere. */
		__atomic_store_n(&board->slot[i].pid, -1, __ATOMIC_RELEASE);
		board->used++;
		return i;
	}
	return -1;
}

void
score_set_pid(int slot, pid_t pid)
{
	if (slot < 0 || slot >= board->n)
		return;
	if (pid <= 0) {
		board->slot[slot].vhost = -1;
		pid = 0;
		if (board->slot[slot].pid != 0)
			board->used--;
	}
	__atomic_store_n(&board->slot[slot].pid, pid, __ATOMIC_RELEASE);
}

int
score_release(pid_t pid)
{
	int i, vh;

	if (pid <= 0)           /* 0 is every free slot, -1 a reserved one */
		return -1;
	for (i = 0; i < board->n; i++) {
		if (board->slot[i].pid != pid)
			continue;
		lock();
		vh = board->slot[i].vhost;
		board->slot[i].vhost = -1;
		board->slot[i].pid = 0;
		unlock();
		board->used--;
		return vh;
	}
	return -1;
}

int
score_count(void)
{
	return board->used;
}

int
score_count_peer(const struct sockaddr_storage *peer)
{
	unsigned char addr[16];
	int i, family, n = 0;

	peer_key(peer, &family, addr);
	for (i = 0; i < board->n; i++)
		n += board->slot[i].pid != 0 && board->slot[i].family == family &&
		    memcmp(board->slot[i].addr, addr, 16) == 0;
	return n;
}

int
score_enter_vhost(int slot, int pos, int max)
{
	int i, n = 0, ret = 0;

	if (board == NULL || slot < 0 || slot >= board->n)
		return 0;
	lock();
	if (max > 0) {
		for (i = 0; i < board->n; i++)
			n += i != slot && board->slot[i].pid != 0 &&
			    board->slot[i].vhost == pos;
		if (n >= max)
			ret = -1;
	}
	if (ret == 0)
		board->slot[slot].vhost = pos;
	unlock();
	return ret;
}

void
score_unmap(void)
{
	/* `board` keeps its stale value: storing NULL would dirty a page
	 * the child otherwise shares with the master (PSS, issue 8), and
	 * nothing in stage 2 calls score_*; a stray call faults on the
	 * unmapped address instead of reading a scoreboard. */
	if (board != NULL)
		munmap(board, board_len);
}

void
score_kill_all(int sig)
{
	int i;

	for (i = 0; i < board->n; i++)
		if (board->slot[i].pid > 0)
			kill(board->slot[i].pid, sig);
}
