/* tests/unit_score.c: the name a connection process gives itself, and the
 * master's reading of it. The master reads a name a child chose, and a
 * child may be compromised: only "itkd G/P" of this config names a vhost.
 * Then the count of clients behind a trusted proxy, per client address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "score.h"
#include "unit.h"

/* The vhost score_vhost_of finds for a child that named itself `name`
 * (NULL: through score_enter_vhost for vhost 7) and ended, read before it
 * is reaped, as the master does. */
static int
vhost_of_child(const char *name)
{
	siginfo_t si;
	pid_t pid;
	int pos;

	if ((pid = fork()) < 0)
		return -2;
	if (pid == 0) {
		if (name != NULL)
			prctl(PR_SET_NAME, name, 0, 0, 0);
		else
			score_enter_vhost(0, 7, 0);
		_exit(0);
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		return -2;
	pos = score_vhost_of(pid);
	waitpid(pid, NULL, 0);
	return pos;
}

static struct sockaddr_storage
v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	inet_pton(AF_INET, a, &s4->sin_addr);
	return ss;
}

static struct sockaddr_storage
v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s6->sin6_addr);
	return ss;
}

/* Four slots, all from the one proxy; the clients its headers name. */
static void
clients(void)
{
	struct sockaddr_storage proxy = v4("127.0.0.1"), x = v4("10.0.0.1"),
	    y = v4("10.0.0.2"), xm = v6("::ffff:10.0.0.1"), none;
	int s0, s1, s2, s3;

	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNSPEC;
	CHECK("claim: board shared", score_config(1) == 0);
	s0 = score_reserve(&proxy);
	s1 = score_reserve(&proxy);
	s2 = score_reserve(&proxy);
	s3 = score_reserve(&proxy);
	CHECK("claim: four slots", s0 >= 0 && s1 >= 0 && s2 >= 0 && s3 >= 0);
	CHECK("claim: X first", score_claim_client(s0, &x, 2) == 0);
	CHECK("claim: X second", score_claim_client(s1, &x, 2) == 0);
	CHECK("claim: X third refused", score_claim_client(s2, &x, 2) == -1);
	CHECK("claim: X as mapped IPv6 refused too", score_claim_client(s2, &xm, 2) == -1);
	CHECK("claim: Y behind the same proxy admitted", score_claim_client(s2, &y, 2) == 0);
	CHECK("claim: no client named, nothing counted", score_claim_client(s3, &none, 1) == 0);
	CHECK("claim: no limit", score_claim_client(s3, &x, 0) == 0);
	/* A refused claim is withdrawn; a freed slot forgets its client. */
	score_set_pid(s3, 0);
	score_set_pid(s0, 0);
	s0 = score_reserve(&proxy);
	CHECK("claim: X again once one of its places is free",
	    s0 >= 0 && score_claim_client(s0, &x, 2) == 0);
	CHECK("claim: out of range slot", score_claim_client(-1, &x, 1) == 0 &&
	    score_claim_client(score_size(), &x, 1) == 0);
	/* No board for the children: the master counts as before. */
	CHECK("claim: board withheld", score_config(0) == 0 &&
	    score_claim_client(s2, &x, 1) == 0);
	score_set_pid(s0, 0);
	score_set_pid(s1, 0);
	score_set_pid(s2, 0);
}

int
main(void)
{
	CHECK("score init", score_init(4) == 0 && score_config(0) == 0);
	CHECK("score name from score_enter_vhost", vhost_of_child(NULL) == 7);
	CHECK("score name itkd 1/0", vhost_of_child("itkd 1/0") == 0);
	CHECK("score name itkd 1/99999", vhost_of_child("itkd 1/99999") == 99999);
	CHECK("score name without a position", vhost_of_child("itkd 1/") == -1);
	CHECK("score name without a generation", vhost_of_child("itkd /7") == -1);
	CHECK("score name with a sign", vhost_of_child("itkd 1/+7") == -1);
	CHECK("score name with a minus", vhost_of_child("itkd 1/-1") == -1);
	CHECK("score name with a blank", vhost_of_child("itkd 1/ 7") == -1);
	CHECK("score name past 5 digits", vhost_of_child("itkd 1/123456") == -1);
	CHECK("score name with a tail", vhost_of_child("itkd 1/7x") == -1);
	CHECK("score name of another generation", vhost_of_child("itkd 2/7") == -1);
	CHECK("score name of another program", vhost_of_child("sh") == -1);
	CHECK("score name too short", vhost_of_child("itk") == -1);
	/* After a reload, a child named under the old config tells nothing. */
	CHECK("score reload", score_config(0) == 0);
	CHECK("score name of the config before", vhost_of_child("itkd 1/7") == -1);
	CHECK("score name of this config", vhost_of_child(NULL) == 7);
	clients();
	return UNIT_END();
}
