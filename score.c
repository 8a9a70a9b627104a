/* score.c: the scoreboard (see score.h): the master's own table, and the
 * board it shares with children when vhosts count places. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "score.h"

/* The master's: MADV_DONTFORK, so no child holds a copy (not even of the
 * peers of other connections) and the master's writes after a fork fault
 * on nothing shared. */
struct table {
	int n;
	int used;               /* slots taken: the master's loop asks often */
	struct {
		pid_t pid;      /* 0: free; -1: reserved, not forked yet */
		int family;
		unsigned char addr[16]; /* peer address, for max-clients-per-ip */
		int handoffs;   /* times its connection changed process */
	} slot[];
};

/* Shared with the children that need it. Whatever a child writes here can
 * only make vhost places miscounted: the master reads nothing back. */
struct board {
	struct {
		int live;       /* written by the master */
		int vhost;      /* by the child: its vhost's position, or -1 */
	} slot[1];
};

static struct table *table;     /* not mapped in a child */
static size_t table_len;
static int nslots;              /* table->n, for children too */
/* In the same mapping, after the board: per slot, the client's address as
 * the connection's own PROXY header gave it (written by that child only),
 * for max-clients-per-ip behind a trusted proxy. family 0: none. */
struct client_key {
	int family;
	uint32_t addr[4];
};

static struct board *board;
static struct client_key *clients;      /* inside board's mapping */
static size_t board_len;
static int board_withheld;      /* MADV_DONTFORK on the board */
static unsigned generation;     /* of the config; in each child's name */

static void *
map(size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS,
	    -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int
score_init(int n)
{
	if (n < 1 || n > SCORE_SLOTS_MAX)
		return -1;
	table_len = sizeof(*table) + (size_t)n * sizeof(table->slot[0]);
	board_len = sizeof(*board) + (size_t)(n - 1) * sizeof(board->slot[0]);
	board_len = (board_len + _Alignof(struct client_key) - 1) &
	    ~(_Alignof(struct client_key) - 1);
	board_len += (size_t)n * sizeof(struct client_key);
	if ((table = map(table_len, MAP_PRIVATE)) == NULL ||
	    madvise(table, table_len, MADV_DONTFORK) < 0 ||
	    (board = map(board_len, MAP_SHARED)) == NULL)
		return -1;
	clients = (struct client_key *)((char *)board + board_len -
	    (size_t)n * sizeof(struct client_key));
	table->n = nslots = n;
	return 0;
}

int
score_size(void)
{
	return table ? table->n : 0;
}

int
score_config(int count_vhosts)
{
	generation++;
	if (board_withheld == !count_vhosts)
		return 0;
	if (madvise(board, board_len, count_vhosts ? MADV_DOFORK :
	    MADV_DONTFORK) < 0)
		return -1;
	board_withheld = !count_vhosts;
	return 0;
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

/* The board's view of slot i: free, or live and serving no vhost yet. */
static void
board_set(int i, int live)
{
	__atomic_store_n(&clients[i].family, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&board->slot[i].vhost, -1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&board->slot[i].live, live, __ATOMIC_SEQ_CST);
}

int
score_reserve(const struct sockaddr_storage *peer)
{
	int i;

	for (i = 0; i < table->n; i++) {
		if (table->slot[i].pid != 0)
			continue;
		peer_key(peer, &table->slot[i].family, table->slot[i].addr);
		table->slot[i].pid = -1;        /* counts as busy everywhere */
		table->slot[i].handoffs = 0;
		table->used++;
		board_set(i, 1);
		return i;
	}
	return -1;
}

void
score_set_pid(int slot, pid_t pid)
{
	if (slot < 0 || slot >= table->n)
		return;
	if (pid <= 0) {
		if (table->slot[slot].pid != 0)
			table->used--;
		table->slot[slot].pid = 0;
		board_set(slot, 0);
		return;
	}
	table->slot[slot].pid = pid;
}

void
score_release(pid_t pid)
{
	int i;

	if (pid <= 0)           /* 0 is every free slot, -1 a reserved one */
		return;
	for (i = 0; i < table->n; i++) {
		if (table->slot[i].pid == pid) {
			score_set_pid(i, 0);
			return;
		}
	}
}

int
score_slot_of(pid_t pid)
{
	int i;

	if (pid <= 0)
		return -1;
	for (i = 0; i < table->n; i++)
		if (table->slot[i].pid == pid)
			return i;
	return -1;
}

int
score_same_peer(int slot, const struct sockaddr_storage *ss)
{
	unsigned char addr[16];
	int family;

	if (slot < 0 || slot >= table->n)
		return 0;
	peer_key(ss, &family, addr);
	return table->slot[slot].family == family &&
	    memcmp(table->slot[slot].addr, addr, 16) == 0;
}

int
score_handoffs(int slot)
{
	return slot >= 0 && slot < table->n ? table->slot[slot].handoffs : 0;
}

void
score_hand_over(int slot, pid_t pid)
{
	if (slot < 0 || slot >= table->n || table->slot[slot].pid == 0)
		return;
	table->slot[slot].pid = pid;
	table->slot[slot].handoffs++;
	board_set(slot, 1);     /* live, and no vhost chosen yet */
}

int
score_count(void)
{
	return table->used;
}

int
score_count_peer(const struct sockaddr_storage *peer)
{
	unsigned char addr[16];
	int i, family, n = 0;

	peer_key(peer, &family, addr);
	for (i = 0; i < table->n; i++)
		n += table->slot[i].pid != 0 && table->slot[i].family == family &&
		    memcmp(table->slot[i].addr, addr, 16) == 0;
	return n;
}

void
score_kill_all(int sig)
{
	int i;

	for (i = 0; i < table->n; i++)
		if (table->slot[i].pid > 0)
			kill(table->slot[i].pid, sig);
}

/* "itkd G/P": the config generation (mod 1000) and the vhost position, at
 * most 14 bytes (the kernel keeps 15). A position past 99999 is left out:
 * such a child's crash is logged without its vhost. */
#define GEN_MOD 1000

static char *
put_decimal(char *p, unsigned v)
{
	char d[10];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

static void
child_name(char name[16], int pos)
{
	char *p = name;

	memcpy(p, "itkd ", 5);
	p = put_decimal(p + 5, generation % GEN_MOD);
	if (pos >= 0 && pos <= 99999) {
		*p++ = '/';
		p = put_decimal(p, (unsigned)pos);
	}
	*p = '\0';
}

int
score_enter_vhost(int slot, int pos, int max)
{
	char name[16];
	int i, n = 0;

	/* The name first: a child killed from here on is still told apart.
	 * Not checked: without it only a crash report loses its vhost. */
	child_name(name, pos);
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
	if (max <= 0)
		return 0;
	if (board == NULL || board_withheld || slot < 0 || slot >= nslots)
		return 0;       /* inetd mode; or no vhost counts */
	/* No lock that a child could die holding: claim first, then count
	 * the others. Of two children racing for the last place, each sees
	 * the other's claim (sequentially consistent), so at worst both
	 * refuse; never are more than max admitted. */
	__atomic_store_n(&board->slot[slot].vhost, pos, __ATOMIC_SEQ_CST);
	for (i = 0; i < nslots; i++)
		n += i != slot &&
		    __atomic_load_n(&board->slot[i].live, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&board->slot[i].vhost, __ATOMIC_SEQ_CST) == pos;
	if (n >= max) {
		__atomic_store_n(&board->slot[slot].vhost, -1, __ATOMIC_SEQ_CST);
		return -1;
	}
	return 0;
}

/* Behind a trusted proxy the master sees only the proxy's address: each
 * child enters its client's here and counts the others.
 *
 * Trust: the board is writable by every child that maps it, so a
 * compromised one can write any address into any slot. That can only make
 * this count wrong: refuse clients it names (denial of service) or leave
 * its own client uncounted. The master reads nothing of it back: its kill()
 * and its loops use its own table alone. */
int
score_claim_client(int slot, const struct sockaddr_storage *client, int max)
{
	unsigned char addr[16];
	uint32_t words[4];
	int i, k, family, n = 0;

	if (max <= 0 || client->ss_family == AF_UNSPEC || board == NULL ||
	    board_withheld || slot < 0 || slot >= nslots)
		return 0;       /* no limit, no client given, or inetd mode */
	peer_key(client, &family, addr);
	memcpy(words, addr, sizeof(words));
	/* The address first, then the family that makes it count: one who
	 * reads the family (sequentially consistent) reads the address too.
	 * Claim, then count, as score_enter_vhost: of two racing for the
	 * last place, at worst both refuse. */
	for (k = 0; k < 4; k++)
		__atomic_store_n(&clients[slot].addr[k], words[k], __ATOMIC_RELAXED);
	__atomic_store_n(&clients[slot].family, family, __ATOMIC_SEQ_CST);
	for (i = 0; i < nslots && n < max; i++) {
		if (i == slot ||
		    !__atomic_load_n(&board->slot[i].live, __ATOMIC_SEQ_CST) ||
		    __atomic_load_n(&clients[i].family, __ATOMIC_SEQ_CST) != family)
			continue;
		for (k = 0; k < 4 && __atomic_load_n(&clients[i].addr[k],
		    __ATOMIC_RELAXED) == words[k]; k++)
			;
		n += k == 4;
	}
	if (n >= max) {
		__atomic_store_n(&clients[slot].family, 0, __ATOMIC_SEQ_CST);
		return -1;
	}
	return 0;
}

/* 1 to 5 decimal digits at *p, nothing else (no sign, no blank: the name
 * comes from a child, which may say anything); *p moves past them. -1 if
 * there are none or more. */
static long
name_number(const char **p)
{
	long v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9' && n < 6) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n >= 1 && n <= 5 ? v : -1;
}

int
score_vhost_of(pid_t pid)
{
	char path[40], name[32];
	const char *p = name + 5;
	long g, pos;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n < 5 || memcmp(name, "itkd ", 5) != 0)
		return -1;
	name[n] = '\0';
	if ((g = name_number(&p)) < 0 || *p++ != '/' ||
	    (long)(generation % GEN_MOD) != g)
		return -1;      /* or before the last reload: another numbering */
	if ((pos = name_number(&p)) < 0 || (*p != '\n' && *p != '\0'))
		return -1;
	return (int)pos;
}

void
score_unmap(void)
{
	/* `board` keeps its stale value: nothing in stage 2 calls score_*. */
	if (board != NULL && !board_withheld)
		munmap(board, board_len);
}
